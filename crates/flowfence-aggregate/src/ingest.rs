//! Reading a long job's sources into one store in batches, resumably.
//!
//! An [`Ingest`] reads batch after batch (local files, objects fetched from S3: the
//! caller decides what a batch is) into one [`Observations`] store, and remembers which
//! sources are done in a manifest: each source's name with its stamp (an S3 object's
//! ETag, a local file's size and modification time, [`file_stamp`]). With a
//! [`Checkpoint`], the store and the manifest are saved together between batches
//! (spaced out: see [`Checkpoint`]) and whenever the job ends, even on an error
//! ([`Ingest::close`]): as one partial result, or, once the store spilled, as what is in
//! memory with the list of its runs, written once into a folder beside it. A job that
//! finds the file resumes from it and skips what its manifest says is done, so a rerun
//! ends with the same result as one uninterrupted run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowfence_flowlog::{ReadOptions, Reader, Report, Source};

use crate::observations::Observations;
use crate::partial::{PartialError, checkpoint_runs};

/// Metadata key of the checkpoint's manifest: the sources already read.
const MANIFEST_KEY: &str = "flowfence.manifest";

/// A save waits at least this many times as long as the last save took: a save writes
/// what the store holds in memory (all of it until it spills), and a batch of 32 small
/// objects can take less time to read than a store of millions of connections takes to
/// write, so saving after every batch spent most of a long run saving. This keeps
/// saving under a tenth of the run.
const SAVE_SPACING: u32 = 9;

/// A resumable job's checkpoint file, and how often it is saved.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The partial result with the manifest of sources read.
    pub path: PathBuf,
    /// The least time between saves; a save also waits 9 times as long as the last one
    /// took, so saving stays under a tenth of the job.
    pub every: Duration,
}

/// A source and its stamp: what says, on a rerun, whether it changed since it was read.
#[derive(Debug)]
pub struct Stamped {
    /// The source.
    pub source: Source,
    /// Its ETag (S3) or [`file_stamp`] (local files).
    pub stamp: String,
}

/// Why a resumable job failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The checkpoint couldn't be read or written.
    #[error(transparent)]
    Partial(#[from] PartialError),
    /// The checkpoint's manifest isn't what flowfence writes.
    #[error("{path}: unreadable manifest: {why}")]
    Manifest {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The checkpoint couldn't be written.
    #[error("cannot write {path}: {source}")]
    Save {
        /// The checkpoint.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A local file's stamp: its size and modification time (Unix seconds), `size:mtime`;
/// empty when they can't be read.
pub fn file_stamp(path: &Path) -> String {
    std::fs::metadata(path).ok().map_or_else(String::new, |m| {
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        format!("{}:{mtime}", m.len())
    })
}

/// Whether a checkpoint is due: `since_last` after the last save (or the start), which
/// took `last_cost`.
fn save_due(since_last: Duration, every: Duration, last_cost: Duration) -> bool {
    since_last >= every.max(last_cost * SAVE_SPACING)
}

/// A resumable job reading batches of sources into one store.
pub struct Ingest {
    observations: Observations,
    /// Source name -> stamp, for every source read (this run or a resumed one).
    done: BTreeMap<String, String>,
    checkpoint: Option<Checkpoint>,
    last_save: Instant,
    save_cost: Duration,
    /// Batches read since the last save.
    unsaved: bool,
    report: Option<Report>,
    resumed: usize,
}

impl Ingest {
    /// A job saving to `checkpoint` (if any), resumed from it if the file exists, its
    /// store kept within about `memory_limit` bytes while reading
    /// ([`Observations::set_memory_limit`]).
    pub fn start(
        checkpoint: Option<Checkpoint>,
        memory_limit: Option<u64>,
    ) -> Result<Ingest, IngestError> {
        let mut observations = Observations::default();
        observations.set_memory_limit(memory_limit);
        if let Some(c) = &checkpoint {
            // Runs spilled under the memory limit are kept beside the checkpoint, which
            // names them instead of rewriting them at every save.
            let dir = checkpoint_runs(&c.path);
            std::fs::create_dir_all(&dir).map_err(|source| IngestError::Save {
                path: dir.clone(),
                source,
            })?;
            observations.spill_runs_to(dir);
        }
        let mut done = BTreeMap::new();
        if let Some(path) = checkpoint.as_ref().map(|c| &c.path).filter(|p| p.exists()) {
            let meta = observations.read_partial(path)?;
            if let Some(m) = meta.get(MANIFEST_KEY) {
                done = serde_json::from_str(m).map_err(|e| IngestError::Manifest {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
            }
        }
        Ok(Ingest {
            observations,
            done,
            checkpoint,
            last_save: Instant::now(),
            save_cost: Duration::ZERO,
            unsaved: false,
            report: None,
            resumed: 0,
        })
    }

    /// Whether the source `name` was read with this `stamp`.
    pub fn is_done(&self, name: &str, stamp: &str) -> bool {
        self.done.get(name).is_some_and(|s| s == stamp)
    }

    /// `items` without those already done: `key` gives an item's name and stamp, or
    /// `None` for one to read whatever the manifest says (a local file whose size and
    /// time can't be read). The ones left out are counted as resumed.
    pub fn pending<T>(
        &mut self,
        items: Vec<T>,
        key: impl Fn(&T) -> Option<(String, &str)>,
    ) -> Vec<T> {
        let found = items.len();
        let todo: Vec<T> = items
            .into_iter()
            .filter(|item| key(item).is_none_or(|(name, stamp)| !self.is_done(&name, stamp)))
            .collect();
        self.resumed += found - todo.len();
        todo
    }

    /// Reads a batch into the store, marks its sources done, and saves the checkpoint
    /// if one is due.
    pub fn read_batch(
        &mut self,
        batch: Vec<Stamped>,
        options: &ReadOptions,
    ) -> Result<(), IngestError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut sources = Vec::with_capacity(batch.len());
        let mut names = Vec::with_capacity(batch.len());
        for Stamped { source, stamp } in batch {
            names.push((source.display_name(), stamp));
            sources.push(source);
        }
        let report = self
            .observations
            .read_more(&Reader::new(sources, options.clone()));
        match &mut self.report {
            Some(all) => all.append(report),
            None => self.report = Some(report),
        }
        self.done.extend(names);
        self.unsaved = true;
        match &self.checkpoint {
            Some(c) if save_due(self.last_save.elapsed(), c.every, self.save_cost) => self.save(),
            _ => Ok(()),
        }
    }

    /// Saves what is unsaved: call it when the job ends, whether it went well or not
    /// (a job stopped by an error keeps what its finished batches read).
    pub fn close(&mut self) -> Result<(), IngestError> {
        if self.unsaved { self.save() } else { Ok(()) }
    }

    /// Sources a checkpoint said were done (skipped this run).
    pub fn resumed(&self) -> usize {
        self.resumed
    }

    /// The store and the report of everything read this run (the checkpoint saved).
    pub fn finish(mut self) -> Result<(Observations, Report), IngestError> {
        self.close()?;
        Ok((self.observations, self.report.unwrap_or_default()))
    }

    /// Saves the store and the manifest together, as one partial result.
    fn save(&mut self) -> Result<(), IngestError> {
        let Some(checkpoint) = &self.checkpoint else {
            return Ok(());
        };
        let start = Instant::now();
        let manifest = serde_json::to_string(&self.done).expect("a map serialises");
        self.observations
            .write_checkpoint_file(&checkpoint.path, &[(MANIFEST_KEY, manifest)])
            .map_err(|source| IngestError::Save {
                path: checkpoint.path.clone(),
                source,
            })?;
        self.last_save = Instant::now();
        self.save_cost = self.last_save - start;
        self.unsaved = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_waits_for_the_interval_and_nine_times_the_last_saves_cost() {
        let s = Duration::from_secs;
        // Quick saves: the interval decides.
        assert!(!save_due(s(59), s(60), s(1)));
        assert!(save_due(s(60), s(60), s(1)));
        // A store that takes 10 s to save waits 90 s, not 60.
        assert!(!save_due(s(89), s(60), s(10)));
        assert!(save_due(s(90), s(60), s(10)));
        // No interval: still nine times the last save.
        assert!(!save_due(s(8), s(0), s(1)));
        assert!(save_due(s(0), s(0), s(0)));
    }

    const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

    fn memory(name: &str, lines: &str) -> Stamped {
        Stamped {
            source: Source::Memory {
                name: name.into(),
                data: format!("{V2}\n{lines}").into_bytes().into(),
            },
            stamp: format!("etag-{name}"),
        }
    }

    /// The store's partial result, as bytes.
    fn partial_bytes(o: &Observations) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        o.write_partial_file(&path, &[]).unwrap();
        std::fs::read(path).unwrap()
    }

    /// A job stopped after its first batch and rerun with the same checkpoint skips that
    /// batch and ends with the store one uninterrupted job gives.
    #[test]
    fn a_rerun_skips_what_the_checkpoint_has_and_ends_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint {
            path: dir.path().join("state.parquet"),
            every: Duration::from_secs(3600),
        };
        let a = "2 1 eni-a 10.0.0.1 10.0.0.2 40000 443 6 3 300 100 110 ACCEPT OK";
        let b = "2 1 eni-a 10.0.0.1 10.0.0.3 40001 5432 6 2 200 120 130 ACCEPT OK";
        let options = ReadOptions::default();

        let mut whole = Ingest::start(None, None).unwrap();
        whole.read_batch(vec![memory("a", a)], &options).unwrap();
        whole.read_batch(vec![memory("b", b)], &options).unwrap();
        let (whole, _) = whole.finish().unwrap();

        let mut first = Ingest::start(Some(checkpoint.clone()), None).unwrap();
        first.read_batch(vec![memory("a", a)], &options).unwrap();
        // Not due yet (an hour apart): nothing saved until the job closes.
        assert!(!checkpoint.path.exists());
        first.close().unwrap();
        assert!(checkpoint.path.exists());

        let mut rerun = Ingest::start(Some(checkpoint.clone()), None).unwrap();
        assert!(rerun.is_done("a", "etag-a"));
        assert!(!rerun.is_done("a", "etag-changed"));
        let todo = rerun.pending(vec![memory("a", a), memory("b", b)], |s| {
            Some((s.source.display_name(), s.stamp.as_str()))
        });
        assert_eq!(todo.len(), 1);
        assert_eq!(rerun.resumed(), 1);
        rerun.read_batch(todo, &options).unwrap();
        let (resumed, report) = rerun.finish().unwrap();
        assert_eq!(report.counts.records, 1);
        assert_eq!(partial_bytes(&resumed), partial_bytes(&whole));
    }

    /// Under a memory limit, a checkpoint names the runs its store spilled beside it
    /// (format 5) instead of holding them; a rerun reads them back and ends the same,
    /// and its save leaves only its own runs in the folder.
    #[test]
    fn a_checkpoint_of_a_spilled_store_names_its_runs_and_resumes_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint {
            path: dir.path().join("state.parquet"),
            every: Duration::ZERO,
        };
        let runs = checkpoint_runs(&checkpoint.path);
        let batch = |from: u16| -> String {
            (from..from + 300)
                .map(|p| {
                    format!(
                        "2 1 eni-{} 10.0.0.1 10.0.{}.{} {p} 443 6 3 300 100 110 ACCEPT OK\n",
                        p % 4,
                        p / 256,
                        p % 256
                    )
                })
                .collect()
        };
        let (a, b) = (batch(40_000), batch(41_000));
        let options = ReadOptions::default();
        let limit = Some(4 << 10);
        let mut whole = Ingest::start(None, None).unwrap();
        whole.read_batch(vec![memory("a", &a)], &options).unwrap();
        whole.read_batch(vec![memory("b", &b)], &options).unwrap();
        let (whole, _) = whole.finish().unwrap();

        let mut first = Ingest::start(Some(checkpoint.clone()), limit).unwrap();
        first.read_batch(vec![memory("a", &a)], &options).unwrap();
        first.close().unwrap();
        assert!(first.observations.spills() > 0);
        let listed = |dir: &std::path::Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let first_runs = listed(&runs);
        assert!(!first_runs.is_empty());
        let meta = Observations::default()
            .read_partial(&checkpoint.path)
            .unwrap();
        assert_eq!(meta.get("flowfence.partial").map(String::as_str), Some("5"));
        // A file the checkpoint doesn't name (a run spilled after a save, before a
        // crash) is removed by the next save.
        std::fs::write(runs.join("run-stale.bin"), b"").unwrap();

        let mut rerun = Ingest::start(Some(checkpoint.clone()), limit).unwrap();
        let todo = rerun.pending(vec![memory("a", &a), memory("b", &b)], |s| {
            Some((s.source.display_name(), s.stamp.as_str()))
        });
        assert_eq!(todo.len(), 1);
        rerun.read_batch(todo, &options).unwrap();
        rerun.close().unwrap();
        let after = listed(&runs);
        assert!(
            after
                .iter()
                .all(|f| !first_runs.contains(f) && f != "run-stale.bin")
        );
        let (resumed, _) = rerun.finish().unwrap();
        assert_eq!(partial_bytes(&resumed), partial_bytes(&whole));
        // And reading the last checkpoint gives that store too.
        let read = Observations::default();
        read.read_partial(&checkpoint.path).unwrap();
        assert_eq!(partial_bytes(&read), partial_bytes(&whole));
    }
}
