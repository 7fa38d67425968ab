//! What a run over an archive reads at a time, and what it read: objects grouped into
//! batches bounded in bytes and count (memory stays a batch plus the store, and a
//! resumable run saves between batches), the totals of a run, and what a listing found,
//! each with the summary printed for people.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use flowfence_flowlog::DeliveryKey;

use crate::listing::{Listing, Object};
use crate::location::S3Uri;

/// How many objects a batch may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Bytes per batch; one object larger than that is a batch of its own.
    pub bytes: u64,
    /// Objects per batch: a few rounds of GETs at the run's concurrency, so a
    /// checkpoint comes regularly even when the objects are small.
    pub objects: usize,
}

impl BatchLimits {
    /// At most `mib` MiB and four rounds of `concurrency` GETs per batch.
    pub fn new(mib: u64, concurrency: usize) -> BatchLimits {
        BatchLimits {
            bytes: mib.max(1) << 20,
            objects: concurrency.max(1) * 4,
        }
    }
}

/// `objects` split into consecutive batches within `limits`, as index ranges.
pub fn batches(objects: &[Object], limits: BatchLimits) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < objects.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < objects.len()
            && end - start < limits.objects
            && (end == start || bytes + objects[end].size <= limits.bytes)
        {
            bytes += objects[end].size;
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// What a run read from S3, for its summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Objects read this run.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Sources a checkpoint said were done.
    pub resumed: usize,
    /// Objects that failed after retries: (location, why).
    pub failed: Vec<(String, String)>,
}

impl fmt::Display for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.objects + self.resumed + self.failed.len() > 0 {
            writeln!(
                f,
                "  S3: {} objects read ({}), {} sources already done (resumed), {} failed",
                self.objects,
                mib(self.bytes),
                self.resumed,
                self.failed.len()
            )?;
        }
        for (key, why) in self.failed.iter().take(10) {
            writeln!(f, "    failed: {key}: {why}")?;
        }
        Ok(())
    }
}

/// What a window of `uri` lists, per delivery day (`flowfence ls`); with `keys`, every
/// object too.
#[derive(Clone, Copy, Debug)]
pub struct ListingSummary<'a> {
    /// Where.
    pub uri: &'a S3Uri,
    /// What was found.
    pub listing: &'a Listing,
    /// Also list every object.
    pub keys: bool,
}

impl fmt::Display for ListingSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ListingSummary { uri, listing, keys } = *self;
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
        writeln!(
            f,
            "{uri}: {} objects, {}, {} days; {} prefixes listed in full, {} keys passed over",
            listing.objects.len(),
            mib(bytes),
            days.len(),
            listing.listed.len(),
            listing.skipped
        )?;
        for (day, (n, b)) in &days {
            writeln!(f, "  {day}  {n:>6} objects  {:>12}", mib(*b))?;
        }
        if keys {
            for o in &listing.objects {
                writeln!(f, "  s3://{}/{}  {}", uri.bucket, o.key, o.size)?;
            }
        }
        Ok(())
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(sizes: &[u64]) -> Vec<Object> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| Object {
                key: format!("k{i}"),
                size,
                etag: String::new(),
            })
            .collect()
    }

    #[test]
    fn batches_keep_to_bytes_and_count_and_a_big_object_goes_alone() {
        let limits = BatchLimits {
            bytes: 100,
            objects: 3,
        };
        // By bytes: 40+50 fit, +20 would not; a 250 alone; then by count.
        let got = batches(&objects(&[40, 50, 20, 250, 1, 1, 1, 1]), limits);
        assert_eq!(got, [0..2, 2..3, 3..4, 4..7, 7..8]);
        assert!(batches(&[], limits).is_empty());
        assert_eq!(
            BatchLimits::new(256, 8),
            BatchLimits {
                bytes: 256 << 20,
                objects: 32
            }
        );
    }
}
