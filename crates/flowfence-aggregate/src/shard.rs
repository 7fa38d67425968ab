//! One shard of the evidence store: connections kept sorted by key instead of hashed.
//!
//! Workers hand over batches (each sorted and merged within itself before the lock is
//! taken); batches pile up in `fresh` until it is as large as the sorted part, then one
//! compaction sorts them (stable sort: it finds the batches' runs and merges them) and
//! merges them into the sorted part, combining equal keys. The sorted part at least
//! doubles between compactions, so each entry is copied a constant number of times on
//! average, and memory stays within a small multiple of the distinct connections.
//! A compaction runs outside the shard's lock ([`Compaction`]): meanwhile other workers
//! keep adding batches to the shard.
//!
//! Why not a hash map: on 1 GiB of v5 logs, inserting into maps of ~170 MB was a quarter
//! of an aggregation (a cache and TLB miss per insert, and every rehash doing it again),
//! and the table build then sorted everything anyway. Sorting batches and merging runs
//! reads and writes memory in order, and leaves the shard sorted for the table.

use std::cmp::Ordering;

use crate::direction::{ConnectionKey, Evidence};
use crate::observations::InterfaceIdx;

/// Evidence for one interface's connection.
pub(crate) type Entry = ((InterfaceIdx, ConnectionKey), Evidence);

/// Fewest entries in `fresh` worth a compaction: small shards compact rarely.
const COMPACT_AT_LEAST: usize = 1 << 16;

/// Connections of the interfaces in one shard.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    /// Sorted by key, one entry per key.
    sorted: Vec<Entry>,
    /// Batches since the last compaction, in any order, keys possibly repeated.
    fresh: Vec<Entry>,
    /// A [`Compaction`] holds `sorted` and an earlier `fresh`; another won't start.
    compacting: bool,
}

/// A compaction taken out of a shard, to run without its lock; [`Shard::install`] puts
/// the result back.
#[must_use = "the shard's sorted entries are in the compaction"]
pub(crate) struct Compaction {
    sorted: Vec<Entry>,
    fresh: Vec<Entry>,
}

impl Compaction {
    /// Sorts `fresh` and merges it into `sorted`.
    pub(crate) fn run(self) -> Vec<Entry> {
        merge_into(self.sorted, self.fresh)
    }
}

/// The store's order: by interface, then connection key.
#[inline]
fn by_key(x: &Entry, y: &Entry) -> Ordering {
    x.0.cmp(&y.0)
}

/// Sorts `batch` and merges entries with equal keys, in place.
pub(crate) fn sort_and_combine(batch: &mut Vec<Entry>) {
    batch.sort_unstable_by(by_key);
    combine_adjacent(batch);
}

/// Merges runs of equal keys in a sorted vector into their first entry.
fn combine_adjacent(entries: &mut Vec<Entry>) {
    entries.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1.merge(&later.1);
            true
        } else {
            false
        }
    });
}

impl Shard {
    /// Adds a batch of evidence (emptying `batch`). When enough has piled up, returns a
    /// compaction for the caller to run after releasing the lock, then
    /// [`install`](Shard::install).
    pub(crate) fn add(&mut self, batch: &mut Vec<Entry>) -> Option<Compaction> {
        self.fresh.append(batch);
        self.due()
    }

    /// Adds one entry (partial results read back row by row); as [`Shard::add`].
    pub(crate) fn add_one(&mut self, entry: Entry) -> Option<Compaction> {
        self.fresh.push(entry);
        self.due()
    }

    fn due(&mut self) -> Option<Compaction> {
        if self.compacting || self.fresh.len() < self.sorted.len().max(COMPACT_AT_LEAST) {
            return None;
        }
        self.compacting = true;
        Some(Compaction {
            sorted: std::mem::take(&mut self.sorted),
            fresh: std::mem::take(&mut self.fresh),
        })
    }

    /// Puts back the result of a [`Compaction`] of this shard.
    pub(crate) fn install(&mut self, sorted: Vec<Entry>) {
        debug_assert!(self.compacting && self.sorted.is_empty());
        self.sorted = sorted;
        self.compacting = false;
    }

    /// Distinct connections (compacts first).
    pub(crate) fn len(&mut self) -> usize {
        self.compact();
        self.sorted.len()
    }

    /// Every connection, sorted by key (compacts first).
    pub(crate) fn entries(&mut self) -> &[Entry] {
        self.compact();
        &self.sorted
    }

    /// Every connection, sorted by key.
    pub(crate) fn into_entries(mut self) -> Vec<Entry> {
        self.compact();
        self.sorted
    }

    /// Sorts `fresh` into `sorted` (in place of the lock: only when no other
    /// compaction is out, as when all workers are done).
    pub(crate) fn compact(&mut self) {
        assert!(
            !self.compacting,
            "a compaction of this shard is still running"
        );
        if !self.fresh.is_empty() {
            let sorted = std::mem::take(&mut self.sorted);
            self.sorted = merge_into(sorted, std::mem::take(&mut self.fresh));
        }
    }
}

/// Sorts `fresh` and merges it into `sorted` (sorted, unique keys), combining equal keys.
fn merge_into(sorted: Vec<Entry>, mut fresh: Vec<Entry>) -> Vec<Entry> {
    // Stable sort on purpose: it finds the batches' sorted runs and merges them.
    fresh.sort_by(by_key);
    combine_adjacent(&mut fresh);
    if sorted.is_empty() {
        return fresh;
    }
    let mut merged = Vec::with_capacity(sorted.len() + fresh.len());
    let mut new = fresh.into_iter().peekable();
    for mut entry in sorted {
        while let Some(next) = new.next_if(|n| by_key(n, &entry) == Ordering::Less) {
            merged.push(next);
        }
        if let Some(same) = new.next_if(|n| n.0 == entry.0) {
            entry.1.merge(&same.1);
        }
        merged.push(entry);
    }
    merged.extend(new);
    merged
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
        let mut shard = Shard::default();
        let mut want: std::collections::BTreeMap<(u32, ConnectionKey), Evidence> =
            std::collections::BTreeMap::new();
        // A simple generator: keys repeat often, in no order.
        let mut x: u64 = 7;
        let mut batch = Vec::new();
        let mut later = None;
        for n in 0..400_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let e = entry((x >> 60) as u32, (x >> 40) as u16 % 50_000, 1 + n % 3);
            want.entry(e.0).and_modify(|w| w.merge(&e.1)).or_insert(e.1);
            // Some compactions run at once, some later (as if another worker held one).
            let job = if n % 5 == 0 {
                shard.add_one(e)
            } else {
                batch.push(e);
                if batch.len() < 3000 {
                    continue;
                }
                sort_and_combine(&mut batch);
                let job = shard.add(&mut batch);
                assert!(batch.is_empty());
                job
            };
            if let Some(job) = job {
                if n % 2 == 0 {
                    shard.install(job.run());
                } else {
                    later = Some(job);
                }
            } else if let Some(job) = later.take() {
                shard.install(job.run());
            }
        }
        if let Some(job) = later.take() {
            shard.install(job.run());
        }
        sort_and_combine(&mut batch);
        if let Some(job) = shard.add(&mut batch) {
            shard.install(job.run());
        }
        let got: Vec<Entry> = shard.entries().to_vec();
        let want: Vec<Entry> = want.into_iter().collect();
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
        assert_eq!(shard.len(), want.len());
        assert_eq!(shard.into_entries(), want);
    }

    #[test]
    fn combines_equal_keys_within_a_batch() {
        let mut batch = vec![entry(1, 5, 1), entry(0, 9, 2), entry(1, 5, 4)];
        sort_and_combine(&mut batch);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].0.0, 0);
        assert_eq!(batch[1].1.records, 5);
        assert_eq!(batch[1].1.packets, 50);
    }
}
