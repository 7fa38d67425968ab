//! Turns accepted flow records into observed connections: for each interface, which
//! connections it serves and which it opens, on which protocol and service port.
//!
//! [`observe`] turns a record into evidence about its connection and [`decide`] settles
//! direction and service port; [`Observations`] stores evidence per interface, filled by
//! [`Collector`]s (one [`flowfence_flowlog::RecordSink`] per reader worker), saved and
//! merged as partial results ([`Observations::write_partial`], [`Observations::read_partial`]),
//! and [`Observations::finish`] builds the observed connections [`Table`] with peers
//! resolved through the inventory.
//!
//! ```
//! use std::sync::Arc;
//! use flowfence_aggregate::{Basis, decide, observe};
//! use flowfence_flowlog::{decode_block, Layout, Record, Unit};
//!
//! let text = b"version interface-id srcaddr dstaddr srcport dstport protocol tcp-flags action log-status
//! 5 eni-1 10.0.1.5 10.0.2.9 41000 5432 6 2 ACCEPT OK
//! ";
//! let mut seen = Vec::new();
//! decode_block(text, &Arc::new(Layout::default_v2()), Unit::Line, &mut |r: &Record<'_>| {
//!     seen.extend(observe(r));
//! });
//! let (key, evidence) = &seen[0];
//! let local_is_a = key.a.addr.to_string() == "10.0.1.5";
//! let d = decide(key, evidence, local_is_a, 1, 1);
//! assert!(!d.local_is_server);
//! assert_eq!((d.service_port, d.basis), (5432, Basis::Flags));
//! ```

mod direction;
mod finish;
mod ingest;
mod observations;
mod partial;
mod prefetch;
mod read;
mod row_runs;
mod shard;
mod spill;
mod summary;
mod table;

pub use ingest::{Checkpoint, Ingest, IngestError, Stamped, file_stamp};
pub use observations::{Collector, Gaps, Observations, Rejected};
pub use partial::PartialError;
pub use read::TableReadError;

pub use direction::{
    A_CLIENT, A_FIRST, A_LOCAL, A_SENT, Addr, B_CLIENT, B_FIRST, B_LOCAL, B_SENT, Basis,
    ConnectionKey, Decision, Endpoint, Evidence, Outcome, TCP_OPENED, TCP_TRIED, decide, observe,
};
pub use summary::{RowTally, TableSummary};
pub use table::{
    AmbiguousConnection, Attempt, COLUMNS, CoverageGaps, Peer, PeerKind, RejectedTraffic, Row,
    Side, Table,
};
