//! Partial results on disk: everything an [`Observations`] store holds, as one Parquet
//! file, so runs over batches of files, days or shards of an archive merge into exactly
//! what one run over all of them gives.
//!
//! One row per fact, told apart by `kind`:
//! - `connection`: an interface's evidence for one connection (`interface_id`,
//!   `protocol`, `a_addr`, `a_port`, `b_addr`, `b_port`, `records`, `packets`, `bytes`,
//!   `first_seen`, `last_seen`, `bits`: flags, direction and who sent first, as
//!   [`Evidence`] has them);
//! - `reject`: REJECT records toward `interface_id`, `protocol`, port `b_port`;
//! - `gaps`: NODATA (`nodata`) and SKIPDATA (`skipdata`) records of `interface_id`;
//! - `service`: the AWS service (`name`) the logs gave address `a_addr`.
//!
//! Addresses are 16 bytes (IPv6 in network order, IPv4 as its IPv4-mapped form) and
//! `interface_id` is dictionary-encoded text. Columns a kind doesn't use hold 0, "" or
//! the unspecified address `::`. Rows are sorted, so the same observations always give
//! the same bytes. The file's metadata says `flowfence.partial = 4` and carries the
//! count of records without an interface id. A resumable job's checkpoint, once its
//! store spilled, says `5`: the same facts for the connections it held in memory, and
//! `flowfence.runs` names the spilled runs kept in the folder beside it.

use std::io::Write;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use arrow_array::types::Int32Type;
use arrow_array::{
    Array, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::Encoding;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::direction::{Addr, ConnectionKey, Endpoint, Evidence};
use crate::observations::{Collector, Gaps, Observations, Rejected, SHARDS, lock};
use crate::shard::{Entry, InterfaceIdx};
use flowfence_table::{Column, Columns, ParquetWriter, parquet_properties, write_atomically};

const FORMAT_KEY: &str = "flowfence.partial";
/// Version 2: who sent first is in `bits`, no longer `first_from_a`/`first_from_b`.
/// Version 3: addresses as 16 bytes, interface ids as a dictionary (not text).
/// Version 4: `bits` also say which ends sent and whether TCP connections opened.
const FORMAT_VERSION: &str = "4";
/// A resumable job's checkpoint once its store spilled: version 4's facts for the
/// connections held in memory only, the rest in the run files `RUNS_KEY` names, in the
/// folder beside it ([`checkpoint_runs`]). A reader that doesn't know it refuses it, as
/// it would miss the runs.
const CHECKPOINT_VERSION: &str = "5";
const WITHOUT_INTERFACE_KEY: &str = "flowfence.records_without_interface";
/// Metadata key of a checkpoint's runs: their files, and the interface ids their
/// entries' interface numbers stand for.
const RUNS_KEY: &str = "flowfence.runs";

/// The folder of a checkpoint's spilled runs: its path with `.runs` added.
pub(crate) fn checkpoint_runs(checkpoint: &Path) -> PathBuf {
    let mut dir = checkpoint.as_os_str().to_owned();
    dir.push(".runs");
    PathBuf::from(dir)
}

/// A checkpoint's runs, as its metadata lists them.
#[derive(serde::Serialize, serde::Deserialize)]
struct Runs {
    /// Interface ids by the number the runs' entries give them.
    interfaces: Vec<String>,
    /// The runs' file names, in the folder beside the checkpoint.
    files: Vec<String>,
}

/// Which connections a partial result holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every one, spilled runs read back: a partial result.
    Everything,
    /// Those held in memory: a checkpoint, its runs beside it.
    InMemory,
}

/// A partial result that can't be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartialError {
    /// The file can't be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not Parquet, or damaged.
    #[error("{path}: not a readable Parquet file: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        source: parquet::errors::ParquetError,
    },
    /// Parquet, but not a flowfence partial result (or a version this build can't read).
    #[error(
        "{path}: not a flowfence partial result ({why}); write one with `flowfence aggregate --partial FILE`"
    )]
    NotPartial {
        /// The file.
        path: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A row with a value that can't be right.
    #[error("{path}: row {row}, column {column}: {why}")]
    BadRow {
        /// The file.
        path: PathBuf,
        /// Row number, from 1.
        row: usize,
        /// The column.
        column: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// Row builder for the partial's columns.
#[derive(Default)]
struct Rows {
    kind: Vec<&'static str>,
    /// Keys into the interface id dictionary ([`interface_ids`]): 0 for none.
    interface: Vec<i32>,
    protocol: Vec<i32>,
    a_addr: Vec<Ipv6Addr>,
    a_port: Vec<i32>,
    b_addr: Vec<Ipv6Addr>,
    b_port: Vec<i32>,
    records: Vec<i64>,
    packets: Vec<i64>,
    bytes: Vec<i64>,
    first_seen: Vec<i64>,
    last_seen: Vec<i64>,
    bits: Vec<i32>,
    nodata: Vec<i64>,
    skipdata: Vec<i64>,
    name: Vec<String>,
}

/// The counter columns of rows that have none (gaps, services).
const NO_COUNTS: Evidence = Evidence {
    records: 0,
    packets: 0,
    bytes: 0,
    first_seen: 0,
    last_seen: 0,
    bits: 0,
};

/// One row's values; what a kind doesn't use stays at its default. A reject's counters
/// travel as evidence (records, packets, first and last seen).
#[derive(Default)]
struct Fact<'a> {
    kind: &'static str,
    interface: Option<InterfaceIdx>,
    protocol: u8,
    a: Option<Endpoint>,
    b: Option<Endpoint>,
    port: u16,
    evidence: Option<Evidence>,
    gaps: Gaps,
    name: &'a str,
}

impl Rows {
    fn len(&self) -> usize {
        self.kind.len()
    }

    fn push(&mut self, f: Fact<'_>) {
        let addr = |e: Option<Endpoint>| e.map_or(Ipv6Addr::UNSPECIFIED, |e| e.addr.to_ipv6());
        let port = |e: Option<Endpoint>| e.map_or(0, |e| i32::from(e.port));
        self.kind.push(f.kind);
        self.interface.push(f.interface.map_or(0, |i| {
            i32::try_from(i + 1).expect("fewer than 2^31 interfaces")
        }));
        self.protocol.push(i32::from(f.protocol));
        self.a_addr.push(addr(f.a));
        self.a_port.push(port(f.a));
        self.b_addr.push(addr(f.b));
        self.b_port.push(if f.b.is_some() {
            port(f.b)
        } else {
            i32::from(f.port)
        });
        // Counters of a connection, or of a reject (records, packets, first and last seen).
        let e = f.evidence.unwrap_or(NO_COUNTS);
        self.records.push(e.records as i64);
        self.packets.push(e.packets as i64);
        self.bytes.push(e.bytes as i64);
        self.first_seen.push(e.first_seen as i64);
        self.last_seen.push(e.last_seen as i64);
        self.bits.push(i32::from(e.bits));
        self.nodata.push(f.gaps.nodata as i64);
        self.skipdata.push(f.gaps.skipdata as i64);
        self.name.push(f.name.to_string());
    }

    /// The rows as columns; `interface_ids` is the dictionary their interface keys index.
    fn into_columns(self, interface_ids: &StringArray) -> Columns {
        let mut c = Columns::default();
        c.push("kind", Column::Label(self.kind))
            .push(
                "interface_id",
                Column::Dictionary {
                    keys: self.interface,
                    values: interface_ids.clone(),
                },
            )
            .push("protocol", Column::Int32(self.protocol))
            .push("a_addr", Column::Address(self.a_addr))
            .push("a_port", Column::Int32(self.a_port))
            .push("b_addr", Column::Address(self.b_addr))
            .push("b_port", Column::Int32(self.b_port))
            .push("records", Column::Int64(self.records))
            .push("packets", Column::Int64(self.packets))
            .push("bytes", Column::Int64(self.bytes))
            .push("first_seen", Column::Int64(self.first_seen))
            .push("last_seen", Column::Int64(self.last_seen))
            .push("bits", Column::Int32(self.bits))
            .push("nodata", Column::Int64(self.nodata))
            .push("skipdata", Column::Int64(self.skipdata))
            .push("name", Column::Text(self.name));
        c
    }
}

/// The interface id dictionary of a partial: "" (key 0, rows without an interface), then
/// every interned id (key `i + 1` for interface `i`). A chunk's rows index it; Parquet
/// writes only the values they use.
fn interface_ids(names: &[Box<str>]) -> StringArray {
    StringArray::from_iter_values(std::iter::once("").chain(names.iter().map(|n| &**n)))
}

/// How a partial result is encoded. Partials are read whole, never filtered, so they
/// carry no statistics (their min/max compared every value of every column).
/// Dictionaries only where values repeat: the parquet crate's dictionary encoder hashes
/// and byte-compares every value, and addresses are nearly all distinct (it fell back to
/// plain pages after hashing them all). Counters, times and ports are delta-encoded
/// instead. On the 1.54 M connections of 1 GiB of v5 logs, `merge` of the partial into
/// a new one took 0.75-0.78 s with dictionaries on every integer column and 0.68-0.71 s
/// this way, and the file is 18.1 MB instead of 20.9 MB.
fn partial_properties() -> WriterPropertiesBuilder {
    let mut properties = parquet_properties()
        .set_statistics_enabled(EnabledStatistics::None)
        .set_column_dictionary_enabled(ColumnPath::from("a_addr"), false)
        .set_column_dictionary_enabled(ColumnPath::from("b_addr"), false);
    for column in [
        "a_port",
        "b_port",
        "packets",
        "bytes",
        "first_seen",
        "last_seen",
    ] {
        properties = properties
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BINARY_PACKED);
    }
    properties
}

/// Rows per chunk when a partial result is written: what its columns hold in memory at
/// once (writing the whole store as one table cost about 4x the store's own memory).
const CHUNK_ROWS: usize = 1 << 16;

impl Observations {
    /// Writes everything observed as a partial result (Parquet) to `out`, with `meta`
    /// added to the file's metadata. Sorted: the same observations give the same file.
    pub fn write_partial<W: Write + Send>(
        &self,
        out: W,
        meta: &[(&str, String)],
    ) -> Result<W, parquet::errors::ParquetError> {
        self.write_partial_as(out, meta, Scope::Everything, partial_properties().build())
    }

    /// [`Observations::write_partial`] of the connections in `scope_of`, with these
    /// Parquet properties (tests make small row groups with them).
    fn write_partial_as<W: Write + Send>(
        &self,
        out: W,
        meta: &[(&str, String)],
        scope_of: Scope,
        properties: WriterProperties,
    ) -> Result<W, parquet::errors::ParquetError> {
        let mut writer = ParquetWriter::with_properties(out, properties);
        // The next chunk is built on its own thread while the last one is encoded.
        std::thread::scope(|scope| {
            let (send, chunks) = std::sync::mpsc::sync_channel(1);
            scope.spawn(move || self.partial_chunks(meta, scope_of, |chunk| send.send(chunk)));
            // On an error, `chunks` is dropped on return, so the builder's next send
            // fails and it stops.
            chunks
                .into_iter()
                .try_for_each(|chunk| writer.write(&chunk))
        })?;
        writer.finish()
    }

    /// [`Observations::write_partial`] to `path`, which appears whole or not at all (a
    /// resumable run rewrites its partial result after every batch).
    pub fn write_partial_file(&self, path: &Path, meta: &[(&str, String)]) -> std::io::Result<()> {
        self.write_partial_file_of(path, meta, Scope::Everything)
    }

    fn write_partial_file_of(
        &self,
        path: &Path,
        meta: &[(&str, String)],
        scope_of: Scope,
    ) -> std::io::Result<()> {
        write_atomically(path, |file| {
            let w = self
                .write_partial_as(
                    std::io::BufWriter::new(file),
                    meta,
                    scope_of,
                    partial_properties().build(),
                )
                .map_err(std::io::Error::other)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()
        })
    }

    /// Saves a resumable job's checkpoint to `path` (whole or not at all), `meta` added
    /// to its metadata. Until the store spills, that is its partial result. Once it
    /// has spilled, with its runs written beside the checkpoint
    /// ([`Observations::spill_runs_to`]), it is what is in memory and the list of
    /// runs, which are never rewritten: a save costs about the memory limit, not the
    /// store. Files in the runs folder the checkpoint no longer names (an earlier
    /// process's, read back since) are removed once it is saved.
    pub fn write_checkpoint_file(
        &self,
        path: &Path,
        meta: &[(&str, String)],
    ) -> std::io::Result<()> {
        let files: Vec<String> = self
            .shards
            .iter()
            .flat_map(|s| {
                lock(s)
                    .run_files()
                    .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        if files.is_empty() {
            self.write_partial_file(path, meta)?;
        } else {
            let runs = Runs {
                interfaces: lock(&self.names)
                    .names
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
                files: files.clone(),
            };
            let mut meta = meta.to_vec();
            meta.push((FORMAT_KEY, CHECKPOINT_VERSION.to_string()));
            meta.push((
                RUNS_KEY,
                serde_json::to_string(&runs).expect("runs serialise"),
            ));
            self.write_partial_file_of(path, &meta, Scope::InMemory)?;
        }
        let Some(dir) = &self.spill_dir else {
            return Ok(());
        };
        for old in std::fs::read_dir(dir)? {
            let old = old?;
            if !files
                .iter()
                .any(|f| *f == old.file_name().to_string_lossy())
            {
                std::fs::remove_file(old.path())?;
            }
        }
        Ok(())
    }

    /// Writes spilled runs as files in `dir` (a checkpoint's runs folder), where they
    /// outlive the process, instead of anonymous temporary files.
    pub fn spill_runs_to(&mut self, dir: PathBuf) {
        self.spill_dir = Some(dir);
    }

    /// The partial result's rows in chunks of at most [`CHUNK_ROWS`], in the file's
    /// order: connections by interface id then key, rejects, gaps, services. At least
    /// one chunk, so an empty store still gives the columns.
    fn partial_chunks<E>(
        &self,
        meta: &[(&str, String)],
        scope_of: Scope,
        mut emit: impl FnMut(Columns) -> Result<(), E>,
    ) -> Result<(), E> {
        let names = lock(&self.names);
        let names = &names.names;
        let mut shards: Vec<_> = self.shards.iter().map(lock).collect();
        let without = self.records_without_interface().to_string();
        let interface_ids = interface_ids(names);
        let mut emitted = false;
        let mut flush = |rows: &mut Rows, last: bool| -> Result<(), E> {
            // A full chunk; at the end, what is left, or an empty chunk for the schema
            // when nothing was written.
            let due = rows.len() >= CHUNK_ROWS || last && (rows.len() > 0 || !emitted);
            if !due {
                return Ok(());
            }
            emitted = true;
            let mut columns = std::mem::take(rows).into_columns(&interface_ids);
            columns
                .meta(FORMAT_KEY, FORMAT_VERSION.to_string())
                .meta(WITHOUT_INTERFACE_KEY, without.clone());
            for (key, value) in meta {
                columns.meta(key, value.clone());
            }
            emit(columns)
        };
        let mut rows = Rows::default();

        // A shard is sorted by interface index, then key: each interface's connections
        // are a run of its shard, already in key order.
        let mut by_name: Vec<InterfaceIdx> = (0..names.len() as InterfaceIdx).collect();
        by_name.sort_unstable_by_key(|&i| &names[i as usize]);
        // An interface at a time, streamed: with spilled runs, its entries are merged as
        // they are read.
        for i in by_name {
            let mut push = |((_, k), e): &Entry| {
                rows.push(Fact {
                    kind: "connection",
                    interface: Some(i),
                    protocol: k.protocol,
                    a: Some(k.a),
                    b: Some(k.b),
                    evidence: Some(*e),
                    ..Fact::default()
                });
                flush(&mut rows, false)
            };
            let shard = &mut shards[i as usize % SHARDS];
            match scope_of {
                Scope::Everything => shard.each_of_interface(i, push)?,
                Scope::InMemory => {
                    let held = shard.in_memory_entries();
                    let start = held.partition_point(|((j, _), _)| *j < i);
                    for entry in held[start..].iter().take_while(|((j, _), _)| *j == i) {
                        push(entry)?;
                    }
                }
            }
        }

        let extras = lock(&self.extras);
        let mut rejects: Vec<_> = extras.rejects.iter().collect();
        rejects.sort_unstable_by(|((i, p, port), _), ((j, q, qort), _)| {
            (&names[*i as usize], p, port).cmp(&(&names[*j as usize], q, qort))
        });
        for ((i, protocol, port), r) in rejects {
            rows.push(Fact {
                kind: "reject",
                interface: Some(*i),
                protocol: *protocol,
                port: *port,
                evidence: Some(Evidence {
                    records: r.records,
                    packets: r.packets,
                    first_seen: r.first_seen,
                    last_seen: r.last_seen,
                    ..NO_COUNTS
                }),
                ..Fact::default()
            });
            flush(&mut rows, false)?;
        }
        let mut gaps: Vec<_> = extras.gaps.iter().collect();
        gaps.sort_unstable_by(|x, y| names[*x.0 as usize].cmp(&names[*y.0 as usize]));
        for (i, g) in gaps {
            rows.push(Fact {
                kind: "gaps",
                interface: Some(*i),
                gaps: *g,
                ..Fact::default()
            });
            flush(&mut rows, false)?;
        }
        let mut services: Vec<_> = extras.services.iter().collect();
        services.sort_unstable();
        for (addr, name) in services {
            rows.push(Fact {
                kind: "service",
                a: Some(Endpoint {
                    addr: Addr::from(*addr),
                    port: 0,
                }),
                name,
                ..Fact::default()
            });
            flush(&mut rows, false)?;
        }
        flush(&mut rows, true)
    }

    /// Adds several partial results' observations to this store, read in parallel (in
    /// any order they give the same store); the first failure in the order given is
    /// returned.
    pub fn read_partials(&self, paths: &[PathBuf]) -> Result<(), PartialError> {
        let results: Vec<Result<(), PartialError>> = paths
            .par_iter()
            .map(|p| self.read_partial(p).map(|_| ()))
            .collect();
        results.into_iter().collect()
    }

    /// Adds a partial result file's observations to this store (several files, in any
    /// order, give the same store as one run over all their logs). Returns the file's
    /// key-value metadata (where a resumable run keeps its manifest).
    pub fn read_partial(
        &self,
        path: &Path,
    ) -> Result<std::collections::HashMap<String, String>, PartialError> {
        let open = || {
            std::fs::File::open(path).map_err(|source| PartialError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let parquet = |source| PartialError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let metadata =
            ArrowReaderMetadata::load(&open()?, ArrowReaderOptions::default()).map_err(parquet)?;
        let not_partial = |why: String| PartialError::NotPartial {
            path: path.to_path_buf(),
            why,
        };
        let meta = metadata.schema().metadata().clone();
        let runs: Option<Runs> =
            match meta.get(FORMAT_KEY).map(String::as_str) {
                Some(FORMAT_VERSION) => None,
                Some(CHECKPOINT_VERSION) => {
                    let runs = meta
                        .get(RUNS_KEY)
                        .ok_or_else(|| not_partial(format!("a checkpoint without `{RUNS_KEY}`")))?;
                    Some(serde_json::from_str(runs).map_err(|e| {
                        not_partial(format!("unreadable `{RUNS_KEY}` metadata: {e}"))
                    })?)
                }
                Some(v) => {
                    return Err(not_partial(format!(
                        "format version {v}, expected {FORMAT_VERSION} (a partial result) or \
                     {CHECKPOINT_VERSION} (a checkpoint with its runs)"
                    )));
                }
                None => return Err(not_partial(format!("no `{FORMAT_KEY}` metadata"))),
            };
        let without: u64 = meta
            .get(WITHOUT_INTERFACE_KEY)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| not_partial(format!("no `{WITHOUT_INTERFACE_KEY}` metadata")))?;

        // Row groups are read in parallel, each through its own file handle (clones of
        // one share its offset) into its own collector; the first failure in file order
        // is reported.
        let mut first_rows = Vec::new();
        let mut rows = 0;
        for group in metadata.metadata().row_groups() {
            first_rows.push(rows);
            rows += usize::try_from(group.num_rows()).unwrap_or(0);
        }
        let read_group = |group: usize| -> Result<(), PartialError> {
            let reader =
                ParquetRecordBatchReaderBuilder::new_with_metadata(open()?, metadata.clone())
                    .with_row_groups(vec![group])
                    .build()
                    .map_err(parquet)?;
            let mut collector = BatchReader {
                store: self,
                path,
                connections: self.collector(),
            };
            let mut row_base = first_rows[group];
            for batch in reader {
                let batch = batch.map_err(|e| parquet(e.into()))?;
                collector.batch(&batch, row_base)?;
                row_base += batch.num_rows();
            }
            Ok(())
        };
        let results: Vec<_> = (0..first_rows.len())
            .into_par_iter()
            .map(read_group)
            .collect();
        results.into_iter().collect::<Result<(), _>>()?;
        if let Some(runs) = runs {
            self.read_runs(path, &runs)?;
        }
        self.add_without_interface(without);
        Ok(meta.into_iter().collect())
    }

    /// Adds the entries of a checkpoint's runs (in parallel, each through its own
    /// collector).
    fn read_runs(&self, checkpoint: &Path, runs: &Runs) -> Result<(), PartialError> {
        let dir = checkpoint_runs(checkpoint);
        let results: Vec<Result<(), PartialError>> = runs
            .files
            .par_iter()
            .map(|file| {
                let path = dir.join(file);
                let mut collector = self.collector();
                let mut ids: Vec<Option<InterfaceIdx>> = vec![None; runs.interfaces.len()];
                let mut unknown = None;
                crate::spill::read_file(&path, |((i, key), evidence)| {
                    let Some(name) = runs.interfaces.get(i as usize) else {
                        unknown.get_or_insert(i);
                        return;
                    };
                    let id = *ids[i as usize].get_or_insert_with(|| collector.id(name));
                    collector.add(id, key, evidence);
                })
                .map_err(|source| PartialError::Io {
                    path: path.clone(),
                    source,
                })?;
                match unknown {
                    Some(i) => Err(PartialError::NotPartial {
                        path,
                        why: format!("interface number {i}, beyond the checkpoint's list"),
                    }),
                    None => Ok(()),
                }
            })
            .collect();
        results.into_iter().collect()
    }
}

struct BatchReader<'a> {
    store: &'a Observations,
    path: &'a Path,
    /// Batches connections into the store (and interns interface ids) as reading logs
    /// does; what it holds reaches the store when the reader is dropped.
    connections: Collector<'a>,
}

impl BatchReader<'_> {
    fn batch(&mut self, batch: &RecordBatch, row_base: usize) -> Result<(), PartialError> {
        let path = self.path;
        let missing = |column: &'static str| PartialError::NotPartial {
            path: path.to_path_buf(),
            why: format!("no {column} column of the expected type"),
        };
        let text = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| missing(name))
        };
        let int32 = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
                .ok_or_else(|| missing(name))
        };
        let int64 = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .ok_or_else(|| missing(name))
        };
        let address = |name: &'static str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<FixedSizeBinaryArray>())
                .filter(|c| c.value_length() == 16)
                .ok_or_else(|| missing(name))
        };
        let kind = text("kind")?;
        let interface_id = batch
            .column_by_name("interface_id")
            .and_then(|c| c.as_any().downcast_ref::<DictionaryArray<Int32Type>>())
            .ok_or_else(|| missing("interface_id"))?;
        let interface_ids = interface_id
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| missing("interface_id"))?;
        let interface_keys = interface_id.keys();
        let protocol = int32("protocol")?;
        let a_addr = address("a_addr")?;
        let a_port = int32("a_port")?;
        let b_addr = address("b_addr")?;
        let b_port = int32("b_port")?;
        let records = int64("records")?;
        let packets = int64("packets")?;
        let bytes = int64("bytes")?;
        let first_seen = int64("first_seen")?;
        let last_seen = int64("last_seen")?;
        let bits = int32("bits")?;
        let nodata = int64("nodata")?;
        let skipdata = int64("skipdata")?;
        let name = text("name")?;
        let columns: [&dyn Array; 6] = [kind, interface_id, interface_ids, a_addr, b_addr, name];
        if columns.iter().any(|c| c.null_count() > 0) {
            return Err(missing("non-null values"));
        }
        // Each interface id is interned once per batch, at its first row that has one.
        let mut interned: Vec<Option<InterfaceIdx>> = vec![None; interface_ids.len()];
        let mut iface = |connections: &mut Collector<'_>, row: usize| {
            let key = interface_keys.value(row) as usize;
            *interned[key].get_or_insert_with(|| connections.id(interface_ids.value(key)))
        };

        for row in 0..batch.num_rows() {
            let bad = |column: &'static str, why: String| PartialError::BadRow {
                path: path.to_path_buf(),
                row: row_base + row + 1,
                column,
                why,
            };
            let addr = |c: &FixedSizeBinaryArray| {
                let octets: [u8; 16] = c.value(row).try_into().expect("16 bytes, checked above");
                Addr::from(IpAddr::V6(Ipv6Addr::from(octets)))
            };
            let port = |c: &Int32Array, column| {
                u16::try_from(c.value(row))
                    .map_err(|_| bad(column, format!("{} is not a port", c.value(row))))
            };
            let proto = || {
                u8::try_from(protocol.value(row)).map_err(|_| {
                    bad(
                        "protocol",
                        format!("{} is not a protocol", protocol.value(row)),
                    )
                })
            };
            let count = |c: &Int64Array, column| {
                u64::try_from(c.value(row))
                    .map_err(|_| bad(column, format!("{} is negative", c.value(row))))
            };
            match kind.value(row) {
                "connection" => {
                    let a = Endpoint {
                        addr: addr(a_addr),
                        port: port(a_port, "a_port")?,
                    };
                    let b = Endpoint {
                        addr: addr(b_addr),
                        port: port(b_port, "b_port")?,
                    };
                    if a > b {
                        return Err(bad(
                            "a_addr",
                            "endpoints out of order (a must be below b)".into(),
                        ));
                    }
                    let evidence = Evidence {
                        records: count(records, "records")?,
                        packets: count(packets, "packets")?,
                        bytes: count(bytes, "bytes")?,
                        first_seen: count(first_seen, "first_seen")?,
                        last_seen: count(last_seen, "last_seen")?,
                        bits: u16::try_from(bits.value(row)).map_err(|_| {
                            bad("bits", format!("{} is out of range", bits.value(row)))
                        })?,
                    };
                    let key = ConnectionKey {
                        protocol: proto()?,
                        a,
                        b,
                    };
                    let iface = iface(&mut self.connections, row);
                    self.connections.add(iface, key, evidence);
                }
                "reject" => {
                    let r = Rejected {
                        records: count(records, "records")?,
                        packets: count(packets, "packets")?,
                        first_seen: count(first_seen, "first_seen")?,
                        last_seen: count(last_seen, "last_seen")?,
                    };
                    let key = (
                        iface(&mut self.connections, row),
                        proto()?,
                        port(b_port, "b_port")?,
                    );
                    self.store.with_extras(|e| e.add_reject(key, r));
                }
                "gaps" => {
                    let g = Gaps {
                        nodata: count(nodata, "nodata")?,
                        skipdata: count(skipdata, "skipdata")?,
                    };
                    let iface = iface(&mut self.connections, row);
                    self.store.with_extras(|e| e.add_gaps(iface, g));
                }
                "service" => {
                    let a = addr(a_addr).ip();
                    self.store
                        .with_extras(|e| e.add_service(a, name.value(row)));
                }
                other => {
                    return Err(bad(
                        "kind",
                        format!("`{other}` is not a kind (connection, reject, gaps, service)"),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::FileReader;

    /// A store larger than one chunk is written in several and reads back to the same
    /// store: the same file again, and every connection.
    #[test]
    fn chunked_partials_round_trip() {
        let store = Observations::default();
        let mut collector = store.collector();
        let count = CHUNK_ROWS * 2 + 123;
        for n in 0..count {
            let iface = collector.id(["eni-b", "eni-a", "eni-c"][n % 3]);
            let end = |host: u32, port: u16| Endpoint {
                addr: Addr::from(IpAddr::from(std::net::Ipv4Addr::from(host))),
                port,
            };
            let key = ConnectionKey {
                protocol: 6,
                a: end(0x0a00_0001, 443),
                b: end(0x0a01_0000 + n as u32, 40_000),
            };
            let evidence = Evidence {
                records: 1,
                first_seen: n as u64,
                ..Evidence::NONE
            };
            collector.add(iface, key, evidence);
        }
        drop(collector);
        let file = store
            .write_partial(Vec::new(), &[("k", "v".into())])
            .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        std::fs::write(&path, &file).unwrap();
        let again = Observations::default();
        let meta = again.read_partial(&path).unwrap();
        assert_eq!(meta.get("k").map(String::as_str), Some("v"));
        assert_eq!(again.connections(), count);
        assert_eq!(
            again
                .write_partial(Vec::new(), &[("k", "v".into())])
                .unwrap(),
            file
        );
        let reader =
            parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(file))
                .unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), count as i64);
    }

    /// A store of every kind of fact: IPv4 and IPv6 connections on three interfaces,
    /// rejects, gaps, AWS service addresses and records without an interface.
    fn store_of_every_kind(connections: usize) -> Observations {
        let store = Observations::default();
        let mut collector = store.collector();
        for n in 0..connections {
            let iface = collector.id(["eni-b", "eni-a", "eni-c"][n % 3]);
            let addr = |ip: &str| Addr::from(ip.parse::<IpAddr>().unwrap());
            let (a, b) = if n % 2 == 0 {
                (
                    addr("10.0.0.1"),
                    addr(&format!("10.1.{}.{}", n / 256 % 256, n % 256)),
                )
            } else {
                (addr("2600:1f18::1"), addr(&format!("2600:1f18::{n:x}")))
            };
            let key = ConnectionKey {
                protocol: [6, 17][n % 2],
                a: Endpoint { addr: a, port: 443 },
                b: Endpoint {
                    addr: b,
                    port: 32_768 + (n % 20_000) as u16,
                },
            };
            let evidence = Evidence {
                records: 1 + n as u64 % 3,
                packets: 10 + n as u64,
                bytes: 1_000 * n as u64,
                first_seen: 1_700_000_000 + n as u64,
                last_seen: 1_700_000_060 + n as u64,
                bits: crate::A_CLIENT | crate::B_LOCAL | crate::A_FIRST,
            };
            collector.add(iface, key, evidence);
        }
        let eni_a = collector.id("eni-a");
        drop(collector);
        store.with_extras(|e| {
            let rejected = Rejected {
                records: 2,
                packets: 3,
                first_seen: 1_700_000_000,
                last_seen: 1_700_000_100,
            };
            e.add_reject((eni_a, 6, 22), rejected);
            e.add_gaps(
                eni_a,
                Gaps {
                    nodata: 4,
                    skipdata: 1,
                },
            );
            e.add_service("52.94.0.9".parse().unwrap(), "DYNAMODB");
            e.add_service("2600:1f18::9".parse().unwrap(), "S3");
        });
        store.add_without_interface(7);
        store
    }

    /// A partial of many row groups (read in parallel, a collector each) reads back to
    /// the same store as one of a single row group: every kind of fact, IPv6 included.
    #[test]
    fn row_groups_read_in_parallel_give_the_same_store() {
        let store = store_of_every_kind(5_000);
        let whole = store.write_partial(Vec::new(), &[]).unwrap();
        let small_groups = partial_properties()
            .set_max_row_group_row_count(Some(700))
            .build();
        let split = store
            .write_partial_as(Vec::new(), &[], Scope::Everything, small_groups)
            .unwrap();
        let groups = |file: &[u8]| {
            parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(
                file.to_vec(),
            ))
            .unwrap()
            .metadata()
            .num_row_groups()
        };
        assert_eq!((groups(&whole), groups(&split)), (1, 8));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("split.parquet");
        std::fs::write(&path, &split).unwrap();
        let again = Observations::default();
        again.read_partial(&path).unwrap();
        assert_eq!(again.connections(), 5_000);
        assert_eq!(again.records_without_interface(), 7);
        assert_eq!(again.write_partial(Vec::new(), &[]).unwrap(), whole);
    }

    /// A bad value in a later row group is reported at its row in the whole file.
    #[test]
    fn a_bad_row_is_named_by_its_row_in_the_file() {
        let names: Vec<Box<str>> = vec!["eni-a".into()];
        let mut rows = Rows::default();
        for n in 0..5u16 {
            let end = |host: u32, port: u16| Endpoint {
                addr: Addr::from(IpAddr::from(std::net::Ipv4Addr::from(host))),
                port,
            };
            rows.push(Fact {
                kind: "connection",
                interface: Some(0),
                protocol: 6,
                a: Some(end(0x0a00_0001, 443)),
                b: Some(end(0x0a00_0002, 40_000 + n)),
                evidence: Some(Evidence {
                    records: 1,
                    first_seen: 1_700_000_000,
                    last_seen: 1_700_000_000,
                    ..Evidence::NONE
                }),
                ..Fact::default()
            });
        }
        rows.b_port[3] = 70_000;
        let mut columns = rows.into_columns(&interface_ids(&names));
        columns
            .meta(FORMAT_KEY, FORMAT_VERSION.into())
            .meta(WITHOUT_INTERFACE_KEY, "0".into());
        let properties = partial_properties()
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut writer = ParquetWriter::with_properties(Vec::new(), properties);
        writer.write(&columns).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        std::fs::write(&path, writer.finish().unwrap()).unwrap();

        let err = Observations::default().read_partial(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: row 4, column b_port: 70000 is not a port",
                path.display()
            )
        );
    }

    /// A partial of another format version is refused, and the error says which.
    #[test]
    fn other_format_versions_are_named() {
        // The caller's metadata is added after the format's own, so this key wins.
        let file = Observations::default()
            .write_partial(Vec::new(), &[(FORMAT_KEY, "2".into())])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.parquet");
        std::fs::write(&path, &file).unwrap();
        let err = Observations::default().read_partial(&path).unwrap_err();
        assert!(
            err.to_string().contains("format version 2, expected 4"),
            "{err}"
        );
    }
}
