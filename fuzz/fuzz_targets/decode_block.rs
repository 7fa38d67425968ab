//! The line decoder on arbitrary bytes: it must never panic, and every line must end up
//! as exactly one of record, header, blank or rejection.
#![no_main]

use std::sync::Arc;

use flowfence_flowlog::{Layout, Record, Unit, decode_block};
use libfuzzer_sys::fuzz_target;

const V5: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

fuzz_target!(|data: &[u8]| {
    // The first byte picks the starting layout, so every kind of column is exercised.
    let Some((&pick, text)) = data.split_first() else { return };
    let layout = match pick % 3 {
        0 => Layout::default_v2(),
        1 => Layout::parse_format(V5).unwrap(),
        _ => Layout::parse_format("srcaddr dstport action log-status flow-direction x-unknown").unwrap(),
    };
    let mut seen = 0u64;
    let out = decode_block(text, &Arc::new(layout), Unit::Line, &mut |r: &Record<'_>| {
        // Touch every value, as a consumer would.
        seen += r.values().iter().filter(|v| !v.is_null()).count() as u64 + 1;
        let _ = (r.srcaddr(), r.dstport(), r.action(), r.flow_direction(), r.interface_id());
    });
    let c = out.counts;
    assert!(seen >= c.records);
    assert_eq!(c.lines, c.records + c.headers + c.blank + out.tally.total());
    let newlines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(c.lines == newlines || c.lines == newlines + 1);
});
