//! Whether a plan will hold tomorrow, judged on traffic it never saw.
//!
//! The holdout: the plan is learned again from the window minus its tail (by default the
//! last 20% of its time span), and the tail is replayed against it. What would have
//! broken is told by cause ([`Cause`]): the same causes `verify` gives on new logs. The
//! discovery curve counts new needs (a role reaching a role, or a kind of peer, on a
//! protocol and port) by the hour or day they were first seen, and says whether it has
//! flattened, or how much longer to observe.
//!
//! The split is by connection: a connection first seen before the cut is learned, and
//! its evidence counts all of the window; one first seen in the tail is new there. That
//! works on a connections table as well as on logs.

use std::collections::{BTreeMap, BTreeSet};

use flowfence_aggregate::{Peer, Side, Table};
use flowfence_flowlog::time::{span, utc_minute};
use flowfence_inventory::Inventory;
use serde::{Deserialize, Serialize};

use crate::blocked::{blocked, is_blocked};
use crate::model::Plan;
use crate::needs::Direction;
use crate::rules::RuleTarget;
use crate::verify::{Broken, State, connections, end_of, replay};

/// How much of the window's tail to hold out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Holdout {
    /// No holdout: the plan has no forecast.
    Off,
    /// This fraction of the window's time span (0 to 1).
    Fraction(f64),
    /// This many seconds at the end of the window.
    Seconds(u64),
}

impl Default for Holdout {
    fn default() -> Self {
        Holdout::Fraction(0.2)
    }
}

impl std::str::FromStr for Holdout {
    type Err = String;

    /// `0` (off), a fraction (`0.2`, `20%`), or a duration (`90m`, `6h`, `2d`, `1w`).
    fn from_str(s: &str) -> Result<Holdout, String> {
        let expected =
            || format!("{s}: expected 0, a fraction (0.2 or 20%) or a duration (90m, 6h, 2d, 1w)");
        let s = s.trim();
        if let Some(percent) = s.strip_suffix('%') {
            let p: f64 = percent.parse().map_err(|_| expected())?;
            return Holdout::fraction(p / 100.0).ok_or_else(expected);
        }
        let unit = match s.chars().last() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            Some('w') => 7 * 86_400,
            _ => {
                let f: f64 = s.parse().map_err(|_| expected())?;
                return Holdout::fraction(f).ok_or_else(expected);
            }
        };
        let n: u64 = s[..s.len() - 1].parse().map_err(|_| expected())?;
        Ok(if n == 0 {
            Holdout::Off
        } else {
            Holdout::Seconds(n * unit)
        })
    }
}

impl Holdout {
    /// A fraction of the window: 0 is off, 1 and over hold out everything (refused).
    fn fraction(f: f64) -> Option<Holdout> {
        match f {
            0.0 => Some(Holdout::Off),
            f if f > 0.0 && f < 1.0 => Some(Holdout::Fraction(f)),
            _ => None,
        }
    }
}

/// Why a connection the plan doesn't allow is new to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// A peer of a kind the plan already serves on that port: a new address where the
    /// rule names addresses (widen it, or name the peer by group or prefix list).
    NewPeer,
    /// A new service port between peers the plan already lets talk.
    NewPort,
    /// A new pair of roles: nothing in the plan lets these two talk.
    NewPair,
    /// An interface the plan doesn't move: it stays in an emptied default group (it
    /// launched after the inventory was taken, or never showed up in the logs).
    NewInterface,
}

impl Cause {
    /// Every cause.
    pub const ALL: [Cause; 4] = [
        Cause::NewPeer,
        Cause::NewPort,
        Cause::NewPair,
        Cause::NewInterface,
    ];

    /// What it means, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Cause::NewPeer => "new peer of a kind the plan already serves",
            Cause::NewPort => "new service port between known peers",
            Cause::NewPair => "new pair of roles",
            Cause::NewInterface => "interface the plan doesn't move",
        }
    }
}

/// A span of Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSpan {
    /// First second.
    pub start: u64,
    /// Last second.
    pub end: u64,
}

/// A connection that would break, with why and between which roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastBreak {
    /// Who opens it.
    pub client: String,
    /// Who accepts it.
    pub server: String,
    /// IANA protocol.
    pub protocol: u8,
    /// Service port.
    pub port: u16,
    /// The side whose rule is missing.
    pub missing: Direction,
    /// Why it is new to the plan.
    pub cause: Cause,
    /// The roles, as groups name them: `web-asg -> rds`.
    pub between: String,
}

/// New needs over the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// Seconds per bucket: five minutes for windows up to three hours, an hour up to
    /// three days, else a day.
    pub bucket_seconds: u64,
    /// New needs first seen in each bucket, from the window's start.
    pub new_needs: Vec<u64>,
    /// Needs in all: (client role, server role, protocol, port), a role being the
    /// final groups of an interface, or a kind of peer (the internet, an AWS service).
    pub needs: usize,
}

/// Whether the window was long enough.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sufficiency {
    /// The last quarter of the window (at least one bucket) showed no new need.
    pub flattened: bool,
    /// When the newest need was first seen.
    pub last_new_need: u64,
    /// Seconds from it to the window's end.
    pub quiet_seconds: u64,
    /// How much longer to observe before the curve could count as flat (0 when flat).
    pub observe_more_seconds: u64,
    /// The verdict in words.
    pub advice: String,
}

/// What the holdout found, and whether the window sufficed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    /// The whole window: the first and last second of its connections.
    pub window: TimeSpan,
    /// What the holdout's plan learned from.
    pub learned: TimeSpan,
    /// The tail replayed against it.
    pub held_out: TimeSpan,
    /// Connections seen in the tail.
    pub held_out_connections: usize,
    /// Of those, first seen there.
    pub new_in_holdout: usize,
    /// What the plan learned without the tail would have broken there.
    pub broken: Vec<ForecastBreak>,
    /// Those, by cause.
    pub by_cause: BTreeMap<Cause, usize>,
    /// New needs over the window.
    pub discovery: Discovery,
    /// Whether the window was long enough.
    pub sufficiency: Sufficiency,
}

impl TimeSpan {
    /// How much of `self` (a window) `[first, last]` spans, in percent (rounded).
    pub fn percent_spanned(&self, first: u64, last: u64) -> u64 {
        let length = self.end.saturating_sub(self.start).max(1);
        let spanned = last.min(self.end).saturating_sub(first.max(self.start));
        (spanned * 100 + length / 2) / length
    }
}

/// The first and last second of the table's connections.
pub(crate) fn window(table: &Table) -> Option<TimeSpan> {
    let start = table.rows.iter().map(|r| r.first_seen).min()?;
    let end = table.rows.iter().map(|r| r.last_seen).max()?;
    (end > start).then_some(TimeSpan { start, end })
}

/// Where the held-out tail starts, if the holdout leaves something to learn from.
fn cut(window: TimeSpan, holdout: Holdout) -> Option<u64> {
    let length = window.end - window.start;
    let tail = match holdout {
        Holdout::Off => return None,
        Holdout::Fraction(f) if f > 0.0 && f < 1.0 => (length as f64 * f).round() as u64,
        Holdout::Fraction(_) => return None,
        Holdout::Seconds(s) => s,
    };
    (tail > 0 && tail < length).then(|| window.end - tail)
}

/// The table split at `cut`: connections first seen before it (learned), and those seen
/// from it on (held out). What isn't a row (REJECTs, attempts, gaps) goes to both.
fn split(table: &Table, cut: u64) -> (Table, Table) {
    (
        table.filtered(|r| r.first_seen < cut),
        table.filtered(|r| r.last_seen >= cut),
    )
}

/// The plan for `table` (with `learn`) and its forecast: a plan learned without the
/// window's tail, in parallel, replayed on the tail, and the discovery curve under the
/// whole window's plan.
pub(crate) fn learn_with_forecast<E: Send>(
    table: &Table,
    inventory: &Inventory,
    holdout: Holdout,
    learn: impl Fn(&Table) -> Result<Plan, E> + Sync,
) -> Result<Plan, E> {
    let (plan, held) = rayon::join(
        || learn(table),
        || hold_out(table, inventory, holdout, &learn),
    );
    let mut plan = plan?;
    plan.forecast = held?.map(|held| {
        let (discovery, sufficiency) = discovery(table, inventory, &plan, held.window);
        Forecast {
            window: held.window,
            learned: TimeSpan {
                start: held.window.start,
                end: held.cut,
            },
            held_out: TimeSpan {
                start: held.cut,
                end: held.window.end,
            },
            held_out_connections: held.connections,
            new_in_holdout: held.new,
            broken: held.broken,
            by_cause: held.by_cause,
            discovery,
            sufficiency,
        }
    });
    Ok(plan)
}

/// What the holdout found.
struct Held {
    window: TimeSpan,
    cut: u64,
    /// Connections seen in the tail, and of them first seen there.
    connections: usize,
    new: usize,
    broken: Vec<ForecastBreak>,
    by_cause: BTreeMap<Cause, usize>,
}

/// A plan learned from the connections first seen before the cut, replayed on those
/// seen after it.
fn hold_out<E>(
    table: &Table,
    inventory: &Inventory,
    holdout: Holdout,
    learn: &impl Fn(&Table) -> Result<Plan, E>,
) -> Result<Option<Held>, E> {
    let Some(window) = window(table) else {
        return Ok(None);
    };
    let Some(cut) = cut(window, holdout) else {
        return Ok(None);
    };
    let (learned, tail) = split(table, cut);
    let early = learn(&learned)?;
    let state = early.final_state(inventory);
    let (_, mut after) = replay(inventory, &tail, &state);
    explain(&mut after.broken, &early, &state, inventory);
    let broken: Vec<ForecastBreak> = after
        .broken
        .into_iter()
        .map(|b| ForecastBreak {
            client: b.client.to_string(),
            server: b.server.to_string(),
            protocol: b.protocol,
            port: b.port,
            missing: b.missing,
            cause: b.cause.expect("explained"),
            between: b.between.expect("explained"),
        })
        .collect();
    let mut by_cause = BTreeMap::new();
    for b in &broken {
        *by_cause.entry(b.cause).or_insert(0) += 1;
    }
    // Counted as the tail's connections are: blocked attempts left out alike.
    let new_in_tail = tail.filtered(|r| r.first_seen >= cut);
    Ok(Some(Held {
        window,
        cut,
        connections: after.connections,
        new: connections(&new_in_tail, inventory).len(),
        broken,
        by_cause,
    }))
}

/// Says why each of `broken` (what `plan`, in `state`, doesn't allow) is new to the plan,
/// and between which roles.
pub fn explain(broken: &mut [Broken], plan: &Plan, state: &State, inventory: &Inventory) {
    let teller = Teller::new(plan, state, inventory);
    let names = GroupNames::of(plan, inventory);
    for b in broken {
        b.cause = Some(teller.cause(b));
        b.between = Some(format!(
            "{} -> {}",
            names.role(&b.client, state),
            names.role(&b.server, state)
        ));
    }
}

/// Why `b`, which `plan` (in `state`) doesn't allow, is new to it. Looked at from the
/// side whose rule is missing.
pub fn cause(b: &Broken, plan: &Plan, state: &State, inventory: &Inventory) -> Cause {
    Teller::new(plan, state, inventory).cause(b)
}

/// What a plan knows, to tell each break's cause (gathered once for all of them).
struct Teller<'a> {
    state: &'a State,
    inventory: &'a Inventory,
    /// The default groups the plan empties.
    emptied: BTreeSet<&'a str>,
    /// The interfaces it moves.
    moved: BTreeSet<&'a str>,
}

impl<'a> Teller<'a> {
    fn new(plan: &'a Plan, state: &'a State, inventory: &'a Inventory) -> Teller<'a> {
        Teller {
            state,
            inventory,
            emptied: plan.emptied_groups().collect(),
            moved: plan
                .interfaces
                .iter()
                .map(|i| i.interface_id.as_str())
                .collect(),
        }
    }

    fn cause(&self, b: &Broken) -> Cause {
        let (state, inventory) = (self.state, self.inventory);
        let (me, other) = match b.missing {
            Direction::Egress => (&b.client, &b.server),
            Direction::Ingress => (&b.server, &b.client),
        };
        let Peer::Interface(id) = me else {
            return Cause::NewPair;
        };
        if !self.moved.contains(id.as_str())
            && state
                .groups_of(id)
                .iter()
                .any(|g| self.emptied.contains(g.as_str()))
        {
            return Cause::NewInterface;
        }
        let rules: Vec<_> = state.rules_of(id, b.missing).collect();
        // A world rule (0.0.0.0/0, ::/0) holds every address: it is about the internet,
        // and says nothing of which peers the plan knows.
        let names_peer = |r: &&crate::rules::RuleSpec| {
            !matches!(&r.target, RuleTarget::Cidr(c) if c.prefix_len() == 0)
                && state.matches(inventory, &r.target, other)
        };
        if rules.iter().any(names_peer) {
            return Cause::NewPort;
        }
        // An address where the plan names addresses on that port: a new one of a
        // served kind.
        let addresses_served = rules
            .iter()
            .any(|r| r.allows(b.protocol, b.port) && !matches!(r.target, RuleTarget::Group(_)));
        if addresses_served && !matches!(other, Peer::Interface(_)) {
            return Cause::NewPeer;
        }
        Cause::NewPair
    }
}

/// Group names by reference, the plan's first, for roles people can read.
pub(crate) struct GroupNames(BTreeMap<String, String>);

impl GroupNames {
    pub(crate) fn of(plan: &Plan, inventory: &Inventory) -> GroupNames {
        let mut names: BTreeMap<String, String> = inventory
            .groups()
            .map(|g| (g.id.clone(), g.name.clone()))
            .collect();
        for g in &plan.groups {
            names.insert(g.reference.clone(), g.name.clone());
        }
        GroupNames(names)
    }

    /// A group's name, or its reference when nothing names it.
    pub(crate) fn name<'s>(&'s self, reference: &'s str) -> &'s str {
        self.0.get(reference).map_or(reference, String::as_str)
    }

    /// A connection's end as a role: an interface's groups, or the kind of peer.
    fn role(&self, peer: &Peer, state: &State) -> String {
        match peer {
            Peer::Interface(id) => {
                let mut groups: Vec<&str> =
                    state.groups_of(id).iter().map(|g| self.name(g)).collect();
                groups.sort_unstable();
                if groups.is_empty() {
                    id.clone()
                } else {
                    groups.join("+")
                }
            }
            Peer::Internet(_) => "internet".to_string(),
            Peer::Vpc(net) => net.to_string(),
            Peer::AwsService(name) => format!("AWS service {name}"),
        }
    }
}

/// Connection ends' roles as small ids, each interface's named once.
struct RoleIds<'a> {
    names: &'a GroupNames,
    state: &'a State,
    inventory: &'a Inventory,
    ids: std::collections::HashMap<String, u32>,
    of_interface: std::collections::HashMap<&'a str, Option<u32>>,
}

impl<'a> RoleIds<'a> {
    fn id(&mut self, name: String) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(name).or_insert(next)
    }

    /// An interface's role (a group-less one's address); `None` if it is unknown.
    fn interface(&mut self, id: &'a str) -> Option<u32> {
        if let Some(&known) = self.of_interface.get(id) {
            return known;
        }
        let end = end_of(&Peer::Interface(id.to_string()), self.inventory);
        let role = end.map(|end| self.id(self.names.role(&end, self.state)));
        self.of_interface.insert(id, role);
        role
    }

    fn peer(&mut self, peer: &'a Peer) -> Option<u32> {
        match peer {
            Peer::Interface(id) => self.interface(id),
            // Most rows: no name built per row.
            Peer::Internet(_) => Some(0),
            other => Some(self.id(self.names.role(other, self.state))),
        }
    }
}

/// The discovery curve under `plan`, and whether it flattened.
fn discovery(
    table: &Table,
    inventory: &Inventory,
    plan: &Plan,
    window: TimeSpan,
) -> (Discovery, Sufficiency) {
    let state = plan.final_state(inventory);
    let names = GroupNames::of(plan, inventory);
    let blocked = blocked(table);
    // Roles interned: one name per interface (not per row), and needs keyed by ids.
    let mut roles = RoleIds {
        names: &names,
        state: &state,
        inventory,
        ids: std::collections::HashMap::from([("internet".to_string(), 0)]),
        of_interface: std::collections::HashMap::new(),
    };
    let mut first: std::collections::HashMap<(u32, u32, u8, u16), u64> =
        std::collections::HashMap::new();
    for r in table.rows.iter().filter(|r| !is_blocked(&blocked, r)) {
        let (Some(me), Some(peer)) = (roles.interface(&r.interface_id), roles.peer(&r.peer)) else {
            continue;
        };
        let key = match r.side {
            Side::Server => (peer, me, r.protocol, r.port),
            Side::Client => (me, peer, r.protocol, r.port),
        };
        let t = first.entry(key).or_insert(u64::MAX);
        *t = (*t).min(r.first_seen);
    }
    let length = window.end - window.start;
    let bucket: u64 = match length {
        0..=10_800 => 300,
        10_801..=259_200 => 3600,
        _ => 86_400,
    };
    let mut new_needs = vec![0u64; length.div_ceil(bucket).max(1) as usize];
    for &t in first.values() {
        let last = new_needs.len() - 1;
        let i = ((t.saturating_sub(window.start)) / bucket) as usize;
        new_needs[i.min(last)] += 1;
    }
    let last_new_need = first.values().copied().max().unwrap_or(window.start);
    let quiet = window.end.saturating_sub(last_new_need);
    let flattened = quiet >= (length / 4).max(bucket);
    // Quiet for a quarter of a longer window: q + e >= (w + e) / 4.
    let observe_more = if flattened {
        0
    } else {
        (length.saturating_sub(4 * quiet) / 3)
            .max(bucket)
            .div_ceil(bucket)
            * bucket
    };
    let mut advice = if flattened {
        format!(
            "flattened: no new need in the last {} (the window is {})",
            span(quiet),
            span(length)
        )
    } else {
        format!(
            "not flattened: a new need was first seen at {} UTC, {} before the window's end; observe at least {} more",
            utc_minute(last_new_need),
            span(quiet),
            span(observe_more)
        )
    };
    if length < 7 * 86_400 {
        advice.push_str(" (a window under a week can't show weekly jobs)");
    }
    (
        Discovery {
            bucket_seconds: bucket,
            new_needs,
            needs: first.len(),
        },
        Sufficiency {
            flattened,
            last_new_need,
            quiet_seconds: quiet,
            observe_more_seconds: observe_more,
            advice,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_leaves_something_on_both_sides() {
        let w = TimeSpan {
            start: 1000,
            end: 2000,
        };
        assert_eq!(cut(w, Holdout::default()), Some(1800));
        assert_eq!(cut(w, Holdout::Seconds(300)), Some(1700));
        assert_eq!(cut(w, Holdout::Off), None);
        assert_eq!(cut(w, Holdout::Fraction(0.0)), None);
        assert_eq!(cut(w, Holdout::Seconds(1000)), None);
    }

    #[test]
    fn holdouts_read_as_fractions_percentages_and_durations() {
        let h = |s: &str| s.parse::<Holdout>();
        assert_eq!(h("0"), Ok(Holdout::Off));
        assert_eq!(h("0h"), Ok(Holdout::Off));
        assert_eq!(h("0.25"), Ok(Holdout::Fraction(0.25)));
        assert_eq!(h("20%"), Ok(Holdout::Fraction(0.2)));
        assert_eq!(h("90m"), Ok(Holdout::Seconds(5400)));
        assert_eq!(h("2d"), Ok(Holdout::Seconds(172_800)));
        assert_eq!(h("1w"), Ok(Holdout::Seconds(604_800)));
        for bad in ["1", "1.5", "-0.1", "h", "2y", "lots"] {
            let err = h(bad).unwrap_err();
            assert!(err.starts_with(&format!("{bad}: expected")), "{err}");
        }
    }
}
