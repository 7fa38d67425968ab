//! What a person reads on the terminal about a plan: the groups it makes, what widened,
//! and the replay check's figures.

use std::fmt;

use std::collections::BTreeMap;

use flowfence_flowlog::time::{span, utc_minute};
use flowfence_inventory::port_name;

use crate::forecast::{Cause, Forecast, TimeSpan};
use crate::model::{Check, GroupChange, Plan};
use crate::needs::Direction;
use crate::rules::RuleTarget;
use crate::verify::Broken;
use flowfence_aggregate::Peer;

/// The plan in a few lines: what changes, each new or tightened group, what widened and
/// what was dropped. Each line is indented by two spaces.
#[derive(Clone, Copy, Debug)]
pub struct PlanSummary<'a>(pub &'a Plan);

impl fmt::Display for PlanSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.0;
        let new: Vec<_> = plan.groups.iter().filter(|g| g.new).collect();
        let rules: usize = new.iter().map(|g| g.ingress.len() + g.egress.len()).sum();
        let changed = |c: GroupChange| plan.groups.iter().filter(|g| g.change == c).count();
        writeln!(
            f,
            "  plan: {} interfaces change groups; {} new groups ({rules} rules), {} tightened in place, {} with rewritten references, {} default groups emptied",
            plan.interfaces.len(),
            new.len(),
            changed(GroupChange::Tighten),
            changed(GroupChange::RewriteReferences),
            changed(GroupChange::Empty),
        )?;
        for g in plan
            .groups
            .iter()
            .filter(|g| matches!(g.change, GroupChange::Create | GroupChange::Tighten))
        {
            writeln!(
                f,
                "    {} ({}): {} members, {} ingress, {} egress",
                g.name,
                g.basis,
                g.members.len(),
                g.ingress.len(),
                g.egress.len()
            )?;
        }
        for w in &plan.widened {
            let direction = match w.direction {
                None => "",
                Some(Direction::Ingress) => " ingress",
                Some(Direction::Egress) => " egress",
            };
            writeln!(f, "  widened: {}{direction}: {}", w.subject, w.detail)?;
        }
        if !plan.dropped.is_empty() {
            writeln!(f, "  dropped on purpose: {} rows", plan.dropped.len())?;
        }
        // Launchers the steps change (a new template version), and those left to do by
        // hand (the findings say how).
        let (stepped, by_hand): (Vec<&crate::PlanLauncher>, Vec<&crate::PlanLauncher>) =
            plan.launchers.iter().partition(|l| l.changed_by_steps());
        let (versioned, configured): (Vec<&crate::PlanLauncher>, Vec<&crate::PlanLauncher>) =
            stepped
                .into_iter()
                .partition(|l| l.template_data(&l.groups_after).is_some());
        let labels = |ls: &[&crate::PlanLauncher]| {
            ls.iter().map(|l| l.label()).collect::<Vec<_>>().join(", ")
        };
        if !versioned.is_empty() {
            writeln!(
                f,
                "  launchers: {} get launch template versions naming their new groups (steps launch-beside-default, launch-without-default)",
                labels(&versioned)
            )?;
        }
        if !configured.is_empty() {
            writeln!(
                f,
                "  launchers: {} get network configurations naming their new groups, replacing their tasks' and functions' interfaces (steps launch-beside-default, launch-without-default)",
                labels(&configured)
            )?;
        }
        if !by_hand.is_empty() {
            writeln!(
                f,
                "  launchers to change by hand before the default group is detached: {} (findings launcher-stale, launcher-unseen say how)",
                labels(&by_hand)
            )?;
        }
        if let Some(window) = &plan.window {
            write!(f, "{}", coverage(plan, window))?;
        }
        if let Some(forecast) = &plan.forecast {
            write!(f, "{}", ForecastSummary(forecast))?;
        }
        Ok(())
    }
}

/// How much of the window the new and tightened groups' rules rest on: those seen over
/// less than half of it are named (the first three), with what to check.
fn coverage(plan: &Plan, window: &TimeSpan) -> String {
    let mut partial = Vec::new();
    let mut total = 0;
    let half = window.start + (window.end - window.start) / 2;
    for g in plan
        .groups
        .iter()
        .filter(|g| matches!(g.change, GroupChange::Create | GroupChange::Tighten))
    {
        for (direction, rules) in [
            (Direction::Ingress, &g.ingress),
            (Direction::Egress, &g.egress),
        ] {
            for r in rules {
                let Some(e) = &r.evidence else { continue };
                total += 1;
                let percent = window.percent_spanned(e.first_seen, e.last_seen);
                if percent >= 50 {
                    continue;
                }
                let when = if e.first_seen >= half {
                    format!("first seen {} UTC", utc_minute(e.first_seen))
                } else if e.last_seen < half {
                    format!("last seen {} UTC", utc_minute(e.last_seen))
                } else {
                    format!("seen for {}", span(e.last_seen - e.first_seen))
                };
                let protocol = u8::try_from(r.spec.protocol).map_or("all".to_string(), |p| {
                    port_name(p, u16::try_from(r.spec.from).unwrap_or(0))
                });
                let toward = match direction {
                    Direction::Ingress => "from",
                    Direction::Egress => "to",
                };
                partial.push((
                    percent,
                    format!(
                        "{} {direction} {protocol} {toward} {}: {when}, {percent}% of the window",
                        g.name,
                        target_name(&r.spec.target, plan)
                    ),
                ));
            }
        }
    }
    if total == 0 {
        return String::new();
    }
    let mut line = format!(
        "  evidence: {} of {total} rules rest on traffic spanning at least half the window",
        total - partial.len()
    );
    if !partial.is_empty() {
        partial.sort();
        let shown: Vec<&str> = partial.iter().take(3).map(|(_, s)| s.as_str()).collect();
        line.push_str(&format!(
            "; {} on less (started late, went quiet or rare: check them): {}{}",
            partial.len(),
            shown.join("; "),
            match partial.len() {
                n if n > 3 => format!("; and {} more", n - 3),
                _ => String::new(),
            }
        ));
    }
    line.push('\n');
    line
}

/// A rule's peer, short: a group by name, a prefix list or CIDR as it is.
fn target_name(target: &RuleTarget, plan: &Plan) -> String {
    match target {
        RuleTarget::Group(g) => plan
            .groups
            .iter()
            .find(|x| &x.reference == g)
            .map_or_else(|| g.clone(), |x| x.name.clone()),
        RuleTarget::PrefixList(p) => p.clone(),
        RuleTarget::Cidr(c) => c.to_string(),
    }
}

/// The holdout's figures and the discovery verdict, each line indented by two spaces.
#[derive(Clone, Copy, Debug)]
pub struct ForecastSummary<'a>(pub &'a Forecast);

impl fmt::Display for ForecastSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fc = self.0;
        let window = fc.window.end - fc.window.start;
        let tail = fc.held_out.end - fc.held_out.start;
        writeln!(
            f,
            "  holdout: a plan learned until {} UTC, replayed on the last {} ({}% of the window): {} connections, {} first seen there; {} would have broken{}",
            utc_minute(fc.held_out.start),
            span(tail),
            (tail * 100 + window / 2) / window.max(1),
            fc.held_out_connections,
            fc.new_in_holdout,
            fc.broken.len(),
            if fc.broken.is_empty() { "" } else { ":" },
        )?;
        for (cause, n) in &fc.by_cause {
            let mut pairs: Vec<String> = fc
                .broken
                .iter()
                .filter(|b| b.cause == *cause)
                .map(|b| format!("{} {}", b.between, port_name(b.protocol, b.port)))
                .collect();
            pairs.dedup();
            let more = pairs.len().saturating_sub(3);
            pairs.truncate(3);
            writeln!(
                f,
                "    {}: {n} ({}{})",
                cause.describe(),
                pairs.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            )?;
        }
        writeln!(
            f,
            "  discovery: {} needs over {}; {}",
            fc.discovery.needs,
            span(window),
            fc.sufficiency.advice
        )
    }
}

/// A replay check's figures, each line after `indent`. With `broken`, the connections
/// that would break are named (`verify`); without, the text points to `verify`.
#[derive(Clone, Copy, Debug)]
pub struct CheckReport<'a> {
    /// The figures.
    pub check: &'a Check,
    /// The connections that would break, when known.
    pub broken: Option<&'a [Broken]>,
    /// Put before every line.
    pub indent: &'a str,
}

impl fmt::Display for CheckReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let CheckReport {
            check,
            broken,
            indent,
        } = *self;
        writeln!(
            f,
            "{indent}observed connections: {} (distinct client, server, protocol, port)",
            check.connections
        )?;
        writeln!(
            f,
            "{indent}broken under the plan: {}{}",
            check.broken,
            match (check.broken, broken) {
                (0, _) => " (every accepted connection stays allowed)",
                (_, Some(_)) => "",
                (_, None) => " (`flowfence verify` names them)",
            }
        )?;
        let mut causes: BTreeMap<Cause, usize> = BTreeMap::new();
        for b in broken.into_iter().flatten() {
            writeln!(
                f,
                "{indent}  {} -> {} protocol {} port {}{}: no {} rule allows it{}",
                end(&b.client),
                end(&b.server),
                b.protocol,
                b.port,
                b.between
                    .as_ref()
                    .map_or(String::new(), |x| format!(" ({x})")),
                b.missing,
                b.cause
                    .map_or(String::new(), |c| format!(" ({})", c.describe()))
            )?;
            if let Some(c) = b.cause {
                *causes.entry(c).or_default() += 1;
            }
        }
        if !causes.is_empty() {
            let parts: Vec<String> = causes
                .iter()
                .map(|(c, n)| format!("{} {n}", c.describe()))
                .collect();
            writeln!(f, "{indent}broken by cause: {}", parts.join(", "))?;
        }
        writeln!(
            f,
            "{indent}allowed but never used (interface pairs x observed service ports): now {}, after the plan {}",
            check.allowed_unused_before, check.allowed_unused_after
        )?;
        if check.broken_today > 0 {
            writeln!(
                f,
                "{indent}note: today's rules would not allow {} of the accepted connections (the inventory may be older or newer than the logs)",
                check.broken_today
            )?;
        }
        Ok(())
    }
}

/// An end of a broken connection, for people: AWS services say so.
fn end(peer: &Peer) -> String {
    match peer {
        Peer::AwsService(name) => format!("AWS service {name}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `verify`'s report names each connection that would break, and the figures.
    #[test]
    fn a_check_names_what_would_break() {
        let check = Check {
            connections: 12,
            broken: 2,
            broken_today: 1,
            allowed_unused_before: 40,
            allowed_unused_after: 3,
        };
        let broken = [
            Broken {
                client: Peer::Interface("eni-a".into()),
                server: Peer::AwsService("S3".into()),
                protocol: 6,
                port: 443,
                missing: Direction::Egress,
                cause: None,
                between: None,
            },
            Broken {
                client: Peer::Internet("203.0.113.9/32".parse().unwrap()),
                server: Peer::Interface("eni-b".into()),
                protocol: 6,
                port: 22,
                missing: Direction::Ingress,
                cause: Some(Cause::NewPeer),
                between: Some("internet -> bastion".into()),
            },
        ];
        let text = CheckReport {
            check: &check,
            broken: Some(&broken),
            indent: "",
        }
        .to_string();
        assert_eq!(
            text,
            "observed connections: 12 (distinct client, server, protocol, port)\n\
             broken under the plan: 2\n  \
             eni-a -> AWS service S3 protocol 6 port 443: no egress rule allows it\n  \
             203.0.113.9/32 -> eni-b protocol 6 port 22 (internet -> bastion): no ingress rule allows it (new peer of a kind the plan already serves)\n\
             broken by cause: new peer of a kind the plan already serves 1\n\
             allowed but never used (interface pairs x observed service ports): now 40, after the plan 3\n\
             note: today's rules would not allow 1 of the accepted connections (the inventory may be older or newer than the logs)\n"
        );
        // Without the list (propose, run), the text points to verify.
        let short = CheckReport {
            check: &check,
            broken: None,
            indent: "  ",
        }
        .to_string();
        assert!(short.contains("  broken under the plan: 2 (`flowfence verify` names them)\n"));
    }
}
