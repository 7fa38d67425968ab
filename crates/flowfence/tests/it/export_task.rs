//! CloudWatch Logs export-task output (`aws logs create-export-task`): objects
//! `<task>/<eni>-all/000000.gz`, or unpacked `000000`, each line an ingestion time and a
//! record. Read as a directory tree, gzip or not, with the record layout from
//! `--log-format` or the default; every record accounted for; the same connections as
//! the same records delivered to S3.

use std::path::Path;

use flowfence_synth::{
    Environment, Form, Format, Span, V5_FORMAT, unix_day, write_inventory, write_logs,
};

use crate::common::{connections_csv, flowfence, ok, parse_with_stats};

fn span() -> Span {
    Span {
        start: unix_day(2026, 11, 2) + 9 * 3600,
        files: 6,
        scale: 0.2,
        continuation_from: None,
    }
}

/// Gunzips every `000000.gz` under `from` into `to`, keeping the tree, as `gunzip -r` would.
fn unpack(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            unpack(&path, &target);
        } else if let Some(stem) = path.to_str().unwrap().strip_suffix(".gz") {
            let mut text = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()),
                &mut text,
            )
            .unwrap();
            let name = Path::new(stem).file_name().unwrap();
            std::fs::write(to.join(name), text).unwrap();
        }
    }
}

#[test]
fn export_task_objects_read_gzip_or_unpacked_and_match_s3_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let env = Environment::new(7, 2);
    let exported = write_logs(
        &env,
        7,
        Form::CloudWatchExport(Format::V2),
        span(),
        &dir.path().join("export"),
    )
    .unwrap();
    write_logs(&env, 7, Form::S3TextV2, span(), &dir.path().join("s3")).unwrap();
    write_inventory(&env, &dir.path().join("inventory")).unwrap();
    let export = dir.path().join("export/exportedlogs");
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    unpack(&export, &unpacked);
    assert!(
        std::fs::read_dir(&unpacked)
            .unwrap()
            .flat_map(|t| std::fs::read_dir(t.unwrap().path()).unwrap())
            .flat_map(|s| std::fs::read_dir(s.unwrap().path()).unwrap())
            .all(|f| f.unwrap().file_name() == "000000"),
        "files without an extension, as unpacked"
    );

    for tree in [&export, &unpacked] {
        let (records, stats) = parse_with_stats(&[tree.to_str().unwrap()], None);
        assert_eq!(records.len() as u64, exported.records);
        assert_eq!(stats["rejected"], 0);
        assert_eq!(stats["exported_sources"], env.interfaces.len() as u64);
        assert!(records[0]["export-time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(records[0]["version"], 2);
    }
    let (_, stderr) = ok(&["parse", "--output", "none", unpacked.to_str().unwrap()]);
    assert!(
        stderr.contains("CloudWatch Logs export: ")
            && stderr.contains("when CloudWatch ingested it"),
        "{stderr}"
    );

    // The same records as S3 delivered them: the same connections.
    let table = |logs: &Path| connections_csv(logs, &dir.path().join("inventory"), dir.path());
    let via_s3 = table(&dir.path().join("s3"));
    assert!(via_s3.lines().count() > 50);
    assert_eq!(table(&export), via_s3);
    assert_eq!(table(&unpacked), via_s3);
}

#[test]
fn a_custom_format_export_needs_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let env = Environment::new(7, 2);
    let written = write_logs(
        &env,
        7,
        Form::CloudWatchExport(Format::V5),
        span(),
        dir.path(),
    )
    .unwrap();
    let tree = dir.path().join("exportedlogs");
    let tree = tree.to_str().unwrap();
    let (records, stats) = parse_with_stats(&[tree, "--log-format", V5_FORMAT], None);
    assert_eq!(records.len() as u64, written.records);
    assert_eq!(stats["rejected"], 0);
    assert!(records.iter().any(|r| r["flow-direction"] == "egress"));
    // Without it, every line is rejected by name (a v5 record is no default-format one).
    let out = flowfence(&["parse", "--output", "none", tree], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fields where the layout has 15"),
        "{stderr}"
    );
}
