//! The evidence a need and a rule rest on: flows, bytes, when, and some of the peers,
//! summed over the connections table's rows that show it. The same type from the first
//! need to the plan's JSON.

use std::collections::BTreeSet;

use flowfence_aggregate::Row;
use serde::{Deserialize, Serialize};

/// Traffic observed for a need or a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleEvidence {
    /// Flow records.
    pub flows: u64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest start, Unix seconds.
    pub first_seen: u64,
    /// Latest end.
    pub last_seen: u64,
    /// Some of the peers seen (interface ids, addresses, services), sorted.
    pub examples: BTreeSet<String>,
}

/// How many example peers a rule keeps.
const EXAMPLES: usize = 3;

impl RuleEvidence {
    /// The evidence of one row of the connections table.
    pub(crate) fn from_row(row: &Row) -> RuleEvidence {
        RuleEvidence {
            flows: row.flows,
            bytes: row.bytes,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            examples: BTreeSet::from([row.peer.to_string()]),
        }
    }

    /// Adds another need's evidence.
    pub fn add(&mut self, other: &RuleEvidence) {
        if self.flows == 0 {
            self.first_seen = other.first_seen;
        }
        self.flows += other.flows;
        self.bytes += other.bytes;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.examples.extend(other.examples.iter().cloned());
        while self.examples.len() > EXAMPLES {
            self.examples.pop_last();
        }
    }

    /// The example peers, separated by spaces.
    pub fn example_list(&self) -> String {
        let examples: Vec<&str> = self.examples.iter().map(String::as_str).collect();
        examples.join(" ")
    }

    /// The rule's description in AWS (`Description` of its peer).
    pub fn describe(&self) -> String {
        format!(
            "flowfence: {} flows, last seen {}",
            self.flows, self.last_seen
        )
    }
}
