//! Which end of a connection is the client and which port is the service: the decisions
//! least privilege depends on (a wrong one breaks traffic or opens ephemeral ranges).
//!
//! Each accepted record becomes *evidence* about its connection: the connection's two
//! endpoints in a canonical order (so its request and response records meet), what the TCP
//! flags say about who opened it, which end is the logging interface (`flow-direction`),
//! and who spoke first. Evidence merges by addition and OR, in any order, so partial
//! results combine exactly. Decisions are made once all evidence is in, in this order:
//!
//! 1. **Flags**: a SYN without ACK comes from the client, a SYN-ACK from the server.
//! 2. **Ports**: a port that stays fixed while the peer's port varies is the service
//!    (distinct peer ports, counted over all of an interface's connections).
//! 3. **Port class**: a well-known port (< 1024) over a registered one over one in the
//!    operating systems' ephemeral ranges (>= 32768: Linux 32768-60999, Windows and IANA
//!    49152-65535).
//! 4. **First packet** (ICMP, which has no ports): the end whose first record is earlier
//!    opened it.
//!
//! What none of these settles is *ambiguous*: decided deterministically (the lower port is
//! the service), and counted and listed so a person can check it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use flowfence_flowlog::{Action, FlowDirection, LogStatus, Record};

/// An IP address packed for hashing and ordering (millions of connection keys are hashed,
/// compared and sorted; `IpAddr`'s enum made that a fifth of an aggregation): 128 bits,
/// most significant word first. IPv4 is held as its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`) and reads back as IPv4, as std's `Ipv6Addr::to_canonical` does.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Addr([u32; 4]);

impl Addr {
    /// The address as std spells it.
    pub fn ip(self) -> IpAddr {
        let [a, b, c, d] = self.0;
        if (a, b, c) == (0, 0, 0xffff) {
            return IpAddr::V4(Ipv4Addr::from(d));
        }
        let n = u128::from(a) << 96 | u128::from(b) << 64 | u128::from(c) << 32 | u128::from(d);
        IpAddr::V6(Ipv6Addr::from(n))
    }

    /// The IPv4 address, when this is one. Every IPv4 address has the same first 96
    /// bits here, so among them this integer's order is the address order.
    #[inline]
    pub(crate) fn v4(self) -> Option<u32> {
        let [a, b, c, d] = self.0;
        ((a, b, c) == (0, 0, 0xffff)).then_some(d)
    }

    /// The address as IPv6, IPv4 as its IPv4-mapped form: how partial results store it.
    pub(crate) fn to_ipv6(self) -> Ipv6Addr {
        Ipv6Addr::from(self.bits())
    }

    /// The address as one integer: its order is the words' order, compared in two
    /// steps instead of four.
    #[inline]
    fn bits(self) -> u128 {
        let (hi, lo) = self.words();
        u128::from(hi) << 64 | u128::from(lo)
    }

    /// The high and low 64 bits.
    #[inline]
    fn words(self) -> (u64, u64) {
        let [a, b, c, d] = self.0;
        (
            u64::from(a) << 32 | u64::from(b),
            u64::from(c) << 32 | u64::from(d),
        )
    }
}

impl From<IpAddr> for Addr {
    #[inline]
    fn from(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr([0, 0, 0xffff, u32::from(v4)]),
            IpAddr::V6(v6) => {
                let n = u128::from(v6);
                Addr([
                    (n >> 96) as u32,
                    (n >> 64) as u32,
                    (n >> 32) as u32,
                    n as u32,
                ])
            }
        }
    }
}

impl Ord for Addr {
    #[inline]
    fn cmp(&self, other: &Addr) -> std::cmp::Ordering {
        self.bits().cmp(&other.bits())
    }
}

impl PartialOrd for Addr {
    #[inline]
    fn partial_cmp(&self, other: &Addr) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for Addr {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (hi, lo) = self.words();
        state.write_u64(hi);
        state.write_u64(lo);
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ip().fmt(f)
    }
}

impl std::fmt::Debug for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.ip().fmt(f)
    }
}

/// One end of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// Address.
    pub addr: Addr,
    /// Port (0 for ICMP).
    pub port: u16,
}

/// A connection as one interface logged it: its protocol and two endpoints, `a < b`.
/// Ordered by protocol, then `a`, then `b` (each by address, then port): with [`Addr`]
/// comparing as one integer, the derived order compares integers throughout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnectionKey {
    /// IANA protocol number.
    pub protocol: u8,
    /// The lower endpoint.
    pub a: Endpoint,
    /// The higher endpoint.
    pub b: Endpoint,
}

impl std::hash::Hash for ConnectionKey {
    /// Five words, not seven fields: this hash runs once per accepted record.
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (a_hi, a_lo) = self.a.addr.words();
        let (b_hi, b_lo) = self.b.addr.words();
        state.write_u64(a_hi);
        state.write_u64(a_lo);
        state.write_u64(b_hi);
        state.write_u64(b_lo);
        state.write_u64(
            u64::from(self.protocol) << 32 | u64::from(self.a.port) << 16 | u64::from(self.b.port),
        );
    }
}

/// `a` opened the connection (a SYN from `a`, or a SYN-ACK from `b`).
pub const A_CLIENT: u16 = 1;
/// `b` opened the connection.
pub const B_CLIENT: u16 = 2;
/// `a` is the logging interface's end (from `flow-direction`).
pub const A_LOCAL: u16 = 4;
/// `b` is the logging interface's end.
pub const B_LOCAL: u16 = 8;
/// `a` sent a record that started at `first_seen`, the earliest start.
pub const A_FIRST: u16 = 16;
/// `b` sent a record that started at `first_seen`.
pub const B_FIRST: u16 = 32;
/// The bits that say who sent first: unlike the others, they don't merge by OR.
const FIRST: u16 = A_FIRST | B_FIRST;
/// `a` sent packets (some record has `a` as its source).
pub const A_SENT: u16 = 64;
/// `b` sent packets.
pub const B_SENT: u16 = 128;
/// A TCP record showed the connection past its handshake: a SYN-ACK, a FIN, or a window
/// with none of SYN, RST and FIN (data in the middle of a connection).
pub const TCP_OPENED: u16 = 256;
/// A TCP record showed only a SYN or an RST: an attempt, until something shows it opened.
pub const TCP_TRIED: u16 = 512;

/// How a TCP connection went, from its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// It opened (or its records say nothing of flags: v2 logs, other protocols).
    Opened,
    /// SYN answered by RST only: nothing listens on the port.
    Refused,
    /// SYN never answered.
    Unanswered,
}

impl Outcome {
    /// What the connection's evidence says.
    pub fn of(protocol: u8, e: &Evidence) -> Outcome {
        if protocol != 6 || e.bits & (TCP_TRIED | TCP_OPENED) != TCP_TRIED {
            Outcome::Opened
        } else if e.bits & (A_SENT | B_SENT) == A_SENT | B_SENT {
            Outcome::Refused
        } else {
            Outcome::Unanswered
        }
    }

    /// The name in summaries and findings.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Opened => "opened",
            Outcome::Refused => "refused",
            Outcome::Unanswered => "unanswered",
        }
    }
}

/// What the records of one connection said. Merges by addition, min/max and OR.
///
/// Who sent first is two bits beside `first_seen` ([`A_FIRST`], [`B_FIRST`]), not each
/// end's earliest start: every record is sent by one of the ends, so the earlier of
/// those two starts is `first_seen` anyway, and an ICMP decision only asks which end it
/// was (or both, a tie). That keeps a store entry at 96 bytes instead of 112.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Flow records.
    pub records: u64,
    /// Packets, both directions.
    pub packets: u64,
    /// Bytes, both directions.
    pub bytes: u64,
    /// Earliest `start`.
    pub first_seen: u64,
    /// Latest `end`.
    pub last_seen: u64,
    /// [`A_CLIENT`], [`B_CLIENT`], [`A_LOCAL`], [`B_LOCAL`], [`A_FIRST`], [`B_FIRST`],
    /// [`A_SENT`], [`B_SENT`], [`TCP_OPENED`], [`TCP_TRIED`].
    pub bits: u16,
}

impl Evidence {
    /// Evidence of no records: what merging anything into leaves that thing.
    pub const NONE: Evidence = Evidence {
        records: 0,
        packets: 0,
        bytes: 0,
        first_seen: u64::MAX,
        last_seen: 0,
        bits: 0,
    };

    /// Adds another record's (or partial result's) evidence.
    pub fn merge(&mut self, other: &Evidence) {
        self.records += other.records;
        self.packets += other.packets;
        self.bytes += other.bytes;
        // Who sent first: the side whose `first_seen` is earlier says, both on a tie.
        let first = match self.first_seen.cmp(&other.first_seen) {
            std::cmp::Ordering::Less => self.bits,
            std::cmp::Ordering::Greater => other.bits,
            std::cmp::Ordering::Equal => self.bits | other.bits,
        } & FIRST;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.bits = (self.bits | other.bits) & !FIRST | first;
    }
}

/// The evidence of one accepted record: `None` for records that say nothing about a
/// connection (REJECT, NODATA/SKIPDATA, missing addresses or ports).
///
/// The addresses used are the packet addresses (`pkt-srcaddr`/`pkt-dstaddr`) when the
/// record has them, since they name the real ends where the interface addresses don't
/// (NAT gateways, secondary addresses of EKS pods).
pub fn observe(record: &Record<'_>) -> Option<(ConnectionKey, Evidence)> {
    if record.action() != Some(Action::Accept)
        || record.log_status().is_some_and(|s| s != LogStatus::Ok)
    {
        return None;
    }
    let protocol = record.protocol()?;
    let src = Endpoint {
        addr: Addr::from(record.pkt_srcaddr().or(record.srcaddr())?),
        port: record.srcport().unwrap_or(0),
    };
    let dst = Endpoint {
        addr: Addr::from(record.pkt_dstaddr().or(record.dstaddr())?),
        port: record.dstport().unwrap_or(0),
    };
    let src_is_a = src <= dst;
    let (a, b) = if src_is_a { (src, dst) } else { (dst, src) };
    let start = record.start().unwrap_or(0);
    let mut bits = if src_is_a {
        A_FIRST | A_SENT
    } else {
        B_FIRST | B_SENT
    };
    // SYN (2) without ACK (16) is the client's; SYN-ACK (18) the server's.
    if let (6, Some(flags)) = (protocol, record.tcp_flags()) {
        // FIN (1), SYN (2), RST (4), SYN-ACK (18): a SYN-ACK, a FIN or a window of data
        // means the connection opened; a SYN or an RST alone, an attempt so far.
        bits |= if flags & 18 == 18 || flags & 1 != 0 || flags & 6 == 0 {
            TCP_OPENED
        } else {
            TCP_TRIED
        };
        let src_opened = match (flags & 2 != 0, flags & 16 != 0) {
            (true, false) => Some(true),
            (true, true) => Some(false),
            _ => None,
        };
        if let Some(src_opened) = src_opened {
            bits |= if src_opened == src_is_a {
                A_CLIENT
            } else {
                B_CLIENT
            };
        }
    }
    if let Some(direction) = record.flow_direction() {
        // Egress: the interface sent it (its end is the source); ingress: it received it.
        let src_local = direction == FlowDirection::Egress;
        bits |= if src_local == src_is_a {
            A_LOCAL
        } else {
            B_LOCAL
        };
    }
    let evidence = Evidence {
        records: 1,
        packets: record.packets().unwrap_or(0),
        bytes: record.bytes().unwrap_or(0),
        first_seen: start,
        last_seen: record.end().unwrap_or(start),
        bits,
    };
    Some((ConnectionKey { protocol, a, b }, evidence))
}

/// How a decision was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Basis {
    /// TCP flags.
    Flags,
    /// Fan-out across the interface's connections: distinct peer ports met by a port
    /// (TCP, UDP), or distinct ICMP peers of each end (the one that pings many hosts is
    /// the client).
    Ports,
    /// Well-known, registered and ephemeral port ranges.
    PortClass,
    /// Only one end ever sent, where the ports settle nothing (a one-way protocol such as
    /// GRE or IPv6-in-IPv4, or a stream between two fixed ports): the sender is the client.
    OneWay,
    /// Which end spoke first (ICMP).
    FirstPacket,
    /// Nothing settled it; decided by the lower port, and listed.
    Ambiguous,
}

impl Basis {
    /// Every basis, strongest first.
    pub const ALL: [Basis; 6] = [
        Basis::Flags,
        Basis::Ports,
        Basis::PortClass,
        Basis::OneWay,
        Basis::FirstPacket,
        Basis::Ambiguous,
    ];

    /// The name written in the connections table.
    pub fn name(self) -> &'static str {
        match self {
            Basis::Flags => "flags",
            Basis::OneWay => "one-way",
            Basis::Ports => "ports",
            Basis::PortClass => "port-class",
            Basis::FirstPacket => "first-packet",
            Basis::Ambiguous => "ambiguous",
        }
    }
}

/// The decision for one connection, from the logging interface's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The interface accepted the connection (else it opened it).
    pub local_is_server: bool,
    /// The service port (0 for ICMP).
    pub service_port: u16,
    /// How it was decided.
    pub basis: Basis,
}

/// 0 well-known, 1 registered, 2 in an ephemeral range.
fn port_class(port: u16) -> u8 {
    match port {
        0..1024 => 0,
        1024..32768 => 1,
        _ => 2,
    }
}

/// Decides a connection. `local_is_a` says which endpoint is the interface's;
/// `local_fan` is how many distinct peer ports the interface's local port met (same
/// protocol, over all its connections), `remote_fan` how many distinct local ports met
/// the remote port.
pub fn decide(
    key: &ConnectionKey,
    evidence: &Evidence,
    local_is_a: bool,
    local_fan: usize,
    remote_fan: usize,
) -> Decision {
    decide_with(key, evidence, local_is_a, || (local_fan, remote_fan))
}

/// [`decide`] with the fan-outs (local, remote) looked up only when the ports step is
/// reached: most TCP connections are settled by their flags first, and the lookups were
/// two binary searches per connection.
pub(crate) fn decide_with(
    key: &ConnectionKey,
    evidence: &Evidence,
    local_is_a: bool,
    fans: impl FnOnce() -> (usize, usize),
) -> Decision {
    let (local, remote) = if local_is_a {
        (key.a, key.b)
    } else {
        (key.b, key.a)
    };
    let server = |local_is_server: bool, basis| Decision {
        local_is_server,
        service_port: if local_is_server {
            local.port
        } else {
            remote.port
        },
        basis,
    };
    let client_bits = evidence.bits & (A_CLIENT | B_CLIENT);
    if client_bits == A_CLIENT || client_bits == B_CLIENT {
        let local_is_client = (client_bits == A_CLIENT) == local_is_a;
        // A lone record's flags (a stray SYN beside an RST) never override the
        // interface's port evidence: a port that met many peer ports is the service.
        if evidence.records == 1 {
            let (local_fan, remote_fan) = fans();
            if local_fan != remote_fan && (local_fan > remote_fan) == local_is_client {
                return server(local_fan > remote_fan, Basis::Ports);
            }
        }
        return server(!local_is_client, Basis::Flags);
    }

    if key.protocol == 1 || key.protocol == 58 {
        let (local_first, remote_first) = if local_is_a {
            (A_FIRST, B_FIRST)
        } else {
            (B_FIRST, A_FIRST)
        };
        // One end alone sent first: it is the client. Both at once: nothing settles it.
        let first = evidence.bits & FIRST;
        return if first == local_first {
            server(false, Basis::FirstPacket)
        } else if first == remote_first {
            server(true, Basis::FirstPacket)
        } else {
            server(true, Basis::Ambiguous)
        };
    }
    let (local_fan, remote_fan) = fans();
    if local_fan != remote_fan {
        return server(local_fan > remote_fan, Basis::Ports);
    }
    match port_class(local.port).cmp(&port_class(remote.port)) {
        std::cmp::Ordering::Less => server(true, Basis::PortClass),
        std::cmp::Ordering::Greater => server(false, Basis::PortClass),
        std::cmp::Ordering::Equal => {
            // Never answered: the sender is the client. Only here, where the ports say
            // nothing (a lone record's silence never overrides the ports' evidence), and
            // not for TCP, whose windows of data often go one way.
            let sent = evidence.bits & (A_SENT | B_SENT);
            if key.protocol != 6 && (sent == A_SENT || sent == B_SENT) {
                let local_is_client = (sent == A_SENT) == local_is_a;
                return server(!local_is_client, Basis::OneWay);
            }
            server(local.port <= remote.port, Basis::Ambiguous)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use flowfence_flowlog::{Layout, Unit, decode_block};

    const V5: &str = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags flow-direction pkt-srcaddr pkt-dstaddr";
    const V2: &str = "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

    /// The evidence of each line of `text` (a header line first), merged per connection.
    fn evidence(text: &str) -> Vec<(ConnectionKey, Evidence)> {
        let mut out: Vec<(ConnectionKey, Evidence)> = Vec::new();
        decode_block(
            text.as_bytes(),
            &Arc::new(Layout::default_v2()),
            Unit::Line,
            &mut |r: &Record<'_>| {
                if let Some((k, e)) = observe(r) {
                    match out.iter_mut().find(|(k2, _)| *k2 == k) {
                        Some((_, acc)) => acc.merge(&e),
                        None => out.push((k, e)),
                    }
                }
            },
        );
        out
    }

    /// Keys compare as their fields in order, addresses word by word (the order partial
    /// results and the ambiguous list are written in).
    #[test]
    fn keys_order_by_their_fields() {
        let addrs = [
            "10.0.0.1",
            "10.0.0.2",
            "9.255.255.255",
            "::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "fe80::1",
            "0.0.0.0",
        ];
        let mut keys = Vec::new();
        for protocol in [6, 17] {
            for a in addrs {
                for b in addrs {
                    for (pa, pb) in [(80, 443), (443, 80), (0, 0)] {
                        let end = |addr: &str, port| Endpoint {
                            addr: Addr::from(addr.parse::<IpAddr>().unwrap()),
                            port,
                        };
                        keys.push(ConnectionKey {
                            protocol,
                            a: end(a, pa),
                            b: end(b, pb),
                        });
                    }
                }
            }
        }
        let fields = |k: &ConnectionKey| (k.protocol, k.a.addr.0, k.a.port, k.b.addr.0, k.b.port);
        for x in &keys {
            for y in &keys {
                assert_eq!(x.cmp(y), fields(x).cmp(&fields(y)), "{x:?} {y:?}");
            }
        }
    }

    fn local_is_a(key: &ConnectionKey, local: &str) -> bool {
        key.a.addr == Addr::from(local.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn syn_and_syn_ack_decide_from_either_end() {
        // The client's end: its SYN out, the server's SYN-ACK in.
        let client = evidence(&format!(
            "{V5}\n5 eni-c 10.0.1.5 10.0.2.9 41000 5432 6 3 180 100 110 ACCEPT OK 2 egress - -\n\
             5 eni-c 10.0.2.9 10.0.1.5 5432 41000 6 3 180 100 110 ACCEPT OK 18 ingress - -\n"
        ));
        assert_eq!(
            client.len(),
            1,
            "request and response meet in one connection"
        );
        let (k, e) = &client[0];
        assert_eq!(e.records, 2);
        let d = decide(k, e, local_is_a(k, "10.0.1.5"), 1, 1);
        assert_eq!(
            d,
            Decision {
                local_is_server: false,
                service_port: 5432,
                basis: Basis::Flags
            }
        );
        // The server's end of the same connection.
        let server = evidence(&format!(
            "{V5}\n5 eni-s 10.0.1.5 10.0.2.9 41000 5432 6 3 180 100 110 ACCEPT OK 3 ingress - -\n"
        ));
        let (k, e) = &server[0];
        let d = decide(k, e, local_is_a(k, "10.0.2.9"), 1, 1);
        assert_eq!(
            d,
            Decision {
                local_is_server: true,
                service_port: 5432,
                basis: Basis::Flags
            }
        );
    }

    #[test]
    fn middle_windows_without_flags_join_the_decided_connection() {
        // A long connection: SYN in the first window, flags 0 in the middle ones.
        let e = evidence(&format!(
            "{V5}\n5 eni-c 10.0.1.5 10.0.2.9 41000 5432 6 3 180 100 110 ACCEPT OK 2 egress - -\n\
             5 eni-c 10.0.1.5 10.0.2.9 41000 5432 6 9 900 160 170 ACCEPT OK 0 egress - -\n\
             5 eni-c 10.0.2.9 10.0.1.5 5432 41000 6 9 900 160 170 ACCEPT OK 0 ingress - -\n"
        ));
        assert_eq!(e.len(), 1);
        let (k, ev) = &e[0];
        assert_eq!((ev.records, ev.first_seen, ev.last_seen), (3, 100, 170));
        assert_eq!(
            decide(k, ev, local_is_a(k, "10.0.1.5"), 1, 1).basis,
            Basis::Flags
        );
        // Seen alone (the log window began mid-connection), the ports decide.
        let middle = evidence(&format!(
            "{V5}\n5 eni-c 10.0.1.5 10.0.2.9 41000 5432 6 9 900 160 170 ACCEPT OK 0 egress - -\n"
        ));
        let (k, ev) = &middle[0];
        let d = decide(k, ev, local_is_a(k, "10.0.1.5"), 1, 1);
        assert_eq!(
            d,
            Decision {
                local_is_server: false,
                service_port: 5432,
                basis: Basis::PortClass
            }
        );
    }

    #[test]
    fn v2_without_flags_uses_port_fan_out() {
        // A server on 8443 and a client port below the ephemeral ranges: both registered,
        // so port classes can't tell them apart; the fan-out does.
        let e = evidence(&format!(
            "{V2}\n2 eni-s 10.0.1.5 10.0.2.9 28000 8443 6 3 180 100 110 ACCEPT OK\n\
             2 eni-s 10.0.2.9 10.0.1.5 8443 28000 6 3 180 100 110 ACCEPT OK\n"
        ));
        let (k, ev) = &e[0];
        assert_eq!(
            ev.bits & (A_CLIENT | B_CLIENT | A_LOCAL | B_LOCAL),
            0,
            "v2 has no flags nor direction"
        );
        // 8443 met three client ports; port 28000 met one local port.
        let d = decide(k, ev, local_is_a(k, "10.0.2.9"), 3, 1);
        assert_eq!(
            d,
            Decision {
                local_is_server: true,
                service_port: 8443,
                basis: Basis::Ports
            }
        );
        // From the client's side: its port 28000 met one remote port, the remote port
        // 8443 was met by many local ports.
        let d = decide(k, ev, local_is_a(k, "10.0.1.5"), 1, 4);
        assert_eq!(
            d,
            Decision {
                local_is_server: false,
                service_port: 8443,
                basis: Basis::Ports
            }
        );
    }

    /// A lone record whose flags say the node opened a connection from its NodePort to the
    /// load balancer's ephemeral port loses to the port evidence: the NodePort met many
    /// peer ports, so the node serves it. Two records (a real exchange) keep the flags.
    #[test]
    fn a_lone_record_never_overrides_port_evidence() {
        let e = evidence(&format!(
            "{V5}\n5 eni-n 10.0.1.5 10.0.2.9 30080 41234 6 1 40 100 100 ACCEPT OK 6 egress - -\n"
        ));
        let (k, ev) = &e[0];
        let local_a = local_is_a(k, "10.0.1.5");
        assert_eq!(
            decide(k, ev, local_a, 12, 1),
            Decision {
                local_is_server: true,
                service_port: 30080,
                basis: Basis::Ports
            }
        );
        // Without port evidence, the flags stand.
        assert_eq!(decide(k, ev, local_a, 1, 1).basis, Basis::Flags);
        let mut two = *ev;
        two.merge(ev);
        assert_eq!(decide(k, &two, local_a, 12, 1).basis, Basis::Flags);
    }

    #[test]
    fn udp_and_port_classes() {
        let e = evidence(&format!(
            "{V2}\n2 eni-a 10.0.1.5 10.0.3.3 45123 8125 17 1 60 100 100 ACCEPT OK\n"
        ));
        let (k, ev) = &e[0];
        let d = decide(k, ev, local_is_a(k, "10.0.1.5"), 1, 1);
        assert_eq!(
            d,
            Decision {
                local_is_server: false,
                service_port: 8125,
                basis: Basis::PortClass
            }
        );
        // Both ends on the same well-known port (NTP-style), one way only: the sender is
        // the client.
        let e = evidence(&format!(
            "{V2}\n2 eni-a 10.0.1.5 10.0.3.3 123 123 17 1 60 100 100 ACCEPT OK\n"
        ));
        let (k, ev) = &e[0];
        let d = decide(k, ev, local_is_a(k, "10.0.1.5"), 1, 1);
        assert_eq!(
            (d.local_is_server, d.service_port, d.basis),
            (false, 123, Basis::OneWay)
        );
        // Answered: nothing settles it; decided, and listed as ambiguous.
        let e = evidence(&format!(
            "{V2}\n2 eni-a 10.0.1.5 10.0.3.3 123 123 17 1 60 100 100 ACCEPT OK\n\
             2 eni-a 10.0.3.3 10.0.1.5 123 123 17 1 60 100 100 ACCEPT OK\n"
        ));
        let (k, ev) = &e[0];
        let d = decide(k, ev, local_is_a(k, "10.0.1.5"), 1, 1);
        assert_eq!((d.service_port, d.basis), (123, Basis::Ambiguous));
    }

    #[test]
    fn icmp_has_port_zero_and_the_first_sender_is_the_client() {
        let e = evidence(&format!(
            "{V2}\n2 eni-p 10.0.1.5 10.0.2.9 0 0 1 4 336 100 140 ACCEPT OK\n\
             2 eni-p 10.0.2.9 10.0.1.5 0 0 1 4 336 101 140 ACCEPT OK\n"
        ));
        assert_eq!(e.len(), 1);
        let (k, ev) = &e[0];
        let pinger = decide(k, ev, local_is_a(k, "10.0.1.5"), 1, 1);
        assert_eq!(
            pinger,
            Decision {
                local_is_server: false,
                service_port: 0,
                basis: Basis::FirstPacket
            }
        );
        let pinged = decide(k, ev, local_is_a(k, "10.0.2.9"), 1, 1);
        assert_eq!(
            pinged,
            Decision {
                local_is_server: true,
                service_port: 0,
                basis: Basis::FirstPacket
            }
        );
        // Both ends' first records started in the same second: nothing settles it.
        let e = evidence(&format!(
            "{V2}\n2 eni-p 10.0.1.5 10.0.2.9 0 0 1 4 336 100 140 ACCEPT OK\n\
             2 eni-p 10.0.2.9 10.0.1.5 0 0 1 4 336 100 140 ACCEPT OK\n"
        ));
        let (k, ev) = &e[0];
        for local in ["10.0.1.5", "10.0.2.9"] {
            let d = decide(k, ev, local_is_a(k, local), 1, 1);
            assert_eq!((d.local_is_server, d.basis), (true, Basis::Ambiguous));
        }
    }

    #[test]
    fn packet_addresses_name_the_real_ends_through_a_nat_gateway() {
        // On the NAT gateway's interface: addressed to the gateway, packets to the internet.
        let e = evidence(&format!(
            "{V5}\n5 eni-nat 10.0.1.5 10.0.0.220 41000 443 6 3 180 100 110 ACCEPT OK 2 ingress 10.0.1.5 203.0.113.5\n"
        ));
        let (k, _) = &e[0];
        assert_eq!(k.b.addr.ip(), "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(k.b.port, 443);
    }

    #[test]
    fn ipv6_connections() {
        let e = evidence(&format!(
            "{V2}\n2 eni-6 2001:db8::1 2001:db8::2 51000 443 6 3 180 100 110 ACCEPT OK\n"
        ));
        let (k, ev) = &e[0];
        let d = decide(
            k,
            ev,
            k.a.addr.ip() == "2001:db8::2".parse::<IpAddr>().unwrap(),
            1,
            1,
        );
        assert_eq!(
            d,
            Decision {
                local_is_server: true,
                service_port: 443,
                basis: Basis::PortClass
            }
        );
    }

    #[test]
    fn rejected_and_nodata_records_are_not_connections() {
        let e = evidence(&format!(
            "{V2}\n2 eni-a 10.0.1.5 10.0.2.9 41000 22 6 1 44 100 100 REJECT OK\n\
             2 eni-a - - - - - - - 100 160 - NODATA\n"
        ));
        assert!(e.is_empty());
    }

    #[test]
    fn packed_addresses_read_back_and_order_numerically() {
        for text in [
            "10.0.1.5",
            "255.255.255.255",
            "0.0.0.0",
            "2001:db8::2",
            "::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(Addr::from(ip).ip(), ip);
            assert_eq!(Addr::from(ip).to_string(), text);
        }
        let addr = |t: &str| Addr::from(t.parse::<IpAddr>().unwrap());
        assert!(addr("10.0.0.9") < addr("10.0.0.10"));
        assert!(addr("9.255.255.255") < addr("10.0.0.0"));
        assert!(addr("2001:db8::1") < addr("2001:db8::2"));
        // An IPv4-mapped IPv6 address is the IPv4 address, as std's to_canonical has it.
        assert_eq!(addr("::ffff:10.0.0.1"), addr("10.0.0.1"));
    }

    #[test]
    fn merge_is_order_free() {
        let lines = evidence(&format!(
            "{V5}\n5 eni-c 10.0.1.5 10.0.2.9 41000 5432 6 3 180 100 110 ACCEPT OK 2 egress - -\n"
        ));
        let more = evidence(&format!(
            "{V5}\n5 eni-c 10.0.2.9 10.0.1.5 5432 41000 6 5 900 90 170 ACCEPT OK 0 ingress - -\n"
        ));
        let (mut x, mut y) = (lines[0].1, more[0].1);
        let x0 = x;
        x.merge(&more[0].1);
        y.merge(&x0);
        assert_eq!(x, y);
        assert_eq!(
            (x.records, x.packets, x.first_seen, x.last_seen),
            (2, 8, 90, 170)
        );
        // The earlier record's sender (b, 10.0.2.9) sent first; the other bits add up:
        // both sent, a SYN (tried) and a window of data (opened).
        assert_eq!(
            x.bits,
            B_FIRST | A_CLIENT | A_LOCAL | A_SENT | B_SENT | TCP_TRIED | TCP_OPENED
        );
    }

    /// Who sent first, merged in any order and grouping, agrees with each end's earliest
    /// start computed directly from the records.
    #[test]
    fn first_sender_merges_like_each_ends_earliest_start() {
        let record = |from_a: bool, start: u64| Evidence {
            records: 1,
            first_seen: start,
            last_seen: start,
            bits: if from_a { A_FIRST } else { B_FIRST },
            ..Evidence::NONE
        };
        let records: Vec<(bool, u64)> = (0..40u64)
            .map(|n| (n % 3 != 0, 100 + (n * 7919) % 13))
            .collect();
        for split in 0..records.len() {
            for order in [false, true] {
                let (left, right) = records.split_at(split);
                let fold = |part: &[(bool, u64)]| {
                    part.iter().fold(Evidence::NONE, |mut e, &(a, s)| {
                        e.merge(&record(a, s));
                        e
                    })
                };
                let (mut x, y) = if order {
                    (fold(right), fold(left))
                } else {
                    (fold(left), fold(right))
                };
                x.merge(&y);
                let earliest =
                    |from_a: bool| records.iter().filter(|r| r.0 == from_a).map(|r| r.1).min();
                let (a, b) = (earliest(true), earliest(false));
                let want = match (a, b) {
                    (Some(a), Some(b)) if a < b => A_FIRST,
                    (Some(a), Some(b)) if a > b => B_FIRST,
                    (Some(_), Some(_)) => A_FIRST | B_FIRST,
                    (Some(_), None) => A_FIRST,
                    (None, _) => B_FIRST,
                };
                assert_eq!(x.bits & FIRST, want, "split {split}");
                assert_eq!(Some(x.first_seen), records.iter().map(|r| r.1).min());
            }
        }
    }
}
