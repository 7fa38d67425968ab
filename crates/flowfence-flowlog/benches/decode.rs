//! Decoder and reader throughput on generated flow logs, in MB/s of log text.
//!
//! Each benchmark asserts the number of records it parsed, so a broken parser cannot post
//! a fast time. Run: `cargo bench -p flowfence-flowlog --bench decode`.

use std::io::Write;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowfence_flowlog::{Layout, ReadOptions, Reader, Record, Source, Unit, decode_block};
use flowfence_synth::{Environment, FileFlows, Format};

/// About `target` bytes of log text in `format`, with its header, and its record count.
fn corpus(format: Format, target: usize) -> (String, u64) {
    let env = Environment::new(11, 4);
    let mut text = format!("{}\n", format.fields());
    let mut records = 0;
    let mut stream = 0;
    while text.len() < target {
        let flows = FileFlows::generate(&env, 11, stream, 1_793_577_600 + stream * 300, 4.0, 0.0);
        records += flows.len() as u64;
        flows.write_lines(&env, format, &mut text);
        stream += 1;
    }
    (text, records)
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_block");
    for (name, format) in [("v2", Format::V2), ("v5", Format::V5)] {
        let (text, records) = corpus(format, 32 << 20);
        let layout = Arc::new(Layout::default_v2());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0u64;
                let out = decode_block(
                    text.as_bytes(),
                    &layout,
                    Unit::Line,
                    &mut |r: &Record<'_>| {
                        n += u64::from(r.dstport().is_some());
                    },
                );
                assert_eq!(out.counts.records, records);
                assert!(out.tally.is_empty());
                n
            })
        });
    }
    group.finish();
}

fn read_files(c: &mut Criterion) {
    let (text, records) = corpus(Format::V5, 64 << 20);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("v5.log");
    std::fs::write(&plain, &text).unwrap();
    let gz = dir.path().join("v5.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::new(6),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();

    let mut group = c.benchmark_group("read");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    for (name, path) in [("plain-v5", &plain), ("gzip-v5", &gz)] {
        let reader = Reader::new(vec![Source::File(path.clone())], ReadOptions::default());
        group.bench_function(name, |b| {
            b.iter(|| {
                let (_, report) = reader.fold(|| (), |(), ()| ());
                assert_eq!(report.counts.records, records);
                report.counts.records
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode, read_files);
criterion_main!(benches);
