//! The reviewer's report: what moves where, every group with its members and rules and
//! their evidence, what widened and why, what was dropped, findings on today's rules,
//! and the steps. Built once as a small document, written as Markdown or HTML.

use std::fmt::Write as _;

use flowfence_flowlog::time::{span, utc_minute};

use crate::diagram::Graph;
use flowfence_inventory::protocol_name;
use flowfence_propose::{Direction, GroupChange, LaunchSettings, Plan, RuleTarget};

use crate::rules::of_group;

/// A piece of the report.
enum Block {
    Heading(u8, String),
    Para(String),
    Table(Vec<&'static str>, Vec<Vec<String>>),
    List(Vec<String>),
    /// A bar per labelled value: a chart in HTML, a table in Markdown (headed by the
    /// two names).
    Bars(&'static str, &'static str, Vec<(String, u64)>),
    /// Who may talk to whom: a diagram in HTML, a table of its edges in Markdown.
    Diagram(Graph),
    /// A table whose rows each have a stretch of the observation window (as fractions
    /// of it, when known): in HTML a last column draws it as a small bar.
    Timeline(Vec<&'static str>, Vec<Vec<String>>, Vec<Option<Span>>),
}

/// A stretch of the observation window: where it starts and ends, as fractions of it.
type Span = (f64, f64);

fn ports(from: i32, to: i32) -> String {
    match (from, to) {
        (f, _) if f < 0 => "all".to_string(),
        (f, t) if f == t => f.to_string(),
        (f, t) => format!("{f}-{t}"),
    }
}

fn protocol(p: i32) -> String {
    if p == -1 {
        "all".into()
    } else {
        protocol_name(p)
    }
}

fn peer(target: &RuleTarget, plan: &Plan) -> String {
    match target {
        RuleTarget::Group(g) => match plan.groups.iter().find(|x| &x.reference == g) {
            Some(x) if x.new => format!("group {} (new)", x.name),
            Some(x) => format!("group {} ({})", x.reference, x.name),
            None => match plan.group_names.get(g) {
                Some(name) => format!("group {g} ({name})"),
                None => format!("group {g}"),
            },
        },
        RuleTarget::PrefixList(p) => format!("prefix list {p}"),
        RuleTarget::Cidr(c) if c.prefix_len() == 0 => format!("{c} (anywhere)"),
        RuleTarget::Cidr(c) => c.to_string(),
    }
}

fn document(plan: &Plan) -> Vec<Block> {
    use Block::*;
    let mut doc = Vec::new();
    let count = |c: GroupChange| plan.groups.iter().filter(|g| g.change == c).count();
    let new_rules: usize = plan
        .groups
        .iter()
        .filter(|g| g.new)
        .map(|g| g.ingress.len() + g.egress.len())
        .sum();
    doc.push(Heading(1, "flowfence migration plan".into()));
    doc.push(Para(
        "Moves every interface off its VPC's default security group onto groups whose rules allow what the flow logs show, so the default group can be emptied (CIS \"default security group restricts all traffic\", Security Hub EC2.2). Nothing destructive happens before the observation step.".into(),
    ));
    doc.push(Heading(2, "Summary".into()));
    let c = &plan.check;
    doc.push(Table(
        vec!["", ""],
        vec![
            vec![
                "Interfaces whose groups change".into(),
                plan.interfaces.len().to_string(),
            ],
            vec![
                "New security groups".into(),
                format!("{} ({new_rules} rules)", count(GroupChange::Create)),
            ],
            vec![
                "Groups tightened in place".into(),
                count(GroupChange::Tighten).to_string(),
            ],
            vec![
                "Groups with rewritten references".into(),
                count(GroupChange::RewriteReferences).to_string(),
            ],
            vec![
                "Default groups emptied".into(),
                count(GroupChange::Empty).to_string(),
            ],
            vec![
                "Observed connections replayed".into(),
                c.connections.to_string(),
            ],
            vec![
                "Connections the plan would break".into(),
                c.broken.to_string(),
            ],
            vec![
                "Allowed but never used (interface pairs x observed service ports)".into(),
                format!(
                    "{} today, {} after the plan",
                    c.allowed_unused_before, c.allowed_unused_after
                ),
            ],
            vec![
                "Rules wider than observed".into(),
                plan.widened.len().to_string(),
            ],
            vec![
                "Observed rows left out on purpose".into(),
                plan.dropped.len().to_string(),
            ],
            vec![
                "Findings on today's rules".into(),
                plan.findings.len().to_string(),
            ],
        ],
    ));

    forecast(plan, &mut doc);

    doc.push(Heading(2, "Who may talk to whom".into()));
    doc.push(Para(
        "After the plan: who may open connections to whom, on which protocols and ports, among the plan's groups and the groups and peers their rules name (in the HTML report, the plan's groups are blue, the others grey).".into(),
    ));
    doc.push(Diagram(Graph::of(plan)));

    doc.push(Heading(2, "Steps".into()));
    doc.push(List(
        plan.steps
            .iter()
            .map(|s| {
                let mut item = format!("{}. {}: {}", s.step, s.action, s.description);
                if !s.targets.is_empty() {
                    let _ = write!(item, " ({})", s.targets.join(", "));
                }
                item
            })
            .collect(),
    ));

    doc.push(Heading(2, "Groups".into()));
    for g in &plan.groups {
        let what = match g.change {
            GroupChange::Create => "new",
            GroupChange::Tighten => "tightened in place",
            GroupChange::RewriteReferences => "references rewritten",
            GroupChange::Empty => "default group, emptied",
        };
        doc.push(Heading(3, format!("{} ({}, {what})", g.name, g.reference)));
        doc.push(Para(format!(
            "{}. VPC {}.",
            g.basis,
            g.vpc_id.as_deref().unwrap_or("unknown")
        )));
        let members: Vec<String> = g
            .members
            .iter()
            .map(
                |m| match plan.interfaces.iter().find(|i| &i.interface_id == m) {
                    Some(i) => format!("{m} ({})", i.owner),
                    None => m.clone(),
                },
            )
            .collect();
        doc.push(Para(if members.is_empty() {
            "Members at the end: none.".to_string()
        } else {
            format!("Members at the end: {}.", members.join(", "))
        }));
        let rules = of_group(g);
        // Where in the window each rule's traffic was seen, for its bar.
        let spans: Vec<Option<Span>> = rules
            .iter()
            .map(|r| {
                let (e, w) = (r.evidence?, plan.window.as_ref()?);
                let length = w.end.saturating_sub(w.start).max(1) as f64;
                let at = |t: u64| (t.clamp(w.start, w.end) - w.start) as f64 / length;
                Some((at(e.first_seen), at(e.last_seen)))
            })
            .collect();
        let rows: Vec<Vec<String>> = rules
            .iter()
            .map(|r| {
                let e = r.evidence;
                vec![
                    r.direction.name().to_string(),
                    r.action.name().to_string(),
                    protocol(r.spec.protocol),
                    ports(r.spec.from, r.spec.to),
                    peer(&r.spec.target, plan),
                    e.map_or(String::new(), |e| e.flows.to_string()),
                    e.map_or(String::new(), |e| e.bytes.to_string()),
                    e.map_or(String::new(), |e| seen(e.first_seen, e.last_seen, plan)),
                    e.map_or(String::new(), |e| e.example_list()),
                ]
            })
            .collect();
        if rows.is_empty() {
            doc.push(Para("Rules at the end: none.".into()));
        } else {
            doc.push(Timeline(
                vec![
                    "direction",
                    "action",
                    "protocol",
                    "ports",
                    "peer",
                    "flows",
                    "bytes",
                    "seen (UTC, share of the window)",
                    "example peers",
                ],
                rows,
                spans,
            ));
        }
    }

    doc.push(Heading(2, "What widened, and why".into()));
    if plan.widened.is_empty() {
        doc.push(Para(
            "Nothing: every rule allows only what was observed.".into(),
        ));
    } else {
        doc.push(Table(
            vec!["group", "direction", "why", "detail"],
            plan.widened
                .iter()
                .map(|w| {
                    vec![
                        w.subject.clone(),
                        match w.direction {
                            Some(Direction::Ingress) => "ingress".into(),
                            Some(Direction::Egress) => "egress".into(),
                            None => String::new(),
                        },
                        serde_json::to_value(w.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        w.detail.clone(),
                    ]
                })
                .collect(),
        ));
    }

    doc.push(Heading(2, "Dropped on purpose".into()));
    if plan.dropped.is_empty() {
        doc.push(Para("Nothing (no --min-flows or --since).".into()));
    } else {
        doc.push(Table(
            vec![
                "interface",
                "side",
                "protocol",
                "port",
                "peer",
                "flows",
                "last seen",
                "why",
            ],
            plan.dropped
                .iter()
                .map(|d| {
                    vec![
                        d.interface_id.clone(),
                        d.side.clone(),
                        d.protocol.to_string(),
                        d.port.to_string(),
                        d.peer.clone(),
                        d.flows.to_string(),
                        d.last_seen.to_string(),
                        d.reason.clone(),
                    ]
                })
                .collect(),
        ));
    }

    doc.push(Heading(2, "Findings on today's rules".into()));
    if plan.findings.is_empty() {
        doc.push(Para("None.".into()));
    } else {
        // Most risk first; within a level, the plan's order (by kind, then subject).
        let mut findings: Vec<_> = plan.findings.iter().collect();
        findings.sort_by_key(|f| f.kind.risk());
        doc.push(Table(
            vec!["risk", "finding", "subject", "detail"],
            findings
                .into_iter()
                .map(|f| {
                    vec![
                        f.kind.risk().name().to_string(),
                        serde_json::to_value(f.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        f.subject.clone(),
                        f.detail.clone(),
                    ]
                })
                .collect(),
        ));
    }

    doc.push(Heading(2, "Interfaces".into()));
    doc.push(Table(
        vec![
            "interface",
            "owner",
            "groups now",
            "groups after",
            "change through",
        ],
        plan.interfaces
            .iter()
            .map(|i| {
                vec![
                    i.interface_id.clone(),
                    i.owner.clone(),
                    i.groups_before.join(" "),
                    i.groups_after.join(" "),
                    if i.requester_managed {
                        "the owning resource".into()
                    } else {
                        "the interface".into()
                    },
                ]
            })
            .collect(),
    ));
    if !plan.launchers.is_empty() {
        doc.push(Heading(2, "Launchers".into()));
        doc.push(Para("What launches these interfaces' successors names groups at launch: each must name the new groups before the default group is detached, or what it launches next lands in the emptied default group.".into()));
        doc.push(Table(
            vec![
                "launcher",
                "launches from",
                "names now",
                "must name",
                "members moving",
            ],
            plan.launchers
                .iter()
                .map(|l| {
                    let from = match &l.settings {
                        LaunchSettings::LaunchTemplate {
                            template_id,
                            version,
                            named_version,
                            ..
                        } => format!(
                            "launch template {template_id} version {version} ({named_version})"
                        ),
                        LaunchSettings::SharedTemplate {
                            template_id,
                            version,
                            shared_with,
                        } => format!(
                            "launch template {template_id} version {version}, shared with {}",
                            shared_with.join(", ")
                        ),
                        LaunchSettings::LaunchConfiguration { name } => {
                            format!("launch configuration {name}")
                        }
                        LaunchSettings::NodeGroupDefaults => "EKS's own launch template".into(),
                        LaunchSettings::EcsService { .. } => {
                            "the service's network configuration".into()
                        }
                        LaunchSettings::LambdaVpc { .. } => {
                            "the function's VPC configuration".into()
                        }
                        LaunchSettings::Unseen => "not in the inventory".into(),
                    };
                    vec![
                        l.label(),
                        from,
                        l.groups_before.join(" "),
                        l.groups_after.join(" "),
                        l.members.len().to_string(),
                    ]
                })
                .collect(),
        ));
    }
    doc
}

/// Whether the plan will hold tomorrow: the holdout's breaks by cause, and the discovery
/// curve with its verdict.
fn forecast(plan: &Plan, doc: &mut Vec<Block>) {
    use Block::*;
    doc.push(Heading(2, "Will it hold tomorrow?".into()));
    let Some(f) = &plan.forecast else {
        doc.push(Para(
            "No holdout: it was turned off (--holdout 0), or the window was too short to split."
                .into(),
        ));
        return;
    };
    let tail = f.held_out.end - f.held_out.start;
    doc.push(Para(format!(
        "A plan learned from the window without its last {} (from {} UTC on) was replayed on that tail: {} connections, {} of them first seen there. It would have broken {}.",
        span(tail),
        utc_minute(f.held_out.start),
        f.held_out_connections,
        f.new_in_holdout,
        match f.broken.len() {
            0 => "none".to_string(),
            1 => "1 connection".to_string(),
            n => format!("{n} connections"),
        }
    )));
    if !f.broken.is_empty() {
        doc.push(Table(
            vec!["cause", "connections", "between", "protocol", "port"],
            f.by_cause
                .keys()
                .flat_map(|cause| {
                    let mut seen: Vec<(String, u8, u16, usize)> = Vec::new();
                    for b in f.broken.iter().filter(|b| b.cause == *cause) {
                        match seen
                            .iter_mut()
                            .find(|s| (&s.0, s.1, s.2) == (&b.between, b.protocol, b.port))
                        {
                            Some(s) => s.3 += 1,
                            None => seen.push((b.between.clone(), b.protocol, b.port, 1)),
                        }
                    }
                    seen.into_iter().map(move |(between, p, port, n)| {
                        vec![
                            cause.describe().to_string(),
                            n.to_string(),
                            between,
                            protocol_name(i32::from(p)),
                            port.to_string(),
                        ]
                    })
                })
                .collect(),
        ));
    }
    let d = &f.discovery;
    doc.push(Heading(3, "Discovery curve".into()));
    doc.push(Para(format!(
        "New needs (a role reaching a role or a kind of peer, on a protocol and port) by the {} they were first seen, over the whole window: {} in all. {}.",
        match d.bucket_seconds {
            86_400 => "day".to_string(),
            3600 => "hour".to_string(),
            other => span(other),
        },
        d.needs,
        capitalised(&f.sufficiency.advice)
    )));
    doc.push(Bars(
        "from (UTC)",
        "new needs",
        d.new_needs
            .iter()
            .enumerate()
            .map(|(i, n)| (utc_minute(f.window.start + i as u64 * d.bucket_seconds), *n))
            .collect(),
    ));
}

/// When a rule's traffic was seen, as dates, and how much of the window that spans.
fn seen(first: u64, last: u64, plan: &Plan) -> String {
    let (from, to) = (utc_minute(first), utc_minute(last));
    let to = match (from.split_once(' '), to.split_once(' ')) {
        (Some((day, _)), Some((same, time))) if day == same => time.to_string(),
        _ => to,
    };
    match &plan.window {
        Some(w) => format!("{from} to {to} ({}%)", w.percent_spanned(first, last)),
        None => format!("{from} to {to}"),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(c).collect()
    })
}

/// An SVG bar chart, its values in tooltips and its first and last labels below.
fn svg_bars(bars: &[(String, u64)]) -> String {
    let (w, h, pad) = (640.0_f64, 120.0_f64, 20.0_f64);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let step = w / bars.len().max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" role=\"img\" aria-label=\"new needs over time\">\n",
        h + 2.0 * pad
    );
    for (i, (label, n)) in bars.iter().enumerate() {
        let bh = h * *n as f64 / max;
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#4a7bd0\"><title>{}: {n}</title></rect>",
            i as f64 * step + 1.0,
            pad + h - bh,
            (step - 2.0).max(1.0),
            bh,
            esc(label)
        );
    }
    let _ = writeln!(
        svg,
        "<line x1=\"0\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#888\"/>",
        y = pad + h
    );
    if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
        let y = h + 2.0 * pad - 4.0;
        let _ = writeln!(
            svg,
            "<text x=\"0\" y=\"{y}\" font-size=\"11\">{}</text>\n<text x=\"{w}\" y=\"{y}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            esc(&first.0),
            esc(&last.0)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"0\" y=\"12\" font-size=\"11\">max {max}</text>"
    );
    svg.push_str("</svg>\n");
    svg
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The report as Markdown.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    for block in document(plan) {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}\n", "#".repeat(level as usize));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {i}");
                }
                out.push('\n');
            }
            Block::Table(head, rows) | Block::Timeline(head, rows, _) => {
                md_table(&mut out, &head, &rows)
            }
            // A diagram is its edges, as a table.
            Block::Diagram(graph) => md_table(
                &mut out,
                &["from", "to", "protocols and ports", "rules"],
                &graph.rows(),
            ),
            Block::Bars(label, value, bars) => {
                let _ = writeln!(out, "| {label} | {value} |\n|---|---|");
                for (l, n) in bars {
                    let _ = writeln!(out, "| {} | {n} |", md_cell(&l));
                }
                out.push('\n');
            }
        }
    }
    out.pop();
    out
}

/// `s` escaped for HTML text and attributes.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Markdown table.
fn md_table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(
        out,
        "| {} |",
        head.iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
}

/// An HTML table; with `bars`, a last column (headed by its name) with each row's
/// stretch of the window drawn as a small bar.
fn html_table(
    out: &mut String,
    head: &[&str],
    rows: &[Vec<String>],
    bars: Option<(&str, &[Option<Span>])>,
) {
    out.push_str("<table>\n<tr>");
    for h in head.iter().copied().chain(bars.map(|(name, _)| name)) {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for (i, r) in rows.iter().enumerate() {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        if let Some((_, spans)) = bars {
            out.push_str("<td>");
            if let Some(Some((from, to))) = spans.get(i) {
                out.push_str(&svg_span(*from, *to));
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// A stretch of the window (`from` to `to`, fractions of it) as a 120-pixel bar: the
/// whole window pale, the stretch seen dark (at least a sliver, for a single moment).
fn svg_span(from: f64, to: f64) -> String {
    const W: f64 = 120.0;
    let x = from * W;
    let w = ((to - from) * W).max(2.0).min(W - x.min(W - 2.0));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"span\" width=\"{W}\" height=\"10\" role=\"img\" aria-label=\"seen from {:.0}% to {:.0}% of the window\"><rect width=\"{W}\" height=\"10\" fill=\"#e6e6e6\"/><rect x=\"{x:.1}\" width=\"{w:.1}\" height=\"10\" fill=\"#4a7bd0\"/></svg>",
        from * 100.0,
        to * 100.0
    )
}

/// The report as a self-contained HTML page.
pub fn html(plan: &Plan) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>flowfence migration plan</title>\n<style>\nbody { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; line-height: 1.4; }\ntable { border-collapse: collapse; margin: 0.5em 0 1.5em; }\nth, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }\nth { background: #f3f3f3; }\n</style>\n</head>\n<body>\n",
    );
    for block in document(plan) {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", esc(&text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", esc(&text));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", esc(&i));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(head, rows) => html_table(&mut out, &head, &rows, None),
            Block::Timeline(head, rows, spans) => {
                html_table(&mut out, &head, &rows, Some(("activity", &spans)))
            }
            Block::Bars(_, _, bars) => out.push_str(&svg_bars(&bars)),
            Block::Diagram(graph) => out.push_str(&graph.svg()),
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}
