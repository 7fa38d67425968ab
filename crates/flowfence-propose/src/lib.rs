//! Least-privilege security groups from the observed connections table: which
//! interfaces share a new group ([`roles`]), the rules each group needs ([`rules`]), the
//! plan that moves every interface off its VPC's default group ([`propose`]), and the
//! replay check that evaluates a plan against the logs ([`verify`]).
//!
//! ```no_run
//! # fn run(table: &flowfence_aggregate::Table, inventory: &flowfence_inventory::Inventory) {
//! use flowfence_propose::{Options, propose, verify};
//! let plan = propose(table, inventory, &Options::default()).unwrap();
//! let (_today, after) = verify::replay(inventory, table, &plan).unwrap();
//! assert!(after.broken.is_empty() && plan.check.broken == 0);
//! # }
//! ```

pub mod findings;
pub mod needs;
mod plan;
pub mod quota;
pub mod roles;
pub mod rules;
#[cfg(test)]
mod testing;
pub mod verify;

pub use findings::{Finding, FindingKind};
pub use needs::{Direction, Dropped, Filter};
pub use plan::{
    Check, GROUPS_PER_INTERFACE, GroupChange, Options, Plan, PlanGroup, PlanInterface,
    ProposeError, RuleChanges, RuleEvidence, Step, Widening, propose,
};
pub use rules::{
    IpPermission, PermissionSpecs, RuleSpec, RuleTarget, Shaping, WideningKind, protocol_name,
};
pub use verify::{State, Verdict};
