//! `s3://` on the command line: `flowfence ls`, and log paths in S3 read in bounded
//! batches into the observations store, with a checkpoint saved between batches (spaced
//! out, and when the run ends) so a rerun resumes where the last one stopped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use flowfence_aggregate::Observations;
use flowfence_flowlog::{DeliveryKey, Progress, Reader, Report, Source};
use flowfence_s3::{Archive, Connect, Listing, Object, S3Uri, Window, list, parse_day};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;
use crate::cli::{InputArgs, LsArgs, S3Args};
use crate::inputs;

/// Metadata key of the checkpoint's manifest: the sources already read.
const MANIFEST_KEY: &str = "flowfence.manifest";

/// A resumable run's checkpoint file, and how often it is saved.
pub(crate) struct Checkpoint<'a> {
    /// The partial result with the manifest of sources read.
    pub(crate) path: &'a Path,
    /// The least time between saves.
    pub(crate) every: Duration,
}

/// A save waits at least this many times as long as the last save took: a save rewrites
/// the whole store, and a batch of 32 small objects can take less time to read than a
/// store of millions of connections takes to write, so saving after every batch spent
/// most of a long run saving. This keeps saving under a tenth of the run.
const SAVE_SPACING: u32 = 9;

/// Whether a checkpoint is due: `since_last` after the last save (or the start), which
/// took `last_cost`.
fn save_due(since_last: Duration, every: Duration, last_cost: Duration) -> bool {
    since_last >= every.max(last_cost * SAVE_SPACING)
}

/// Saves the checkpoint when due, and what is left when the run ends. The store and
/// the manifest are saved together, between batches, so they always agree.
struct Saver<'a> {
    checkpoint: Option<Checkpoint<'a>>,
    last: Instant,
    cost: Duration,
    /// Batches read since the last save.
    unsaved: bool,
}

impl Saver<'_> {
    fn save(
        &mut self,
        observations: &Observations,
        done: &BTreeMap<String, String>,
    ) -> Result<(), Failure> {
        let Some(checkpoint) = &self.checkpoint else {
            return Ok(());
        };
        let start = Instant::now();
        let manifest = serde_json::to_string(done).expect("a map serialises");
        crate::aggregate::write_partial(
            observations,
            checkpoint.path,
            &[(MANIFEST_KEY, manifest)],
        )?;
        self.last = Instant::now();
        self.cost = self.last - start;
        self.unsaved = false;
        Ok(())
    }

    /// After a batch: saves if one is due.
    fn batch_read(
        &mut self,
        observations: &Observations,
        done: &BTreeMap<String, String>,
    ) -> Result<(), Failure> {
        self.unsaved = true;
        match &self.checkpoint {
            Some(c) if save_due(self.last.elapsed(), c.every, self.cost) => {
                self.save(observations, done)
            }
            _ => Ok(()),
        }
    }

    /// At the end of the run, whether it went well or not: saves what is unsaved.
    fn finish(
        &mut self,
        observations: &Observations,
        done: &BTreeMap<String, String>,
    ) -> Result<(), Failure> {
        if self.unsaved {
            self.save(observations, done)?;
        }
        Ok(())
    }
}

impl S3Args {
    /// `--since` as Unix seconds (a day means its first second, UTC).
    pub(crate) fn since_seconds(&self) -> Result<Option<u64>, Failure> {
        let Some(s) = self.since.as_deref() else {
            return Ok(None);
        };
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(Some(secs));
        }
        let day = parse_day(s).ok_or_else(|| {
            Failure::Usage(anyhow!("--since {s}: expected YYYY-MM-DD or Unix seconds"))
        })?;
        Ok(Some(day_start(day)))
    }

    fn window(&self) -> Result<Window, Failure> {
        let since = self.since_seconds()?.map(day_of);
        let until = self
            .until
            .as_deref()
            .map(|s| {
                parse_day(s).ok_or_else(|| {
                    Failure::Usage(anyhow!("--until {s}: expected a date, YYYY-MM-DD"))
                })
            })
            .transpose()?;
        Ok(Window {
            since,
            until,
            accounts: self.accounts.clone(),
            regions: self.regions.clone(),
        })
    }

    fn connect(&self, uri: &S3Uri) -> Result<Archive, Failure> {
        Archive::connect(
            &uri.bucket,
            &Connect {
                endpoint_url: self.endpoint_url.clone(),
                region: self.bucket_region.clone(),
                profile: self.profile.clone(),
                attempts: self.attempts,
            },
        )
        .map_err(|e| Failure::Io(e.into()))
    }

    fn listing(&self, uri: &S3Uri) -> Result<(Archive, Listing), Failure> {
        let archive = self.connect(uri)?;
        let listing = list(&archive, uri, &self.window()?).map_err(|e| Failure::Io(e.into()))?;
        Ok((archive, listing))
    }
}

/// The first second of a day.
fn day_start(day: flowfence_s3::Day) -> u64 {
    flowfence_s3::days_from_civil(day).max(0) as u64 * 86_400
}

/// The day a Unix time falls on.
fn day_of(secs: u64) -> flowfence_s3::Day {
    flowfence_s3::civil_from_days((secs / 86_400) as i64)
}

fn parse_uri(s: &str) -> Result<S3Uri, Failure> {
    S3Uri::parse(s).ok_or_else(|| Failure::Usage(anyhow!("{s}: expected s3://bucket/prefix")))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// `flowfence ls`.
pub(crate) fn ls(args: LsArgs) -> Result<(), Failure> {
    let mut out = String::new();
    for location in &args.locations {
        let uri = parse_uri(location)?;
        let (_, listing) = args.s3.listing(&uri)?;
        let bytes: u64 = listing.objects.iter().map(|o| o.size).sum();
        let mut days: BTreeMap<String, (usize, u64)> = BTreeMap::new();
        for o in &listing.objects {
            let day = DeliveryKey::parse(&o.key).map_or_else(
                || "(not a delivery key)".to_string(),
                |k| format!("{:04}-{:02}-{:02}", k.date.0, k.date.1, k.date.2),
            );
            let e = days.entry(day).or_default();
            e.0 += 1;
            e.1 += o.size;
        }
        let _ = writeln!(
            out,
            "{uri}: {} objects, {}, {} days; {} prefixes listed in full, {} keys passed over",
            listing.objects.len(),
            mib(bytes),
            days.len(),
            listing.listed.len(),
            listing.skipped
        );
        for (day, (n, b)) in &days {
            let _ = writeln!(out, "  {day}  {n:>6} objects  {:>12}", mib(*b));
        }
        if args.keys {
            for o in &listing.objects {
                let _ = writeln!(out, "  s3://{}/{}  {}", uri.bucket, o.key, o.size);
            }
        }
    }
    print!("{out}");
    Ok(())
}

/// What a run read, for its summary.
#[derive(Default)]
pub(crate) struct Fetched {
    /// Objects read this run.
    pub(crate) objects: usize,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// Sources a checkpoint said were done.
    pub(crate) resumed: usize,
    /// Objects that failed after retries: (location, why).
    pub(crate) failed: Vec<(String, String)>,
}

impl Fetched {
    pub(crate) fn render(&self) -> String {
        let mut s = String::new();
        if self.objects + self.resumed + self.failed.len() > 0 {
            let _ = writeln!(
                s,
                "  S3: {} objects read ({}), {} sources already done (resumed), {} failed",
                self.objects,
                mib(self.bytes),
                self.resumed,
                self.failed.len()
            );
        }
        for (key, why) in self.failed.iter().take(10) {
            let _ = writeln!(s, "    failed: {key}: {why}");
        }
        s
    }
}

/// Lists `locations` and fetches what the window selects in batches bounded in bytes
/// and count, handing each batch (sources in memory, with their ETags) to `f`. Objects
/// `skip` says are done are counted as resumed; objects that still fail are counted
/// (or, `strict`, stop the run).
pub(crate) fn each_batch(
    locations: &[String],
    s3: &S3Args,
    strict: bool,
    quiet: bool,
    skip: &dyn Fn(&str, &str) -> bool,
    fetched: &mut Fetched,
    f: &mut dyn FnMut(Vec<(Source, String)>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    for location in locations {
        let uri = parse_uri(location)?;
        let (archive, listing) = s3.listing(&uri)?;
        let name = |o: &Object| format!("s3://{}/{}", uri.bucket, o.key);
        let found = listing.objects.len();
        let todo: Vec<Object> = listing
            .objects
            .into_iter()
            .filter(|o| !skip(&name(o), &o.etag))
            .collect();
        fetched.resumed += found - todo.len();
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            ProgressBar::new(todo.iter().map(|o| o.size).sum()).with_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}  {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            )
        });
        let budget = s3.batch_mib.max(1) << 20;
        // At most `budget` bytes (one bigger object alone) and a few rounds of GETs, so
        // checkpoints come regularly.
        let max_objects = s3.concurrency.max(1) * 4;
        let mut start = 0;
        while start < todo.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < todo.len()
                && end - start < max_objects
                && (end == start || bytes + todo[end].size <= budget)
            {
                bytes += todo[end].size;
                end += 1;
            }
            let batch = &todo[start..end];
            let objects_done = std::sync::atomic::AtomicUsize::new(start);
            let results = archive.fetch(batch, s3.concurrency, &|o, _| {
                let n = objects_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if let Some(b) = &bar {
                    b.inc(o.size);
                    b.set_message(format!("{n}/{} objects", todo.len()));
                }
            });
            let mut sources = Vec::new();
            for (o, r) in batch.iter().zip(results) {
                match r {
                    Ok(data) => {
                        fetched.objects += 1;
                        fetched.bytes += data.len() as u64;
                        sources.push((
                            Source::Memory {
                                name: name(o),
                                data,
                            },
                            o.etag.clone(),
                        ));
                    }
                    Err(e) if strict => {
                        return Err(Failure::Io(anyhow!(
                            "{e} (--strict / --s3-strict stop at the first object that fails)"
                        )));
                    }
                    Err(e) => fetched.failed.push((name(o), e.to_string())),
                }
            }
            f(sources)?;
            start = end;
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }
    Ok(())
}

/// Reads local paths and `s3://` locations into one store. With `checkpoint`, the store
/// and the list of sources read are saved there between batches (at most every
/// `checkpoint.every`, and when the run ends, even on an error), and a run that finds
/// the file resumes from it.
pub(crate) fn observe(
    paths: &[PathBuf],
    input: &InputArgs,
    s3: &S3Args,
    quiet: bool,
    checkpoint: Option<Checkpoint<'_>>,
) -> Result<
    (
        Observations,
        Report,
        Vec<flowfence_flowlog::Skipped>,
        Fetched,
    ),
    Failure,
> {
    let observations = Observations::default();
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    let mut fetched = Fetched::default();
    if let Some(path) = checkpoint.as_ref().map(|c| c.path).filter(|p| p.exists()) {
        let meta = observations
            .read_partial(path)
            .map_err(crate::aggregate::partial_failure)?;
        if let Some(m) = meta.get(MANIFEST_KEY) {
            done = serde_json::from_str(m).map_err(|e| {
                Failure::BadInput(anyhow!("{}: unreadable manifest: {e}", path.display()))
            })?;
        }
    }
    let mut saver = Saver {
        checkpoint,
        last: Instant::now(),
        cost: Duration::ZERO,
        unsaved: false,
    };

    let progress = Arc::new(Progress::default());
    let options = inputs::read_options(input, &progress)?;
    let (remote, local): (Vec<&PathBuf>, Vec<&PathBuf>) = paths
        .iter()
        .partition(|p| S3Uri::is_s3(&p.to_string_lossy()));
    let mut report: Option<Report> = None;
    let mut skipped = Vec::new();
    let mut absorb = |r: Report| match &mut report {
        Some(all) => all.append(r),
        None => report = Some(r),
    };

    // Local files: one batch.
    if !local.is_empty() {
        let local: Vec<PathBuf> = local.into_iter().cloned().collect();
        let discovery = inputs::discover_logs(&local)?;
        skipped = discovery.skipped;
        // A local file is done if its name, size and modification time match.
        let stamp = |s: &Source| match s {
            Source::File(p) => std::fs::metadata(p).ok().map_or_else(String::new, |m| {
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                format!("{}:{mtime}", m.len())
            }),
            _ => String::new(),
        };
        let found = discovery.sources.len();
        let todo: Vec<(Source, String)> = discovery
            .sources
            .into_iter()
            .map(|s| {
                let st = stamp(&s);
                (s, st)
            })
            .filter(|(s, st)| done.get(&s.display_name()) != Some(st) || st.is_empty())
            .collect();
        fetched.resumed += found - todo.len();
        if !todo.is_empty() {
            let names: Vec<(String, String)> = todo
                .iter()
                .map(|(s, st)| (s.display_name(), st.clone()))
                .collect();
            let sources: Vec<Source> = todo.into_iter().map(|(s, _)| s).collect();
            let ticker = crate::progress::Ticker::start(&progress, sources.len() as u64, quiet);
            absorb(observations.read_more(&Reader::new(sources, options.clone())));
            drop(ticker);
            done.extend(names);
            saver.batch_read(&observations, &done)?;
        }
    }

    // S3: batches bounded in bytes, fetched concurrently, read in parallel.
    let remote: Vec<String> = remote
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let strict = s3.s3_strict || input.strict;
    let already = done.clone();
    let read = each_batch(
        &remote,
        s3,
        strict,
        quiet,
        &|name, etag| already.get(name).is_some_and(|e| e == etag),
        &mut fetched,
        &mut |batch| {
            let names: Vec<(String, String)> = batch
                .iter()
                .map(|(s, etag)| (s.display_name(), etag.clone()))
                .collect();
            let sources = batch.into_iter().map(|(s, _)| s).collect();
            absorb(observations.read_more(&Reader::new(sources, options.clone())));
            done.extend(names);
            saver.batch_read(&observations, &done)
        },
    );
    // A run stopped by an error still keeps what its finished batches read.
    let saved = saver.finish(&observations, &done);
    read?;
    saved?;
    Ok((observations, report.unwrap_or_default(), skipped, fetched))
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
}
