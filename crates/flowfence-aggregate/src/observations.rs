//! Evidence per (interface, connection), collected by many reader workers at once.
//!
//! The store is sharded by interface. Each worker's [`Collector`] first merges a record
//! into a small direct-mapped cache (a connection's request and response records are
//! usually adjacent, so about half the records end there), then buffers what the cache
//! evicts per shard, sorts a full buffer and hands it to the shard under its lock (a
//! [`Shard`] keeps its connections sorted, merging batches in): no merging of per-worker
//! maps afterwards. Interface ids are interned once per run (a lock taken once
//! per new interface per worker); the hot path hashes the id string in a small
//! worker-local map and the connection key for the cache. Everything that reaches an
//! output is sorted, so the arrival order (and the ids it assigns) never shows.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use flowfence_flowlog::{Action, LogStatus, Reader, Record, RecordSink, Report};
use rayon::prelude::*;

use crate::direction::{ConnectionKey, Evidence, observe};
use crate::shard::{BatchOrder, Entry, InterfaceIdx, Shard};

/// Hash maps with a fast hasher: millions of connection keys are hashed (std's SipHash
/// was a fifth of an aggregation). Nothing iterates them in hash order into an output.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// Shards of the connection store: enough for workers to rarely meet on a lock and for
/// the table to be built shard by shard in parallel. 16 shards with 4096-entry buffers
/// measured ~15% faster than 64 with 512 on 1 GiB of v5 logs (fewer, longer lock holds
/// with better locality).
pub(crate) const SHARDS: usize = 16;

/// Evidence a worker buffers per shard before taking the shard's lock.
const FLUSH_AT: usize = 4096;

/// Slots in a worker's merge cache. On 1 GiB of v5 logs, 256 slots merged 2.45M of 4.5M
/// records and 8192 barely more (a connection's records are mostly adjacent), while
/// every probe of a cache beyond L1 cost a miss.
const CACHE_SLOTS: usize = 1 << 8;

/// What was rejected toward one interface, protocol and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Records.
    pub records: u64,
    /// Packets.
    pub packets: u64,
    /// Earliest start.
    pub first_seen: u64,
    /// Latest end.
    pub last_seen: u64,
}

impl Rejected {
    fn merge(&mut self, other: &Rejected) {
        self.records += other.records;
        self.packets += other.packets;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// NODATA and SKIPDATA records of one interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gaps {
    /// NODATA records (no traffic in the window).
    pub nodata: u64,
    /// SKIPDATA records (records lost in the window).
    pub skipdata: u64,
}

/// Interface ids, interned.
#[derive(Debug, Default)]
pub(crate) struct Names {
    ids: HashMap<Box<str>, InterfaceIdx>,
    pub(crate) names: Vec<Box<str>>,
}

impl Names {
    fn intern(&mut self, name: &str) -> InterfaceIdx {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = InterfaceIdx::try_from(self.names.len()).expect("fewer than 4G interfaces");
        self.ids.insert(name.into(), id);
        self.names.push(name.into());
        id
    }
}

/// The small per-interface summaries (REJECTs, coverage gaps, AWS service addresses).
#[derive(Debug, Default)]
pub(crate) struct Extras {
    pub(crate) rejects: HashMap<(InterfaceIdx, u8, u16), Rejected>,
    pub(crate) gaps: HashMap<InterfaceIdx, Gaps>,
    /// Addresses the logs name an AWS service for (`pkt-*-aws-service`).
    pub(crate) services: HashMap<IpAddr, Box<str>>,
}

impl Extras {
    fn absorb(&mut self, other: Extras) {
        for (k, r) in other.rejects {
            self.rejects
                .entry(k)
                .and_modify(|x| x.merge(&r))
                .or_insert(r);
        }
        for (k, g) in other.gaps {
            self.add_gaps(k, g);
        }
        for (addr, name) in other.services {
            self.add_service(addr, &name);
        }
    }

    pub(crate) fn add_reject(&mut self, key: (InterfaceIdx, u8, u16), r: Rejected) {
        self.rejects
            .entry(key)
            .and_modify(|x| x.merge(&r))
            .or_insert(r);
    }

    pub(crate) fn add_gaps(&mut self, iface: InterfaceIdx, g: Gaps) {
        let mine = self.gaps.entry(iface).or_default();
        mine.nodata += g.nodata;
        mine.skipdata += g.skipdata;
    }

    /// An address keeps the smallest service name the logs gave it, so the result doesn't
    /// depend on reading order.
    pub(crate) fn add_service(&mut self, addr: IpAddr, name: &str) {
        match self.services.get_mut(&addr) {
            Some(have) if **have <= *name => {}
            Some(have) => *have = name.into(),
            None => {
                self.services.insert(addr, name.into());
            }
        }
    }
}

/// Evidence per (interface, connection), plus REJECT, coverage and AWS service summaries,
/// filled by [`Collector`]s (one per reader worker) and turned into the table by
/// [`Observations::finish`](crate::Observations::finish).
#[derive(Debug)]
pub struct Observations {
    pub(crate) names: Mutex<Names>,
    pub(crate) shards: Vec<Mutex<Shard>>,
    pub(crate) extras: Mutex<Extras>,
    pub(crate) without_interface: AtomicU64,
    /// Rows (and peers) each shard's table rows may hold before they spill, when the
    /// store spilled.
    row_budget: Option<usize>,
    /// Entries the shards may hold in memory before the largest spills to disk.
    spill_at: Option<usize>,
    /// Where spilled runs are written to outlive the process (beside a checkpoint);
    /// `None`: anonymous temporary files.
    pub(crate) spill_dir: Option<PathBuf>,
    /// The first spill that failed (the entries then stay in memory).
    spill_error: Mutex<Option<std::io::Error>>,
    /// Runs spilled.
    spills: AtomicU64,
}

impl Default for Observations {
    fn default() -> Self {
        Observations {
            names: Mutex::default(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            extras: Mutex::default(),
            without_interface: AtomicU64::new(0),
            row_budget: None,
            spill_at: None,
            spill_dir: None,
            spill_error: Mutex::default(),
            spills: AtomicU64::new(0),
        }
    }
}

/// Per-shard work, largest first, each item taken by the next free thread: one
/// interface can hold most connections, and when rayon split the shards by index
/// ranges, the two largest landed on one thread and finished last, alone.
pub(crate) fn largest_first<T: Send>(
    mut items: Vec<T>,
    size: impl Fn(&T) -> usize,
) -> rayon::iter::IterBridge<std::vec::IntoIter<T>> {
    items.sort_by_key(|t| std::cmp::Reverse(size(t)));
    items.into_iter().par_bridge()
}

/// `f` over every item, [`largest_first`], with the results back in the items' order.
pub(crate) fn in_order_largest_first<T: Send, R: Send>(
    items: Vec<T>,
    size: impl Fn(&T) -> usize,
    f: impl Fn(T) -> R + Sync + Send,
) -> Vec<R> {
    let mut done: Vec<(usize, R)> =
        largest_first(items.into_iter().enumerate().collect(), |(_, t)| size(t))
            .map(|(i, t)| (i, f(t)))
            .collect();
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Locks a mutex, even one poisoned by a worker that panicked: the panic itself leaves
/// the read (rayon resumes it in the caller), so nothing built from a half-updated shard
/// reaches an output; not unwrapping here keeps a second panic from hiding the first.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Observations {
    /// Reads everything `reader` reads into a new store, one collector per worker.
    pub fn read(reader: &Reader) -> (Observations, Report) {
        // Each collector hands its evidence to the store when dropped: the parts rayon
        // folds need no merging, and the last one is dropped in `read_more`.
        let observations = Observations::default();
        let report = observations.read_more(reader);
        (observations, report)
    }

    /// Reads more sources into this store (a later batch of the same job).
    pub fn read_more(&self, reader: &Reader) -> Report {
        let (last, report) = reader.fold(|| self.collector(), |a, _b| a);
        drop(last);
        report
    }

    /// A new collector (a [`RecordSink`]) feeding this store. Its buffered evidence
    /// reaches the store when it is dropped.
    pub fn collector(&self) -> Collector<'_> {
        let empty = ((0, ConnectionKey::default()), Evidence::NONE);
        Collector {
            store: self,
            cache: vec![empty; CACHE_SLOTS].into_boxed_slice(),
            hasher: ahash::RandomState::new(),
            ids: HashMap::default(),
            pending: (0..SHARDS).map(|_| Vec::new()).collect(),
            order: BatchOrder::default(),
            extras: Extras::default(),
            without_interface: 0,
        }
    }

    /// Keeps the evidence store's entries within about `bytes` of memory while logs are
    /// read: past it, the shard holding most moves its sorted entries to a temporary
    /// file, merged back when the store is read (the table and partial results are the
    /// same bytes either way). A compaction can briefly double a shard, so entries
    /// spill at half the limit. When the store spilled, the rows of the table are held
    /// to a quarter of it as the table is built. `None`: no limit.
    pub fn set_memory_limit(&mut self, bytes: Option<u64>) {
        // A quarter of the limit for the rows of every shard, at about 256 bytes a row.
        self.row_budget = bytes.map(|b| (b / 4 / SHARDS as u64 / 256).max(64) as usize);
        self.spill_at = bytes.map(|b| (b / 2 / size_of::<Entry>() as u64).max(1) as usize);
    }

    /// Rows each shard's table rows may hold before they spill (when the store did).
    pub(crate) fn row_budget(&self) -> Option<usize> {
        self.row_budget
    }

    /// Sets the row budget alone, to spill rows of small tables.
    #[cfg(test)]
    pub(crate) fn set_row_budget(&mut self, rows: usize) {
        self.row_budget = Some(rows);
    }

    /// The first spill that failed, if any (its entries stayed in memory).
    pub fn spill_error(&self) -> Option<String> {
        lock(&self.spill_error).as_ref().map(ToString::to_string)
    }

    /// Spills shards, those holding most in memory first, while the shards together
    /// hold more than the limit allows.
    fn keep_within_limit(&self) {
        let Some(limit) = self.spill_at else { return };
        let held: Vec<usize> = self.shards.iter().map(|s| lock(s).in_memory()).collect();
        let mut total: usize = held.iter().sum();
        // Largest first, until within the limit: one usually does, and a shard whose
        // compaction is out (it can't spill now) passes to the next, so two workers
        // flushing at once don't leave the store over the limit.
        let mut order: Vec<usize> = (0..held.len()).collect();
        order.sort_unstable_by_key(|&s| std::cmp::Reverse(held[s]));
        for s in order {
            if total <= limit {
                break;
            }
            match lock(&self.shards[s]).spill(self.spill_dir.as_deref()) {
                Ok(0) => {}
                Ok(_) => {
                    total -= held[s];
                    self.spills.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    lock(&self.spill_error).get_or_insert(e);
                    return;
                }
            }
        }
    }

    /// Moves every shard's entries to disk, as a memory limit would.
    #[cfg(test)]
    pub(crate) fn spill_all(&self) {
        for shard in &self.shards {
            let moved = lock(shard)
                .spill(self.spill_dir.as_deref())
                .expect("spilling to a temporary file");
            if moved > 0 {
                self.spills.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many sorted runs moved to temporary files under the memory limit.
    pub fn spills(&self) -> u64 {
        self.spills.load(Ordering::Relaxed)
    }

    /// Distinct (interface, connection) pairs observed: what memory grows with.
    pub fn connections(&self) -> usize {
        largest_first(self.shards.iter().collect(), |s| lock(s).size())
            .map(|s| lock(s).len())
            .sum()
    }

    /// Records without an interface id (ECS/Fargate tasks, regional NAT gateways).
    pub fn records_without_interface(&self) -> u64 {
        self.without_interface.load(Ordering::Relaxed)
    }

    pub(crate) fn intern(&self, name: &str) -> InterfaceIdx {
        lock(&self.names).intern(name)
    }

    pub(crate) fn add_without_interface(&self, n: u64) {
        self.without_interface.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn with_extras<R>(&self, f: impl FnOnce(&mut Extras) -> R) -> R {
        f(&mut lock(&self.extras))
    }
}

/// One worker's view of an [`Observations`] store: a [`RecordSink`] that buffers
/// evidence per shard. Dropping it hands everything buffered to the store.
#[derive(Debug)]
pub struct Collector<'o> {
    store: &'o Observations,
    /// This worker's copy of the ids it has met (no lock per record).
    ids: HashMap<Box<str>, InterfaceIdx>,
    /// Recent connections, merged in place before they reach the store: a connection's
    /// request and response records, and its consecutive windows, usually arrive close
    /// together (an object holds its interfaces' records of a few minutes), so most
    /// records merge here without touching the shared shards. Direct-mapped by hash:
    /// a new connection evicts the slot's old one to `pending`. `records == 0` marks an
    /// empty slot.
    cache: Box<[Entry]>,
    hasher: ahash::RandomState,
    pending: Vec<Vec<Entry>>,
    /// A pending batch's order by key (reused).
    order: BatchOrder,
    extras: Extras,
    without_interface: u64,
}

impl Collector<'_> {
    /// The interned index of an interface id.
    pub(crate) fn id(&mut self, name: &str) -> InterfaceIdx {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.store.intern(name);
        self.ids.insert(name.into(), id);
        id
    }

    /// Adds evidence already merged per connection (partial results read back): straight
    /// to its shard's queue, past the merge cache.
    pub(crate) fn add(&mut self, iface: InterfaceIdx, key: ConnectionKey, evidence: Evidence) {
        self.push(((iface, key), evidence));
    }

    /// Queues evidence for its shard, flushing the shard's queue when full.
    fn push(&mut self, entry: Entry) {
        let shard = entry.0.0 as usize % SHARDS;
        let pending = &mut self.pending[shard];
        if pending.capacity() == 0 {
            pending.reserve_exact(FLUSH_AT);
        }
        pending.push(entry);
        if pending.len() >= FLUSH_AT {
            self.flush_shard(shard);
        }
    }

    fn flush_shard(&mut self, shard: usize) {
        let pending = &mut self.pending[shard];
        if pending.is_empty() {
            return;
        }
        let order = self.order.sort(pending);
        let shard = &self.store.shards[shard];
        let job = lock(shard).add(pending, order);
        pending.clear();
        if let Some(job) = job {
            let done = job.run();
            lock(shard).install(done);
        }
        self.store.keep_within_limit();
    }
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        let cache = std::mem::take(&mut self.cache);
        for entry in cache.into_iter().filter(|e| e.1.records != 0) {
            self.push(entry);
        }
        for shard in 0..SHARDS {
            self.flush_shard(shard);
        }
        let extras = std::mem::take(&mut self.extras);
        self.store.with_extras(|e| e.absorb(extras));
        self.store.add_without_interface(self.without_interface);
    }
}

impl RecordSink for Collector<'_> {
    fn record(&mut self, record: &Record<'_>) {
        let Some(name) = record.interface_id() else {
            self.without_interface += 1;
            return;
        };
        let iface = self.id(name);
        match record.log_status() {
            Some(LogStatus::NoData) => {
                self.extras.add_gaps(
                    iface,
                    Gaps {
                        nodata: 1,
                        skipdata: 0,
                    },
                );
                return;
            }
            Some(LogStatus::SkipData) => {
                self.extras.add_gaps(
                    iface,
                    Gaps {
                        nodata: 0,
                        skipdata: 1,
                    },
                );
                return;
            }
            _ => {}
        }
        if record.action() == Some(Action::Reject) {
            if let Some(protocol) = record.protocol() {
                let start = record.start().unwrap_or(0);
                let r = Rejected {
                    records: 1,
                    packets: record.packets().unwrap_or(0),
                    first_seen: start,
                    last_seen: record.end().unwrap_or(start),
                };
                self.extras
                    .add_reject((iface, protocol, record.dstport().unwrap_or(0)), r);
            }
            return;
        }
        let Some((key, evidence)) = observe(record) else {
            return;
        };
        // An AWS service's address, as the logs name it (v5 and later); the address is
        // looked up only for the few records that name a service.
        if let Some(service) = record.pkt_src_aws_service()
            && let Some(addr) = record.pkt_srcaddr().or(record.srcaddr())
        {
            self.extras.add_service(addr, service);
        }
        if let Some(service) = record.pkt_dst_aws_service()
            && let Some(addr) = record.pkt_dstaddr().or(record.dstaddr())
        {
            self.extras.add_service(addr, service);
        }
        let key = (iface, key);
        let slot = self.hasher.hash_one(key) as usize % CACHE_SLOTS;
        let cached = &mut self.cache[slot];
        if cached.0 == key && cached.1.records != 0 {
            cached.1.merge(&evidence);
            return;
        }
        let evicted = std::mem::replace(cached, (key, evidence));
        if evicted.1.records != 0 {
            self.push(evicted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direction::{Addr, Endpoint};

    /// Workers adding at once leave the store one sequential pass would: every
    /// connection once, merged. Each shard gets about 320,000 entries, so compactions
    /// (from 65,536 waiting entries) run several times while other workers keep adding.
    #[test]
    fn concurrent_workers_give_the_sequential_store() {
        const WORKERS: u64 = 4;
        const PER_WORKER: u64 = 400_000;
        let evidence_of = |w: u64, n: u64| {
            // Keys overlap across workers and repeat within one.
            let x = (n * 7 + w * 13) % 90_000;
            let iface = (x % 5) as InterfaceIdx;
            let key = ConnectionKey {
                protocol: 17,
                a: Endpoint {
                    addr: Addr::from(IpAddr::from([10, 0, 0, (x % 7) as u8])),
                    port: 53,
                },
                b: Endpoint {
                    addr: Addr::from(IpAddr::from([10, 1, (x >> 8) as u8, x as u8])),
                    port: (x % 60_000) as u16,
                },
            };
            let e = Evidence {
                records: 1,
                packets: w + 1,
                first_seen: n,
                last_seen: n,
                ..Evidence::NONE
            };
            (iface, key, e)
        };
        let store = Observations::default();
        std::thread::scope(|s| {
            for w in 0..WORKERS {
                let store = &store;
                s.spawn(move || {
                    let mut c = store.collector();
                    for n in 0..PER_WORKER {
                        let (iface, key, e) = evidence_of(w, n);
                        c.add(iface, key, e);
                    }
                });
            }
        });
        let mut want: std::collections::BTreeMap<(InterfaceIdx, ConnectionKey), Evidence> =
            std::collections::BTreeMap::new();
        for w in 0..WORKERS {
            for n in 0..PER_WORKER {
                let (iface, key, e) = evidence_of(w, n);
                want.entry((iface, key))
                    .and_modify(|x| x.merge(&e))
                    .or_insert(e);
            }
        }
        let mut got: Vec<Entry> = Vec::new();
        for shard in store.shards {
            got.extend(shard.into_inner().unwrap().into_entries());
        }
        got.sort_by_key(|e| e.0);
        let want: Vec<Entry> = want.into_iter().collect();
        assert_eq!(got.len(), want.len());
        assert!(
            got == want,
            "the concurrent store differs from the sequential one"
        );
    }
}
