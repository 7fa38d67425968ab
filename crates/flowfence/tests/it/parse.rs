//! `flowfence parse` end to end, one test per input form and bad-input class.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::common::{self, flowfence, ndjson, ok, parse_with_stats};

fn sample(sub: &str) -> String {
    common::sample(&format!("logs/{sub}"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path.display().to_string()
}

const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const LINE: &str = "2 123456789012 eni-0a1b2c3d4e5f60718 10.0.10.11 10.0.20.10 41000 5432 6 12 3000 1793696400 1793696460 ACCEPT OK";

#[test]
fn every_bundled_sample_form_parses_cleanly() {
    for (form, min_records) in [
        ("s3-text-v2", 1000),
        ("s3-text-v5", 1000),
        ("s3-parquet", 1000),
        ("cloudwatch", 500),
    ] {
        let (records, stats) = parse_with_stats(&[&sample(form)], None);
        assert_eq!(stats["rejected"], 0, "{form}: {stats}");
        assert!(
            records.len() >= min_records,
            "{form}: {} records",
            records.len()
        );
        assert_eq!(stats["records"], records.len() as u64);
        // Every record names its interface and account.
        assert!(
            records
                .iter()
                .all(|r| r["interface-id"].as_str().unwrap().starts_with("eni-")),
            "{form}"
        );
        assert!(
            records.iter().all(|r| r["account-id"] == "123456789012"),
            "{form}"
        );
    }
}

#[test]
fn v5_fields_are_typed() {
    let (records, _) = parse_with_stats(&[&sample("s3-text-v5")], None);
    let r = records
        .iter()
        .find(|r| r["pkt-dst-aws-service"] == "S3")
        .expect("an S3 gateway flow");
    assert_eq!(r["version"], 5);
    assert_eq!(r["flow-direction"], "egress");
    assert_eq!(r["traffic-path"], 7);
    assert_eq!(r["dstport"], 443);
    assert!(r["tcp-flags"].is_u64());
    let nodata = records
        .iter()
        .find(|r| r["log-status"] == "NODATA")
        .expect("a NODATA record");
    assert_eq!(nodata["srcaddr"], Value::Null);
    assert_eq!(nodata["tcp-flags"], Value::Null);
}

#[test]
fn parquet_output_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("out.parquet");
    let v5 = sample("s3-text-v5");
    let (original, _) = parse_with_stats(&[&v5], None);
    ok(&[
        "parse",
        "-q",
        &v5,
        "--output",
        "parquet",
        "-o",
        parquet.to_str().unwrap(),
    ]);
    let (back, stats) = parse_with_stats(&[parquet.to_str().unwrap()], None);
    assert_eq!(stats["rejected"], 0);
    assert_eq!(back.len(), original.len());
    assert_eq!(back, original);
}

#[test]
fn csv_output_has_a_header_and_one_row_per_record() {
    let (out, _) = ok(&["parse", "-q", &sample("s3-text-v2"), "--output", "csv"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(HEADER.replace(' ', ",").as_str()));
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() > 1000);
    assert!(rows.iter().all(|r| r.split(',').count() == 14));
    assert!(rows.iter().any(|r| r.ends_with(",,NODATA")));
}

#[test]
fn csv_from_stdin_uses_the_streams_own_header() {
    let v5 = "version srcaddr dstport flow-direction\n5 10.0.0.1 443 ingress\n";
    let out = flowfence(
        &["parse", "-q", "-", "--output", "csv"],
        Some(v5.as_bytes()),
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "version,srcaddr,dstport,flow-direction\n5,10.0.0.1,443,ingress\n"
    );
}

#[test]
fn multi_member_gzip_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = gzip(format!("{HEADER}\n{LINE}\n").as_bytes());
    data.extend(gzip(format!("{LINE}\n{HEADER}\n{LINE}\n").as_bytes()));
    let file = write(dir.path(), "multi.log.gz", &data);
    let (records, stats) = parse_with_stats(&[&file], None);
    assert_eq!(records.len(), 3);
    assert_eq!(stats["header_lines"], 2);

    let (from_stdin, _) = parse_with_stats(&["-"], Some(&data));
    assert_eq!(from_stdin, records);
    assert_eq!(records[0]["dstport"], 5432);
    assert_eq!(records[0]["srcaddr"], "10.0.10.11");
}

#[test]
fn cloudwatch_subscription_document_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let doc = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "vpc-flow",
        "logStream": "eni-0a1b2c3d4e5f60718-all", "subscriptionFilters": ["all"],
        "logEvents": [{"id": "1", "timestamp": 1, "message": LINE}, {"id": "2", "timestamp": 2, "message": "2 1 eni-1 - - - - - - - 1 2 - NODATA"}]
    });
    let file = write(
        dir.path(),
        "delivery.json.gz",
        &gzip(doc.to_string().as_bytes()),
    );
    let (records, stats) = parse_with_stats(&[&file], None);
    assert_eq!(records.len(), 2);
    assert_eq!(stats["nodata"], 1);
}

#[test]
fn json_lines_with_a_custom_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "events.jsonl",
        b"{\"message\":\"eni-1 10.0.0.1 443 ingress\"}\n{\"message\":\"eni-2 10.0.0.2 http egress\"}\n",
    );
    let (records, stats) = parse_with_stats(
        &[
            &file,
            "--format",
            "${interface-id} ${srcaddr} ${dstport} ${flow-direction}",
        ],
        None,
    );
    assert_eq!(
        records,
        [
            json!({"interface-id": "eni-1", "srcaddr": "10.0.0.1", "dstport": 443, "flow-direction": "ingress"})
        ]
    );
    assert_eq!(stats["rejected"], 1);
    assert_eq!(
        stats["first_rejected"][0]["message"],
        format!("{file}: event 2: field `dstport`: `http` is not a port (0-65535)")
    );
}

#[test]
fn every_bad_line_is_counted_by_reason_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{HEADER}\n{LINE}\n{}\n{}\n{}\n2 1 eni-1 short line\n{LINE}\n",
        LINE.replace("5432", "postgres"),
        LINE.replace("10.0.20.10", "10.0.20.300"),
        LINE.replace("5432", "70000"),
    );
    let file = write(dir.path(), "bad.log", text.as_bytes());
    let (records, stats) = parse_with_stats(&[&file], None);
    assert_eq!(records.len(), 2);
    assert_eq!(stats["rejected"], 4);
    let by_reason: Vec<(String, u64)> = stats["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}:{}",
                    r["reason"].as_str().unwrap(),
                    r["field"].as_str().unwrap_or("")
                ),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_reason,
        [
            ("field-count:".to_string(), 1),
            ("not-a-number:dstport".to_string(), 1),
            ("out-of-range:dstport".to_string(), 1),
            ("bad-address:dstaddr".to_string(), 1),
        ]
    );
    let messages: Vec<&str> = stats["first_rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages[0],
        format!("{file}:3: field `dstport`: `postgres` is not a port (0-65535)")
    );
    assert_eq!(
        messages[1],
        format!("{file}:4: field `dstaddr`: `10.0.20.300` is not an IPv4 or IPv6 address")
    );
    assert!(messages[3].starts_with(&format!("{file}:6: 5 fields where the layout has 14")));

    // The human summary says the same on stderr.
    let (_, stderr) = ok(&["parse", &file, "--output", "none"]);
    let rejected_line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("rejected"))
        .unwrap();
    assert_eq!(
        rejected_line.split_whitespace().collect::<Vec<_>>(),
        ["rejected", "4"],
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:3: field `dstport`")),
        "{stderr}"
    );
}

#[test]
fn truncated_gzip_keeps_the_good_lines_and_reports_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = std::iter::once(HEADER.to_string())
        .chain((0..5000).map(|i| LINE.replace("41000", &(30000 + i).to_string())))
        .collect::<Vec<_>>()
        .join("\n");
    let data = gzip(text.as_bytes());
    let file = write(dir.path(), "cut.log.gz", &data[..data.len() / 2]);
    let (records, stats) = parse_with_stats(&[&file], None);
    assert!(
        records.len() > 100 && records.len() < 5000,
        "{}",
        records.len()
    );
    // Records are the file's first lines, in order.
    assert!(
        records
            .iter()
            .enumerate()
            .all(|(i, r)| r["srcport"] == 30000 + i as u64)
    );
    let reasons: Vec<&str> = stats["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"unreadable"), "{stats}");
    let detail = stats["first_rejected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == "unreadable")
        .unwrap()["detail"]
        .clone();
    assert!(
        detail.as_str().unwrap().contains("truncated")
            || detail.as_str().unwrap().contains("corrupt"),
        "{detail}"
    );
}

#[test]
fn unreadable_files_are_reported_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.log",
        format!("{HEADER}\n{LINE}\n").as_bytes(),
    );
    write(dir.path(), "notes.md", b"not a log");
    std::os::unix::fs::symlink(dir.path().join("missing.log"), dir.path().join("b.log")).unwrap();
    let (records, stats) = parse_with_stats(&[dir.path().to_str().unwrap()], None);
    assert_eq!(records.len(), 1);
    assert_eq!(stats["rejections"][0]["reason"], "unreadable");
    assert_eq!(
        stats["files_not_read"][0]["why"],
        "not a flow log file name"
    );
}

#[test]
fn strict_fails_on_the_first_rejection_with_status_65() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.log",
        format!("{HEADER}\n{LINE}\n{}\n", LINE.replace("ACCEPT", "MAYBE")).as_bytes(),
    );
    let out = flowfence(&["parse", "--strict", "--output", "none", &file], None);
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: {file}:3: field `action`: `MAYBE` is not ACCEPT or REJECT"
        )),
        "{stderr}"
    );
}

#[test]
fn usage_and_io_errors_have_their_own_status() {
    let out = flowfence(&["parse", "--log-format", "version 5", "x.log"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
    // The flag's old spelling still works where --format means nothing else, and can't
    // be given beside the new one.
    let out = flowfence(&["parse", "--format", "version 5", "x.log"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
    let both = [
        "parse",
        "--format",
        "version",
        "--log-format",
        "version",
        "x.log",
    ];
    let out = flowfence(&both, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    let out = flowfence(&["parse", "/nonexistent/flowfence/logs"], None);
    assert_eq!(out.status.code(), Some(74));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/flowfence/logs"));
}

#[test]
fn ndjson_keeps_input_order_across_parallel_blocks() {
    // Big enough for several 4 MiB blocks, decoded in parallel and written in order.
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{HEADER}\n");
    for i in 0..120_000u64 {
        text.push_str(&LINE.replace("1793696400", &(1_793_696_400 + i).to_string()));
        text.push('\n');
    }
    let file = write(dir.path(), "big.log", text.as_bytes());
    let (out, _) = ok(&["parse", "-q", "--threads", "2", &file]);
    let records = ndjson(&out);
    assert_eq!(records.len(), 120_000);
    assert!(
        records
            .iter()
            .enumerate()
            .all(|(i, r)| r["start"] == 1_793_696_400 + i as u64)
    );
}
