//! `flowfence aggregate` end to end on the bundled sample.

use crate::common::{flowfence, ok, workspace};

fn sample(sub: &str) -> String {
    workspace()
        .join("sample-logs")
        .join(sub)
        .display()
        .to_string()
}

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
            .any(|r| r[4] == "aws-service" && r[5] == "s3" && r[3] == "443")
    );
    // No ephemeral port is ever a service port.
    assert!(rows.iter().all(|r| r[3].parse::<u32>().unwrap() < 32768));
    assert!(
        stderr.contains("ambiguous connections (direction not determinable)"),
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
            "x.parquet",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}
