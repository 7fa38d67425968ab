//! Least-privilege security groups from the observed connections table: which
//! interfaces share a new group (roles), the rules each group needs, the plan that moves
//! every interface off its VPC's default group ([`propose`]), and the replay check that
//! evaluates a state of security groups against the observed connections ([`replay`]).
//!
//! Data flows one way: `needs` (what each moving interface was seen to need) feeds
//! `roles` and `rules`; `build` makes the [`Plan`] (the JSON contract, in `model`) from
//! them, `findings` and `verify`; `verify` knows a [`State`] of groups, never a plan.
//!
//! ```no_run
//! # fn run(table: &flowfence_aggregate::Table, inventory: &flowfence_inventory::Inventory) {
//! use flowfence_propose::{Options, propose, replay};
//! let plan = propose(table, inventory, &Options::default()).unwrap();
//! let (_today, after) = replay(inventory, table, &plan.final_state(inventory));
//! assert!(after.broken.is_empty() && plan.check.broken == 0);
//! # }
//! ```

mod blocked;
mod build;
mod evidence;
mod findings;
mod forecast;
mod launchers;
mod model;
mod needs;
mod quota;
mod roles;
mod rules;
mod summary;
#[cfg(test)]
mod testing;
mod verify;

pub use build::{Options, ProposeError, propose};
pub use evidence::RuleEvidence;
pub use findings::{Finding, FindingKind, Risk};
pub use forecast::{
    Cause, Discovery, Forecast, ForecastBreak, Holdout, Sufficiency, TimeSpan, cause, explain,
};
pub use launchers::{LaunchSettings, LauncherKind, PlanLauncher};
pub use model::{
    Check, GROUPS_PER_INTERFACE, GroupChange, Plan, PlanGroup, PlanInterface, PlanRule,
    RuleChanges, Step, Widening,
};
pub use needs::{Direction, Dropped, Filter};
pub use quota::quota_usage;
pub use rules::{
    InternetEgress, IpPermission, PermissionSpecs, RuleSpec, RuleTarget, Shaping, SpecError,
    WideningKind,
};
pub use summary::{CheckReport, ForecastSummary, PlanSummary};
pub use verify::{Broken, State, Verdict, replay};
