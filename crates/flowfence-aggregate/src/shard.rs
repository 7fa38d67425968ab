//! One shard of the evidence store: connections kept sorted by key instead of hashed.
//!
//! Workers hand over batches: a batch's order by key is found before the lock is taken
//! ([`BatchOrder`]), and the shard copies it in that order, merging equal keys. Batches
//! pile up in `fresh` (their bounds kept in `runs`) until they are as many
//! as the sorted entries; then one compaction merges every batch and the sorted entries
//! at once, from the back into the sorted vector's own (grown) buffer, combining equal
//! keys. The sorted part at least doubles between compactions, so each entry is moved a
//! constant number of times on average, and memory stays within about twice the distinct
//! connections (the sorted entries, and batches as many). A compaction runs outside the
//! shard's lock ([`Compaction`]): meanwhile other workers keep adding batches. Buffers
//! are reused, not freed and faulted in again.
//!
//! Why not a hash map: on 1 GiB of v5 logs, inserting into maps of ~170 MB was a quarter
//! of an aggregation (a cache and TLB miss per insert, and every rehash doing it again),
//! and the table build then sorted everything anyway. Merging sorted runs reads and
//! writes memory in order, and leaves the shard sorted for the table.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use crate::direction::{ConnectionKey, Evidence};
use crate::prefetch::prefetch;
use crate::spill::Run;

/// An interned interface id (the store's index of its text, `Names`).
pub(crate) type InterfaceIdx = u32;

/// Evidence for one interface's connection.
pub(crate) type Entry = ((InterfaceIdx, ConnectionKey), Evidence);

// Every entry is copied a few times on its way into the store and the store is most of
// an aggregation's memory: a field that grows it should be a decision, not an accident.
const _: () = assert!(size_of::<Entry>() == 96);

/// An entry's key: the store's order is by interface, then connection key.
type Key = (InterfaceIdx, ConnectionKey);

/// Fewest entries in `fresh` worth a compaction: small shards compact rarely.
const COMPACT_AT_LEAST: usize = 1 << 16;

/// Connections of the interfaces in one shard.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    /// Sorted by key, one entry per key.
    sorted: Vec<Entry>,
    /// Batches since the last compaction, one after another.
    fresh: Vec<Entry>,
    /// Where each batch in `fresh` ends. A batch is sorted with unique keys.
    runs: Vec<usize>,
    /// A [`Compaction`] holds `sorted` and earlier batches; another won't start.
    compacting: bool,
    /// Entries a [`Compaction`] holds while it runs (they are still this shard's).
    out_for_compaction: usize,
    /// Sorted entries moved to disk past the memory limit ([`Shard::spill`]), oldest
    /// first; merged back (equal keys combined) when the shard is read.
    spilled: Vec<Run>,
}

/// A shard's sorted entries and batches, taken out to be merged without its lock;
/// [`Compaction::run`] merges them, leaving the batch buffers empty for reuse, and
/// [`Shard::install`] puts the result back.
#[must_use = "the shard's sorted entries are in the compaction"]
pub(crate) struct Compaction {
    sorted: Vec<Entry>,
    fresh: Vec<Entry>,
    runs: Vec<usize>,
}

impl Compaction {
    /// Merges the batches into the sorted entries.
    pub(crate) fn run(mut self) -> Compaction {
        merge_runs(&mut self.sorted, &self.fresh, &self.runs);
        self.fresh.clear();
        self.runs.clear();
        self
    }
}

/// Orders batches by key ([`BatchOrder::sort`]), keeping its buffers from batch to batch.
#[derive(Debug, Default)]
pub(crate) struct BatchOrder {
    order: Vec<u32>,
    packed: Vec<(u128, u32)>,
}

impl BatchOrder {
    /// The order of `batch` by key, as indices into it. Sorting indices moves 4 bytes
    /// per step instead of a 96-byte entry; the entries are read once more, in this
    /// order, when [`Shard::add`] copies them in.
    ///
    /// When every key packs into one integer that orders as keys do ([`packed_key`]:
    /// IPv4 connections, the usual case), the integers are sorted with the indices
    /// beside them. Comparing keys looked back into the entries for both sides of every
    /// comparison, scattered over the batch's 450 KB: a sixth of reading the logs.
    pub(crate) fn sort(&mut self, batch: &[Entry]) -> &[u32] {
        self.order.clear();
        self.packed.clear();
        for (entry, i) in batch.iter().zip(0u32..) {
            match packed_key(&entry.0) {
                Some(packed) => self.packed.push((packed, i)),
                None => break,
            }
        }
        if self.packed.len() == batch.len() {
            self.packed.sort_unstable();
            self.order.extend(self.packed.iter().map(|&(_, i)| i));
        } else {
            self.order.extend(0..batch.len() as u32);
            self.order
                .sort_unstable_by(|&x, &y| batch[x as usize].0.cmp(&batch[y as usize].0));
        }
        &self.order
    }
}

/// A key as one integer in the keys' order, when it fits in 128 bits: an interface
/// index below 2^24 and IPv4 endpoints. The fields go in the order keys compare them,
/// each whole: interface (24 bits), protocol (8), then each endpoint's address (32)
/// and port (16).
fn packed_key((iface, key): &Key) -> Option<u128> {
    if *iface >= 1 << 24 {
        return None;
    }
    let (a, b) = (key.a.addr.v4()?, key.b.addr.v4()?);
    Some(
        u128::from(*iface) << 104
            | u128::from(key.protocol) << 96
            | u128::from(a) << 64
            | u128::from(key.a.port) << 48
            | u128::from(b) << 16
            | u128::from(key.b.port),
    )
}

impl Shard {
    /// Adds a batch of evidence, taken in `order` (from [`BatchOrder::sort`]), merging
    /// entries with equal keys. When enough has piled up, returns a compaction for the
    /// caller to run after releasing the lock, then [`install`](Shard::install).
    pub(crate) fn add(&mut self, batch: &[Entry], order: &[u32]) -> Option<Compaction> {
        let start = self.fresh.len();
        for &i in order {
            let entry = &batch[i as usize];
            match self.fresh[start..].last_mut() {
                Some(last) if last.0 == entry.0 => last.1.merge(&entry.1),
                _ => self.fresh.push(*entry),
            }
        }
        if self.fresh.len() > start {
            self.runs.push(self.fresh.len());
        }
        self.due()
    }

    fn due(&mut self) -> Option<Compaction> {
        if self.compacting || self.fresh.len() < self.sorted.len().max(COMPACT_AT_LEAST) {
            return None;
        }
        self.compacting = true;
        Some(self.take())
    }

    fn take(&mut self) -> Compaction {
        self.out_for_compaction = self.sorted.len() + self.fresh.len();
        Compaction {
            sorted: std::mem::take(&mut self.sorted),
            fresh: std::mem::take(&mut self.fresh),
            runs: std::mem::take(&mut self.runs),
        }
    }

    /// Puts back the result of a [`Compaction`] of this shard.
    pub(crate) fn install(&mut self, done: Compaction) {
        debug_assert!(self.compacting && self.sorted.is_empty());
        self.compacting = false;
        self.restore(done);
    }

    /// Takes back a run compaction's sorted entries, and its batch buffer when larger
    /// (its pages are already faulted in): what arrived meanwhile moves to its front, so
    /// the run bounds still hold.
    fn restore(&mut self, done: Compaction) {
        self.out_for_compaction = 0;
        self.sorted = done.sorted;
        let (mut fresh, mut runs) = (done.fresh, done.runs);
        if fresh.capacity() > self.fresh.capacity() {
            fresh.append(&mut self.fresh);
            runs.append(&mut self.runs);
            self.fresh = fresh;
            self.runs = runs;
        }
    }

    /// Entries held, in memory or spilled, sorted or not (an upper bound on the
    /// distinct connections).
    pub(crate) fn size(&self) -> usize {
        self.sorted.len() + self.fresh.len() + self.spilled.iter().map(Run::len).sum::<usize>()
    }

    /// Entries held in memory (a running compaction's included).
    pub(crate) fn in_memory(&self) -> usize {
        self.sorted.len() + self.fresh.len() + self.out_for_compaction
    }

    /// Distinct connections (compacts first; with spilled runs, counted an interface
    /// at a time, so they stay on disk).
    pub(crate) fn len(&mut self) -> usize {
        self.compact();
        if self.spilled.is_empty() {
            return self.sorted.len();
        }
        let mut n = 0;
        for i in self.interfaces() {
            self.each_connection(i, |_| n += 1);
        }
        n
    }

    /// The files of its spilled runs that have paths (written to a folder).
    pub(crate) fn run_files(&self) -> impl Iterator<Item = &Path> {
        self.spilled.iter().filter_map(Run::path)
    }

    /// The connections held in memory, sorted by key (compacts first; spilled runs
    /// aren't read).
    pub(crate) fn in_memory_entries(&mut self) -> &[Entry] {
        self.compact();
        &self.sorted
    }

    /// Whether any of its entries moved to disk.
    pub(crate) fn has_spilled(&self) -> bool {
        !self.spilled.is_empty()
    }

    /// The interfaces it holds connections of, in order (compacts first).
    pub(crate) fn interfaces(&mut self) -> Vec<InterfaceIdx> {
        self.compact();
        let mut interfaces: Vec<InterfaceIdx> = Vec::new();
        let mut rest = &self.sorted[..];
        while let Some(&((i, _), _)) = rest.first() {
            interfaces.push(i);
            rest = &rest[rest.partition_point(|((j, _), _)| *j == i)..];
        }
        for run in &self.spilled {
            interfaces.extend(run.interfaces());
        }
        interfaces.sort_unstable();
        interfaces.dedup();
        interfaces
    }

    /// Every connection, sorted by key (compacts first, spilled runs merged back).
    #[cfg(test)]
    pub(crate) fn entries(&mut self) -> &[Entry] {
        self.gather();
        &self.sorted
    }

    /// Every connection, sorted by key.
    pub(crate) fn into_entries(mut self) -> Vec<Entry> {
        self.gather();
        self.sorted
    }

    /// Calls `each` with interface `iface`'s connections, sorted by key, equal keys
    /// combined: the sorted entries' run of it, merged as they are read with its
    /// entries in each spilled run (nothing more of it comes back into memory than a
    /// read buffer per run). Compacts first.
    pub(crate) fn each_of_interface<E>(
        &mut self,
        iface: InterfaceIdx,
        mut each: impl FnMut(&Entry) -> Result<(), E>,
    ) -> Result<(), E> {
        self.compact();
        let start = self.sorted.partition_point(|((j, _), _)| *j < iface);
        let end = self.sorted.partition_point(|((j, _), _)| *j <= iface);
        let in_memory = &self.sorted[start..end];
        if self.spilled.is_empty() {
            return in_memory.iter().try_for_each(each);
        }
        const READ_BACK: &str =
            "reading back a spilled run (an anonymous temporary file of this process)";
        let mut cursors: Vec<_> = self
            .spilled
            .iter()
            .map(|run| run.cursor(iface).expect(READ_BACK))
            .collect();
        // Source 0 is memory, source 1 + r the run r; the smallest head comes first.
        let mut memory = in_memory.iter();
        let mut next = |source: usize| -> Option<Entry> {
            match source {
                0 => memory.next().copied(),
                r => cursors[r - 1].next_entry().expect(READ_BACK),
            }
        };
        // The heap orders (key, source); each source's head evidence waits beside it.
        let mut heads: BinaryHeap<Reverse<(Key, usize)>> = BinaryHeap::new();
        let mut evidence = vec![Evidence::NONE; self.spilled.len() + 1];
        for (source, slot) in evidence.iter_mut().enumerate() {
            if let Some((key, e)) = next(source) {
                *slot = e;
                heads.push(Reverse((key, source)));
            }
        }
        let mut pending: Option<Entry> = None;
        while let Some(Reverse((key, source))) = heads.pop() {
            let e = evidence[source];
            if let Some((k, later)) = next(source) {
                evidence[source] = later;
                heads.push(Reverse((k, source)));
            }
            match &mut pending {
                Some((k, p)) if *k == key => p.merge(&e),
                _ => {
                    if let Some(done) = pending.replace((key, e)) {
                        each(&done)?;
                    }
                }
            }
        }
        match pending {
            Some(done) => each(&done),
            None => Ok(()),
        }
    }

    /// [`Shard::each_of_interface`] with a callback that can't fail.
    pub(crate) fn each_connection(&mut self, iface: InterfaceIdx, mut each: impl FnMut(&Entry)) {
        let read: Result<(), std::convert::Infallible> = self.each_of_interface(iface, |entry| {
            each(entry);
            Ok(())
        });
        let Ok(()) = read;
    }

    /// Moves the sorted entries to a run on disk (compacting first), freeing their
    /// memory; returns how many moved. Nothing moves while a compaction is out.
    pub(crate) fn spill(&mut self, dir: Option<&Path>) -> std::io::Result<usize> {
        if self.compacting {
            return Ok(0);
        }
        self.compact();
        if self.sorted.is_empty() {
            return Ok(0);
        }
        self.spilled.push(Run::write_in(dir, &self.sorted)?);
        let moved = self.sorted.len();
        // The batch buffer too: kept for reuse, it grows as large as the sorted entries.
        self.sorted = Vec::new();
        self.fresh = Vec::new();
        self.runs = Vec::new();
        Ok(moved)
    }

    /// Compacts, then merges the spilled runs back into the sorted entries.
    fn gather(&mut self) {
        self.compact();
        if self.spilled.is_empty() {
            return;
        }
        let (mut fresh, mut runs) = (Vec::new(), Vec::new());
        for mut run in std::mem::take(&mut self.spilled) {
            run.read_all(&mut fresh)
                .expect("reading back a spilled run (an anonymous temporary file of this process)");
            runs.push(fresh.len());
        }
        merge_runs(&mut self.sorted, &fresh, &runs);
    }

    /// Merges the batches into the sorted entries, holding the shard (only when no
    /// other compaction is out, as when all workers are done). Spilled runs stay on
    /// disk.
    pub(crate) fn compact(&mut self) {
        assert!(
            !self.compacting,
            "a compaction of this shard is still running"
        );
        if !self.fresh.is_empty() {
            let done = self.take().run();
            self.restore(done);
        }
    }
}

/// Merges the sorted runs of `fresh` (ending at `runs`) into `sorted`, combining equal
/// keys. Works from the back into `sorted`'s own buffer, grown once: the write position
/// never passes an unread sorted entry, since the entries still to come all fit below
/// it. The batches' largest pending key comes from a tournament of their last entries
/// ([`Tournament`]), and is compared once with the sorted entries' largest: about half
/// the entries come from the sorted part, and taking one then costs that comparison
/// instead of a replay of the tournament (a mispredicted branch per level).
fn merge_runs(sorted: &mut Vec<Entry>, fresh: &[Entry], runs: &[usize]) {
    let old = sorted.len();
    let empty: Entry = ((0, ConnectionKey::default()), Evidence::NONE);
    sorted.reserve_exact(fresh.len());
    sorted.resize(old + fresh.len(), empty);
    // Remaining entries per batch, as (start, end).
    let mut bounds: Vec<(usize, usize)> = runs
        .iter()
        .scan(0, |start, &end| {
            let run = (*start, end);
            *start = end;
            Some(run)
        })
        .collect();
    // The key a batch offers next (`None` once it is used up).
    let next = |bounds: &[(usize, usize)], run: usize| -> Option<Key> {
        let (start, end) = bounds[run];
        (start < end).then(|| {
            // The batch's entry after this one is read when the batch next wins, about
            // one output per batch later: fetched now, it is in cache by then (with
            // hundreds of batches read backwards, the hardware prefetcher is lost).
            if end - 1 > start {
                prefetch(&fresh[end - 2]);
            }
            fresh[end - 1].0
        })
    };
    let mut heads: Vec<Option<Key>> = (0..bounds.len()).map(|run| next(&bounds, run)).collect();
    let mut tournament = Tournament::new(&heads);
    // Sorted entries not yet taken: those below `unread`.
    let mut unread = old;
    let mut write = sorted.len();
    loop {
        // The batch to take from, if its key beats the sorted entries' (ties go to the
        // sorted entry; the batch's then merges into it).
        let batch = match tournament.winner(&heads) {
            None if unread == 0 => break,
            Some(run) if unread == 0 || heads[run] > Some(sorted[unread - 1].0) => Some(run),
            _ => None,
        };
        let entry = match batch {
            Some(run) => {
                bounds[run].1 -= 1;
                let entry = fresh[bounds[run].1];
                heads[run] = next(&bounds, run);
                tournament.replay(run, &heads);
                entry
            }
            None => {
                unread -= 1;
                sorted[unread]
            }
        };
        if write < sorted.len() && sorted[write].0 == entry.0 {
            sorted[write].1.merge(&entry.1);
        } else {
            write -= 1;
            sorted[write] = entry;
        }
    }
    // Combined keys left room at the front.
    if write > 0 {
        sorted.copy_within(write.., 0);
        sorted.truncate(sorted.len() - write);
    }
}

/// A tournament (loser) tree over the runs' next keys, largest first: after a run gives
/// an entry, finding the next largest costs one comparison per level, with run indices
/// moved instead of keys (a binary heap of keys cost twice the comparisons, and moved
/// 56 bytes per step).
struct Tournament {
    /// Leaves padded to a power of two; `tree[0]` is the winner, `tree[n]` for n >= 1
    /// the loser of the match at node n. Padding leaves are runs past the end (no key).
    tree: Vec<usize>,
    leaves: usize,
}

impl Tournament {
    fn new(heads: &[Option<Key>]) -> Tournament {
        let leaves = heads.len().next_power_of_two();
        // Play every match bottom-up: `winners[n]` is the winner at node n.
        let mut winners = vec![0usize; 2 * leaves];
        for leaf in 0..leaves {
            winners[leaves + leaf] = leaf;
        }
        let mut tree = vec![0usize; leaves];
        for node in (1..leaves).rev() {
            let (l, r) = (winners[2 * node], winners[2 * node + 1]);
            let (win, lose) = if beats(heads, r, l) { (r, l) } else { (l, r) };
            winners[node] = win;
            tree[node] = lose;
        }
        tree[0] = winners[1];
        Tournament { tree, leaves }
    }

    /// The run with the largest next key, if any run has one.
    fn winner(&self, heads: &[Option<Key>]) -> Option<usize> {
        let w = self.tree[0];
        heads.get(w).and_then(Option::as_ref).map(|_| w)
    }

    /// Replays the matches on `run`'s path after its next key changed.
    fn replay(&mut self, run: usize, heads: &[Option<Key>]) {
        let mut winner = run;
        let mut node = (self.leaves + run) / 2;
        while node >= 1 {
            let other = self.tree[node];
            if beats(heads, other, winner) {
                self.tree[node] = winner;
                winner = other;
            }
            node /= 2;
        }
        self.tree[0] = winner;
    }
}

/// Whether run `x`'s next key is larger than run `y`'s (a used-up or padding run never
/// is; ties go to the lower run, which keeps the tournament deterministic).
#[inline]
fn beats(heads: &[Option<Key>], x: usize, y: usize) -> bool {
    let head = |run: usize| heads.get(run).and_then(Option::as_ref);
    match (head(x), head(y)) {
        (Some(a), Some(b)) => a > b || (a == b && x < y),
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direction::{Addr, Endpoint};

    fn entry(iface: u32, port: u16, records: u64) -> Entry {
        let key = ConnectionKey {
            protocol: 6,
            a: Endpoint {
                addr: Addr::from(std::net::IpAddr::from([10, 0, 0, 1])),
                port,
            },
            b: Endpoint {
                addr: Addr::from(std::net::IpAddr::from([10, 0, 0, 2])),
                port: 443,
            },
        };
        let evidence = Evidence {
            records,
            packets: records * 10,
            first_seen: u64::from(port),
            ..Evidence::NONE
        };
        ((iface, key), evidence)
    }

    /// The shard agrees with a plain map, whatever the batch sizes and across many
    /// compactions.
    #[test]
    fn agrees_with_a_map_across_compactions() {
        agrees_with_a_map(false);
    }

    /// The same with sorted entries spilled to disk now and then: reading the shard
    /// (whole, counted, or an interface at a time) merges them back exactly.
    #[test]
    fn agrees_with_a_map_across_spills() {
        agrees_with_a_map(true);
    }

    fn agrees_with_a_map(spilling: bool) {
        let mut shard = Shard::default();
        let mut want: std::collections::BTreeMap<(u32, ConnectionKey), Evidence> =
            std::collections::BTreeMap::new();
        // A simple generator: keys repeat often, in no order.
        let mut x: u64 = 7;
        let mut batch = Vec::new();
        let mut later = None;
        let mut order = BatchOrder::default();
        for n in 0..400_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let e = entry((x >> 60) as u32, (x >> 40) as u16 % 50_000, 1 + n % 3);
            want.entry(e.0).and_modify(|w| w.merge(&e.1)).or_insert(e.1);
            // Batches of every size from 1 to about 4000, some with repeated keys.
            batch.push(e);
            if batch.len() < 1 + (n as usize % 5) * 1000 {
                continue;
            }
            let job = shard.add(&batch, order.sort(&batch));
            batch.clear();
            // Some compactions run at once, some later (as if another worker held one).
            if let Some(job) = job {
                if n % 2 == 0 {
                    shard.install(job.run());
                } else {
                    later = Some(job);
                }
            } else if let Some(job) = later.take() {
                shard.install(job.run());
            }
            // Nothing spills while a compaction is out; the next time it does.
            if spilling && n % 7 == 0 {
                shard.spill(None).unwrap();
            }
        }
        if let Some(job) = later.take() {
            shard.install(job.run());
        }
        if let Some(job) = shard.add(&batch, order.sort(&batch)) {
            shard.install(job.run());
        }
        let want: Vec<Entry> = want.into_iter().collect();
        assert_eq!(!shard.spilled.is_empty(), spilling);
        assert_eq!(shard.len(), want.len());
        for iface in 0..16 {
            let of_iface: Vec<Entry> = want.iter().filter(|e| e.0.0 == iface).copied().collect();
            let mut got = Vec::new();
            let collected: Result<(), ()> = shard.each_of_interface(iface, |e| {
                got.push(*e);
                Ok(())
            });
            collected.unwrap();
            assert_eq!(got, of_iface, "interface {iface}");
        }
        let got: Vec<Entry> = shard.entries().to_vec();
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
        assert_eq!(shard.into_entries(), want);
    }

    /// Packed keys order as keys do, and a batch with a key that does not pack (IPv6,
    /// a large interface index) is ordered by the keys themselves.
    #[test]
    fn packed_keys_order_as_keys() {
        let mut x: u64 = 3;
        let mut random = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let v4 = |r: u64| Addr::from(std::net::IpAddr::from((r as u32 % 4096).to_be_bytes()));
        let mut keys: Vec<Key> = (0..5000)
            .map(|_| {
                let r = random();
                // Few distinct values per field, so that keys often share prefixes.
                let key = ConnectionKey {
                    protocol: [6, 17, 1][(r % 3) as usize],
                    a: Endpoint {
                        addr: v4(r >> 2),
                        port: (r >> 20) as u16 % 5,
                    },
                    b: Endpoint {
                        addr: v4(r >> 24),
                        port: (r >> 40) as u16,
                    },
                };
                ((r >> 56) as u32 % 3, key)
            })
            .collect();
        for pair in keys.windows(2) {
            let (p, q) = (packed_key(&pair[0]).unwrap(), packed_key(&pair[1]).unwrap());
            assert_eq!(p.cmp(&q), pair[0].cmp(&pair[1]), "{pair:?}");
        }
        let sorted_by_key = |keys: &[Key]| {
            let batch: Vec<Entry> = keys.iter().map(|&k| (k, Evidence::NONE)).collect();
            let order = BatchOrder::default().sort(&batch).to_vec();
            let got: Vec<Key> = order.iter().map(|&i| keys[i as usize]).collect();
            let mut want = keys.to_vec();
            want.sort();
            assert_eq!(got, want);
        };
        sorted_by_key(&keys);
        keys[17].1.b.addr = Addr::from(std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]));
        assert!(packed_key(&keys[17]).is_none());
        sorted_by_key(&keys);
        keys[17] = (1 << 24, keys[18].1);
        assert!(packed_key(&keys[17]).is_none());
        sorted_by_key(&keys);
    }

    #[test]
    fn combines_equal_keys_within_a_batch() {
        let batch = vec![entry(1, 5, 1), entry(0, 9, 2), entry(1, 5, 4)];
        let mut order = BatchOrder::default();
        let mut shard = Shard::default();
        assert!(shard.add(&batch, order.sort(&batch)).is_none());
        let got = shard.entries();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.0, 0);
        assert_eq!(got[1].1.records, 5);
        assert_eq!(got[1].1.packets, 50);
    }
}
