//! Observations (evidence per interface and connection, mergeable) and the observed
//! connections table made from them once all evidence is in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use flowfence_flowlog::{Action, LogStatus, Record, RecordSink};
use flowfence_inventory::Inventory;

use crate::direction::{
    A_LOCAL, B_LOCAL, Basis, ConnectionKey, Endpoint, Evidence, decide, observe,
};

/// Hash maps with a fast hasher: millions of connection keys are hashed (std's SipHash
/// was a fifth of an aggregation). Nothing iterates them in hash order into an output:
/// every output is sorted.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// Evidence per (interface, connection), plus REJECT and coverage summaries. A
/// [`RecordSink`]: each reader worker fills its own, and [`Observations::merge`] combines
/// them in any order with the same result.
#[derive(Debug, Default)]
pub struct Observations {
    /// Per interface (looked up by `&str`: no allocation per record), per connection.
    connections: HashMap<Box<str>, HashMap<ConnectionKey, Evidence>>,
    /// REJECT records per interface, per (protocol, destination port).
    rejects: HashMap<Box<str>, HashMap<(u8, u16), Rejected>>,
    /// NODATA / SKIPDATA records per interface.
    gaps: HashMap<Box<str>, (u64, u64)>,
    /// Records with no interface id (ECS/Fargate, regional NAT gateway).
    without_interface: u64,
}

/// What was rejected toward one interface, protocol and port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Records.
    pub records: u64,
    /// Packets.
    pub packets: u64,
    /// Earliest start.
    pub first_seen: u64,
    /// Latest end.
    pub last_seen: u64,
}

impl RecordSink for Observations {
    fn record(&mut self, record: &Record<'_>) {
        let Some(interface) = record.interface_id() else {
            self.without_interface += 1;
            return;
        };
        match record.log_status() {
            Some(LogStatus::NoData) => {
                self.gap(interface).0 += 1;
                return;
            }
            Some(LogStatus::SkipData) => {
                self.gap(interface).1 += 1;
                return;
            }
            _ => {}
        }
        if record.action() == Some(Action::Reject) {
            if let Some(protocol) = record.protocol() {
                let port = record.dstport().unwrap_or(0);
                let start = record.start().unwrap_or(0);
                let r = per_interface(&mut self.rejects, interface)
                    .entry((protocol, port))
                    .or_insert(Rejected {
                        first_seen: u64::MAX,
                        ..Rejected::default()
                    });
                r.records += 1;
                r.packets += record.packets().unwrap_or(0);
                r.first_seen = r.first_seen.min(start);
                r.last_seen = r.last_seen.max(record.end().unwrap_or(start));
            }
            return;
        }
        if let Some((key, evidence)) = observe(record) {
            per_interface(&mut self.connections, interface)
                .entry(key)
                .and_modify(|e| e.merge(&evidence))
                .or_insert(evidence);
        }
    }
}

/// The entry for an interface: allocates its id once, the first time it is seen.
fn per_interface<'m, V: Default>(map: &'m mut HashMap<Box<str>, V>, interface: &str) -> &'m mut V {
    if !map.contains_key(interface) {
        map.insert(interface.into(), V::default());
    }
    map.get_mut(interface).expect("just inserted")
}

impl Observations {
    fn gap(&mut self, interface: &str) -> &mut (u64, u64) {
        per_interface(&mut self.gaps, interface)
    }

    /// Combines two partial results (order doesn't matter).
    pub fn merge(mut self, other: Observations) -> Observations {
        for (iface, conns) in other.connections {
            let mine = self.connections.entry(iface).or_default();
            for (k, e) in conns {
                mine.entry(k).and_modify(|x| x.merge(&e)).or_insert(e);
            }
        }
        for (iface, rejects) in other.rejects {
            let mine = self.rejects.entry(iface).or_default();
            for (k, r) in rejects {
                mine.entry(k)
                    .and_modify(|x| {
                        x.records += r.records;
                        x.packets += r.packets;
                        x.first_seen = x.first_seen.min(r.first_seen);
                        x.last_seen = x.last_seen.max(r.last_seen);
                    })
                    .or_insert(r);
            }
        }
        for (k, (n, s)) in other.gaps {
            let g = self.gaps.entry(k).or_default();
            g.0 += n;
            g.1 += s;
        }
        self.without_interface += other.without_interface;
        self
    }

    /// Distinct connections observed (the memory this takes grows with these).
    pub fn connections(&self) -> usize {
        self.connections.values().map(HashMap::len).sum()
    }

    /// Decides every connection and builds the table.
    pub fn finish(&self, inventory: &Inventory) -> Table {
        let by_interface: BTreeMap<&str, Vec<(&ConnectionKey, &Evidence)>> = self
            .connections
            .iter()
            .map(|(i, c)| (&**i, c.iter().collect()))
            .collect();
        let mut table = Table::default();
        let mut rows: BTreeMap<RowKey, RowAcc> = BTreeMap::new();
        for (iface, mut conns) in by_interface {
            conns.sort_by_key(|(k, _)| **k);
            let known = inventory.interface(iface);
            if known.is_none() {
                table.missing_interfaces.push(iface.to_string());
            }
            if known.is_some_and(|i| !i.has_security_groups()) {
                // NAT gateways and other group-less interfaces are paths: their records
                // explain how traffic flows, they are not endpoints to secure.
                table.path_connections += conns.len() as u64;
                continue;
            }
            let addresses: Vec<IpAddr> = match known {
                Some(i) => i.addresses.clone(),
                None => learned_addresses(&conns),
            };
            // Which end is local, then the fan-outs that port evidence needs.
            let locals: Vec<(bool, Endpoint, Endpoint)> = conns
                .iter()
                .map(|(k, e)| {
                    let a_local = local_is_a(k, e, &addresses);
                    let (l, r) = if a_local { (k.a, k.b) } else { (k.b, k.a) };
                    (a_local, l, r)
                })
                .collect();
            // Port fan-out, by port only: a service port meets many peer ports; a client's
            // ephemeral port, even reused toward many servers over weeks, meets their one
            // service port (counting peer *endpoints* would mistake that reuse for a
            // service).
            let mut local_fan: HashMap<(u8, u16), BTreeSet<u16>> = HashMap::default();
            let mut remote_fan: HashMap<(u8, u16), BTreeSet<u16>> = HashMap::default();
            for ((k, _), (_, l, r)) in conns.iter().zip(&locals) {
                local_fan
                    .entry((k.protocol, l.port))
                    .or_default()
                    .insert(r.port);
                remote_fan
                    .entry((k.protocol, r.port))
                    .or_default()
                    .insert(l.port);
            }
            for ((k, e), (a_local, l, r)) in conns.iter().zip(&locals) {
                let lf = local_fan[&(k.protocol, l.port)].len();
                let rf = remote_fan[&(k.protocol, r.port)].len();
                let d = decide(k, e, *a_local, lf, rf);
                if d.basis == Basis::Ambiguous {
                    table.ambiguous.push((iface.to_string(), **k));
                }
                let (peer_kind, peer) =
                    resolve_peer(inventory, known.and_then(|i| i.vpc_id.as_deref()), r.addr);
                let key = RowKey {
                    interface: iface.to_string(),
                    side: if d.local_is_server {
                        Side::Server
                    } else {
                        Side::Client
                    },
                    protocol: k.protocol,
                    port: d.service_port,
                    peer_kind,
                    peer,
                };
                let acc = rows.entry(key).or_default();
                acc.add(e, if d.local_is_server { r.port } else { l.port }, d.basis);
            }
        }
        table.rows = rows.into_iter().map(|(k, a)| a.into_row(k)).collect();
        table.rejected = self
            .rejects
            .iter()
            .flat_map(|(i, r)| {
                r.iter()
                    .map(move |((p, port), r)| (i.to_string(), *p, *port, *r))
            })
            .collect();
        table
            .rejected
            .sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
        table.gaps = self
            .gaps
            .iter()
            .map(|(i, g)| (i.to_string(), g.0, g.1))
            .collect();
        table.gaps.sort();
        table.records_without_interface = self.without_interface;
        table
    }
}

/// For an interface the inventory lacks: its addresses are the ones in most of its
/// connections (every record of an interface has its own address on one side).
fn learned_addresses(conns: &[(&ConnectionKey, &Evidence)]) -> Vec<IpAddr> {
    let mut counts: HashMap<IpAddr, usize> = HashMap::default();
    for (k, _) in conns {
        *counts.entry(k.a.addr).or_default() += 1;
        *counts.entry(k.b.addr).or_default() += 1;
    }
    let max = counts.values().copied().max().unwrap_or(0);
    let mut top: Vec<IpAddr> = counts
        .into_iter()
        .filter(|(_, n)| *n == max)
        .map(|(a, _)| a)
        .collect();
    top.sort();
    top.truncate(1);
    top
}

/// Which endpoint is the interface's: `flow-direction` when it says, else its addresses.
fn local_is_a(key: &ConnectionKey, e: &Evidence, addresses: &[IpAddr]) -> bool {
    match e.bits & (A_LOCAL | B_LOCAL) {
        A_LOCAL => true,
        B_LOCAL => false,
        _ => {
            addresses.contains(&key.a.addr)
                || !addresses.contains(&key.b.addr) && key.a.addr <= key.b.addr
        }
    }
}

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

fn resolve_peer(inventory: &Inventory, vpc: Option<&str>, addr: IpAddr) -> (PeerKind, String) {
    if let Some(i) = inventory.interface_by_address(vpc, addr) {
        return (PeerKind::Interface, i.id.clone());
    }
    if let Some(pl) = inventory.prefix_list_containing(addr) {
        let name = pl
            .service()
            .map(str::to_string)
            .unwrap_or_else(|| pl.id.clone());
        return (PeerKind::AwsService, name);
    }
    let private = match addr {
        IpAddr::V4(a) => {
            a.is_private() || a.octets()[0] == 100 && (64..128).contains(&a.octets()[1])
        }
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    };
    let host = match addr {
        IpAddr::V4(_) => format!("{addr}/32"),
        IpAddr::V6(_) => format!("{addr}/128"),
    };
    (
        if private {
            PeerKind::Vpc
        } else {
            PeerKind::Internet
        },
        host,
    )
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
    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    interface: String,
    side: Side,
    protocol: u8,
    port: u16,
    peer_kind: PeerKind,
    peer: String,
}

#[derive(Default)]
struct RowAcc {
    flows: u64,
    packets: u64,
    bytes: u64,
    first_seen: Option<u64>,
    last_seen: u64,
    peer_ports: BTreeSet<u16>,
    bases: BTreeMap<Basis, u64>,
}

impl RowAcc {
    fn add(&mut self, e: &Evidence, peer_port: u16, basis: Basis) {
        self.flows += e.records;
        self.packets += e.packets;
        self.bytes += e.bytes;
        self.first_seen = Some(
            self.first_seen
                .map_or(e.first_seen, |f| f.min(e.first_seen)),
        );
        self.last_seen = self.last_seen.max(e.last_seen);
        self.peer_ports.insert(peer_port);
        *self.bases.entry(basis).or_default() += 1;
    }

    fn into_row(self, k: RowKey) -> Row {
        // The basis most of the row's connections were decided on (the weaker on ties).
        let basis = self
            .bases
            .iter()
            .max_by_key(|(b, n)| (**n, **b))
            .map_or(Basis::Ambiguous, |(b, _)| *b);
        Row {
            interface_id: k.interface,
            side: k.side,
            protocol: k.protocol,
            port: k.port,
            peer_kind: k.peer_kind,
            peer: k.peer,
            flows: self.flows,
            packets: self.packets,
            bytes: self.bytes,
            first_seen: self.first_seen.unwrap_or(0),
            last_seen: self.last_seen,
            peer_ports: self.peer_ports.len() as u64,
            basis,
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
    /// What the peer is.
    pub peer_kind: PeerKind,
    /// The peer: an interface id, a CIDR or a service name.
    pub peer: String,
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

/// The observed connections, and what else the logs said.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// One row per (interface, side, protocol, port, peer), sorted.
    pub rows: Vec<Row>,
    /// Connections nothing settled, per interface.
    pub ambiguous: Vec<(String, ConnectionKey)>,
    /// Interfaces in the logs the inventory lacks.
    pub missing_interfaces: Vec<String>,
    /// Connections logged on group-less interfaces (NAT gateways): paths, not rows.
    pub path_connections: u64,
    /// REJECT records per (interface, protocol, port): what is already blocked.
    pub rejected: Vec<(String, u8, u16, Rejected)>,
    /// NODATA and SKIPDATA records per interface: coverage gaps.
    pub gaps: Vec<(String, u64, u64)>,
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
    /// The rows as Parquet: text columns as STRING, `protocol` and `port` as INT_32,
    /// counters and times as INT_64 (Snappy compressed).
    pub fn write_parquet<W: std::io::Write + Send>(
        &self,
        out: W,
    ) -> Result<W, parquet::errors::ParquetError> {
        use std::sync::Arc;

        use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
        use arrow_schema::{DataType, Field, Schema};

        let text = |f: &dyn Fn(&Row) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(self.rows.iter().map(f)))
        };
        let int32 = |f: &dyn Fn(&Row) -> i32| -> ArrayRef {
            Arc::new(Int32Array::from_iter_values(self.rows.iter().map(f)))
        };
        let int64 = |f: &dyn Fn(&Row) -> u64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(
                self.rows.iter().map(|r| f(r) as i64),
            ))
        };
        let columns: Vec<ArrayRef> = vec![
            text(&|r| &r.interface_id),
            text(&|r| r.side.name()),
            int32(&|r| i32::from(r.protocol)),
            int32(&|r| i32::from(r.port)),
            text(&|r| r.peer_kind.name()),
            text(&|r| &r.peer),
            int64(&|r| r.flows),
            int64(&|r| r.packets),
            int64(&|r| r.bytes),
            int64(&|r| r.first_seen),
            int64(&|r| r.last_seen),
            int64(&|r| r.peer_ports),
            text(&|r| r.basis.name()),
        ];
        let fields: Vec<Field> = COLUMNS
            .iter()
            .zip(&columns)
            .map(|(name, c)| Field::new(*name, c.data_type().clone(), false))
            .collect();
        debug_assert!(fields.iter().all(|f| matches!(
            f.data_type(),
            DataType::Utf8 | DataType::Int32 | DataType::Int64
        )));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(out, batch.schema(), Some(props))?;
        writer.write(&batch)?;
        writer.into_inner()
    }

    /// The rows as CSV, with a header.
    pub fn to_csv(&self) -> String {
        let mut out = COLUMNS.join(",") + "\n";
        for r in &self.rows {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.interface_id,
                r.side.name(),
                r.protocol,
                r.port,
                r.peer_kind.name(),
                r.peer,
                r.flows,
                r.packets,
                r.bytes,
                r.first_seen,
                r.last_seen,
                r.peer_ports,
                r.basis.name()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use flowfence_flowlog::{Layout, Unit, decode_block};

    fn observe_text(text: &str) -> Observations {
        let mut obs = Observations::default();
        decode_block(
            text.as_bytes(),
            &Arc::new(Layout::default_v2()),
            Unit::Line,
            &mut obs,
        );
        obs
    }

    const V2: &str = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

    #[test]
    fn an_interface_missing_from_the_inventory_is_listed_and_its_address_learned() {
        // eni-x serves 8443 to two clients; the inventory knows nothing of it.
        let obs = observe_text(&format!(
            "{V2}\n2 eni-x 10.0.5.5 10.0.9.1 8443 40001 6 3 200 100 110 ACCEPT OK\n\
             2 eni-x 10.0.9.1 10.0.5.5 40001 8443 6 3 200 100 110 ACCEPT OK\n\
             2 eni-x 10.0.9.2 10.0.5.5 40002 8443 6 3 200 120 130 ACCEPT OK\n"
        ));
        let table = obs.finish(&Inventory::default());
        assert_eq!(table.missing_interfaces, ["eni-x"]);
        // Its own address is the one in every connection; the clients are VPC peers.
        assert_eq!(table.rows.len(), 2);
        for row in &table.rows {
            assert_eq!(
                (row.side, row.protocol, row.port, row.peer_kind),
                (Side::Server, 6, 8443, PeerKind::Vpc)
            );
        }
        assert_eq!(table.rows[0].peer, "10.0.9.1/32");
        assert_eq!(table.rows[0].flows, 2);
    }

    #[test]
    fn a_connection_logged_by_both_ends_gives_a_row_on_each() {
        let mut inventory = Inventory::default();
        inventory
            .add_json(
                "enis.json",
                r#"{"NetworkInterfaces": [
                    {"NetworkInterfaceId": "eni-app", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.5", "Groups": [{"GroupId": "sg-1"}]},
                    {"NetworkInterfaceId": "eni-db", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.2.9", "Groups": [{"GroupId": "sg-1"}]}]}"#,
            )
            .unwrap();
        let obs = observe_text(&format!(
            "{V2}\n2 eni-app 10.0.1.5 10.0.2.9 41000 5432 6 3 180 100 110 ACCEPT OK\n\
             2 eni-app 10.0.2.9 10.0.1.5 5432 41000 6 3 180 100 110 ACCEPT OK\n\
             2 eni-db 10.0.1.5 10.0.2.9 41000 5432 6 3 180 100 110 ACCEPT OK\n\
             2 eni-db 10.0.2.9 10.0.1.5 5432 41000 6 3 180 100 110 ACCEPT OK\n"
        ));
        let table = obs.finish(&inventory);
        let rows: Vec<(&str, Side, u16, &str)> = table
            .rows
            .iter()
            .map(|r| (r.interface_id.as_str(), r.side, r.port, r.peer.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("eni-app", Side::Client, 5432, "eni-db"),
                ("eni-db", Side::Server, 5432, "eni-app")
            ]
        );
        assert!(
            table
                .rows
                .iter()
                .all(|r| r.peer_kind == PeerKind::Interface && r.flows == 2)
        );
    }
}
