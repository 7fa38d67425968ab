//! From evidence to the observed connections table, once all evidence is in.
//!
//! Shard by shard in parallel (a shard holds whole interfaces):
//!
//! 1. **Views**: per interface, which end of each connection is its own, and the port
//!    fan-outs (distinct peer ports per local port and per remote port) that port
//!    evidence needs, counted (by sorting packed integers, not by sets per port) the
//!    first time a decision needs them.
//! 2. **Decisions**: each connection decided from its interface's view; a connection
//!    between two logged interfaces not settled by flags is also decided from the other
//!    end's view, and the stronger basis wins (the other end may have seen the SYN, or a
//!    fan-out this end can't see). Peers are resolved once per address.
//! 3. **Rows**: summed per (interface, side, protocol, port, peer) and sorted, then
//!    handed out in the table's order a chunk at a time ([`Observations::finish_streaming`]).
//!
//! That is with the store in memory. When it spilled under the memory limit, the same
//! decisions are made without gathering it (`rows_read_back`): each interface's
//! connections are read back as a stream, decided from its [`Facts`] (what a view
//! holds, counted in a pass first); a connection whose other end could settle it waits
//! while that end's record is read back; and each shard's rows are held within a
//! budget, spilled past it as sorted runs (`row_runs.rs`) merged back as they go out.

use std::net::IpAddr;
use std::sync::OnceLock;

use flowfence_inventory::{Interface, Inventory, IpNet, is_private};
use rayon::prelude::*;

use crate::direction::{
    A_LOCAL, Addr, B_LOCAL, Basis, ConnectionKey, Decision, Evidence, Outcome, decide_with,
};
use crate::observations::{Extras, HashMap, Observations, SHARDS, in_order_largest_first};
use crate::row_runs::{Acc, RowMerge, RowRecord, RowRun, RunFile};
use crate::shard::{Entry, InterfaceIdx, Shard};
use crate::summary::RowTally;
use crate::table::{
    AmbiguousConnection, Attempt, CoverageGaps, Peer, RejectedTraffic, Row, Side, Table,
};

/// What one interface's connections look like from its side.
struct View<'i> {
    known: Option<&'i Interface>,
    /// Its connections: a range of its shard's sorted entries.
    start: usize,
    end: usize,
    /// Per connection (same order): is endpoint `a` the interface's own?
    a_local: Vec<bool>,
    /// Port fan-outs, counted when a decision first needs them: connections settled by
    /// their flags (most TCP) never do, and counting sorted two integers per connection.
    fans: OnceLock<Fans>,
}

/// Port fan-outs, by port only: a service port meets many peer ports; a client's
/// ephemeral port, even reused toward many servers over weeks, meets their one service
/// port (counting peer *endpoints* would mistake that reuse for a service).
struct Fans {
    /// (protocol, local port) -> distinct remote ports met.
    local: Vec<(u32, u32)>,
    /// (protocol, remote port) -> distinct local ports that met it.
    remote: Vec<(u32, u32)>,
}

impl Fans {
    /// The fan-outs of connection `k`'s local port and of its remote port (`a_local`:
    /// is endpoint `a` the interface's own?), as [`decide_with`] takes them.
    fn around(&self, k: &ConnectionKey, a_local: bool) -> (usize, usize) {
        let (l, r) = if a_local { (k.a, k.b) } else { (k.b, k.a) };
        (
            lookup(&self.local, pack(k.protocol, l.port)),
            lookup(&self.remote, pack(k.protocol, r.port)),
        )
    }

    fn count(conns: &[Entry], a_local: &[bool]) -> Fans {
        let mut counter = FanCounter::with_capacity(conns.len());
        for (((_, k), _), &a) in conns.iter().zip(a_local) {
            counter.add(k, a);
        }
        counter.finish()
    }
}

/// Counts port fan-outs one connection at a time: the (port, peer port) pairs, their
/// repeats dropped whenever they double, so it holds about the distinct pairs (bounded
/// by the port space), not a pair per connection.
struct FanCounter {
    local: Vec<u64>,
    remote: Vec<u64>,
    /// Pairs held past which repeats are dropped.
    dedup_at: usize,
}

impl FanCounter {
    fn with_capacity(n: usize) -> FanCounter {
        FanCounter {
            local: Vec::with_capacity(n),
            remote: Vec::with_capacity(n),
            dedup_at: n.max(1 << 16),
        }
    }

    /// Counts connection `k`, whose endpoint `a` is local when `a_local`.
    fn add(&mut self, k: &ConnectionKey, a_local: bool) {
        let (l, r) = if a_local { (k.a, k.b) } else { (k.b, k.a) };
        self.local
            .push(u64::from(pack(k.protocol, l.port)) << 16 | u64::from(r.port));
        self.remote
            .push(u64::from(pack(k.protocol, r.port)) << 16 | u64::from(l.port));
        if self.local.len() >= self.dedup_at {
            for pairs in [&mut self.local, &mut self.remote] {
                pairs.sort_unstable();
                pairs.dedup();
            }
            self.dedup_at = 2 * self.local.len().max(self.remote.len()).max(1 << 15);
        }
    }

    fn finish(self) -> Fans {
        Fans {
            local: distinct_counts(self.local),
            remote: distinct_counts(self.remote),
        }
    }
}

/// What deciding an interface's connections one at a time needs, counted over all of
/// them first: what [`View`] holds, without holding the connections (a spilled store
/// reads them back as a stream). One pass over them, two for an interface the inventory
/// lacks (its address is learned first).
struct Facts<'i> {
    own: OwnEnd<'i>,
    fans: Fans,
    /// Its ICMP and ICMPv6 peers.
    icmp_peers: [usize; 2],
}

impl<'i> Facts<'i> {
    /// The facts of interface `iface` (`known` to the inventory, or not) of `shard`.
    fn gather(shard: &mut Shard, iface: InterfaceIdx, known: Option<&'i Interface>) -> Facts<'i> {
        let mut learned = Vec::new();
        if known.is_none() {
            let mut counts = AddressCounts::default();
            shard.each_connection(iface, |((_, k), _)| counts.add(k));
            learned = counts.most_common();
        }
        let mut facts = Facts {
            own: OwnEnd { known, learned },
            fans: Fans {
                local: Vec::new(),
                remote: Vec::new(),
            },
            icmp_peers: [0; 2],
        };
        let mut fans = FanCounter::with_capacity(0);
        shard.each_connection(iface, |((_, k), e)| {
            fans.add(k, facts.own.a_local(k, e));
            match k.protocol {
                1 => facts.icmp_peers[0] += 1,
                58 => facts.icmp_peers[1] += 1,
                _ => {}
            }
        });
        facts.fans = fans.finish();
        facts
    }

    /// Decides connection `k` as [`View::decide`] does.
    fn decide(&self, k: &ConnectionKey, e: &Evidence, a_local: bool) -> Decision {
        decide_with(k, e, a_local, || self.fans.around(k, a_local))
    }

    /// Its peers of `protocol`, for ICMP (else 0).
    fn icmp_peers(&self, protocol: u8) -> usize {
        match protocol {
            1 => self.icmp_peers[0],
            58 => self.icmp_peers[1],
            _ => 0,
        }
    }

    /// Its connection `k` as the other end of a connection sees it.
    fn other_end(&self, k: &ConnectionKey, e: &Evidence) -> OtherEnd {
        let a_local = self.own.a_local(k, e);
        OtherEnd {
            decision: self.decide(k, e, a_local),
            a_local,
            evidence: *e,
            icmp_peers: self.icmp_peers(k.protocol),
        }
    }
}

impl<'i> View<'i> {
    /// The view of an interface (`known` to the inventory, or not) whose connections
    /// `conns` start at `start` among its shard's entries.
    fn of(known: Option<&'i Interface>, conns: &[Entry], start: usize) -> View<'i> {
        let own = OwnEnd {
            known,
            learned: match known {
                Some(_) => Vec::new(),
                None => learned_address(conns),
            },
        };
        let a_local: Vec<bool> = conns.iter().map(|((_, k), e)| own.a_local(k, e)).collect();
        View {
            known,
            start,
            end: start + conns.len(),
            a_local,
            fans: OnceLock::new(),
        }
    }

    /// Its connection `j` as the other end of a connection sees it.
    fn other_end(&self, conns: &[Entry], j: usize) -> OtherEnd {
        let ((_, key), evidence) = &conns[j];
        OtherEnd {
            decision: self.decide(conns, j),
            a_local: self.a_local[j],
            evidence: *evidence,
            icmp_peers: icmp_peers(conns, key.protocol),
        }
    }

    /// Decides its connection `i`; `conns` are the view's entries.
    fn decide(&self, conns: &[Entry], i: usize) -> Decision {
        let ((_, key), e) = &conns[i];
        let a_local = self.a_local[i];
        decide_with(key, e, a_local, || {
            self.fans
                .get_or_init(|| Fans::count(conns, &self.a_local))
                .around(key, a_local)
        })
    }
}

/// How many ICMP peers (of `protocol`, 1 or 58) an interface has: its connections of
/// that protocol, a contiguous run of its sorted entries (ICMP has no ports, so one per
/// peer). 0 for other protocols.
fn icmp_peers(conns: &[Entry], protocol: u8) -> usize {
    if !matches!(protocol, 1 | 58) {
        return 0;
    }
    let first = conns.partition_point(|((_, k), _)| k.protocol < protocol);
    let end = conns.partition_point(|((_, k), _)| k.protocol <= protocol);
    end - first
}

fn pack(protocol: u8, port: u16) -> u32 {
    u32::from(protocol) << 16 | u32::from(port)
}

fn lookup(fans: &[(u32, u32)], key: u32) -> usize {
    fans.binary_search_by_key(&key, |(k, _)| *k)
        .map_or(0, |i| fans[i].1 as usize)
}

/// Distinct second halves per first half, from (first << 16 | second) values.
fn distinct_counts(mut pairs: Vec<u64>) -> Vec<(u32, u32)> {
    pairs.sort_unstable();
    pairs.dedup();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for p in pairs {
        let k = (p >> 16) as u32;
        match out.last_mut() {
            Some((last, n)) if *last == k => *n += 1,
            _ => out.push((k, 1)),
        }
    }
    out
}

/// Which endpoint is the interface's: `flow-direction` when it says, else its addresses
/// (`is_local`).
fn local_is_a(key: &ConnectionKey, e: &Evidence, is_local: impl Fn(Addr) -> bool) -> bool {
    match e.bits & (A_LOCAL | B_LOCAL) {
        A_LOCAL => true,
        B_LOCAL => false,
        _ => is_local(key.a.addr) || !is_local(key.b.addr) && key.a.addr <= key.b.addr,
    }
}

/// Which end of a connection is an interface's own: the one `flow-direction` says, else
/// the one with its addresses (the inventory's, with its pods' delegated prefixes; or,
/// for an interface the inventory lacks, the address it was learned to have).
struct OwnEnd<'i> {
    known: Option<&'i Interface>,
    learned: Vec<Addr>,
}

impl OwnEnd<'_> {
    /// Is endpoint `a` of connection `k` (evidence `e`) the interface's own?
    fn a_local(&self, k: &ConnectionKey, e: &Evidence) -> bool {
        match self.known {
            Some(i) => local_is_a(k, e, |a| i.has_address(a.ip())),
            None => local_is_a(k, e, |a| self.learned.contains(&a)),
        }
    }
}

/// For an interface the inventory lacks: its address is the one in most of its
/// connections (every record of an interface has its own address on one side).
fn learned_address(entries: &[Entry]) -> Vec<Addr> {
    let mut counts = AddressCounts::default();
    for ((_, k), _) in entries {
        counts.add(k);
    }
    counts.most_common()
}

/// How many connections each address is in.
#[derive(Default)]
struct AddressCounts(HashMap<Addr, usize>);

impl AddressCounts {
    fn add(&mut self, k: &ConnectionKey) {
        *self.0.entry(k.a.addr).or_default() += 1;
        *self.0.entry(k.b.addr).or_default() += 1;
    }

    /// The address in most connections (the lowest of a tie), if any.
    fn most_common(self) -> Vec<Addr> {
        self.0
            .into_iter()
            .max_by(|(a1, n1), (a2, n2)| n1.cmp(n2).then(a2.cmp(a1)))
            .map(|(a, _)| a)
            .into_iter()
            .collect()
    }
}

/// The finished views of every interface, by interned id.
struct Views<'i> {
    shards: Vec<Vec<Entry>>,
    by_id: Vec<Option<View<'i>>>,
}

impl Views<'_> {
    /// The connection `key` as interface `iface` logged it, if it did.
    fn other_end(&self, iface: InterfaceIdx, key: &ConnectionKey) -> Option<OtherEnd> {
        let view = self.by_id.get(iface as usize)?.as_ref()?;
        let entries = &self.shards[iface as usize % SHARDS][view.start..view.end];
        let j = entries.binary_search_by(|((_, k), _)| k.cmp(key)).ok()?;
        Some(view.other_end(entries, j))
    }
}

/// A connection as the interface at its other end logged and decided it: where the
/// connection's own evidence leaves its decision weak or its outcome open, the other
/// end's may settle it (it may have seen the SYN, a fan-out this end can't see, or the
/// SYN-ACK this end missed).
#[derive(Clone, Copy)]
struct OtherEnd {
    decision: Decision,
    /// Is endpoint `a` the other interface's own?
    a_local: bool,
    evidence: Evidence,
    /// The other interface's peers of the connection's protocol, for ICMP (else 0).
    icmp_peers: usize,
}

/// One connection as its own interface sees it, decided from that interface's view
/// alone, before the other end (if it logged) is consulted.
#[derive(Clone, Copy)]
struct Connection {
    iface: InterfaceIdx,
    key: ConnectionKey,
    evidence: Evidence,
    a_local: bool,
    /// The peer's index in the shard's peers, and its port.
    peer: u32,
    peer_port: u16,
    decision: Decision,
    outcome: Outcome,
    /// The interface's peers of the connection's protocol, for ICMP (else 0).
    icmp_peers: usize,
}

impl Connection {
    /// Whether the other end's record could change anything: a decision weaker than
    /// the strongest its protocol allows (flags for TCP; port fan-out otherwise, as only
    /// TCP has flags), or an outcome other than "opened". Most connections need nothing.
    fn needs_other_end(&self) -> bool {
        let strongest = if self.key.protocol == 6 {
            Basis::Flags
        } else {
            Basis::Ports
        };
        self.decision.basis > strongest || self.outcome != Outcome::Opened
    }

    /// The decision and outcome, with the other end's record (when it logged one).
    fn settle(&self, other: Option<&OtherEnd>) -> (Decision, Outcome) {
        let (mut d, mut outcome) = (self.decision, self.outcome);
        let Some(other) = other else {
            return (d, outcome);
        };
        // The other end's decision, turned round, when it rests on stronger evidence.
        if d.basis != Basis::Flags
            && other.decision.basis < d.basis
            && other.a_local != self.a_local
        {
            d = Decision {
                local_is_server: !other.decision.local_is_server,
                service_port: other.decision.service_port,
                basis: other.decision.basis,
            };
        }
        // Both ends sent first in the same second: the one that pings many hosts (a
        // monitor) is the client of the one that answers few.
        if d.basis == Basis::Ambiguous
            && matches!(self.key.protocol, 1 | 58)
            && self.icmp_peers != other.icmp_peers
        {
            d = Decision {
                local_is_server: self.icmp_peers < other.icmp_peers,
                service_port: 0,
                basis: Basis::Ports,
            };
        }
        // The other end may have seen what this one missed (its SYN-ACK, data).
        if outcome != Outcome::Opened {
            let mut both = self.evidence;
            both.merge(&other.evidence);
            outcome = Outcome::of(self.key.protocol, &both);
        }
        (d, outcome)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct RowKey {
    iface: InterfaceIdx,
    side: Side,
    protocol: u8,
    port: u16,
    peer: u32,
    /// Connections that opened are rows; TCP attempts that never did are listed apart.
    outcome: Outcome,
}

/// A row's place in the table's order (interface id, side, protocol, port, peer kind,
/// peer) in integers: the interface id's rank among the ids with side, protocol, port and
/// kind packed below it, then the first 16 bytes of the peer's spelling (zero-padded,
/// so integer order is text order). Only rows equal on both compare the full peer text:
/// comparing strings throughout was most of sorting the table.
type SortKey = (u64, u128);

fn sort_key(rank: u32, side: Side, protocol: u8, port: u16, peer: &Peer) -> SortKey {
    let head = u64::from(rank) << 32
        | (side as u64) << 31
        | u64::from(protocol) << 23
        | u64::from(port) << 7
        | peer.kind() as u64;
    let mut prefix = [0u8; 16];
    peer.with_spelling(|text| {
        let n = text.len().min(16);
        prefix[..n].copy_from_slice(&text[..n]);
    });
    (head, u128::from_be_bytes(prefix))
}

/// Sorts a shard's rows (`keys[i]` is the key of `rows[i]`, `tags[i]` goes with it)
/// into the table's order, rows that look alike (an attempt refused and one unanswered
/// on the same row) in their tags' order, not in the order they were made (which
/// differs when the store spilled): the keys with indices first, since rows are large to
/// move, then each row moved once into place (swapping rows along the permutation's
/// cycles moved each three times). Returns the tags in the new order, and the rows.
fn sort_rows<T: Copy + Ord>(keys: Vec<SortKey>, rows: Vec<Row>, tags: &[T]) -> (Vec<T>, Vec<Row>) {
    let mut order: Vec<(SortKey, u32)> = keys.into_iter().zip(0u32..).collect();
    order.sort_unstable_by(|(x, i), (y, j)| {
        x.cmp(y)
            .then_with(|| rows[*i as usize].peer.cmp_spelled(&rows[*j as usize].peer))
            .then_with(|| tags[*i as usize].cmp(&tags[*j as usize]))
            .then_with(|| i.cmp(j))
    });
    let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|(_, i)| {
            let row = rows[i as usize].take().expect("each row is placed once");
            (tags[i as usize], row)
        })
        .unzip()
}

/// Peer resolution per (VPC, address), the VPC by its index in the shard (hashing the
/// id's text for every connection was a tenth of building the table): the peer's index
/// in the shard's peers, and its interned id when it is an interface that logged.
type PeerCache = HashMap<PeerAt, ResolvedPeer>;

/// A peer address seen from a VPC (by its index in the shard).
type PeerAt = (u32, Addr);

/// A resolved peer: its index in the shard's peers, and its interned id when it is an
/// interface that logged.
type ResolvedPeer = (u32, Option<InterfaceIdx>);

/// A peer, before it is spelled out (no allocation per connection).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum PeerRef<'a> {
    Interface(&'a str),
    Service(&'a str),
    Private(IpAddr),
    Public(IpAddr),
}

impl PeerRef<'_> {
    fn peer(self) -> Peer {
        match self {
            PeerRef::Interface(id) => Peer::Interface(id.to_string()),
            PeerRef::Service(name) => Peer::AwsService(name.to_string()),
            PeerRef::Private(addr) => Peer::Vpc(IpNet::from(addr)),
            PeerRef::Public(addr) => Peer::Internet(IpNet::from(addr)),
        }
    }
}

/// Rows of one shard being summed, before names are attached.
#[derive(Default)]
struct ShardRows<'a> {
    index: HashMap<RowKey, usize>,
    keys: Vec<RowKey>,
    accs: Vec<Acc>,
    /// (row, peer port), for distinct peer ports.
    peer_ports: Vec<u64>,
    peers: Vec<PeerRef<'a>>,
    /// The row the last connection went to.
    last: Option<(RowKey, usize)>,
}

impl ShardRows<'_> {
    fn add(&mut self, key: RowKey, e: &Evidence, peer_port: u16, basis: Basis) {
        let idx = match self.last {
            // Connections come sorted by key, so runs of them share a row (one peer's
            // ports): those skip the hash.
            Some((last, idx)) if last == key => idx,
            _ => {
                let next = self.keys.len();
                let idx = *self.index.entry(key).or_insert(next);
                if idx == next {
                    self.keys.push(key);
                    self.accs.push(Acc::EMPTY);
                }
                self.last = Some((key, idx));
                idx
            }
        };
        let acc = &mut self.accs[idx];
        acc.flows += e.records;
        acc.packets += e.packets;
        acc.bytes += e.bytes;
        acc.first_seen = acc.first_seen.min(e.first_seen);
        acc.last_seen = acc.last_seen.max(e.last_seen);
        acc.bases[basis as usize] += 1;
        self.peer_ports
            .push((idx as u64) << 16 | u64::from(peer_port));
    }

    /// Drops repeated (row, peer port) pairs: a row's connections from one busy peer
    /// repeat few ports, and the rows of a spilled store are held within a budget.
    fn dedup_peer_ports(&mut self) {
        self.peer_ports.sort_unstable();
        self.peer_ports.dedup();
    }

    /// The rows with names, sorted, and the attempts that never opened; `ranks` gives
    /// each interface's place in id order.
    fn into_rows(self, names: &[Box<str>], ranks: &[u32]) -> (Vec<Row>, Vec<Attempt>) {
        // Distinct peer ports per row, by row index (a binary search per row missed the
        // cache on shards of 100,000s of rows).
        let mut peer_ports = vec![0u64; self.keys.len()];
        for (row, n) in distinct_counts(self.peer_ports) {
            peer_ports[row as usize] = u64::from(n);
        }
        // An attempt beside connections that opened on the same row (a retry that got
        // through) is part of that row's story, not a finding of its own.
        let any_attempt = self.keys.iter().any(|k| k.outcome != Outcome::Opened);
        let opened: std::collections::HashSet<RowKey, ahash::RandomState> = if any_attempt {
            self.keys
                .iter()
                .filter(|k| k.outcome == Outcome::Opened)
                .copied()
                .collect()
        } else {
            Default::default()
        };
        let mut outcomes = Vec::new();
        let (keys, rows): (Vec<SortKey>, Vec<Row>) = self
            .keys
            .iter()
            .zip(self.accs)
            .enumerate()
            .filter(|(_, (k, _))| {
                k.outcome == Outcome::Opened
                    || !opened.contains(&RowKey {
                        outcome: Outcome::Opened,
                        ..**k
                    })
            })
            .map(|(i, (k, acc))| {
                outcomes.push(k.outcome);
                let row = Row {
                    interface_id: names[k.iface as usize].to_string(),
                    side: k.side,
                    protocol: k.protocol,
                    port: k.port,
                    peer: self.peers[k.peer as usize].peer(),
                    flows: acc.flows,
                    packets: acc.packets,
                    bytes: acc.bytes,
                    first_seen: acc.first_seen,
                    last_seen: acc.last_seen,
                    peer_ports: peer_ports[i],
                    basis: acc.basis(),
                };
                let key = sort_key(
                    ranks[k.iface as usize],
                    row.side,
                    row.protocol,
                    row.port,
                    &row.peer,
                );
                (key, row)
            })
            .unzip();
        let (keys, rows) = sort_rows(keys, rows, &outcomes);
        let mut attempts = Vec::new();
        let rows = rows
            .into_iter()
            .zip(keys)
            .filter_map(|(row, outcome)| match outcome {
                Outcome::Opened => Some(row),
                outcome => {
                    attempts.push(Attempt { row, outcome });
                    None
                }
            })
            .collect();
        (rows, attempts)
    }

    /// The rows as a run holds them (attempts included, with their outcome), sorted.
    fn into_records(self, ranks: &[u32]) -> Vec<RowRecord> {
        let mut ports: Vec<Vec<u16>> = vec![Vec::new(); self.keys.len()];
        let mut pairs = self.peer_ports;
        pairs.sort_unstable();
        pairs.dedup();
        for p in pairs {
            ports[(p >> 16) as usize].push(p as u16);
        }
        let mut records: Vec<RowRecord> = self
            .keys
            .iter()
            .zip(self.accs)
            .zip(ports)
            .map(|((k, acc), ports)| {
                let peer = self.peers[k.peer as usize].peer();
                RowRecord {
                    rank: ranks[k.iface as usize],
                    iface: k.iface,
                    side: k.side,
                    protocol: k.protocol,
                    port: k.port,
                    peer_kind: peer.kind(),
                    peer_text: peer.to_string(),
                    outcome: k.outcome,
                    acc,
                    ports,
                }
            })
            .collect();
        records.sort_unstable_by(RowRecord::cmp_key);
        records
    }
}

/// What a peer address is.
fn resolve_peer<'a>(
    inventory: &'a Inventory,
    extras: &'a Extras,
    aws_names: &'a HashMap<String, String>,
    vpc: Option<&str>,
    addr: IpAddr,
) -> PeerRef<'a> {
    if let Some(i) = inventory.interface_by_address(vpc, addr) {
        return PeerRef::Interface(&i.id);
    }
    // A private address of exactly one other VPC: a peered VPC's interface.
    if is_private(addr)
        && let Some(i) = vpc.and_then(|v| inventory.interface_in_another_vpc(v, addr))
    {
        return PeerRef::Interface(&i.id);
    }
    if let Some(service) = extras.services.get(&addr) {
        return PeerRef::Service(service);
    }
    if let Some(pl) = inventory.prefix_list_containing(addr) {
        return PeerRef::Service(aws_names.get(&pl.id).map_or(&pl.id, |n| n));
    }
    if is_private(addr) {
        PeerRef::Private(addr)
    } else {
        PeerRef::Public(addr)
    }
}

/// What deciding connections and naming their peers needs, shared by every shard.
struct Context<'a> {
    names: &'a [Box<str>],
    ids: HashMap<&'a str, InterfaceIdx>,
    inventory: &'a Inventory,
    extras: &'a Extras,
    /// Prefix lists' services, named as flow logs name them (S3, DYNAMODB).
    aws_names: HashMap<String, String>,
    /// Each interface's place in id order.
    ranks: Vec<u32>,
}

impl<'a> Context<'a> {
    /// The inventory's interface `iface`, if it has it.
    fn known(&self, iface: InterfaceIdx) -> Option<&'a Interface> {
        self.inventory.interface(&self.names[iface as usize])
    }
}

/// Rows handed to a streaming [`Observations::finish_streaming`] sink at a time:
/// exactly, but for the last chunk. A multiple of the Parquet writer's mini-batch (1,024
/// rows), whose page boundaries then fall where they fall for the rows written at once,
/// so the file is the same bytes.
const CHUNK_ROWS: usize = 1 << 16;

/// Runs of rows of one level a shard keeps before merging them into one run of the
/// next level (as a log-structured merge does: a row is rewritten about once per level,
/// not at every merge; merging all runs each time rewrote the rows spilled first again
/// and again, most of building the table under a tight limit).
const MAX_ROW_RUNS: usize = 16;

impl Observations {
    /// Decides every connection and builds the table (in parallel on the current rayon
    /// pool; the result doesn't depend on its size, nor on whether the store spilled).
    pub fn finish(self, inventory: &Inventory) -> Table {
        let mut rows = Vec::new();
        let (mut table, _) = self
            .finish_streaming(inventory, &mut |chunk| {
                rows.extend(chunk);
                Ok(())
            })
            .expect("collecting rows in memory doesn't fail");
        table.rows = rows;
        table
    }

    /// [`Observations::finish`], the rows handed to `sink` in the table's order, a chunk
    /// at a time (at least one call, the last perhaps empty), instead of kept in the
    /// table, which comes back without them, with their tally for its summary. When the
    /// store spilled, rows are summed within a budget from the memory limit and spilled
    /// too, so they never sit in memory whole. Fails only with `sink`'s error.
    pub fn finish_streaming(
        self,
        inventory: &Inventory,
        sink: &mut (dyn FnMut(Vec<Row>) -> std::io::Result<()> + Send),
    ) -> std::io::Result<(Table, RowTally)> {
        let row_budget = self.row_budget();
        let names = self
            .names
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .names;
        let extras = self
            .extras
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut by_name: Vec<u32> = (0..names.len() as u32).collect();
        by_name.sort_unstable_by_key(|&i| &names[i as usize]);
        let mut ranks = vec![0u32; names.len()];
        for (rank, &i) in by_name.iter().enumerate() {
            ranks[i as usize] = rank as u32;
        }
        let ctx = Context {
            names: &names,
            ids: names
                .iter()
                .enumerate()
                .map(|(i, n)| (&**n, i as InterfaceIdx))
                .collect(),
            inventory,
            extras: &extras,
            aws_names: inventory
                .prefix_lists()
                .filter_map(|pl| Some((pl.id.clone(), pl.service()?.to_ascii_uppercase())))
                .collect(),
            ranks,
        };

        // 1-2. Views, decisions and each shard's rows.
        let shards: Vec<Shard> = self
            .shards
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            })
            .collect();
        let (parts, store) = if shards.iter().any(Shard::has_spilled) {
            (rows_read_back(shards, &ctx, row_budget), Vec::new())
        } else {
            rows_in_memory(shards, &ctx)
        };

        // 3. In order. Each shard's rows are sorted, and an interface's rows are all in
        // its shard, so the table is every interface's run of rows, interfaces in id
        // order: one pass, each row moved once. The evidence store is freed meanwhile
        // (unmapping ~170 MB took a thread 30 ms).
        let mut table = Table::default();
        let mut outputs = Vec::with_capacity(SHARDS);
        let spilled: u64 = parts.iter().map(|p| p.spilled).sum();
        for part in parts {
            outputs.push(part.output);
            table
                .ambiguous
                .extend(
                    part.ambiguous
                        .into_iter()
                        .map(|(i, key)| AmbiguousConnection {
                            interface_id: names[i as usize].to_string(),
                            key,
                        }),
                );
            table.path_connections += part.path_connections;
        }
        let ((), emitted) = rayon::join(
            || drop(store),
            || -> std::io::Result<(Vec<Attempt>, RowTally)> {
                let mut out = Chunks {
                    chunk: Vec::with_capacity(CHUNK_ROWS),
                    tally: RowTally {
                        spilled_runs: spilled,
                        ..RowTally::default()
                    },
                    sink,
                };
                let mut attempts = Vec::new();
                for &i in &by_name {
                    outputs[i as usize % SHARDS].take_interface(
                        i,
                        &ctx,
                        &mut out,
                        &mut attempts,
                    )?;
                }
                let tally = out.finish()?;
                Ok((attempts, tally))
            },
        );
        let (attempts, tally) = emitted?;
        table.attempts = attempts;
        table.ambiguous.sort_unstable();
        table.missing_interfaces = names
            .iter()
            .filter(|n| inventory.interface(n).is_none())
            .map(|n| n.to_string())
            .collect();
        table.missing_interfaces.sort_unstable();
        table.rejected = extras
            .rejects
            .iter()
            .map(|(&(i, protocol, port), r)| RejectedTraffic {
                interface_id: names[i as usize].to_string(),
                protocol,
                port,
                totals: *r,
            })
            .collect();
        table.rejected.sort_unstable_by(|a, b| {
            (&a.interface_id, a.protocol, a.port).cmp(&(&b.interface_id, b.protocol, b.port))
        });
        table.gaps = extras
            .gaps
            .iter()
            .map(|(&i, g)| CoverageGaps {
                interface_id: names[i as usize].to_string(),
                gaps: *g,
            })
            .collect();
        table
            .gaps
            .sort_unstable_by(|a, b| a.interface_id.cmp(&b.interface_id));
        table.records_without_interface = self.without_interface.into_inner();
        Ok((table, tally))
    }
}

/// The table's rows on their way to a sink, [`CHUNK_ROWS`] at a time, tallied.
struct Chunks<'s> {
    chunk: Vec<Row>,
    tally: RowTally,
    sink: &'s mut (dyn FnMut(Vec<Row>) -> std::io::Result<()> + Send),
}

impl Chunks<'_> {
    fn push(&mut self, row: Row) -> std::io::Result<()> {
        self.tally.add(&row);
        self.chunk.push(row);
        if self.chunk.len() == CHUNK_ROWS {
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_ROWS));
            (self.sink)(full)?;
        }
        Ok(())
    }

    /// Hands over the last chunk (perhaps empty: the sink is called at least once).
    fn finish(self) -> std::io::Result<RowTally> {
        (self.sink)(self.chunk)?;
        Ok(self.tally)
    }
}

/// A shard's finished rows, its ambiguous connections and its connections on paths.
struct ShardDone {
    output: ShardOutput,
    ambiguous: Vec<(InterfaceIdx, ConnectionKey)>,
    path_connections: u64,
    /// Runs of rows it spilled.
    spilled: u64,
}

/// A shard's rows and attempts in the table's order, apart.
struct SortedRows {
    rows: std::iter::Peekable<std::vec::IntoIter<Row>>,
    attempts: std::iter::Peekable<std::vec::IntoIter<Attempt>>,
}

/// A shard's rows in the table's order, taken an interface at a time.
enum ShardOutput {
    /// Sorted in memory.
    Memory(Box<SortedRows>),
    /// Runs on disk, merged as they are read.
    Runs(RowMerge),
}

impl ShardOutput {
    /// Moves interface `iface`'s rows to `rows` and its attempts that never opened
    /// onto `attempts`.
    fn take_interface(
        &mut self,
        iface: InterfaceIdx,
        ctx: &Context<'_>,
        rows: &mut Chunks<'_>,
        attempts: &mut Vec<Attempt>,
    ) -> std::io::Result<()> {
        let name = &*ctx.names[iface as usize];
        match self {
            ShardOutput::Memory(sorted) => {
                while let Some(row) = sorted.rows.next_if(|row| row.interface_id == name) {
                    rows.push(row)?;
                }
                while let Some(a) = sorted.attempts.next_if(|a| a.row.interface_id == name) {
                    attempts.push(a);
                }
            }
            ShardOutput::Runs(merge) => {
                let rank = ctx.ranks[iface as usize];
                // A row's outcomes come in order, opened first: an attempt beside
                // connections that opened on the same row is part of that row's story.
                let mut opened: Option<RowRecord> = None;
                while merge.peek_rank() == Some(rank) {
                    let record = merge.next_row().expect("a row was peeked");
                    if opened.as_ref().is_some_and(|o| o.same_row(&record)) {
                        continue;
                    }
                    let outcome = record.outcome;
                    let row = Row {
                        interface_id: name.to_string(),
                        side: record.side,
                        protocol: record.protocol,
                        port: record.port,
                        peer: record.peer(),
                        flows: record.acc.flows,
                        packets: record.acc.packets,
                        bytes: record.acc.bytes,
                        first_seen: record.acc.first_seen,
                        last_seen: record.acc.last_seen,
                        peer_ports: record.ports.len() as u64,
                        basis: record.acc.basis(),
                    };
                    if outcome == Outcome::Opened {
                        rows.push(row)?;
                        opened = Some(record);
                    } else {
                        attempts.push(Attempt { row, outcome });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Each shard's rows, with every entry in memory: all views are built first, so a
/// connection's other end is looked up as it is decided. Returns the entries too, for
/// the caller to free beside its last step.
fn rows_in_memory(shards: Vec<Shard>, ctx: &Context<'_>) -> (Vec<ShardDone>, Vec<Vec<Entry>>) {
    // Compacted largest first, kept in shard order (shard s is index s).
    let shards: Vec<Vec<Entry>> = in_order_largest_first(shards, Shard::size, Shard::into_entries);
    let per_shard: Vec<Vec<(InterfaceIdx, View<'_>)>> = shards
        .par_iter()
        .map(|entries| shard_views(entries, ctx))
        .collect();
    let mut by_id: Vec<Option<View<'_>>> = (0..ctx.names.len()).map(|_| None).collect();
    for (id, view) in per_shard.into_iter().flatten() {
        by_id[id as usize] = Some(view);
    }
    let views = Views { shards, by_id };
    let parts = in_order_largest_first(
        (0..SHARDS).collect(),
        |&s| views.shards[s].len(),
        |s| {
            let entries = &views.shards[s];
            // Vectors sized for the worst case (a row per connection) up front: untouched
            // capacity costs no memory, and growing them copied 10s of MB per shard.
            let mut rows = RowBuilder::new(ctx, entries.len(), None);
            let mut start = 0;
            while start < entries.len() {
                let id = entries[start].0.0;
                let view = views.by_id[id as usize]
                    .as_ref()
                    .expect("every interface has a view");
                start = view.end;
                let conns = &entries[view.start..view.end];
                rows.add_interface(id, view, conns, OtherEnds::Views(&views));
            }
            rows.done()
        },
    );
    (parts, views.shards)
}

/// Each shard's rows when the store spilled, holding one interface's connections at a
/// time (per thread) instead of every entry, and each shard's rows within `row_budget`
/// (rows past it are spilled as sorted runs):
///
/// 1. Each interface's connections, read back, are decided from its own view; those
///    its other end's record could settle wait, and that record is asked for.
/// 2. The records asked for are read back, each decided from its own interface's view.
/// 3. The waiting connections are settled with them, and the rows finished.
///
/// Memory is then the rows within their budget, the waiting connections (those between
/// two logged interfaces that flags didn't settle) and the largest interface's
/// connections.
fn rows_read_back(
    shards: Vec<Shard>,
    ctx: &Context<'_>,
    row_budget: Option<usize>,
) -> Vec<ShardDone> {
    let mut built: Vec<(Shard, RowBuilder<'_>)> =
        in_order_largest_first(shards, Shard::size, |mut shard| {
            let mut rows = RowBuilder::new(ctx, 0, row_budget);
            for id in shard.interfaces() {
                rows.add_read_back(&mut shard, id);
            }
            (shard, rows)
        });
    // What is asked of each shard, sorted by (interface, key).
    let mut asked: Vec<Vec<(InterfaceIdx, ConnectionKey)>> = vec![Vec::new(); SHARDS];
    for (_, rows) in &built {
        for w in &rows.waiting {
            asked[w.other as usize % SHARDS].push((w.other, w.connection.key));
        }
    }
    asked.par_iter_mut().for_each(|a| {
        a.sort_unstable();
        a.dedup();
    });
    let answers: Vec<Vec<Option<OtherEnd>>> = built
        .par_iter_mut()
        .zip(&asked)
        .map(|((shard, _), asked)| {
            let mut out = Vec::with_capacity(asked.len());
            for group in asked.chunk_by(|x, y| x.0 == y.0) {
                let id = group[0].0;
                let facts = Facts::gather(shard, id, ctx.known(id));
                // Both in key order: the connections asked for are met as they pass.
                let mut wanted = group.iter().map(|(_, key)| key).peekable();
                shard.each_connection(id, |((_, k), e)| {
                    while wanted.next_if(|w| *w < k).is_some() {
                        out.push(None);
                    }
                    if wanted.next_if(|w| *w == k).is_some() {
                        out.push(Some(facts.other_end(k, e)));
                    }
                });
                out.extend(wanted.map(|_| None));
            }
            out
        })
        .collect();
    built
        .into_par_iter()
        .map(|(shard, mut rows)| {
            drop(shard);
            for w in std::mem::take(&mut rows.waiting) {
                let s = w.other as usize % SHARDS;
                let at = asked[s]
                    .binary_search(&(w.other, w.connection.key))
                    .expect("every waiting connection's other end was asked for");
                // Resolved again: the shard's peers may have been spilled meanwhile.
                let mut c = w.connection;
                let remote = if c.a_local { c.key.b } else { c.key.a };
                c.peer = rows.peer(w.vpc_idx, w.vpc, remote.addr).0;
                rows.add(&c, answers[s][at].as_ref());
            }
            rows.done()
        })
        .collect()
}

/// Views of the interfaces in one shard (`entries` sorted by interface, then key).
fn shard_views<'i>(entries: &[Entry], ctx: &Context<'i>) -> Vec<(InterfaceIdx, View<'i>)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let id = entries[start].0.0;
        let end = start + entries[start..].partition_point(|((i, _), _)| *i == id);
        out.push((id, View::of(ctx.known(id), &entries[start..end], start)));
        start = end;
    }
    out
}

/// Where a connection's other end is found while its own end is decided.
#[derive(Clone, Copy)]
enum OtherEnds<'v, 'i> {
    /// Every interface's view: looked up at once.
    Views(&'v Views<'i>),
    /// Not at hand (the store spilled): the connection waits for it.
    Later,
}

/// An interface's place among a shard's rows: its id and VPC (and the VPC's index).
struct Place<'a> {
    id: InterfaceIdx,
    vpc: Option<&'a str>,
    vpc_idx: u32,
}

/// A connection as its own end decides it.
#[derive(Clone, Copy)]
struct Own {
    a_local: bool,
    decision: Decision,
    icmp_peers: usize,
}

/// A connection waiting for its other end's record.
struct Waiting<'a> {
    /// The interface at the other end.
    other: InterfaceIdx,
    /// Its own interface's VPC, and that VPC's index in the shard (to resolve its peer
    /// again).
    vpc: Option<&'a str>,
    vpc_idx: u32,
    connection: Connection,
}

/// Builds one shard's rows: resolves peers (once per address), settles each connection
/// and sums it into its row, spilling the rows summed so far when they pass the budget.
struct RowBuilder<'a> {
    ctx: &'a Context<'a>,
    rows: ShardRows<'a>,
    peers: PeerCache,
    /// The last peer resolved, as the cache has it.
    last_peer: Option<(PeerAt, ResolvedPeer)>,
    vpcs: HashMap<Option<&'a str>, u32>,
    peer_index: HashMap<PeerRef<'a>, u32>,
    waiting: Vec<Waiting<'a>>,
    ambiguous: Vec<(InterfaceIdx, ConnectionKey)>,
    path_connections: u64,
    /// Rows and peers held past which the rows spill (`None`: never).
    budget: Option<usize>,
    /// Rows spilled, as sorted runs with their level (0 as spilled, n + 1 merged from
    /// runs of level n), levels falling from the oldest.
    runs: Vec<(u32, RowRun)>,
    /// The file they are in.
    run_file: RunFile,
    /// Runs spilled (before any were merged).
    spilled: u64,
}

impl<'a> RowBuilder<'a> {
    /// A builder whose row vectors hold `capacity` connections before growing.
    fn new(ctx: &'a Context<'a>, capacity: usize, budget: Option<usize>) -> Self {
        RowBuilder {
            ctx,
            rows: ShardRows {
                keys: Vec::with_capacity(capacity),
                accs: Vec::with_capacity(capacity),
                peer_ports: Vec::with_capacity(capacity),
                ..ShardRows::default()
            },
            peers: HashMap::default(),
            last_peer: None,
            vpcs: HashMap::default(),
            peer_index: HashMap::default(),
            waiting: Vec::new(),
            ambiguous: Vec::new(),
            path_connections: 0,
            budget,
            runs: Vec::new(),
            run_file: RunFile::default(),
            spilled: 0,
        }
    }

    /// Where interface `id`'s connections go: its VPC, or `None` when it is a path
    /// (NAT gateways and other group-less interfaces: their records explain how traffic
    /// flows, they are not endpoints to secure).
    fn place(&mut self, id: InterfaceIdx, known: Option<&'a Interface>) -> Option<Place<'a>> {
        if known.is_some_and(|i| !i.has_security_groups()) {
            return None;
        }
        let vpc = known.and_then(|i| i.vpc_id.as_deref());
        let next = self.vpcs.len() as u32;
        let vpc_idx = *self.vpcs.entry(vpc).or_insert(next);
        Some(Place { id, vpc, vpc_idx })
    }

    /// Adds interface `id`'s connections `conns`, seen through its `view`.
    fn add_interface(
        &mut self,
        id: InterfaceIdx,
        view: &View<'a>,
        conns: &[Entry],
        others: OtherEnds<'_, '_>,
    ) {
        let Some(place) = self.place(id, view.known) else {
            self.path_connections += conns.len() as u64;
            return;
        };
        for (i, ((_, k), e)) in conns.iter().enumerate() {
            let own = Own {
                a_local: view.a_local[i],
                decision: view.decide(conns, i),
                icmp_peers: icmp_peers(conns, k.protocol),
            };
            self.add_connection(&place, k, e, own, others);
        }
    }

    /// Adds interface `id`'s connections, read back from `shard` one at a time, their
    /// other ends left to wait.
    fn add_read_back(&mut self, shard: &mut Shard, id: InterfaceIdx) {
        let known = self.ctx.known(id);
        let Some(place) = self.place(id, known) else {
            shard.each_connection(id, |_| self.path_connections += 1);
            return;
        };
        let facts = Facts::gather(shard, id, known);
        shard.each_connection(id, |((_, k), e)| {
            let a_local = facts.own.a_local(k, e);
            let own = Own {
                a_local,
                decision: facts.decide(k, e, a_local),
                icmp_peers: facts.icmp_peers(k.protocol),
            };
            self.add_connection(&place, k, e, own, OtherEnds::Later);
        });
    }

    /// Adds connection `k` of the interface at `place`, decided by its own end as
    /// `own`; its other end comes from `others` when it could settle anything.
    fn add_connection(
        &mut self,
        place: &Place<'a>,
        k: &ConnectionKey,
        e: &Evidence,
        own: Own,
        others: OtherEnds<'_, '_>,
    ) {
        let remote = if own.a_local { k.b } else { k.a };
        let (peer, peer_id) = self.peer(place.vpc_idx, place.vpc, remote.addr);
        let c = Connection {
            iface: place.id,
            key: *k,
            evidence: *e,
            a_local: own.a_local,
            peer,
            peer_port: remote.port,
            decision: own.decision,
            outcome: Outcome::of(k.protocol, e),
            icmp_peers: own.icmp_peers,
        };
        match (peer_id.filter(|_| c.needs_other_end()), others) {
            (None, _) => self.add(&c, None),
            (Some(p), OtherEnds::Views(views)) => self.add(&c, views.other_end(p, k).as_ref()),
            (Some(other), OtherEnds::Later) => self.waiting.push(Waiting {
                other,
                vpc: place.vpc,
                vpc_idx: place.vpc_idx,
                connection: c,
            }),
        }
    }

    /// The peer at `addr` seen from VPC `vpc` (`vpc_idx` its index in this shard): its
    /// index in the shard's peers, and its interned id when it is an interface that
    /// logged.
    fn peer(
        &mut self,
        vpc_idx: u32,
        vpc: Option<&'a str>,
        addr: Addr,
    ) -> (u32, Option<InterfaceIdx>) {
        if let Some((key, found)) = self.last_peer
            && key == (vpc_idx, addr)
        {
            return found;
        }
        let RowBuilder {
            ctx,
            rows,
            peers,
            peer_index,
            ..
        } = self;
        let found = *peers.entry((vpc_idx, addr)).or_insert_with(|| {
            let peer = resolve_peer(ctx.inventory, ctx.extras, &ctx.aws_names, vpc, addr.ip());
            let peer_id = match peer {
                PeerRef::Interface(name) => ctx.ids.get(name).copied(),
                _ => None,
            };
            // Addresses of one peer (an interface's, a service's) share its index. A bare
            // address is its own peer, and within one VPC this cache already gives it one
            // index, so it skips the second lookup.
            let next = rows.peers.len() as u32;
            let idx = match peer {
                PeerRef::Interface(_) | PeerRef::Service(_) => {
                    *peer_index.entry(peer).or_insert(next)
                }
                PeerRef::Private(_) | PeerRef::Public(_) => next,
            };
            if idx == next {
                rows.peers.push(peer);
            }
            (idx, peer_id)
        });
        // Connections come sorted, so one peer's come in runs: those skip the hash.
        self.last_peer = Some(((vpc_idx, addr), found));
        found
    }

    /// Settles `c` with its other end's record (when it logged one) and adds it to its row.
    fn add(&mut self, c: &Connection, other: Option<&OtherEnd>) {
        let (d, outcome) = c.settle(other);
        if d.basis == Basis::Ambiguous {
            self.ambiguous.push((c.iface, c.key));
        }
        let key = RowKey {
            iface: c.iface,
            side: if d.local_is_server {
                Side::Server
            } else {
                Side::Client
            },
            protocol: c.key.protocol,
            port: d.service_port,
            peer: c.peer,
            outcome,
        };
        self.rows.add(key, &c.evidence, c.peer_port, d.basis);
        self.keep_within_budget();
    }

    /// Spills the rows summed so far when they (with the peers resolved for them, and
    /// their peer ports once repeats are dropped) pass the budget.
    fn keep_within_budget(&mut self) {
        let Some(budget) = self.budget else { return };
        if self.rows.peer_ports.len() >= 2 * budget {
            self.rows.dedup_peer_ports();
        }
        if self.rows.keys.len() + self.peers.len() >= budget || self.rows.peer_ports.len() >= budget
        {
            self.spill();
        }
    }

    /// Moves the rows summed so far to a sorted run on disk, and forgets the peers
    /// resolved for them (their indices were into those rows). A run that can't be
    /// written stays in memory and stops the spilling: the table is the same.
    fn spill(&mut self) {
        let records = std::mem::take(&mut self.rows).into_records(&self.ctx.ranks);
        let (run, failed) = RowRun::spill(&mut self.run_file, records);
        match failed {
            Some(_) => self.budget = None,
            None => self.spilled += 1,
        }
        self.runs.push((0, run));
        self.peers.clear();
        self.last_peer = None;
        self.peer_index.clear();
        // The newest runs, when MAX_ROW_RUNS of them share a level, become one of the
        // next (which may complete that level in turn).
        while let Some(at) = self.runs.len().checked_sub(MAX_ROW_RUNS)
            && self.runs[at..].iter().all(|(l, _)| *l == self.runs[at].0)
        {
            let level = self.runs[at].0;
            let runs = self.runs.drain(at..).map(|(_, run)| run).collect();
            let merged = RowRun::merged(&mut self.run_file, RowMerge::new(runs));
            self.runs.push((level + 1, merged));
        }
    }

    /// The shard's rows, finished: sorted in memory, or merged from its runs.
    fn done(mut self) -> ShardDone {
        debug_assert!(self.waiting.is_empty(), "connections still wait");
        let output = if self.runs.is_empty() {
            let (rows, attempts) = self.rows.into_rows(self.ctx.names, &self.ctx.ranks);
            ShardOutput::Memory(Box::new(SortedRows {
                rows: rows.into_iter().peekable(),
                attempts: attempts.into_iter().peekable(),
            }))
        } else {
            let rest = std::mem::take(&mut self.rows).into_records(&self.ctx.ranks);
            let mut runs: Vec<RowRun> = self.runs.into_iter().map(|(_, run)| run).collect();
            runs.push(RowRun::in_memory(rest));
            ShardOutput::Runs(RowMerge::new(runs))
        };
        ShardDone {
            output,
            ambiguous: self.ambiguous,
            path_connections: self.path_connections,
            spilled: self.spilled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::table::{Peer, PeerKind, Side};

    use flowfence_flowlog::{Layout, Unit, decode_block};

    fn observe(text: &str) -> Observations {
        let obs = Observations::default();
        decode_block(
            text.as_bytes(),
            &Arc::new(Layout::default_v2()),
            Unit::Line,
            &mut obs.collector(),
        );
        obs
    }

    /// Logs to be observed twice: kept in memory, and with every shard spilled.
    struct Observed(String);

    fn observe_text(text: &str) -> Observed {
        Observed(text.to_string())
    }

    impl Observed {
        /// The table built in memory, checked equal to the one built from spilled runs.
        /// And to the one built from spilled runs, its rows spilled too, a run a row.
        fn finish(&self, inventory: &Inventory) -> Table {
            let table = observe(&self.0).finish(inventory);
            for row_budget in [None, Some(1)] {
                let mut spilled = observe(&self.0);
                spilled.spill_all();
                assert!(spilled.spills() > 0);
                if let Some(rows) = row_budget {
                    spilled.set_row_budget(rows);
                }
                let read_back = spilled.finish(inventory);
                assert_eq!(format!("{read_back:#?}"), format!("{table:#?}"));
            }
            table
        }
    }

    #[test]
    fn integer_sort_keys_give_the_text_order() {
        let row = |iface: &str, side, port, peer_kind, peer: &str| Row {
            interface_id: iface.into(),
            side,
            protocol: 6,
            port,
            peer: Peer::parse(peer_kind, peer).unwrap(),
            flows: 1,
            packets: 1,
            bytes: 1,
            first_seen: 0,
            last_seen: 0,
            peer_ports: 1,
            basis: Basis::Flags,
        };
        let mut rows = Vec::new();
        for iface in ["eni-b", "eni-a"] {
            for side in [Side::Client, Side::Server] {
                for port in [443, 80] {
                    for (kind, peer) in [
                        (PeerKind::Internet, "10.0.0.9/32"),
                        (PeerKind::Internet, "10.0.0.10/32"),
                        (PeerKind::Internet, "10.0.0.1/32"),
                        (PeerKind::Vpc, "2001:db8::10/128"),
                        (PeerKind::Vpc, "2001:db8::1/128"),
                        (PeerKind::Interface, "eni-0123456789abcdef1"),
                        (PeerKind::Interface, "eni-0123456789abcdef0"),
                    ] {
                        rows.push(row(iface, side, port, kind, peer));
                    }
                }
            }
        }
        let rank = |r: &Row| u32::from(r.interface_id == "eni-b");
        let key = |r: &Row| sort_key(rank(r), r.side, r.protocol, r.port, &r.peer);
        let mut by_keys: Vec<&Row> = rows.iter().collect();
        by_keys.sort_by(|a, b| {
            key(a)
                .cmp(&key(b))
                .then_with(|| a.peer.cmp_spelled(&b.peer))
        });
        // The order of the text the table shows, compared as text.
        let mut by_text: Vec<&Row> = rows.iter().collect();
        by_text.sort_by_key(|r| {
            (
                r.interface_id.clone(),
                r.side,
                r.protocol,
                r.port,
                r.peer.kind(),
                r.peer.to_string(),
            )
        });
        assert_eq!(by_keys, by_text);
        // And sorting a shard's rows (keys with indices, then rows moved) gives that order.
        let reversed: Vec<Row> = rows.iter().rev().cloned().collect();
        let keys = reversed.iter().map(key).collect();
        let tags = vec![(); reversed.len()];
        let (_, sorted) = sort_rows(keys, reversed, &tags);
        assert_eq!(sorted.iter().collect::<Vec<&Row>>(), by_text);
        // And rows spilled as runs are merged back in that order too.
        let mut records: Vec<RowRecord> = rows
            .iter()
            .map(|r| RowRecord {
                rank: rank(r),
                iface: rank(r),
                side: r.side,
                protocol: r.protocol,
                port: r.port,
                peer_kind: r.peer.kind(),
                peer_text: r.peer.to_string(),
                outcome: Outcome::Opened,
                acc: Acc::EMPTY,
                ports: Vec::new(),
            })
            .collect();
        records.sort_by(RowRecord::cmp_key);
        let spelled = |r: &Row| (rank(r), r.side, r.port, r.peer.to_string());
        assert_eq!(
            records
                .iter()
                .map(|r| (r.rank, r.side, r.port, r.peer_text.clone()))
                .collect::<Vec<_>>(),
            by_text.iter().map(|r| spelled(r)).collect::<Vec<_>>()
        );
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
                (row.side, row.protocol, row.port, row.peer.kind()),
                (Side::Server, 6, 8443, PeerKind::Vpc)
            );
        }
        assert_eq!(table.rows[0].peer.to_string(), "10.0.9.1/32");
        assert_eq!(table.rows[0].flows, 2);
    }

    #[test]
    fn a_connection_logged_by_both_ends_gives_a_row_on_each() {
        let inventory = two_interfaces("eni-app", "eni-db");
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
            .map(|r| {
                (
                    r.interface_id.as_str(),
                    r.side,
                    r.port,
                    r.peer.interface().unwrap(),
                )
            })
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
                .all(|r| r.peer.kind() == PeerKind::Interface && r.flows == 2)
        );
    }

    /// Two interfaces with groups in one VPC: `a` at 10.0.1.5, `b` at 10.0.2.9.
    fn two_interfaces(a: &str, b: &str) -> Inventory {
        let eni = |id: &str, addr: &str| {
            format!(
                r#"{{"NetworkInterfaceId": "{id}", "VpcId": "vpc-1", "PrivateIpAddress": "{addr}", "Groups": [{{"GroupId": "sg-1"}}]}}"#
            )
        };
        let mut inventory = Inventory::default();
        inventory
            .add_json(
                "enis.json",
                &format!(
                    r#"{{"NetworkInterfaces": [{}, {}]}}"#,
                    eni(a, "10.0.1.5"),
                    eni(b, "10.0.2.9")
                ),
            )
            .unwrap();
        inventory
    }

    const V5: &str = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags flow-direction";

    /// 300 internet clients of one interface, some also refused on another port: spilled
    /// a row at a time, the runs merge level by level (16 runs of a level make one of
    /// the next) into the table built in memory.
    #[test]
    fn rows_spilled_one_by_one_merge_level_by_level_into_the_same_table() {
        let mut text = String::from(V5);
        for n in 0..300u32 {
            let client = format!("198.51.{}.{}", n / 200, n % 200);
            text.push_str(&format!(
                "\n5 eni-c {client} 10.0.1.5 {} 443 6 3 180 100 110 ACCEPT OK 3 ingress",
                40_000 + n
            ));
            if n % 7 == 0 {
                text.push_str(&format!(
                    "\n5 eni-c {client} 10.0.1.5 {} 22 6 1 60 120 120 ACCEPT OK 2 ingress",
                    50_000 + n
                ));
            }
        }
        let table = observe_text(&text).finish(&two_interfaces("eni-c", "eni-s"));
        assert_eq!(table.rows.len(), 300);
        assert_eq!(table.attempts.len(), 43);
        assert!(
            table
                .rows
                .iter()
                .all(|r| r.port == 443 && r.side == Side::Server)
        );
    }

    /// A SYN answered by RST (nothing listens), a SYN never answered and a one-way tunnel:
    /// the attempts are listed apart from the rows, the tunnel is the sender's need.
    #[test]
    fn attempts_that_never_opened_are_not_rows_and_one_way_flows_are_the_senders() {
        let obs = observe_text(&format!(
            "{V5}\n5 eni-c 10.0.1.5 10.0.2.9 41000 9200 6 1 60 100 101 ACCEPT OK 2 egress\n\
             5 eni-c 10.0.2.9 10.0.1.5 9200 41000 6 1 40 100 101 ACCEPT OK 4 ingress\n\
             5 eni-s 10.0.1.5 10.0.2.9 41000 9200 6 1 60 100 101 ACCEPT OK 2 ingress\n\
             5 eni-s 10.0.2.9 10.0.1.5 9200 41000 6 1 40 100 101 ACCEPT OK 4 egress\n\
             5 eni-c 10.0.1.5 10.0.2.9 41001 22 6 3 180 100 105 ACCEPT OK 2 egress\n\
             5 eni-c 10.0.1.5 10.0.2.9 41002 22 6 3 180 200 205 ACCEPT OK 2 egress\n\
             5 eni-c 10.0.1.5 10.0.2.9 0 0 47 5 500 100 160 ACCEPT OK 0 egress\n\
             5 eni-s 10.0.1.5 10.0.2.9 0 0 47 5 500 100 160 ACCEPT OK 0 ingress\n\
             5 eni-c 10.0.1.5 10.0.2.9 41003 8443 6 3 180 300 310 ACCEPT OK 2 egress\n\
             5 eni-c 10.0.1.5 10.0.2.9 41004 8443 6 3 180 300 310 ACCEPT OK 3 egress\n\
             5 eni-c 10.0.2.9 10.0.1.5 8443 41004 6 3 180 300 310 ACCEPT OK 19 ingress\n"
        ));
        let table = obs.finish(&two_interfaces("eni-c", "eni-s"));
        let rows: Vec<(&str, Side, u8, u16, Basis)> = table
            .rows
            .iter()
            .map(|r| (r.interface_id.as_str(), r.side, r.protocol, r.port, r.basis))
            .collect();
        // The tunnel, one way, is the sender's; 8443 opened once, so its failed SYN
        // beside is no attempt of its own.
        assert_eq!(
            rows,
            [
                ("eni-c", Side::Client, 6, 8443, Basis::Flags),
                ("eni-c", Side::Client, 47, 0, Basis::OneWay),
                ("eni-s", Side::Server, 47, 0, Basis::OneWay),
            ]
        );
        let attempts: Vec<(&str, Side, u16, Outcome, u64)> = table
            .attempts
            .iter()
            .map(|a| {
                (
                    a.row.interface_id.as_str(),
                    a.row.side,
                    a.row.port,
                    a.outcome,
                    a.row.flows,
                )
            })
            .collect();
        assert_eq!(
            attempts,
            [
                ("eni-c", Side::Client, 22, Outcome::Unanswered, 2),
                ("eni-c", Side::Client, 9200, Outcome::Refused, 2),
                ("eni-s", Side::Server, 9200, Outcome::Refused, 2),
            ]
        );
    }

    /// A peer in a peered VPC (its address in exactly one other VPC of the inventory) is
    /// that VPC's interface, so a rule can name its group; one whose address two other
    /// VPCs reuse stays an address.
    #[test]
    fn a_peered_vpcs_interface_is_a_peer_by_id() {
        let mut inventory = Inventory::default();
        inventory
            .add_json(
                "enis.json",
                r#"{"NetworkInterfaces": [
                    {"NetworkInterfaceId": "eni-c", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.5", "Groups": [{"GroupId": "sg-1"}]},
                    {"NetworkInterfaceId": "eni-p", "VpcId": "vpc-2", "PrivateIpAddress": "10.1.0.7", "Groups": [{"GroupId": "sg-2"}]},
                    {"NetworkInterfaceId": "eni-x", "VpcId": "vpc-3", "PrivateIpAddress": "10.2.0.9", "Groups": [{"GroupId": "sg-3"}]},
                    {"NetworkInterfaceId": "eni-y", "VpcId": "vpc-4", "PrivateIpAddress": "10.2.0.9", "Groups": [{"GroupId": "sg-4"}]}
                ]}"#,
            )
            .unwrap();
        let table = observe_text(&format!(
            "{V5}\n5 eni-c 10.0.1.5 10.1.0.7 41000 5432 6 3 180 100 110 ACCEPT OK 3 egress\n\
             5 eni-c 10.0.1.5 10.2.0.9 41001 5432 6 3 180 100 110 ACCEPT OK 3 egress\n"
        ))
        .finish(&inventory);
        let peers: Vec<String> = table.rows.iter().map(|r| r.peer.to_string()).collect();
        assert_eq!(peers, ["eni-p", "10.2.0.9/32"]);
    }

    /// Pings both ends logged in the same second can't say who sent first; the monitor
    /// that pings three hosts, each answering only it, is the client.
    #[test]
    fn icmp_ties_are_settled_by_fan_out() {
        let mut inventory = Inventory::default();
        let eni = |id: &str, ip: &str| {
            format!(
                r#"{{"NetworkInterfaceId": "{id}", "VpcId": "vpc-1", "PrivateIpAddress": "{ip}", "Groups": [{{"GroupId": "sg-1"}}]}}"#
            )
        };
        let json = format!(
            r#"{{"NetworkInterfaces": [{}, {}, {}, {}]}}"#,
            eni("eni-m", "10.0.1.5"),
            eni("eni-a", "10.0.2.1"),
            eni("eni-b", "10.0.2.2"),
            eni("eni-c", "10.0.2.3")
        );
        inventory.add_json("enis.json", &json).unwrap();
        let mut text = String::from(V5);
        text.push('\n');
        for (host, ip) in [
            ("eni-a", "10.0.2.1"),
            ("eni-b", "10.0.2.2"),
            ("eni-c", "10.0.2.3"),
        ] {
            for (eni, dir_out, dir_in) in
                [("eni-m", "egress", "ingress"), (host, "ingress", "egress")]
            {
                text.push_str(&format!(
                    "5 {eni} 10.0.1.5 {ip} 0 0 1 4 336 100 140 ACCEPT OK 0 {dir_out}\n\
                     5 {eni} {ip} 10.0.1.5 0 0 1 4 336 100 140 ACCEPT OK 0 {dir_in}\n"
                ));
            }
        }
        let table = observe_text(&text).finish(&inventory);
        assert!(table.ambiguous.is_empty(), "{:?}", table.ambiguous);
        let rows: Vec<(&str, Side, Basis)> = table
            .rows
            .iter()
            .map(|r| (r.interface_id.as_str(), r.side, r.basis))
            .collect();
        assert_eq!(
            rows,
            [
                ("eni-a", Side::Server, Basis::Ports),
                ("eni-b", Side::Server, Basis::Ports),
                ("eni-c", Side::Server, Basis::Ports),
                ("eni-m", Side::Client, Basis::Ports),
                ("eni-m", Side::Client, Basis::Ports),
                ("eni-m", Side::Client, Basis::Ports),
            ]
        );
    }

    #[test]
    fn the_other_ends_stronger_evidence_decides() {
        // Both ports registered and seen once: the server's end alone (its window began
        // mid-connection, flags 0) can't tell, and would take the lower port, 28000.
        // The client's end saw the SYN.
        let obs = observe_text(&format!(
            "{V5}\n5 eni-c 10.0.1.5 10.0.2.9 28000 30000 6 3 180 100 110 ACCEPT OK 2 egress\n\
             5 eni-s 10.0.1.5 10.0.2.9 28000 30000 6 9 900 160 170 ACCEPT OK 0 ingress\n"
        ));
        let table = obs.finish(&two_interfaces("eni-c", "eni-s"));
        let rows: Vec<(&str, Side, u16, &str, Basis)> = table
            .rows
            .iter()
            .map(|r| {
                (
                    r.interface_id.as_str(),
                    r.side,
                    r.port,
                    r.peer.interface().unwrap(),
                    r.basis,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("eni-c", Side::Client, 30000, "eni-s", Basis::Flags),
                ("eni-s", Side::Server, 30000, "eni-c", Basis::Flags),
            ]
        );
        assert!(table.ambiguous.is_empty());

        // Alone, the server's end is ambiguous (and listed as such).
        let alone = observe_text(&format!(
            "{V5}\n5 eni-s 10.0.1.5 10.0.2.9 28000 30000 6 9 900 160 170 ACCEPT OK 0 ingress\n"
        ))
        .finish(&two_interfaces("eni-c", "eni-s"));
        assert_eq!(alone.rows[0].basis, Basis::Ambiguous);
        assert_eq!(alone.ambiguous.len(), 1);
    }

    #[test]
    fn aws_service_names_from_the_logs_and_rejects_and_gaps() {
        let obs = observe_text(
            "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags flow-direction pkt-src-aws-service pkt-dst-aws-service\n\
             5 eni-c 10.0.1.5 52.216.0.9 41000 443 6 3 180 100 110 ACCEPT OK 3 egress - S3\n\
             5 eni-c 203.0.113.7 10.0.1.5 51000 22 6 1 40 100 110 REJECT OK 2 ingress - -\n\
             5 eni-c 203.0.113.8 10.0.1.5 51001 22 6 2 80 120 130 REJECT OK 2 ingress - -\n\
             5 eni-c - - - - - - - 200 260 - NODATA - - - -\n",
        );
        let table = obs.finish(&two_interfaces("eni-c", "eni-s"));
        assert_eq!(table.rows.len(), 1);
        let r = &table.rows[0];
        assert_eq!(
            (r.side, r.port, &r.peer),
            (Side::Client, 443, &Peer::AwsService("S3".into()))
        );
        assert_eq!(table.rejected.len(), 1);
        let RejectedTraffic {
            interface_id,
            protocol,
            port,
            totals: rej,
        } = &table.rejected[0];
        assert_eq!((interface_id.as_str(), *protocol, *port), ("eni-c", 6, 22));
        assert_eq!(
            (rej.records, rej.packets, rej.first_seen, rej.last_seen),
            (2, 3, 100, 130)
        );
        assert_eq!(
            table.gaps,
            [CoverageGaps {
                interface_id: "eni-c".to_string(),
                gaps: crate::Gaps {
                    nodata: 1,
                    skipdata: 0
                }
            }]
        );
        assert_eq!(
            table.rejected_columns().to_csv(),
            "interface_id,protocol,port,records,packets,first_seen,last_seen\neni-c,6,22,2,3,100,130\n"
        );
    }
}
