//! Amazon Security Lake's VPC flow logs (OCSF Network Activity Parquet): AWS's own files
//! give the records they were made from, and a generated Security Lake tree gives the
//! same connections as the same records in text.

use std::path::PathBuf;

use flowfence_synth::{Environment, Form, Span, unix_day, write_inventory, write_logs};

use crate::common::{connections_csv, flowfence, parse_with_stats};

fn data(name: &str) -> String {
    flowfence_testdata::workspace()
        .join("crates/flowfence/tests/data/security-lake")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// Source version 2 (OCSF 1.1): each file's record is its input's, field for field (the
/// inputs are JSON objects with `_` in names and `-` for no value; one is Parquet).
#[test]
fn security_lakes_version_2_files_give_the_records_they_were_made_from() {
    for i in 0..4 {
        let (got, stats) = parse_with_stats(
            &[&data(&format!(
                "1.1.0/tests_vpc_flow-input{i}.test.parquet"
            ))],
            None,
        );
        assert_eq!(
            (got.len(), stats["rejected"].as_u64()),
            (1, Some(0)),
            "input {i}"
        );
        let input = data(&format!("1.1.0/vpc_flow-input{i}.json"));
        let want: serde_json::Value =
            match serde_json::from_slice::<serde_json::Value>(&std::fs::read(&input).unwrap()) {
                Ok(object) => object
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.replace('_', "-"),
                            if v == "-" {
                                serde_json::Value::Null
                            } else {
                                v.clone()
                            },
                        )
                    })
                    .collect(),
                // Input 2 is Parquet: read it as flowfence reads delivered Parquet.
                Err(_) => parse_with_stats(&[&input], None).0.remove(0),
            };
        for (field, value) in got[0].as_object().unwrap() {
            assert_eq!(Some(value), want.get(field), "input {i}: field {field}");
        }
    }
}

/// Source version 1 (OCSF 1.0.0-rc.2), against its flat Parquet inputs.
#[test]
fn security_lakes_own_files_give_the_records_they_were_made_from() {
    for (example, input) in [
        ("example0.gz.parquet", "vpc_flow-input0.json.parquet"),
        ("example1.gz.parquet", "vpc_flow-input1.json.parquet"),
        ("example2.gz.parquet", "vpc_flow-input2.json.parquet"),
        ("example3.gz.parquet", "vpc_flow-input3.parquet"),
    ] {
        let (example, input) = (
            format!("1.0.0-rc.2/{example}"),
            format!("1.0.0-rc.2/{input}"),
        );
        let (got, stats) = parse_with_stats(&[&data(&example)], None);
        let (want, _) = parse_with_stats(&[&data(&input)], None);
        assert_eq!((got.len(), want.len()), (1, 1), "{example}");
        assert_eq!(stats["rejected"], 0);
        // Every field the OCSF record carries is the input record's.
        for (field, value) in got[0].as_object().unwrap() {
            assert_eq!(Some(value), want[0].get(field), "{example}: field {field}");
        }
        assert!(got[0].as_object().unwrap().len() >= 26);
    }
    // --input-format ocsf refuses a Parquet file that isn't OCSF, by name.
    let out = flowfence(
        &[
            "parse",
            "--input-format",
            "ocsf",
            "--output",
            "none",
            &data("1.0.0-rc.2/vpc_flow-input0.json.parquet"),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("vpc_flow-input0.json.parquet: not a readable Parquet flow log: not OCSF Network Activity"),
        "{stderr}"
    );
}

#[test]
fn a_security_lake_tree_gives_the_connections_of_the_same_records_in_text() {
    let dir = tempfile::tempdir().unwrap();
    let env = Environment::new(11, 3);
    let span = Span {
        start: unix_day(2026, 11, 2) + 9 * 3600,
        files: 12,
        scale: 0.3,
        continuation_from: None,
    };
    let lake = write_logs(&env, 11, Form::SecurityLake, span, &dir.path().join("lake")).unwrap();
    write_logs(&env, 11, Form::S3TextV5, span, &dir.path().join("text")).unwrap();
    write_inventory(&env, &dir.path().join("inventory")).unwrap();
    assert!(lake.files.iter().all(|f| {
        f.to_str().unwrap().contains(
            "/aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261102/",
        )
    }));

    let lake_dir = dir.path().join("lake");
    let (records, stats) = parse_with_stats(
        &[lake_dir.to_str().unwrap(), "--input-format", "ocsf"],
        None,
    );
    assert_eq!(records.len() as u64, lake.records);
    assert_eq!(stats["rejected"], 0);

    let table = |logs: PathBuf| connections_csv(&logs, &dir.path().join("inventory"), dir.path());
    let text = table(dir.path().join("text"));
    assert!(text.lines().count() > 100);
    assert_eq!(table(lake_dir), text);
}
