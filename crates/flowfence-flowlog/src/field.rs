//! The catalogue of flow log fields AWS documents: VPC flow logs versions 2-11 and Transit
//! Gateway flow logs. Each field has its AWS name, the version that introduced it and the
//! kind of value it holds, which decides how a token is parsed and how it is written back.

/// How a field's token is parsed and which Parquet/Arrow type carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Free text (ids, names, ARNs). Unknown fields are text too.
    Text,
    /// A non-negative integer that fits Parquet INT_32 (version, tcp-flags, traffic-path).
    Int32,
    /// A non-negative integer that fits Parquet INT_64 (packets, bytes, start, end).
    Int64,
    /// A TCP/UDP port, 0-65535.
    Port,
    /// An IANA protocol number, 0-255.
    Protocol,
    /// An IPv4 or IPv6 address.
    Addr,
    /// `ACCEPT` or `REJECT`.
    Action,
    /// `OK`, `NODATA` or `SKIPDATA`.
    LogStatus,
    /// `ingress` or `egress`.
    Direction,
}

impl Kind {
    /// True for the kinds stored as integers (and written as JSON numbers).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            Kind::Int32 | Kind::Int64 | Kind::Port | Kind::Protocol
        )
    }

    /// The largest value a token of this kind may hold; larger is out of range.
    pub(crate) fn max_int(self) -> u64 {
        match self {
            Kind::Port => u64::from(u16::MAX),
            Kind::Protocol => u64::from(u8::MAX),
            Kind::Int32 => i32::MAX as u64,
            // Parquet INT_64 is signed: keep every value representable there.
            _ => i64::MAX as u64,
        }
    }

    /// What a token of this kind must look like, for error messages.
    pub(crate) fn expectation(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Int32 | Kind::Int64 => "a non-negative integer",
            Kind::Port => "a port (0-65535)",
            Kind::Protocol => "a protocol number (0-255)",
            Kind::Addr => "an IPv4 or IPv6 address",
            Kind::Action => "ACCEPT or REJECT",
            Kind::LogStatus => "OK, NODATA or SKIPDATA",
            Kind::Direction => "ingress or egress",
        }
    }
}

macro_rules! fields {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $version:literal, $kind:ident; )*) => {
        /// A flow log field AWS documents.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Field {
            $( $(#[$doc])* $variant, )*
        }

        impl Field {
            /// Every known field, in catalogue order.
            pub const ALL: &'static [Field] = &[$(Field::$variant,)*];

            /// The AWS name, hyphenated as in format strings and headers (`tcp-flags`).
            pub const fn name(self) -> &'static str {
                match self { $(Field::$variant => $name,)* }
            }

            /// The flow log version that introduced the field (Transit Gateway fields: the
            /// Transit Gateway flow log version).
            pub const fn version(self) -> u8 {
                match self { $(Field::$variant => $version,)* }
            }

            /// How the field's values are parsed and stored.
            pub const fn kind(self) -> Kind {
                match self { $(Field::$variant => Kind::$kind,)* }
            }

            /// Looks a field up by its AWS name, hyphenated (`tcp-flags`, as in text
            /// headers) or with underscores (`tcp_flags`, as in Parquet column names).
            pub fn from_name(name: &str) -> Option<Field> {
                match name {
                    $($name => Some(Field::$variant),)*
                    _ if name.contains('_') => {
                        let hyphenated = name.replace('_', "-");
                        match hyphenated.as_str() {
                            $($name => Some(Field::$variant),)*
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
        }
    };
}

fields! {
    // Version 2: the default format.
    /// `version`: the highest version among the flow log's selected fields.
    Version = "version", 2, Int32;
    /// `account-id`: owner of the interface (`unknown` for some AWS-created ones).
    AccountId = "account-id", 2, Text;
    /// `interface-id`: the network interface the record is for.
    InterfaceId = "interface-id", 2, Text;
    /// `srcaddr`: source address (the interface's own address for outgoing traffic).
    SrcAddr = "srcaddr", 2, Addr;
    /// `dstaddr`: destination address (the interface's own address for incoming traffic).
    DstAddr = "dstaddr", 2, Addr;
    /// `srcport`: source port.
    SrcPort = "srcport", 2, Port;
    /// `dstport`: destination port.
    DstPort = "dstport", 2, Port;
    /// `protocol`: IANA protocol number.
    Protocol = "protocol", 2, Protocol;
    /// `packets`: packets in the window.
    Packets = "packets", 2, Int64;
    /// `bytes`: bytes in the window.
    Bytes = "bytes", 2, Int64;
    /// `start`: first packet of the window, Unix seconds.
    Start = "start", 2, Int64;
    /// `end`: last packet of the window, Unix seconds.
    End = "end", 2, Int64;
    /// `action`: ACCEPT or REJECT.
    Action = "action", 2, Action;
    /// `log-status`: OK, NODATA or SKIPDATA.
    LogStatus = "log-status", 2, LogStatus;
    // Version 3.
    /// `vpc-id`.
    VpcId = "vpc-id", 3, Text;
    /// `subnet-id`.
    SubnetId = "subnet-id", 3, Text;
    /// `instance-id`.
    InstanceId = "instance-id", 3, Text;
    /// `tcp-flags`: OR of the TCP flags seen in the window.
    TcpFlags = "tcp-flags", 3, Int32;
    /// `type`: IPv4, IPv6 or EFA.
    Type = "type", 3, Text;
    /// `pkt-srcaddr`: the packet-level source address.
    PktSrcAddr = "pkt-srcaddr", 3, Addr;
    /// `pkt-dstaddr`: the packet-level destination address.
    PktDstAddr = "pkt-dstaddr", 3, Addr;
    // Version 4.
    /// `region`.
    Region = "region", 4, Text;
    /// `az-id`.
    AzId = "az-id", 4, Text;
    /// `sublocation-type`: wavelength or outpost.
    SublocationType = "sublocation-type", 4, Text;
    /// `sublocation-id`.
    SublocationId = "sublocation-id", 4, Text;
    // Version 5.
    /// `pkt-src-aws-service`: AWS service owning the source address range.
    PktSrcAwsService = "pkt-src-aws-service", 5, Text;
    /// `pkt-dst-aws-service`: AWS service owning the destination address range.
    PktDstAwsService = "pkt-dst-aws-service", 5, Text;
    /// `flow-direction`: ingress or egress, relative to the interface.
    FlowDirection = "flow-direction", 5, Direction;
    /// `traffic-path`: the path egress traffic takes (1-8).
    TrafficPath = "traffic-path", 5, Int32;
    // Version 7: ECS.
    /// `ecs-cluster-arn`.
    EcsClusterArn = "ecs-cluster-arn", 7, Text;
    /// `ecs-cluster-name`.
    EcsClusterName = "ecs-cluster-name", 7, Text;
    /// `ecs-container-instance-arn`.
    EcsContainerInstanceArn = "ecs-container-instance-arn", 7, Text;
    /// `ecs-container-instance-id`.
    EcsContainerInstanceId = "ecs-container-instance-id", 7, Text;
    /// `ecs-container-id`.
    EcsContainerId = "ecs-container-id", 7, Text;
    /// `ecs-second-container-id`.
    EcsSecondContainerId = "ecs-second-container-id", 7, Text;
    /// `ecs-service-name`.
    EcsServiceName = "ecs-service-name", 7, Text;
    /// `ecs-task-definition-arn`.
    EcsTaskDefinitionArn = "ecs-task-definition-arn", 7, Text;
    /// `ecs-task-arn`.
    EcsTaskArn = "ecs-task-arn", 7, Text;
    /// `ecs-task-id`.
    EcsTaskId = "ecs-task-id", 7, Text;
    // Version 8.
    /// `reject-reason`: why a REJECT happened (`BPA`: block public access).
    RejectReason = "reject-reason", 8, Text;
    // Versions 9-11.
    /// `resource-id`: the resource behind the interface.
    ResourceId = "resource-id", 9, Text;
    /// `encryption-status`: 0-3.
    EncryptionStatus = "encryption-status", 10, Int32;
    /// `interface-type`.
    InterfaceType = "interface-type", 11, Text;
    /// `instance-tag`.
    InstanceTag = "instance-tag", 11, Text;
    /// `interface-tag`.
    InterfaceTag = "interface-tag", 11, Text;
    /// `asg-tag`.
    AsgTag = "asg-tag", 11, Text;
    // Transit Gateway flow logs.
    /// `resource-type` (Transit Gateway): TransitGateway or TransitGatewayAttachment.
    ResourceType = "resource-type", 2, Text;
    /// `tgw-id`.
    TgwId = "tgw-id", 2, Text;
    /// `tgw-attachment-id`.
    TgwAttachmentId = "tgw-attachment-id", 2, Text;
    /// `tgw-src-vpc-account-id`.
    TgwSrcVpcAccountId = "tgw-src-vpc-account-id", 2, Text;
    /// `tgw-dst-vpc-account-id`.
    TgwDstVpcAccountId = "tgw-dst-vpc-account-id", 2, Text;
    /// `tgw-src-vpc-id`.
    TgwSrcVpcId = "tgw-src-vpc-id", 2, Text;
    /// `tgw-dst-vpc-id`.
    TgwDstVpcId = "tgw-dst-vpc-id", 2, Text;
    /// `tgw-src-subnet-id`.
    TgwSrcSubnetId = "tgw-src-subnet-id", 2, Text;
    /// `tgw-dst-subnet-id`.
    TgwDstSubnetId = "tgw-dst-subnet-id", 2, Text;
    /// `tgw-src-eni`.
    TgwSrcEni = "tgw-src-eni", 2, Text;
    /// `tgw-dst-eni`.
    TgwDstEni = "tgw-dst-eni", 2, Text;
    /// `tgw-src-az-id`.
    TgwSrcAzId = "tgw-src-az-id", 2, Text;
    /// `tgw-dst-az-id`.
    TgwDstAzId = "tgw-dst-az-id", 2, Text;
    /// `tgw-pair-attachment-id`.
    TgwPairAttachmentId = "tgw-pair-attachment-id", 2, Text;
    /// `packets-lost-no-route`.
    PacketsLostNoRoute = "packets-lost-no-route", 2, Int64;
    /// `packets-lost-blackhole`.
    PacketsLostBlackhole = "packets-lost-blackhole", 2, Int64;
    /// `packets-lost-mtu-exceeded`.
    PacketsLostMtuExceeded = "packets-lost-mtu-exceeded", 2, Int64;
    /// `packets-lost-ttl-expired`.
    PacketsLostTtlExpired = "packets-lost-ttl-expired", 2, Int64;
}

impl Field {
    /// Number of known fields.
    pub const COUNT: usize = Field::ALL.len();

    /// The fields of the default format, in order.
    pub const DEFAULT_FORMAT: [Field; 14] = [
        Field::Version,
        Field::AccountId,
        Field::InterfaceId,
        Field::SrcAddr,
        Field::DstAddr,
        Field::SrcPort,
        Field::DstPort,
        Field::Protocol,
        Field::Packets,
        Field::Bytes,
        Field::Start,
        Field::End,
        Field::Action,
        Field::LogStatus,
    ];

    /// The Parquet column name AWS uses: the name with `_` for `-`.
    pub fn column_name(self) -> String {
        self.name().replace('-', "_")
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &f in Field::ALL {
            assert!(seen.insert(f.name()), "duplicate name {}", f.name());
            assert_eq!(Field::from_name(f.name()), Some(f));
            assert_eq!(Field::from_name(&f.column_name()), Some(f));
        }
        assert_eq!(Field::COUNT, seen.len());
    }

    /// The field reference table in `docs/formats.md`: name, version, kind, Parquet type.
    fn reference_table() -> String {
        let mut out =
            String::from("| field | version | value | Parquet |\n| --- | --- | --- | --- |\n");
        for &f in Field::ALL {
            let parquet = match f.kind() {
                Kind::Int32 | Kind::Port | Kind::Protocol => "INT_32",
                Kind::Int64 => "INT_64",
                _ => "STRING",
            };
            let version = if (Field::ResourceType..=Field::PacketsLostTtlExpired).contains(&f) {
                "TGW".to_string()
            } else {
                f.version().to_string()
            };
            out.push_str(&format!(
                "| `{}` | {version} | {} | {parquet} |\n",
                f.name(),
                f.kind().expectation()
            ));
        }
        out
    }

    /// `docs/formats.md` carries the catalogue's table between markers; regenerate with
    /// `FLOWFENCE_UPDATE_DOCS=1 cargo test -p flowfence-flowlog docs`.
    #[test]
    fn docs_formats_table_matches_the_catalogue() {
        let path = flowfence_testdata::workspace().join("docs/formats.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- fields:begin -->\n", "<!-- fields:end -->");
        let a = doc.find(begin).expect("begin marker") + begin.len();
        let b = doc.find(end).expect("end marker");
        let table = reference_table();
        if std::env::var_os("FLOWFENCE_UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &doc[..a], &doc[b..])).unwrap();
            return;
        }
        assert_eq!(
            &doc[a..b],
            table,
            "docs/formats.md is out of date: run with FLOWFENCE_UPDATE_DOCS=1"
        );
    }

    #[test]
    fn kinds_follow_the_aws_types() {
        assert_eq!(Field::DstPort.kind(), Kind::Port);
        assert_eq!(Field::Bytes.kind(), Kind::Int64);
        assert_eq!(Field::TcpFlags.kind(), Kind::Int32);
        assert_eq!(Field::PktSrcAddr.kind(), Kind::Addr);
        assert_eq!(Field::FlowDirection.kind(), Kind::Direction);
        assert_eq!(Field::PacketsLostBlackhole.kind(), Kind::Int64);
        assert_eq!(Field::from_name("next-hop-id"), None);
        assert_eq!(Field::from_name("interface_id"), Some(Field::InterfaceId));
    }
}
