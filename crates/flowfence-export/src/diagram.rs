//! Who may talk to whom after the plan: its groups, the groups and peers their rules
//! name, and an edge per (from, to) pair with the protocols and ports it allows, drawn
//! as an SVG for the HTML report (a table in Markdown).
//!
//! Layout is layered, left to right: a node's column is the longest path to it from a
//! node nothing reaches (clients, load balancers), cycles broken at the fewest edges a
//! greedy order finds; within a column, nodes sit by the mean row of what reaches them,
//! so edges mostly run straight. Tens of groups stay readable: a column per tier of the
//! application, a row per group.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use flowfence_inventory::protocol_name;
use flowfence_propose::{Direction, Plan, RuleTarget};

use crate::report::esc;
use crate::rules::{Action, of_plan};

/// A node: a group, a prefix list, the internet or other addresses.
#[derive(Debug)]
pub(crate) struct Node {
    /// What the DOM calls it (`new:NAME`, `sg-...`, `pl-...`, `internet`, `addresses`).
    pub(crate) key: String,
    /// Its name, as a person reads it.
    pub(crate) label: String,
    /// A second line: the group id, `new`, or what the node stands for.
    pub(crate) detail: String,
    /// One of the plan's own groups (drawn solid), or a peer (drawn pale).
    pub(crate) planned: bool,
}

/// An edge: the rules that let `from` open connections to `to`.
#[derive(Debug)]
pub(crate) struct Edge {
    pub(crate) from: usize,
    pub(crate) to: usize,
    /// `tcp 443`, `udp 53`, `icmp all`, ...
    pub(crate) ports: BTreeSet<String>,
    /// The rules behind it (an internal connection has two: the client's egress and
    /// the server's ingress).
    pub(crate) rules: usize,
}

/// The plan's graph of allowed traffic.
#[derive(Debug)]
pub(crate) struct Graph {
    pub(crate) nodes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
}

impl Graph {
    /// The rules the plan leaves in place (authorized or kept), as a graph.
    pub(crate) fn of(plan: &Plan) -> Graph {
        let mut keys: BTreeMap<String, usize> = BTreeMap::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut node = |key: String, label: String, detail: String, planned: bool| -> usize {
            *keys.entry(key.clone()).or_insert_with(|| {
                nodes.push(Node {
                    key,
                    label,
                    detail,
                    planned,
                });
                nodes.len() - 1
            })
        };
        let group_node = |reference: &str| -> (String, String, String, bool) {
            let planned = plan.groups.iter().any(|g| g.reference == reference);
            let label = plan.group_name(reference).unwrap_or(reference).to_string();
            let detail = match reference.strip_prefix("new:") {
                Some(_) => "new group".to_string(),
                None => reference.to_string(),
            };
            (reference.to_string(), label, detail, planned)
        };
        let mut edges: BTreeMap<(usize, usize), Edge> = BTreeMap::new();
        for rule in of_plan(plan).iter().filter(|r| r.action != Action::Revoke) {
            let (k, l, d, p) = group_node(&rule.group.reference);
            let own = node(k, l, d, p);
            let (k, l, d, p) = match &rule.spec.target {
                RuleTarget::Group(g) => group_node(g),
                RuleTarget::PrefixList(p) => (p.clone(), p.clone(), "prefix list".into(), false),
                RuleTarget::Cidr(c) if c.prefix_len() == 0 => (
                    "internet".into(),
                    "internet".into(),
                    "0.0.0.0/0, ::/0".into(),
                    false,
                ),
                RuleTarget::Cidr(_) => (
                    "addresses".into(),
                    "addresses".into(),
                    "CIDRs".into(),
                    false,
                ),
            };
            let peer = node(k, l, d, p);
            let (from, to) = match rule.direction {
                Direction::Ingress => (peer, own),
                Direction::Egress => (own, peer),
            };
            let edge = edges.entry((from, to)).or_insert_with(|| Edge {
                from,
                to,
                ports: BTreeSet::new(),
                rules: 0,
            });
            edge.rules += 1;
            edge.ports
                .insert(ports_of(rule.spec.protocol, rule.spec.from, rule.spec.to));
        }
        Graph {
            nodes,
            edges: edges.into_values().collect(),
        }
    }

    /// Each node's column and row.
    fn layout(&self) -> Vec<(usize, usize)> {
        let n = self.nodes.len();
        // An order that most edges follow (Eades, Lin and Smyth's greedy heuristic for
        // a small feedback arc set): sinks go last, sources first, and otherwise the
        // node with most more edges out than in; ties by label. Edges against the
        // order close cycles (a scraper and what it scrapes) and are left out of the
        // layering.
        let mut left: BTreeSet<usize> = (0..n).collect();
        let (mut first, mut last) = (Vec::new(), Vec::new());
        let degree = |v: usize, left: &BTreeSet<usize>| {
            let outs = self
                .edges
                .iter()
                .filter(|e| e.from == v && e.to != v && left.contains(&e.to))
                .count();
            let ins = self
                .edges
                .iter()
                .filter(|e| e.to == v && e.from != v && left.contains(&e.from))
                .count();
            (outs, ins)
        };
        let by_label = |v: &usize| self.nodes[*v].label.clone();
        // The first node, by label, with no edges out (`outs`) or none in.
        let lone = |left: &BTreeSet<usize>, outs: bool| {
            left.iter()
                .copied()
                .filter(|&v| {
                    let (o, i) = degree(v, left);
                    if outs { o == 0 } else { i == 0 }
                })
                .min_by_key(by_label)
        };
        while !left.is_empty() {
            if let Some(v) = lone(&left, true) {
                left.remove(&v);
                last.push(v);
                continue;
            }
            let v = lone(&left, false).unwrap_or_else(|| {
                left.iter()
                    .copied()
                    .max_by(|&a, &b| {
                        let (da, db) = (degree(a, &left), degree(b, &left));
                        (da.0 as i64 - da.1 as i64)
                            .cmp(&(db.0 as i64 - db.1 as i64))
                            .then_with(|| by_label(&b).cmp(&by_label(&a)))
                    })
                    .expect("nodes are left")
            });
            left.remove(&v);
            first.push(v);
        }
        first.extend(last.into_iter().rev());
        let mut rank = vec![0usize; n];
        for (i, &v) in first.iter().enumerate() {
            rank[v] = i;
        }
        let back: BTreeSet<(usize, usize)> = self
            .edges
            .iter()
            .filter(|e| rank[e.to] <= rank[e.from])
            .map(|e| (e.from, e.to))
            .collect();
        // Longest path over the rest (a DAG: n rounds settle it).
        let mut column = vec![0usize; n];
        for _ in 0..n {
            let mut moved = false;
            for e in &self.edges {
                if !back.contains(&(e.from, e.to)) && column[e.to] < column[e.from] + 1 {
                    column[e.to] = column[e.from] + 1;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        // Rows: column by column, by the mean row of what reaches a node, then label.
        let columns = column.iter().max().map_or(0, |c| c + 1);
        let mut row = vec![0usize; n];
        for c in 0..columns {
            let mut here: Vec<(f64, &str, usize)> = (0..n)
                .filter(|&v| column[v] == c)
                .map(|v| {
                    let from: Vec<f64> = self
                        .edges
                        .iter()
                        .filter(|e| e.to == v && column[e.from] < c)
                        .map(|e| row[e.from] as f64)
                        .collect();
                    let mean = if from.is_empty() {
                        f64::MAX
                    } else {
                        from.iter().sum::<f64>() / from.len() as f64
                    };
                    (mean, self.nodes[v].label.as_str(), v)
                })
                .collect();
            here.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
            for (i, (_, _, v)) in here.into_iter().enumerate() {
                row[v] = i;
            }
        }
        column.into_iter().zip(row).collect()
    }

    /// The diagram as an SVG: a `g.node` per node (`data-ref` its key) and a `g.edge`
    /// per edge (`data-from`, `data-to`, `data-rules`), each with a title to hover.
    pub(crate) fn svg(&self) -> String {
        // Column and row pitch, and a node's box.
        const COL: f64 = 250.0;
        const ROW: f64 = 64.0;
        const W: f64 = 180.0;
        const H: f64 = 40.0;
        let at = self.layout();
        let columns = at.iter().map(|p| p.0 + 1).max().unwrap_or(1);
        let rows = at.iter().map(|p| p.1 + 1).max().unwrap_or(1);
        // Room below the last row for an edge back to an earlier column.
        let (width, height) = (columns as f64 * COL, rows as f64 * ROW + ROW / 2.0 + 16.0);
        let centre = |v: usize| {
            let (c, r) = at[v];
            (c as f64 * COL + 10.0, r as f64 * ROW + 8.0)
        };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"diagram\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"who may talk to whom after the plan\">\n\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n"
        );
        for e in &self.edges {
            let ((x1, y1), (x2, y2)) = (centre(e.from), centre(e.to));
            // A bezier from (sx, sy) to (tx, ty) through control points c1 and c2.
            // Forward edges run from the source's right side to the target's left, bowing
            // gently; an edge back to the same or an earlier column runs from the
            // source's bottom to the target's bottom, dipping below the row.
            let (s, c1, c2, t) = if x2 > x1 {
                let (sx, sy, tx, ty) = (x1 + W, y1 + H / 2.0, x2, y2 + H / 2.0);
                let bend = (tx - sx) / 2.0;
                ((sx, sy), (sx + bend, sy), (tx - bend, ty), (tx, ty))
            } else {
                let (sx, sy, tx, ty) = (x1 + W / 2.0, y1 + H, x2 + W / 2.0, y2 + H);
                let low = sy.max(ty) + ROW / 2.0;
                ((sx, sy), (sx, low), (tx, low), (tx, ty))
            };
            // The label sits at the curve's middle (t = 1/2), just above it.
            let mid = |a: f64, b: f64, c: f64, d: f64| (a + 3.0 * b + 3.0 * c + d) / 8.0;
            let (lx, ly) = (mid(s.0, c1.0, c2.0, t.0), mid(s.1, c1.1, c2.1, t.1) - 3.0);
            let ports: Vec<&str> = e.ports.iter().map(String::as_str).collect();
            let shown = match ports.len() {
                n if n > 3 => format!("{} +{}", ports[..3].join(", "), n - 3),
                _ => ports.join(", "),
            };
            let (from, to) = (&self.nodes[e.from], &self.nodes[e.to]);
            let _ = writeln!(
                svg,
                "<g class=\"edge\" data-from=\"{}\" data-to=\"{}\" data-rules=\"{}\"><title>{} to {}: {} ({} rules)</title>\
                 <path d=\"M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"/>\
                 <text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333\">{}</text></g>",
                esc(&from.key),
                esc(&to.key),
                e.rules,
                esc(&from.label),
                esc(&to.label),
                esc(&ports.join(", ")),
                e.rules,
                s.0,
                s.1,
                c1.0,
                c1.1,
                c2.0,
                c2.1,
                t.0,
                t.1,
                esc(&shown),
            );
        }
        for (v, node) in self.nodes.iter().enumerate() {
            let (x, y) = centre(v);
            let (fill, stroke) = if node.planned {
                ("#dce8fb", "#4a7bd0")
            } else {
                ("#f2f2f2", "#999")
            };
            let _ = writeln!(
                svg,
                "<g class=\"node\" data-ref=\"{}\"><title>{} ({})</title>\
                 <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{W}\" height=\"{H}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">{}</text></g>",
                esc(&node.key),
                esc(&node.label),
                esc(&node.detail),
                x + W / 2.0,
                y + 17.0,
                esc(&node.label),
                x + W / 2.0,
                y + 32.0,
                esc(&node.detail),
            );
        }
        svg.push_str("</svg>\n");
        svg
    }

    /// The edges as table rows, by name: from, to, protocols and ports, rules.
    pub(crate) fn rows(&self) -> Vec<Vec<String>> {
        let name = |v: usize| {
            let n = &self.nodes[v];
            match n.label == n.key {
                true => n.label.clone(),
                false => format!("{} ({})", n.label, n.key),
            }
        };
        let mut rows: Vec<Vec<String>> = self
            .edges
            .iter()
            .map(|e| {
                vec![
                    name(e.from),
                    name(e.to),
                    e.ports.iter().cloned().collect::<Vec<_>>().join(", "),
                    e.rules.to_string(),
                ]
            })
            .collect();
        rows.sort();
        rows
    }
}

/// `tcp 443`, `tcp 8000-8100`, `icmp all`, `all`.
fn ports_of(protocol: i32, from: i32, to: i32) -> String {
    if protocol == -1 {
        return "all".into();
    }
    let name = protocol_name(protocol);
    match (from, to) {
        (f, _) if f < 0 => format!("{name} all"),
        (f, t) if f == t => format!("{name} {f}"),
        (f, t) => format!("{name} {f}-{t}"),
    }
}
