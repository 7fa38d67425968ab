//! The environment model: one VPC with a three-tier web application, most of it still in
//! the default security group, and the connections its roles really make (the truth).

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::rng::Rng;

/// The account every generated resource belongs to.
pub const ACCOUNT: &str = "123456789012";
/// The region.
pub const REGION: &str = "us-east-1";

/// What an interface is, as `describe-network-interfaces` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Interface {
    /// `eni-...`
    pub id: String,
    /// The role in the application (`web`, `db`, ...).
    pub role: &'static str,
    /// Primary private IPv4 address.
    pub ip: Ipv4Addr,
    /// `subnet-...`
    pub subnet: String,
    /// Availability zone id (`use1-az1`).
    pub az_id: &'static str,
    /// `i-...` for instances.
    pub instance: Option<String>,
    /// `interface`, `nat_gateway`, ...
    pub interface_type: &'static str,
    /// Set for interfaces AWS services own (RDS, ElastiCache, ELB, NAT gateway).
    pub requester: Option<&'static str>,
    /// The interface description AWS writes.
    pub description: String,
    /// Security group ids.
    pub groups: Vec<String>,
    /// Auto Scaling group, for instances launched by one.
    pub asg: Option<&'static str>,
    /// The public address associated with the interface (internet-facing load balancers).
    pub public_ip: Option<Ipv4Addr>,
    /// A delegated IPv4 prefix (/28) the interface's pods take their addresses from.
    pub pod_prefix: Option<Ipv4Addr>,
    /// When it exists, as fractions of the generated span: from the first, until
    /// before the second (an instance terminated and one launched to replace it).
    #[serde(skip)]
    pub lifetime: (f64, f64),
}

impl Interface {
    /// Whether it exists at `progress` (a fraction of the span).
    pub fn alive_at(&self, progress: f64) -> bool {
        self.lifetime.0 <= progress && progress < self.lifetime.1
    }
}

/// A security group.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// `sg-...`
    pub id: String,
    /// Name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Inbound rules.
    pub ingress: Vec<Rule>,
    /// Outbound rules.
    pub egress: Vec<Rule>,
}

/// One security group rule with one source.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp` or `-1`.
    pub protocol: &'static str,
    /// First port (absent for `-1`).
    pub from: Option<u16>,
    /// Last port.
    pub to: Option<u16>,
    /// The peer: a CIDR or a group id.
    pub peer: Peer,
}

/// A rule's peer.
#[derive(Clone, Debug, Serialize)]
pub enum Peer {
    /// An IPv4 CIDR.
    Cidr(String),
    /// A security group id.
    Group(String),
}

/// Who a connection's client or server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// Interfaces with this role.
    Role(&'static str),
    /// One interface of a role (the n-th): traffic only some members of a tier make.
    Member(&'static str, usize),
    /// A partner's API hosts: [`PARTNER_HOSTS`] addresses in two /24 networks.
    Partner,
    /// Addresses on the internet.
    Internet,
    /// The office network that reaches the bastion.
    Office,
    /// Amazon S3, through the gateway endpoint.
    S3,
    /// Pods of a role: addresses in its interfaces' delegated prefixes, rescheduled onto
    /// other addresses of the prefix as time goes on.
    Pod(&'static str),
}

/// How a connection goes on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// Request and response, TCP with a handshake.
    #[default]
    Exchange,
    /// A TCP SYN answered by RST: nothing listens on the port.
    Refused,
    /// The client's group lets it out, the server's group rejects it: the client's
    /// interface logs ACCEPT, the server's REJECT, and nothing comes back.
    ServerRejects,
    /// Packets one way, never answered (a tunnel protocol, syslog over UDP).
    OneWay,
}

/// A connection the environment really makes: the truth the aggregator must recover.
#[derive(Clone, Debug, Serialize)]
pub struct Edge {
    /// Who opens it.
    pub client: Endpoint,
    /// Who accepts it.
    pub server: Endpoint,
    /// IANA protocol number.
    pub protocol: u8,
    /// Service port (0 for ICMP).
    pub port: u16,
    /// Connections per minute.
    #[serde(skip)]
    pub rate: f64,
    /// Whether connections last several windows (mid-connection windows have flags 0).
    #[serde(skip)]
    pub long_lived: bool,
    /// How it goes on the wire: exchanges and one-way flows are needs, refused and
    /// rejected attempts are not.
    pub shape: Shape,
    /// When it starts, as a fraction of the generated span (0: from the start). A flow
    /// with an onset is new traffic a plan learned before it can't know.
    pub onset: f64,
}

/// The whole environment.
#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    /// `vpc-...`
    pub vpc: String,
    /// The VPC CIDR.
    pub cidr: &'static str,
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// Security groups (the default group first).
    pub groups: Vec<Group>,
    /// The S3 gateway endpoint's AWS-managed prefix list id.
    pub s3_prefix_list: String,
    /// The prefix list's CIDRs.
    pub s3_cidrs: Vec<&'static str>,
    /// The connections.
    pub edges: Vec<Edge>,
    /// Traffic that grows like a real VPC's over long spans ([`Environment::growing`]).
    pub growing: bool,
}

/// How many hosts the partner's API answers on.
pub const PARTNER_HOSTS: usize = 90;

/// The partner's `n`-th API host: odd addresses of 198.51.100.0/24, then of 192.0.2.0/24,
/// so no two are adjacent and exact aggregation can't merge them.
pub fn partner_address(n: usize) -> Ipv4Addr {
    let half = PARTNER_HOSTS / 2;
    let host = (1 + 2 * (n % half)) as u8;
    if n < half {
        Ipv4Addr::new(198, 51, 100, host)
    } else {
        Ipv4Addr::new(192, 0, 2, host)
    }
}

/// Traffic added to the base environment, for tests of what a real migration meets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Variant {
    /// The bundled sample's environment.
    #[default]
    Base,
    /// Members of one tier see different rare flows: one web instance calls the app
    /// tier on port 7000, one app instance syncs time from the monitoring host.
    RareFlows,
    /// The app tier calls a partner's API (TCP 9443) on [`PARTNER_HOSTS`] addresses: more
    /// CIDR rules than a group's quota allows.
    PartnerApi,
    /// Traffic drifts as it does in a real VPC, for plans judged on a later window: the
    /// app tier runs as pods on delegated prefixes and is rescheduled onto new addresses,
    /// hosts sync time from changing internet servers, the monitor probes ports where
    /// nothing listens, the app tier tries SSH to the bastion (whose group rejects it),
    /// the web tier sends a one-way tunnel to the monitor, and new internal flows start
    /// late: web -> db 5432 at 70% of the span, app -> cache 6380 and monitoring -> cache
    /// 6379 at 85%.
    Drift,
}

/// When [`Variant::Drift`]'s first new flow starts, as a fraction of the span.
pub const DRIFT_EARLY_ONSET: f64 = 0.7;
/// When [`Variant::Drift`]'s later new flows start, as a fraction of the span.
pub const DRIFT_LATE_ONSET: f64 = 0.85;

/// S3's address ranges in us-east-1 (a subset of the AWS-managed prefix list).
const S3_CIDRS: &[&str] = &[
    "52.216.0.0/15",
    "54.231.0.0/16",
    "3.5.0.0/19",
    "16.182.0.0/16",
];

fn hex_id(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut s = String::from(prefix);
    for _ in 0..len {
        s.push(char::from_digit(rng.below(16) as u32, 16).expect("digit below 16"));
    }
    s
}

impl Environment {
    /// Builds the environment for `seed`; `instances` scales the web and app tiers.
    pub fn new(seed: u64, instances: usize) -> Environment {
        let mut rng = Rng::new(seed);
        let vpc = hex_id(&mut rng, "vpc-", 17);
        let subnets: Vec<(String, [u8; 3], &'static str)> = [
            ([10, 0, 0], "use1-az1"),
            ([10, 0, 1], "use1-az2"),
            ([10, 0, 10], "use1-az1"),
            ([10, 0, 11], "use1-az2"),
            ([10, 0, 20], "use1-az1"),
            ([10, 0, 21], "use1-az2"),
        ]
        .into_iter()
        .map(|(net, az)| (hex_id(&mut rng, "subnet-", 17), net, az))
        .collect();
        let default_sg = hex_id(&mut rng, "sg-", 17);
        let alb_sg = hex_id(&mut rng, "sg-", 17);
        let bastion_sg = hex_id(&mut rng, "sg-", 17);
        let monitoring_sg = hex_id(&mut rng, "sg-", 17);
        let any = |protocol, from, to, peer| Rule {
            protocol,
            from,
            to,
            peer,
        };
        let all_out = || vec![any("-1", None, None, Peer::Cidr("0.0.0.0/0".into()))];
        let groups = vec![
            Group {
                id: default_sg.clone(),
                name: "default",
                description: "default VPC security group",
                // All from its members, plus what people added over the years so the
                // load balancer and the bastion reach the instances in it.
                ingress: vec![
                    any("-1", None, None, Peer::Group(default_sg.clone())),
                    any("tcp", Some(8080), Some(8080), Peer::Group(alb_sg.clone())),
                    any("tcp", Some(22), Some(22), Peer::Group(bastion_sg.clone())),
                    any("icmp", None, None, Peer::Group(bastion_sg.clone())),
                ],
                egress: all_out(),
            },
            Group {
                id: alb_sg.clone(),
                name: "web-alb",
                description: "Public load balancer",
                ingress: vec![any(
                    "tcp",
                    Some(443),
                    Some(443),
                    Peer::Cidr("0.0.0.0/0".into()),
                )],
                egress: all_out(),
            },
            Group {
                id: bastion_sg.clone(),
                name: "bastion-ssh",
                description: "SSH from the office",
                ingress: vec![any(
                    "tcp",
                    Some(22),
                    Some(22),
                    Peer::Cidr("203.0.113.0/24".into()),
                )],
                egress: all_out(),
            },
            Group {
                id: monitoring_sg.clone(),
                name: "monitoring",
                description: "Prometheus and statsd",
                ingress: vec![any(
                    "udp",
                    Some(8125),
                    Some(8125),
                    Peer::Group(default_sg.clone()),
                )],
                egress: all_out(),
            },
        ];

        let mut next_host = [10u8; 6];
        let mut interfaces = Vec::new();
        let mut add = |rng: &mut Rng,
                       role: &'static str,
                       subnet: usize,
                       kind: (&'static str, Option<&'static str>, String),
                       groups: Vec<String>,
                       instance: bool,
                       asg: Option<&'static str>| {
            let (sub_id, net, az) = &subnets[subnet];
            let host = next_host[subnet];
            next_host[subnet] += 1;
            let (interface_type, requester, description) = kind;
            interfaces.push(Interface {
                id: hex_id(rng, "eni-", 17),
                role,
                ip: Ipv4Addr::new(net[0], net[1], net[2], host),
                subnet: sub_id.clone(),
                az_id: az,
                instance: instance.then(|| hex_id(rng, "i-", 17)),
                interface_type,
                requester,
                description,
                groups,
                asg,
                public_ip: None,
                pod_prefix: None,
                lifetime: (0.0, f64::INFINITY),
            });
        };
        let plain = |d: &str| ("interface", None, d.to_string());
        for az in 0..2 {
            add(
                &mut rng,
                "alb",
                az,
                (
                    "interface",
                    Some("amazon-elb"),
                    "ELB app/web-alb/50dc6c495c0c9188".into(),
                ),
                vec![alb_sg.clone()],
                false,
                None,
            );
        }
        add(
            &mut rng,
            "nat",
            0,
            (
                "nat_gateway",
                Some("amazon-nat"),
                "Interface for NAT Gateway nat-0f1e2d3c4b5a69788".into(),
            ),
            vec![],
            false,
            None,
        );
        add(
            &mut rng,
            "bastion",
            1,
            plain("bastion host"),
            vec![bastion_sg.clone()],
            true,
            None,
        );
        for i in 0..instances.max(1) {
            add(
                &mut rng,
                "web",
                2 + i % 2,
                plain(""),
                vec![default_sg.clone()],
                true,
                Some("web-asg"),
            );
        }
        for i in 0..instances.max(1) {
            add(
                &mut rng,
                "app",
                2 + i % 2,
                plain(""),
                vec![default_sg.clone()],
                true,
                Some("app-asg"),
            );
        }
        add(
            &mut rng,
            "monitoring",
            3,
            plain("prometheus"),
            vec![monitoring_sg.clone(), default_sg.clone()],
            true,
            None,
        );
        add(
            &mut rng,
            "db",
            4,
            (
                "interface",
                Some("amazon-rds"),
                "RDSNetworkInterface".into(),
            ),
            vec![default_sg.clone()],
            false,
            None,
        );
        add(
            &mut rng,
            "cache",
            5,
            (
                "interface",
                Some("amazon-elasticache"),
                "ElastiCache orders-cache-0001-001".into(),
            ),
            vec![default_sg.clone()],
            false,
            None,
        );

        // An internet-facing load balancer's nodes have public addresses.
        for (n, alb) in interfaces
            .iter_mut()
            .filter(|i| i.role == "alb")
            .enumerate()
        {
            alb.public_ip = Some(Ipv4Addr::new(3, 210, 17, 40 + n as u8));
        }

        use Endpoint::*;
        // Rates are connections per minute; the bastion's are high enough that every edge
        // shows up in the one-hour sample.
        let edge = |client, server, protocol, port, rate, long_lived| Edge {
            client,
            server,
            protocol,
            port,
            rate,
            long_lived,
            shape: Shape::Exchange,
            onset: 0.0,
        };
        let edges = vec![
            edge(Internet, Role("alb"), 6, 443, 40.0, false),
            edge(Role("alb"), Role("web"), 6, 8080, 40.0, false),
            edge(Role("web"), Role("app"), 6, 8443, 25.0, false),
            edge(Role("app"), Role("db"), 6, 5432, 4.0, true),
            edge(Role("app"), Role("cache"), 6, 6379, 6.0, true),
            edge(Role("web"), Role("cache"), 6, 6379, 3.0, true),
            edge(Office, Role("bastion"), 6, 22, 0.6, true),
            edge(Role("bastion"), Role("web"), 6, 22, 0.6, true),
            edge(Role("bastion"), Role("app"), 1, 0, 0.6, false),
            edge(Role("monitoring"), Role("web"), 6, 9100, 2.0, false),
            edge(Role("monitoring"), Role("app"), 6, 9100, 2.0, false),
            edge(Role("app"), Role("monitoring"), 17, 8125, 6.0, false),
            edge(Role("app"), Internet, 6, 443, 3.0, false),
            edge(Role("app"), S3, 6, 443, 2.0, false),
        ];

        Environment {
            vpc,
            cidr: "10.0.0.0/16",
            interfaces,
            groups,
            s3_prefix_list: "pl-63a5400a".into(),
            s3_cidrs: S3_CIDRS.to_vec(),
            edges,
            growing: false,
        }
    }

    /// The environment with `variant`'s traffic added (its truth included).
    pub fn with_variant(mut self, variant: Variant) -> Environment {
        let flow = |client, server, protocol, port, rate| Edge {
            client,
            server,
            protocol,
            port,
            rate,
            long_lived: false,
            shape: Shape::Exchange,
            onset: 0.0,
        };
        use Endpoint::*;
        match variant {
            Variant::Base => {}
            Variant::RareFlows => self.edges.extend([
                flow(Member("web", 0), Role("app"), 6, 7000, 0.3),
                flow(Member("app", 1), Role("monitoring"), 17, 123, 0.3),
            ]),
            Variant::PartnerApi => self.edges.push(flow(Role("app"), Partner, 6, 9443, 30.0)),
            Variant::Drift => {
                for (n, app) in self
                    .interfaces
                    .iter_mut()
                    .filter(|i| i.role == "app")
                    .enumerate()
                {
                    // In the interface's own subnet, clear of the primary addresses.
                    let net = app.ip.octets();
                    app.pod_prefix = Some(Ipv4Addr::new(net[0], net[1], net[2], 64 + 16 * n as u8));
                }
                for e in &mut self.edges {
                    if e.server == Role("app") && e.port == 8443 {
                        e.server = Pod("app");
                    }
                }
                let shaped = |shape, edge: Edge| Edge { shape, ..edge };
                let late = |onset, edge: Edge| Edge { onset, ..edge };
                self.edges.extend([
                    flow(Role("app"), Internet, 17, 123, 1.0),
                    flow(Role("web"), Internet, 17, 123, 1.0),
                    shaped(
                        Shape::Refused,
                        flow(Role("monitoring"), Role("web"), 6, 9200, 1.0),
                    ),
                    shaped(
                        Shape::Refused,
                        flow(Role("monitoring"), Role("app"), 6, 9300, 1.0),
                    ),
                    shaped(
                        Shape::ServerRejects,
                        flow(Role("app"), Role("bastion"), 6, 22, 0.5),
                    ),
                    shaped(
                        Shape::OneWay,
                        flow(Role("web"), Role("monitoring"), 47, 0, 2.0),
                    ),
                    late(
                        DRIFT_EARLY_ONSET,
                        flow(Role("web"), Role("db"), 6, 5432, 2.0),
                    ),
                    late(
                        DRIFT_LATE_ONSET,
                        flow(Role("app"), Role("cache"), 6, 6380, 2.0),
                    ),
                    late(
                        DRIFT_LATE_ONSET,
                        flow(Role("monitoring"), Role("cache"), 6, 6379, 1.0),
                    ),
                ]);
            }
        }
        self
    }

    /// The interface that has `ip`: its primary address or one of its pods'.
    pub fn interface_with(&self, ip: Ipv4Addr) -> Option<&Interface> {
        self.interfaces.iter().find(|i| {
            i.ip == ip
                || i.pod_prefix
                    .is_some_and(|p| (u32::from(ip) & !15) == u32::from(p))
        })
    }

    /// The interfaces with `role`.
    pub fn with_role(&self, role: &str) -> Vec<&Interface> {
        self.interfaces.iter().filter(|i| i.role == role).collect()
    }

    /// The interfaces with `role` that exist at `progress` (a fraction of the span).
    pub fn with_role_at(&self, role: &str, progress: f64) -> Vec<&Interface> {
        self.interfaces
            .iter()
            .filter(|i| i.role == role && i.alive_at(progress))
            .collect()
    }

    /// Traffic whose distinct 5-tuples keep growing with the span, as a real VPC's do
    /// (the base environment draws its internet clients from a fixed address space,
    /// which fills as the span lengthens): internet clients keep arriving (half of each file's
    /// internet connections are a client first seen in that file, half one first seen
    /// in the day before, recent ones likelier), NAT'd destinations likewise, and
    /// internet clients draw ephemeral ports from their operating system's range
    /// (Linux 32768-60999, Windows and macOS 49152-65535).
    pub fn growing(mut self) -> Environment {
        self.growing = true;
        self
    }

    /// The web tier's first instance is terminated at `at` (a fraction of the span) and
    /// its auto scaling group launches a replacement: a new instance and interface, the
    /// next address of the same subnet, the groups its launch template names (today's:
    /// the default group). From `at` on, the replacement makes and serves the web
    /// tier's traffic in its place.
    pub fn with_replacement(mut self, at: f64) -> Environment {
        let mut rng = Rng::new(0x7e91ace ^ at.to_bits());
        let Some(old) = self.interfaces.iter().position(|i| i.role == "web") else {
            return self;
        };
        self.interfaces[old].lifetime.1 = at;
        let mut new = self.interfaces[old].clone();
        let subnet_hosts = self
            .interfaces
            .iter()
            .filter(|i| i.subnet == new.subnet)
            .map(|i| i.ip.octets()[3]);
        let host = subnet_hosts.max().unwrap_or(9) + 1;
        let [a, b, c, _] = new.ip.octets();
        new.ip = Ipv4Addr::new(a, b, c, host);
        new.id = hex_id(&mut rng, "eni-", 17);
        new.instance = Some(hex_id(&mut rng, "i-", 17));
        new.lifetime = (at, f64::INFINITY);
        self.interfaces.push(new);
        self
    }

    /// The environment as an inventory taken at `progress` shows it: only the
    /// interfaces that exist then.
    pub fn at(&self, progress: f64) -> Environment {
        let mut env = self.clone();
        env.interfaces.retain(|i| i.alive_at(progress));
        env
    }
}
