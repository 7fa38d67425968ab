//! `flowfence aggregate` end to end on the bundled sample.

use crate::common::{flowfence, ok, sample, without_timing};

#[test]
fn observed_connections_table_for_every_sample_form() {
    let (csv, stderr) = ok(&[
        "aggregate",
        "--logs",
        &sample("logs"),
        "--inventory",
        &sample("inventory"),
    ]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "interface_id,side,protocol,port,peer_kind,peer,flows,packets,bytes,first_seen,last_seen,peer_ports,basis"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 100);
    assert!(rows.iter().all(|r| r.len() == 13));
    // The database serves 5432 to the app tier; the app tier opens 5432 toward it.
    assert!(
        rows.iter()
            .any(|r| r[1] == "server" && r[2] == "6" && r[3] == "5432" && r[4] == "interface")
    );
    assert!(rows.iter().any(|r| r[1] == "client" && r[3] == "5432"));
    // S3 through the gateway endpoint is an AWS service peer.
    assert!(
        rows.iter()
            .any(|r| r[4] == "aws-service" && r[5] == "S3" && r[3] == "443")
    );
    // No ephemeral port is ever a service port.
    assert!(rows.iter().all(|r| r[3].parse::<u32>().unwrap() < 32768));
    // The bastion's pings are settled by fan-out: nothing is ambiguous.
    assert!(
        !stderr.contains("ambiguous connections (direction not determinable)"),
        "{stderr}"
    );
    assert!(stderr.contains("NAT gateways: paths, not rows"), "{stderr}");
}

#[test]
fn inventory_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("reservations.json");
    std::fs::write(&bad, r#"{"Reservations": []}"#).unwrap();
    let out = flowfence(
        &[
            "aggregate",
            "--logs",
            &sample("logs/s3-text-v2"),
            "--inventory",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("reservations.json: not the output of a describe-network-interfaces"),
        "{stderr}"
    );

    let out = flowfence(
        &[
            "aggregate",
            "--logs",
            &sample("logs/s3-text-v2"),
            "--inventory",
            &sample("inventory"),
            "-o",
            "x.json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn parquet_table_holds_the_same_rows_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("conn.parquet");
    let args = |out: &str| {
        vec![
            "aggregate".to_string(),
            "-q".into(),
            "--logs".into(),
            sample("logs/s3-text-v5"),
            "--inventory".into(),
            sample("inventory"),
            "-o".into(),
            out.to_string(),
        ]
    };
    let csv = dir.path().join("conn.csv");
    for out in [&pq, &csv] {
        let a = args(out.to_str().unwrap());
        ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    let file = parquet::file::serialized_reader::SerializedFileReader::new(
        std::fs::File::open(&pq).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let meta = file.metadata();
    assert_eq!(meta.file_metadata().num_rows() as usize, rows);
    let names: Vec<String> = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(
        names.join(","),
        "interface_id,side,protocol,port,peer_kind,peer,flows,packets,bytes,first_seen,last_seen,peer_ports,basis"
    );
}

/// Per-day partial results (text v5 on one day, Parquet on another) merged, in either
/// order, give exactly the partial and the table of one run over both days; thread
/// counts don't change a byte.
#[test]
fn merged_partials_equal_one_run_over_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (v5, pq, inv) = (
        sample("logs/s3-text-v5"),
        sample("logs/s3-parquet"),
        sample("inventory"),
    );
    ok(&[
        "aggregate",
        "-q",
        "--logs",
        &v5,
        "--partial",
        &path("v5.parquet"),
    ]);
    ok(&[
        "aggregate",
        "-q",
        "--threads",
        "1",
        "--logs",
        &pq,
        "--partial",
        &path("pq.parquet"),
    ]);
    ok(&[
        "aggregate",
        "-q",
        "--logs",
        &pq,
        &v5,
        "--inventory",
        &inv,
        "-o",
        &path("one.csv"),
        "--partial",
        &path("one.parquet"),
        "--rejected",
        &path("rejected.csv"),
        "--gaps",
        &path("gaps.csv"),
    ]);
    let (_, stderr) = ok(&[
        "merge",
        &path("pq.parquet"),
        &path("v5.parquet"),
        "-o",
        &path("merged.parquet"),
        "--inventory",
        &inv,
        "--connections",
        &path("merged.csv"),
    ]);
    assert!(stderr.contains("merged 2 partial results"), "{stderr}");
    ok(&[
        "merge",
        "-q",
        "--threads",
        "1",
        &path("v5.parquet"),
        &path("pq.parquet"),
        "-o",
        &path("merged2.parquet"),
    ]);
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert!(read("merged.parquet") == read("one.parquet"));
    assert!(read("merged2.parquet") == read("one.parquet"));
    assert!(read("merged.csv") == read("one.csv"));
    assert!(read("one.csv").len() > 1000);

    let rejected = String::from_utf8(read("rejected.csv")).unwrap();
    assert!(
        rejected.starts_with("interface_id,protocol,port,records,packets,first_seen,last_seen\n")
    );
    assert!(rejected.lines().count() > 1);
    let gaps = String::from_utf8(read("gaps.csv")).unwrap();
    assert!(gaps.starts_with("interface_id,nodata,skipdata\n"), "{gaps}");
}

/// Under a memory limit small enough to spill on every flush, the table (its rows
/// spilled too), the partial result and a merge of it (with its table) are the same
/// bytes as without one, and the summary says what spilled.
#[test]
fn a_memory_limit_spills_and_changes_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (logs, inv) = (sample("logs"), sample("inventory"));
    let run = |name: &str, limit: &[&str]| {
        let csv = path(&format!("{name}.csv"));
        let partial = path(&format!("{name}.parquet"));
        let mut argv = vec![
            "aggregate",
            "--logs",
            &logs,
            "--inventory",
            &inv,
            "-o",
            &csv,
            "--partial",
            &partial,
        ];
        argv.extend_from_slice(limit);
        ok(&argv).1
    };
    run("free", &[]);
    // One thread: the same flushes, so the same spills, every run.
    let stderr = run("limited", &["--memory-limit", "64K", "--threads", "1"]);
    assert!(
        stderr.contains("memory limit 64 KiB: ")
            && stderr.contains(" sorted runs of connections spilled to temporary files")
            && stderr.contains(" runs of rows spilled to temporary files"),
        "{stderr}"
    );
    insta::assert_snapshot!("aggregate-memory-limit", without_timing(&stderr));
    let (_, merged) = ok(&[
        "merge",
        &path("limited.parquet"),
        "-o",
        &path("merged.parquet"),
        "--inventory",
        &inv,
        "--connections",
        &path("merged.csv"),
        "--memory-limit",
        "16K",
    ]);
    assert!(
        merged.contains("memory limit 16 KiB: ")
            && merged.contains(" runs of rows spilled to temporary files"),
        "{merged}"
    );
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert!(read("limited.csv") == read("free.csv"));
    assert!(read("limited.parquet") == read("free.parquet"));
    assert!(read("merged.parquet") == read("free.parquet"));
    assert!(read("merged.csv") == read("free.csv"));
    assert!(read("free.csv").len() > 1000);
}

#[test]
fn merge_rejects_what_is_not_a_partial_result() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("conn.parquet");
    ok(&[
        "aggregate",
        "-q",
        "--logs",
        &sample("logs/s3-text-v2"),
        "--inventory",
        &sample("inventory"),
        "-o",
        table.to_str().unwrap(),
    ]);
    let out_path = dir.path().join("out.parquet");
    let out = flowfence(
        &[
            "merge",
            table.to_str().unwrap(),
            "-o",
            out_path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("conn.parquet: not a flowfence partial result"),
        "{stderr}"
    );
    assert!(!out_path.exists());

    // A table needs the inventory.
    let out = flowfence(
        &[
            "merge",
            table.to_str().unwrap(),
            "-o",
            out_path.to_str().unwrap(),
            "--connections",
            "c.csv",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--inventory is needed"));
}

/// An inventory folder holding other AWS CLI output (`describe-instances` saved beside
/// the other files) is read for what flowfence understands; the other file is listed by name
/// and keys, and the run goes on. A known output that is malformed still stops it.
#[test]
fn an_inventory_folder_lists_files_it_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory");
    std::fs::create_dir(&inventory).unwrap();
    for entry in std::fs::read_dir(sample("inventory")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, inventory.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        inventory.join("describe-instances.json"),
        r#"{"Reservations": []}"#,
    )
    .unwrap();
    let out = dir.path().join("c.csv");
    let (_, stderr) = ok(&[
        "aggregate",
        "--logs",
        &sample("logs/s3-text-v2"),
        "--inventory",
        inventory.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains(
            "describe-instances.json: not an output flowfence reads (top-level keys: Reservations); not read"
        ),
        "{stderr}"
    );
    std::fs::write(
        inventory.join("zz.json"),
        r#"{"SecurityGroups": [{"GroupName": "x"}]}"#,
    )
    .unwrap();
    let failed = flowfence(
        &[
            "aggregate",
            "-q",
            "--logs",
            &sample("logs/s3-text-v2"),
            "--inventory",
            inventory.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(failed.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("zz.json: missing field `GroupId`"));
}
