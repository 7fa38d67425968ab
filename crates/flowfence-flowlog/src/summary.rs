//! What a read did, for people (the summary every command prints on stderr) and for
//! scripts (the same facts as JSON): sources and bytes, records, what was skipped and
//! rejected (with the first examples by file and line), files not read, and what the
//! AWS delivery keys among the sources cover.

use std::collections::BTreeSet;
use std::fmt::{self, Write};

use serde_json::json;

use crate::read::Report;
use crate::source::{DeliveryKey, Skipped, Source};

/// A read's summary: `Display` is the text printed at the end of a run, [`to_json`](Self::to_json)
/// the same facts with stable keys.
#[derive(Clone, Copy, Debug)]
pub struct ReadSummary<'a> {
    /// What the reader reported.
    pub report: &'a Report,
    /// Files discovery passed over, and why.
    pub skipped: &'a [Skipped],
    /// Records read but not written (a column the output schema lacks).
    pub not_written: u64,
}

impl fmt::Display for ReadSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl ReadSummary<'_> {
    fn render(&self) -> String {
        let (report, skipped, dropped) = (self.report, self.skipped, self.not_written);
        let mut s = String::new();
        let c = &report.counts;
        let secs = report.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            s,
            "flowfence: read {} source{} ({} stored, {} of text) in {:.2} s, {}/s",
            report.sources.len(),
            plural(report.sources.len() as u64),
            mib(report.input_bytes),
            mib(c.text_bytes),
            secs,
            mib((c.text_bytes as f64 / secs) as u64),
        );
        let ok = c.records - c.nodata - c.skipdata;
        let _ = writeln!(
            s,
            "  records   {:>12}  (OK {}, NODATA {}, SKIPDATA {})",
            thousands(c.records),
            thousands(ok),
            thousands(c.nodata),
            thousands(c.skipdata)
        );
        let _ = writeln!(
            s,
            "  skipped   {:>12}  (header lines {}, blank lines {})",
            thousands(c.headers + c.blank),
            thousands(c.headers),
            thousands(c.blank)
        );
        if report.control_messages > 0 {
            let _ = writeln!(
                s,
                "  CloudWatch control messages skipped: {}",
                report.control_messages
            );
        }
        if report.exported_sources > 0 {
            let _ = writeln!(
                s,
                "  CloudWatch Logs export: {} sources; the time before each record is when CloudWatch ingested it (column export-time), not the flow's (start, end)",
                report.exported_sources
            );
        }
        let rejected = report.tally.total();
        let _ = writeln!(s, "  rejected  {:>12}", thousands(rejected));
        for (reason, field, n) in report.tally.counts() {
            let what = match field {
                Some(f) => format!("field `{f}`: {}", reason.describe()),
                None => reason.describe().to_string(),
            };
            let _ = writeln!(s, "    {:>10}  {what}", thousands(n));
        }
        if !report.tally.examples().is_empty() {
            let _ = writeln!(s, "  first rejected:");
            for r in report.tally.examples() {
                let _ = writeln!(s, "    {}", r.display(&report.source_name(r)));
            }
        }
        if report.stopped_early {
            let _ = writeln!(
                s,
                "  stopped at the first rejection (--strict): counts cover what was read"
            );
        }
        if dropped > 0 {
            let _ = writeln!(
                s,
                "  not written {:>10}  records with a column the output schema lacks (a header changed the layout mid-file)",
                thousands(dropped)
            );
        }
        if !skipped.is_empty() {
            let _ = writeln!(s, "  files not read: {}", skipped.len());
            for f in skipped.iter().take(5) {
                let _ = writeln!(s, "    {} ({})", f.path.display(), f.why);
            }
            if skipped.len() > 5 {
                let _ = writeln!(s, "    ... and {} more", skipped.len() - 5);
            }
        }
        if let Some(line) = delivery_summary(&report.sources) {
            let _ = writeln!(s, "  {line}");
        }
        s
    }

    /// The summary as JSON, for scripts: the same facts as the text, with stable keys.
    pub fn to_json(&self) -> serde_json::Value {
        let (report, skipped, dropped) = (self.report, self.skipped, self.not_written);
        let c = &report.counts;
        let rejections: Vec<serde_json::Value> = report
            .tally
            .counts()
            .map(|(reason, field, n)| json!({"reason": reason.code(), "field": field, "count": n}))
            .collect();
        let examples: Vec<serde_json::Value> = report
            .tally
            .examples()
            .iter()
            .map(|r| {
                json!({
                    "source": report.source_name(r),
                    "position": r.location.position,
                    "unit": r.location.unit.name(),
                    "reason": r.reason.code(),
                    "field": r.field,
                    "detail": r.detail,
                    "message": r.display(&report.source_name(r)).to_string(),
                })
            })
            .collect();
        json!({
            "sources": report.sources.len(),
            "input_bytes": report.input_bytes,
            "text_bytes": c.text_bytes,
            "elapsed_seconds": report.elapsed.as_secs_f64(),
            "lines": c.lines,
            "records": c.records,
            "nodata": c.nodata,
            "skipdata": c.skipdata,
            "header_lines": c.headers,
            "blank_lines": c.blank,
            "control_messages": report.control_messages,
            "exported_sources": report.exported_sources,
            "rejected": report.tally.total(),
            "rejections": rejections,
            "first_rejected": examples,
            "not_written": dropped,
            "stopped_early": report.stopped_early,
            "files_not_read": skipped.iter().map(|f| json!({"path": f.path.display().to_string(), "why": f.why})).collect::<Vec<_>>(),
        })
    }
}

/// What the AWS delivery keys among the sources cover: accounts, regions, dates.
fn delivery_summary(sources: &[Source]) -> Option<String> {
    let keys: Vec<DeliveryKey> = sources
        .iter()
        .filter_map(|s| match s {
            Source::File(p) => DeliveryKey::parse(&p.to_string_lossy()),
            Source::Stdin => None,
            Source::Memory { name, .. } => DeliveryKey::parse(name),
        })
        .collect();
    let first = keys.iter().map(|k| k.date).min()?;
    let last = keys.iter().map(|k| k.date).max()?;
    let accounts: BTreeSet<&str> = keys.iter().map(|k| k.account.as_str()).collect();
    let regions: BTreeSet<&str> = keys.iter().map(|k| k.region.as_str()).collect();
    let days: BTreeSet<(u16, u8, u8)> = keys.iter().map(|k| k.date).collect();
    let date = |(y, m, d): (u16, u8, u8)| format!("{y:04}-{m:02}-{d:02}");
    Some(format!(
        "delivery layout (AWSLogs, Security Lake): {} of {} sources; account{} {}; region{} {}; {} to {} ({} day{})",
        keys.len(),
        sources.len(),
        plural(accounts.len() as u64),
        accounts.into_iter().collect::<Vec<_>>().join(", "),
        plural(regions.len() as u64),
        regions.into_iter().collect::<Vec<_>>().join(", "),
        date(first),
        date(last),
        days.len(),
        plural(days.len() as u64),
    ))
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
