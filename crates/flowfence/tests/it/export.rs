//! Every export format of the sample's plan, end to end from the CLI: snapshots of what
//! people read and apply, the Terraform parsed as HCL with every reference resolving, and
//! the report naming every moved interface and every rule.

use std::collections::BTreeSet;

use crate::common::{ok, propose_sample, proposed};

/// The sample's plan in `format`, from `propose --format`.
fn propose_as(format: &str) -> String {
    proposed(&["--format", format])
}

fn plan() -> serde_json::Value {
    serde_json::from_str(&propose_as("json")).unwrap()
}

#[test]
fn text_exports_match_their_snapshots_and_export_agrees_with_propose() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, propose_as("json")).unwrap();
    for format in [
        "terraform",
        "cloudformation",
        "cli",
        "csv",
        "markdown",
        "html",
    ] {
        let text = propose_as(format);
        insta::assert_snapshot!(format!("sample-{format}"), text);
        // `export` from the plan file writes the same bytes.
        let (exported, _) = ok(&[
            "export",
            "--plan",
            plan_path.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert_eq!(exported, text, "{format}");
    }
}

/// The script is valid bash and does nothing without a phase.
#[test]
fn the_cli_script_parses_and_needs_a_phase() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("migrate.sh");
    std::fs::write(&script, propose_as("cli")).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let bare = std::process::Command::new("bash")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("usage:"));
}

#[test]
fn parquet_rules_hold_the_csv_rows() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rules.parquet");
    proposed(&["--format", "parquet", "-o", out.to_str().unwrap()]);
    let reader = SerializedFileReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    let rows = reader.metadata().file_metadata().num_rows();
    let csv_rows = propose_as("csv").lines().count() as i64 - 1;
    assert_eq!(rows, csv_rows);
    // Parquet to a terminal is refused.
    let refused = propose_sample(&["--format", "parquet"]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn terraform_parses_and_every_reference_resolves() {
    let text = propose_as("terraform");
    let body: hcl::Body = hcl::from_str(&text).expect("valid HCL");
    let mut declared = BTreeSet::new();
    let mut rules = 0;
    for block in body.blocks() {
        if block.identifier() == "variable" {
            declared.insert(format!("var.{}", block.labels()[0].as_str()));
            continue;
        }
        assert_eq!(block.identifier(), "resource");
        let (kind, name) = (block.labels()[0].as_str(), block.labels()[1].as_str());
        assert!(
            declared.insert(format!("{kind}.{name}")),
            "{kind}.{name} declared twice"
        );
        let attrs: BTreeSet<&str> = block.body().attributes().map(|a| a.key()).collect();
        let required: &[&str] = match kind {
            "aws_security_group" => &["name", "description", "vpc_id"],
            "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
                rules += 1;
                let peers = [
                    "cidr_ipv4",
                    "cidr_ipv6",
                    "prefix_list_id",
                    "referenced_security_group_id",
                ];
                assert_eq!(
                    peers.iter().filter(|p| attrs.contains(*p)).count(),
                    1,
                    "{name}: exactly one peer"
                );
                &["security_group_id", "ip_protocol", "description"]
            }
            "aws_network_interface_sg_attachment" => &["security_group_id", "network_interface_id"],
            "aws_default_security_group" => &["vpc_id", "count"],
            other => panic!("unexpected resource type {other}"),
        };
        for r in required {
            assert!(attrs.contains(r), "{kind}.{name} lacks {r}");
        }
    }
    // Every rule of the plan's new groups and every rule added to existing ones.
    let plan = plan();
    let expected: usize = plan["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            if g["new"] == true {
                g["ingress"].as_array().unwrap().len() + g["egress"].as_array().unwrap().len()
            } else {
                g["changes"]["authorize_ingress"]
                    .as_array()
                    .map_or(0, Vec::len)
                    + g["changes"]["authorize_egress"]
                        .as_array()
                        .map_or(0, Vec::len)
            }
        })
        .sum();
    assert_eq!(rules, expected);
    // References (`aws_x.name.id`, `var.x`) all name something declared.
    for word in text.split(|c: char| c.is_whitespace() || "(){}[]?:,".contains(c)) {
        let reference = word.trim_end_matches(".id");
        if (word.starts_with("aws_") && word.ends_with(".id")) || word.starts_with("var.") {
            assert!(declared.contains(reference), "{word} does not resolve");
        }
    }
}

#[test]
fn the_report_names_every_moved_interface_and_every_rule() {
    let report = propose_as("markdown");
    let plan = plan();
    for i in plan["interfaces"].as_array().unwrap() {
        assert!(report.contains(i["interface_id"].as_str().unwrap()));
    }
    for g in plan["groups"].as_array().unwrap() {
        let name = g["name"].as_str().unwrap();
        let section = report
            .split("\n### ")
            .find(|s| s.starts_with(&format!("{name} (")))
            .unwrap_or_else(|| panic!("no section for {name}"));
        for (direction, rules) in [("ingress", &g["ingress"]), ("egress", &g["egress"])] {
            for p in rules.as_array().unwrap() {
                let ports = match (p["FromPort"].as_i64(), p["ToPort"].as_i64()) {
                    (Some(f), Some(t)) if f >= 0 && f == t => f.to_string(),
                    (Some(f), Some(t)) if f >= 0 => format!("{f}-{t}"),
                    _ => "all".to_string(),
                };
                let row = format!("| {direction} | ");
                assert!(
                    section
                        .lines()
                        .any(|l| l.starts_with(&row) && l.contains(&format!(" | {ports} | "))),
                    "{name}: no {direction} row for ports {ports}"
                );
            }
        }
    }
}

/// The HTML report's diagram has a node for every group the plan creates or changes and
/// for every group its rules name, and its edges carry every rule the plan leaves in
/// place (authorized or kept), each once.
#[test]
fn the_reports_diagram_has_every_group_and_rule() {
    let html = propose_as("html");
    let start = html
        .find("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"diagram\"")
        .unwrap();
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    let attr = |tag: &str, name: &str| -> Vec<String> {
        svg.match_indices(&format!("<g class=\"{tag}\""))
            .map(|(at, _)| {
                let from = at + svg[at..].find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                svg[from..from + svg[from..].find('"').unwrap()].to_string()
            })
            .collect()
    };
    let nodes: BTreeSet<String> = attr("node", "data-ref").into_iter().collect();
    let plan = plan();
    let csv = propose_as("csv");
    let mut rules = 0;
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        // group_ref, group_name, action, direction, ip_protocol, from, to, peer_kind, peer
        if cells[2] == "revoke" {
            continue;
        }
        rules += 1;
        assert!(nodes.contains(cells[0]), "no node for {}", cells[0]);
        if cells[7] == "group" || cells[7] == "prefix-list" {
            assert!(nodes.contains(cells[8]), "no node for {}", cells[8]);
        }
    }
    for g in plan["groups"].as_array().unwrap() {
        let has_rules = !g["ingress"].as_array().unwrap().is_empty()
            || !g["egress"].as_array().unwrap().is_empty();
        if has_rules {
            assert!(nodes.contains(g["ref"].as_str().unwrap()), "{g}");
        }
    }
    let carried: usize = attr("edge", "data-rules")
        .iter()
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    assert!(rules > 10);
    assert_eq!(carried, rules);
    // Every edge joins two drawn nodes.
    for end in attr("edge", "data-from")
        .into_iter()
        .chain(attr("edge", "data-to"))
    {
        assert!(nodes.contains(&end), "{end}");
    }
}

/// The HTML report in headless Chromium (Debian's package; `.ci/run` installs it and sets
/// `FLOWFENCE_REQUIRE_CHROMIUM`, elsewhere the test is skipped without it): it renders
/// (a PNG screenshot), the DOM Chromium builds has the diagram's node for every group
/// the report draws and an edge per pair, and Chromium logs no console messages (the
/// page has no script and fetches nothing).
#[test]
fn the_html_report_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        assert!(
            std::env::var_os("FLOWFENCE_REQUIRE_CHROMIUM").is_none(),
            "FLOWFENCE_REQUIRE_CHROMIUM is set but there is no chromium"
        );
        eprintln!("skipped: no chromium (Debian's package `chromium`)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let html = propose_as("html");
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());
    // Bounded by coreutils' `timeout`: a browser that hangs fails the test (status
    // 124) instead of holding CI.
    let headless = |extra: &[&str]| {
        let out = std::process::Command::new("timeout")
            .args(["120", chromium])
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--window-size=1400,1500",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let shot = dir.path().join("report.png");
    let rendered = headless(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let dumped = headless(&["--dump-dom"]);
    let dom = String::from_utf8(dumped.stdout.clone()).unwrap();
    let count = |text: &str, what: &str| text.matches(what).count();
    let (nodes, edges) = (
        count(&html, "<g class=\"node\""),
        count(&html, "<g class=\"edge\""),
    );
    assert!(nodes >= 5 && edges >= 5, "{nodes} nodes, {edges} edges");
    assert_eq!(count(&dom, "<g class=\"node\""), nodes);
    assert_eq!(count(&dom, "<g class=\"edge\""), edges);
    for log in [&rendered.stderr, &dumped.stderr] {
        let log = String::from_utf8_lossy(log);
        assert!(!log.contains(":CONSOLE("), "console messages:\n{log}");
    }
}
