//! End to end on the bundled sample: the table holds exactly the connections the
//! generator made (its `truth.json`), in both v2 and v5 logs, and no ephemeral-port rows.

use std::collections::BTreeSet;
use std::path::PathBuf;

use flowfence_aggregate::{Observations, Peer, RowTally, Side, Table, TableSummary};
use flowfence_flowlog::{ReadOptions, ReadSummary, Reader, discover};
use flowfence_inventory::{Inventory, IpNet};
use flowfence_synth::{TrueEdge, Truth};

fn sample() -> PathBuf {
    flowfence_testdata::sample_logs()
}

fn inventory() -> Inventory {
    let dir = sample().join("inventory");
    Inventory::load(&[
        dir.join("describe-network-interfaces.json"),
        dir.join("describe-security-groups.json"),
        dir.join("describe-prefix-lists.json"),
    ])
    .unwrap()
}

fn table(logs: &str) -> Table {
    let sources = discover(&[sample().join("logs").join(logs)])
        .unwrap()
        .sources;
    let obs = read(sources);
    obs.finish(&inventory())
}

/// Everything in `sources`, observed.
fn read(sources: Vec<flowfence_flowlog::Source>) -> Observations {
    let (obs, report) = Observations::read(&Reader::new(sources, ReadOptions::default()));
    assert_eq!(report.tally.total(), 0);
    obs
}

type Edge = TrueEdge;

fn truth() -> Truth {
    Truth::read(&sample().join("truth.json")).unwrap()
}

/// The edges a table shows, named by role as the truth names them.
fn edges(table: &Table, truth: &Truth) -> BTreeSet<Edge> {
    let role = |eni: &str| -> String {
        truth
            .role_of(eni)
            .unwrap_or_else(|| panic!("{eni} has no role"))
            .to_string()
    };
    table
        .rows
        .iter()
        .map(|r| {
            let me = role(&r.interface_id);
            let office: IpNet = "203.0.113.0/24".parse().unwrap();
            let peer = match &r.peer {
                Peer::Interface(id) => role(id),
                Peer::AwsService(name) => format!("aws-service:{}", name.to_uppercase()),
                Peer::Internet(net) if office.contains(net) => "office:203.0.113.0/24".to_string(),
                Peer::Internet(_) => "internet".to_string(),
                Peer::Vpc(net) => panic!("unexpected vpc peer {net}"),
            };
            let (client, server) = if r.side == Side::Server {
                (peer, me)
            } else {
                (me, peer)
            };
            (client, server, r.protocol, r.port)
        })
        .collect()
}

fn check(logs: &str) {
    let table = table(logs);
    let truth = truth();
    let want = truth.edges();
    let got = edges(&table, &truth);
    // ICMP pings carry no flags or ports, and request and reply usually start in the same
    // second; the bastion pings several hosts that each answer one: fan-out says who
    // pinged, and nothing is left ambiguous.
    assert!(want.iter().any(|e| e.2 == 1));
    assert!(table.ambiguous.is_empty(), "{:?}", table.ambiguous);
    assert_eq!(got, want, "{logs}: edges differ from the truth");
    // No row's service port is an ephemeral one.
    assert!(
        table.rows.iter().all(|r| r.port < 32768),
        "{logs}: an ephemeral port became a service port"
    );
    // The NAT gateway's records are paths, not rows.
    assert!(table.path_connections > 0);
    assert!(table.missing_interfaces.is_empty());
    // Rejected scans are summarised, and coverage gaps per interface.
    assert!(!table.rejected.is_empty());
}

#[test]
fn v2_logs_give_the_true_edges() {
    check("s3-text-v2");
}

#[test]
fn v5_logs_give_the_true_edges() {
    check("s3-text-v5");
}

/// Partial results (a third of the files, and the rest in reverse order) written to
/// Parquet and merged give the same partial, byte for byte, and the same table as one
/// run over everything.
#[test]
fn merged_partials_equal_one_run() {
    let inventory = inventory();
    let sources = discover(&[sample().join("logs/s3-text-v5")])
        .unwrap()
        .sources;
    let partial = |obs: &Observations| -> Vec<u8> { obs.write_partial(Vec::new(), &[]).unwrap() };
    let whole = read(sources.clone());
    let whole_partial = partial(&whole);
    let whole_table = whole.finish(&inventory).to_csv();

    let dir = tempfile::tempdir().unwrap();
    let (a, b) = sources.split_at(sources.len() / 3);
    let mut reversed = b.to_vec();
    reversed.reverse();
    let (pa, pb) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    std::fs::write(&pa, partial(&read(a.to_vec()))).unwrap();
    std::fs::write(&pb, partial(&read(reversed))).unwrap();
    let merged = Observations::default();
    merged.read_partial(&pb).unwrap();
    merged.read_partial(&pa).unwrap();
    assert!(partial(&merged) == whole_partial, "merged partial differs");
    let merged_table = merged.finish(&inventory).to_csv();
    let (w, m): (BTreeSet<&str>, BTreeSet<&str>) = (
        whole_table.lines().collect(),
        merged_table.lines().collect(),
    );
    assert_eq!(
        w.difference(&m).collect::<Vec<_>>(),
        m.difference(&w).collect::<Vec<_>>()
    );
    assert_eq!(whole_table, merged_table);
    assert!(whole_table.lines().count() > 10);
}

/// What `aggregate` and `run` print about the sample's v5 day: the reading summary
/// (elapsed time and rate left out: they differ per run) and the table's.
#[test]
fn the_sample_summaries_read_as_reviewed() {
    let discovery = discover(&[sample().join("logs").join("s3-text-v5")]).unwrap();
    let reader = Reader::new(discovery.sources.clone(), ReadOptions::default());
    let (obs, report) = Observations::read(&reader);
    let read = ReadSummary {
        report: &report,
        skipped: &discovery.skipped,
        not_written: 0,
    }
    .to_string();
    // The first line ends with the time taken: keep what was read.
    let (first, rest) = read.split_once('\n').unwrap();
    let first = first.split(" in ").next().unwrap();
    let connections = obs.connections();
    let inventory = inventory();
    let table = obs.finish(&inventory);
    let summary = TableSummary {
        table: &table,
        rows: RowTally::of(&table.rows),
        inventory: &inventory,
        connections,
    };
    insta::assert_snapshot!("sample-v5-summaries", format!("{first}\n{rest}{summary}"));
}
