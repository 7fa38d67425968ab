//! Helpers: running the binary, locating shared test data.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    flowfence_testdata::workspace().canonicalize().unwrap()
}

/// A path under the bundled `sample-logs/`, as a string for arguments.
pub(crate) fn sample(sub: &str) -> String {
    workspace()
        .join("sample-logs")
        .join(sub)
        .display()
        .to_string()
}

/// Runs `flowfence` with `args`, feeding `stdin`.
pub(crate) fn flowfence(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowfence"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("flowfence runs");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || pipe.write_all(&input));
    }
    child.wait_with_output().unwrap()
}

/// `flowfence propose -q` on the whole bundled sample, with `extra` flags.
pub(crate) fn propose_sample(extra: &[&str]) -> Output {
    let (logs, inventory) = (sample("logs"), sample("inventory"));
    let mut args = vec!["propose", "-q", "--logs", &logs, "--inventory", &inventory];
    args.extend_from_slice(extra);
    flowfence(&args, None)
}

/// [`propose_sample`], required to succeed: its stdout.
pub(crate) fn proposed(extra: &[&str]) -> String {
    let out = propose_sample(extra);
    assert!(
        out.status.success(),
        "propose {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `flowfence` and requires success; returns (stdout, stderr).
/// A summary with its reading time (`in 0.12 s, 95.1 MiB/s`) as `in [TIME]`, for
/// snapshots.
pub(crate) fn without_timing(summary: &str) -> String {
    summary
        .lines()
        .map(|l| match l.split_once(" in ") {
            Some((head, tail)) if tail.ends_with("MiB/s") => format!("{head} in [TIME]\n"),
            _ => format!("{l}\n"),
        })
        .collect()
}

pub(crate) fn ok(args: &[&str]) -> (String, String) {
    let out = flowfence(args, None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "flowfence {args:?} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Parses NDJSON output into JSON objects.
pub(crate) fn ndjson(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect()
}

/// Runs `flowfence parse` with `--stats-json` and returns (records, stats).
pub(crate) fn parse_with_stats(
    args: &[&str],
    stdin: Option<&[u8]>,
) -> (Vec<serde_json::Value>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let mut all = vec!["parse", "--quiet", "--stats-json", stats.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = flowfence(&all, stdin);
    assert!(
        out.status.success(),
        "flowfence {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    // Nothing is dropped silently: every line is a record, a header, blank or rejected
    // (a whole-source failure is not a line).
    let n = |k: &str| stats[k].as_u64().unwrap();
    let unreadable: u64 = stats["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"] == "unreadable")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        n("lines"),
        n("records") + n("header_lines") + n("blank_lines") + n("rejected") - unreadable,
        "{stats}"
    );
    (ndjson(&String::from_utf8(out.stdout).unwrap()), stats)
}

/// `flowfence aggregate` of `logs` with `inventory`: the connections table as CSV
/// (written into `scratch`).
pub(crate) fn connections_csv(
    logs: &std::path::Path,
    inventory: &std::path::Path,
    scratch: &std::path::Path,
) -> String {
    let out = scratch.join("connections.csv");
    ok(&[
        "aggregate",
        "-q",
        "--logs",
        logs.to_str().unwrap(),
        "--inventory",
        inventory.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    std::fs::read_to_string(out).unwrap()
}
