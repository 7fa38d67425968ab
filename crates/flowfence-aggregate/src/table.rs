//! The observed connections table and the summaries beside it, and how they are written.

use std::cmp::Ordering;
use std::fmt;
use std::io::Write as _;

use flowfence_inventory::IpNet;
use flowfence_table::{Column, Columns};

use crate::direction::{Basis, ConnectionKey, Outcome};
use crate::observations::{Gaps, Rejected};

/// What the other end of a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKind {
    /// An interface in the inventory.
    Interface,
    /// A private address without a known interface (this VPC or a peered one).
    Vpc,
    /// An AWS service's range (a prefix list).
    AwsService,
    /// Anywhere else.
    Internet,
}

impl PeerKind {
    /// Every kind, in the table's order.
    pub const ALL: [PeerKind; 4] = [
        PeerKind::Interface,
        PeerKind::Vpc,
        PeerKind::AwsService,
        PeerKind::Internet,
    ];

    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Interface => "interface",
            PeerKind::Vpc => "vpc",
            PeerKind::AwsService => "aws-service",
            PeerKind::Internet => "internet",
        }
    }
}

/// The other end of a row's connections: typed, so later stages match on what it is
/// instead of parsing text again. Text only at the CSV and Parquet edges (`peer_kind`,
/// `peer`).
/// Its `Ord` is cheap (kinds in the table's order, addresses as numbers), for maps keyed
/// by peers; the table itself lists peers by their spelling ([`Peer::cmp_spelled`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    /// An interface in the inventory, by id.
    Interface(String),
    /// A private address without a known interface (this VPC or a peered one).
    Vpc(IpNet),
    /// An AWS service, by the name its prefix list or `pkt-*-aws-service` gives it (`S3`).
    AwsService(String),
    /// Anywhere else.
    Internet(IpNet),
}

/// The most bytes a peer address takes as text (an IPv6 address and `/128`).
const NET_TEXT: usize = 64;

impl Peer {
    /// What kind of peer it is.
    pub fn kind(&self) -> PeerKind {
        match self {
            Peer::Interface(_) => PeerKind::Interface,
            Peer::Vpc(_) => PeerKind::Vpc,
            Peer::AwsService(_) => PeerKind::AwsService,
            Peer::Internet(_) => PeerKind::Internet,
        }
    }

    /// The interface id, for an interface peer.
    pub fn interface(&self) -> Option<&str> {
        match self {
            Peer::Interface(id) => Some(id),
            _ => None,
        }
    }

    /// The peer as the table spells it, in `buf` when it must be formatted. Most peers
    /// are IPv4 hosts: spelled octet by octet, since formatting through `Display` cost
    /// more than the rest of a row.
    fn spell<'a>(&'a self, buf: &'a mut [u8; NET_TEXT]) -> &'a [u8] {
        let net = match self {
            Peer::Interface(s) | Peer::AwsService(s) => return s.as_bytes(),
            Peer::Vpc(net) | Peer::Internet(net) => net,
        };
        let mut out = std::io::Cursor::new(&mut buf[..]);
        match net {
            IpNet::V4(v4) => {
                let mut digits = itoa::Buffer::new();
                for (i, octet) in v4.addr().octets().into_iter().enumerate() {
                    if i > 0 {
                        out.write_all(b".").expect("fits");
                    }
                    out.write_all(digits.format(octet).as_bytes())
                        .expect("fits");
                }
                out.write_all(b"/").expect("fits");
                out.write_all(digits.format(v4.prefix_len()).as_bytes())
                    .expect("fits");
            }
            IpNet::V6(v6) => write!(out, "{v6}").expect("an IPv6 network fits 64 bytes"),
        }
        let len = out.position() as usize;
        &buf[..len]
    }

    /// The peer's spelling, and its kind: what a row is sorted by.
    pub(crate) fn with_spelling<T>(&self, f: impl FnOnce(&[u8]) -> T) -> T {
        let mut buf = [0u8; NET_TEXT];
        f(self.spell(&mut buf))
    }

    /// The table's order: by kind, then by spelling (so `10.0.0.10/32` comes before
    /// `10.0.0.9/32`). Formats addresses: for sorting ties, not for map keys.
    pub fn cmp_spelled(&self, other: &Peer) -> Ordering {
        self.kind()
            .cmp(&other.kind())
            .then_with(|| self.with_spelling(|a| other.with_spelling(|b| a.cmp(b))))
    }

    /// Reads a peer of `kind` as the table spells it.
    pub fn parse(kind: PeerKind, text: &str) -> Result<Peer, String> {
        let net = || {
            text.parse::<IpNet>()
                .map_err(|_| format!("`{text}` is not an address or CIDR"))
        };
        Ok(match kind {
            PeerKind::Interface => Peer::Interface(text.to_string()),
            PeerKind::AwsService => Peer::AwsService(text.to_string()),
            PeerKind::Vpc => Peer::Vpc(net()?),
            PeerKind::Internet => Peer::Internet(net()?),
        })
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_spelling(|text| {
            f.write_str(std::str::from_utf8(text).expect("peers are spelled in ASCII"))
        })
    }
}

/// Which end of its connections an interface is in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// It accepted them.
    Server,
    /// It opened them.
    Client,
}

impl Side {
    /// Both sides.
    pub const ALL: [Side; 2] = [Side::Server, Side::Client];

    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

/// One row of the observed connections table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The interface.
    pub interface_id: String,
    /// Whether it served or opened these connections.
    pub side: Side,
    /// IANA protocol number.
    pub protocol: u8,
    /// The service port (0 for ICMP).
    pub port: u16,
    /// The peer: an interface, an address or an AWS service.
    pub peer: Peer,
    /// Flow records.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest start, Unix seconds.
    pub first_seen: u64,
    /// Latest end, Unix seconds.
    pub last_seen: u64,
    /// Distinct peer ports seen.
    pub peer_ports: u64,
    /// How most of its connections were decided.
    pub basis: Basis,
}

/// REJECT traffic toward one interface, protocol and destination port: what is already
/// blocked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedTraffic {
    /// The interface that rejected it.
    pub interface_id: String,
    /// IANA protocol number.
    pub protocol: u8,
    /// Destination port.
    pub port: u16,
    /// Records, packets and when.
    pub totals: Rejected,
}

/// NODATA and SKIPDATA records of one interface: its coverage gaps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverageGaps {
    /// The interface.
    pub interface_id: String,
    /// Its counts.
    pub gaps: Gaps,
}

/// TCP connections that never opened, summed like a row: SYNs answered by RST, or not
/// answered at all. They never worked, so they are no need of today's workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The attempts, as a row would count them.
    pub row: Row,
    /// Refused or unanswered.
    pub outcome: Outcome,
}

/// A connection whose direction nothing settled, on one interface.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmbiguousConnection {
    /// The interface that logged it.
    pub interface_id: String,
    /// The connection.
    pub key: ConnectionKey,
}

/// The observed connections, and what else the logs said.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// One row per (interface, side, protocol, port, peer), sorted.
    pub rows: Vec<Row>,
    /// TCP attempts that never opened (where no connection of the same row did), in
    /// the rows' order.
    pub attempts: Vec<Attempt>,
    /// Connections nothing settled, per interface.
    pub ambiguous: Vec<AmbiguousConnection>,
    /// Interfaces in the logs the inventory lacks.
    pub missing_interfaces: Vec<String>,
    /// Connections logged on group-less interfaces (NAT gateways): paths, not rows.
    pub path_connections: u64,
    /// REJECT records per (interface, protocol, port): what is already blocked.
    pub rejected: Vec<RejectedTraffic>,
    /// NODATA and SKIPDATA records per interface: coverage gaps.
    pub gaps: Vec<CoverageGaps>,
    /// Records without an interface id.
    pub records_without_interface: u64,
}

/// The table's columns, in order: the CSV header and the Parquet schema.
pub const COLUMNS: [&str; 13] = [
    "interface_id",
    "side",
    "protocol",
    "port",
    "peer_kind",
    "peer",
    "flows",
    "packets",
    "bytes",
    "first_seen",
    "last_seen",
    "peer_ports",
    "basis",
];

impl Table {
    /// The rows as columns ([`COLUMNS`]), for CSV or Parquet.
    pub fn columns(&self) -> Columns {
        Table::row_columns(&self.rows)
    }

    /// Some rows as the table's columns (a chunk of a table written as it is built).
    pub fn row_columns(rows: &[Row]) -> Columns {
        let mut c = Columns::default();
        c.push(
            COLUMNS[0],
            Column::text_of(rows, |r| r.interface_id.clone()),
        )
        .push(COLUMNS[1], Column::label_of(rows, |r| r.side.name()))
        .push(
            COLUMNS[2],
            Column::int32_of(rows, |r| i32::from(r.protocol)),
        )
        .push(COLUMNS[3], Column::int32_of(rows, |r| i32::from(r.port)))
        .push(COLUMNS[4], Column::label_of(rows, |r| r.peer.kind().name()))
        .push(COLUMNS[5], Column::text_of(rows, |r| r.peer.to_string()))
        .push(COLUMNS[6], Column::int64_of(rows, |r| r.flows))
        .push(COLUMNS[7], Column::int64_of(rows, |r| r.packets))
        .push(COLUMNS[8], Column::int64_of(rows, |r| r.bytes))
        .push(COLUMNS[9], Column::int64_of(rows, |r| r.first_seen))
        .push(COLUMNS[10], Column::int64_of(rows, |r| r.last_seen))
        .push(COLUMNS[11], Column::int64_of(rows, |r| r.peer_ports))
        .push(COLUMNS[12], Column::label_of(rows, |r| r.basis.name()));
        c
    }

    /// The rows as CSV, with a header.
    pub fn to_csv(&self) -> String {
        self.columns().to_csv()
    }

    /// REJECT traffic per interface, protocol and destination port: what is already
    /// blocked (`interface_id, protocol, port, records, packets, first_seen, last_seen`).
    pub fn rejected_columns(&self) -> Columns {
        let r = &self.rejected;
        let mut c = Columns::default();
        c.push(
            "interface_id",
            Column::text_of(r, |x| x.interface_id.clone()),
        )
        .push("protocol", Column::int32_of(r, |x| i32::from(x.protocol)))
        .push("port", Column::int32_of(r, |x| i32::from(x.port)))
        .push("records", Column::int64_of(r, |x| x.totals.records))
        .push("packets", Column::int64_of(r, |x| x.totals.packets))
        .push("first_seen", Column::int64_of(r, |x| x.totals.first_seen))
        .push("last_seen", Column::int64_of(r, |x| x.totals.last_seen));
        c
    }

    /// Coverage gaps per interface (`interface_id, nodata, skipdata`): windows with no
    /// traffic, and windows whose records were lost.
    pub fn gaps_columns(&self) -> Columns {
        let g = &self.gaps;
        let mut c = Columns::default();
        c.push(
            "interface_id",
            Column::text_of(g, |x| x.interface_id.clone()),
        )
        .push("nodata", Column::int64_of(g, |x| x.gaps.nodata))
        .push("skipdata", Column::int64_of(g, |x| x.gaps.skipdata));
        c
    }
}

impl Table {
    /// The table with only the rows `keep` accepts, and everything beside the rows
    /// (REJECTs, attempts, gaps, ...) as it is. Only the kept rows are copied.
    pub fn filtered(&self, keep: impl Fn(&Row) -> bool) -> Table {
        Table {
            rows: self.rows.iter().filter(|r| keep(r)).cloned().collect(),
            attempts: self.attempts.clone(),
            ambiguous: self.ambiguous.clone(),
            missing_interfaces: self.missing_interfaces.clone(),
            path_connections: self.path_connections,
            rejected: self.rejected.clone(),
            gaps: self.gaps.clone(),
            records_without_interface: self.records_without_interface,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns are built in parallel, each in pieces: across many rows, every row's
    /// cells stay together and in the rows' order.
    #[test]
    fn columns_keep_rows_whole_and_in_order() {
        let n: u64 = 40_000;
        let rows: Vec<Row> = (0..n)
            .map(|i| Row {
                interface_id: format!("eni-{i:05}"),
                side: if i % 3 == 0 {
                    Side::Client
                } else {
                    Side::Server
                },
                protocol: [6, 17, 1][(i % 3) as usize],
                port: (i % 65_536) as u16,
                peer: {
                    let net = format!("10.{}.{}.{}/32", i >> 16, (i >> 8) & 255, i & 255);
                    let kind = [PeerKind::Internet, PeerKind::Vpc][(i % 2) as usize];
                    Peer::parse(kind, &net).unwrap()
                },
                flows: i,
                packets: 2 * i,
                bytes: 3 * i,
                first_seen: 4 * i,
                last_seen: 5 * i,
                peer_ports: 6 * i,
                basis: Basis::ALL[(i % 5) as usize],
            })
            .collect();
        let table = Table {
            rows,
            ..Table::default()
        };
        let csv = table.to_csv();
        assert_eq!(csv.lines().count() as u64, n + 1);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
        for (i, line) in (0..n).zip(lines) {
            // Row i's values all follow from i: the line is that row's, whole.
            let (side, protocol) = [("client", 6), ("server", 17), ("server", 1)][(i % 3) as usize];
            let kind = ["internet", "vpc"][(i % 2) as usize];
            let peer = format!("10.{}.{}.{}/32", i >> 16, (i >> 8) & 255, i & 255);
            let basis = Basis::ALL[(i % 5) as usize].name();
            let counters = [1, 2, 3, 4, 5, 6].map(|k| (k * i).to_string()).join(",");
            let want = format!("eni-{i:05},{side},{protocol},{i},{kind},{peer},{counters},{basis}");
            assert_eq!(line, want);
        }
    }
}
