//! The whole reader on arbitrary bytes: gzip (corrupt, truncated, multi-member), JSON
//! envelopes, Parquet and text are detected from the content. It must never panic, and
//! every line, event or row must be accounted for.
#![no_main]

use flowfence_flowlog::{ReadOptions, Reader, Record, RecordSink, Source};
use libfuzzer_sys::fuzz_target;

/// Counts records and touches their values, as a consumer would.
#[derive(Default)]
struct Count(u64);

impl RecordSink for Count {
    fn record(&mut self, r: &Record<'_>) {
        let _ = (r.srcaddr(), r.dstport(), r.bytes(), r.log_status());
        self.0 += 1;
    }
}

static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on every panic, even one the reader catches on purpose (the
    // parquet crate panics on some corrupt files; flowfence reports those as unreadable).
    // Panics nobody catches still reach fuzz_target!'s own catch_unwind, which aborts.
    QUIET_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let source = Source::Memory { name: "fuzz".into(), data: bytes::Bytes::copy_from_slice(data) };
    let mut options = ReadOptions::default();
    options.block_size = 256;
    let reader = Reader::new(vec![source], options);
    let (records, report) = reader.fold(Count::default, |a, b| Count(a.0 + b.0));
    assert_eq!(records.0, report.counts.records);
    assert_eq!(report.unaccounted_lines(), 0, "{report:?}");
});
