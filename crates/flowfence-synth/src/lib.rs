//! Generates realistic VPC environments, their flow logs and inventory, with the truth.
//!
//! One VPC runs a three-tier web application: a public load balancer, web and app tiers
//! (Auto Scaling groups), a database (RDS), a cache (ElastiCache), a bastion, a monitoring
//! host, a NAT gateway and an S3 gateway endpoint, most of it still in the default security
//! group. [`Environment`] holds the interfaces, groups and the connections roles make
//! (the truth); [`write_logs`] writes their flow logs as S3 text (v2 or v5), S3 Parquet or a
//! CloudWatch Logs export, at any size; [`write_inventory`] writes the AWS CLI's
//! `describe-*` output. The same seed always gives the same bytes.
//!
//! ```
//! let env = flowfence_synth::Environment::new(7, 2);
//! assert_eq!(env.with_role("web").len(), 2);
//! assert!(env.edges.iter().any(|e| e.port == 5432));
//! ```

mod env;
mod flows;
mod ocsf;
mod output;
mod rng;

pub use env::{
    ACCOUNT, DRIFT_EARLY_ONSET, DRIFT_LATE_ONSET, Edge, Endpoint, Environment, Group, Interface,
    PARTNER_HOSTS, Peer, REGION, Rule, Shape, Variant, partner_address,
};
pub use flows::{FileFlows, Format, V2_FORMAT, V5_FORMAT, WINDOW, WINDOWS_PER_FILE};
pub use output::{
    EXPORT_TASK_ID, FLOW_LOG_ID, Form, Span, TrueEdge, Truth, Written, unix_day, write_inventory,
    write_logs, write_truth,
};
pub use rng::Rng;
