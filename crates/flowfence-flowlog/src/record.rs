//! A borrowed view of one decoded record.

use std::net::IpAddr;

use crate::field::Field;
use crate::layout::Layout;
use crate::value::{Action, FlowDirection, LogStatus, Value};

/// One flow log record: typed values borrowed from the input buffer, with the layout
/// that says which field each value is. Nothing here is allocated per record.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    layout: &'a Layout,
    values: &'a [Value<'a>],
}

macro_rules! accessors {
    ($( $(#[$doc:meta])* $name:ident -> $ty:ty = $field:ident, $conv:expr; )*) => {
        $(
            $(#[$doc])*
            #[inline]
            pub fn $name(&self) -> Option<$ty> {
                let conv: fn(Value<'a>) -> Option<$ty> = $conv;
                conv(self.get(Field::$field))
            }
        )*
    };
}

impl<'a> Record<'a> {
    /// A record over `values`, one per column of `layout`.
    #[inline]
    pub fn new(layout: &'a Layout, values: &'a [Value<'a>]) -> Record<'a> {
        debug_assert_eq!(layout.len(), values.len());
        Record { layout, values }
    }

    /// The layout the record was read with.
    pub fn layout(&self) -> &'a Layout {
        self.layout
    }

    /// The values, one per column of the layout.
    pub fn values(&self) -> &'a [Value<'a>] {
        self.values
    }

    /// A known field's value; [`Value::Null`] when the layout lacks the field.
    #[inline]
    pub fn get(&self, field: Field) -> Value<'a> {
        match self.layout.position(field) {
            Some(i) => self.values[i],
            None => Value::Null,
        }
    }

    /// A field's value by name, for fields the catalogue does not know.
    pub fn get_by_name(&self, name: &str) -> Value<'a> {
        self.layout
            .position_of_name(name)
            .map_or(Value::Null, |i| self.values[i])
    }

    accessors! {
        /// `version`.
        version -> u8 = Version, |v| v.as_int().map(|n| n as u8);
        /// `account-id`.
        account_id -> &'a str = AccountId, Value::as_text;
        /// `interface-id`.
        interface_id -> &'a str = InterfaceId, Value::as_text;
        /// `srcaddr`.
        srcaddr -> IpAddr = SrcAddr, Value::as_addr;
        /// `dstaddr`.
        dstaddr -> IpAddr = DstAddr, Value::as_addr;
        /// `srcport`.
        srcport -> u16 = SrcPort, |v| v.as_int().map(|n| n as u16);
        /// `dstport`.
        dstport -> u16 = DstPort, |v| v.as_int().map(|n| n as u16);
        /// `protocol`.
        protocol -> u8 = Protocol, |v| v.as_int().map(|n| n as u8);
        /// `packets`.
        packets -> u64 = Packets, Value::as_int;
        /// `bytes`.
        bytes -> u64 = Bytes, Value::as_int;
        /// `start`, Unix seconds.
        start -> u64 = Start, Value::as_int;
        /// `end`, Unix seconds.
        end -> u64 = End, Value::as_int;
        /// `action`.
        action -> Action = Action, |v| match v { Value::Action(a) => Some(a), _ => None };
        /// `log-status`.
        log_status -> LogStatus = LogStatus, |v| match v { Value::LogStatus(s) => Some(s), _ => None };
        /// `vpc-id`.
        vpc_id -> &'a str = VpcId, Value::as_text;
        /// `subnet-id`.
        subnet_id -> &'a str = SubnetId, Value::as_text;
        /// `instance-id`.
        instance_id -> &'a str = InstanceId, Value::as_text;
        /// `tcp-flags`.
        tcp_flags -> u32 = TcpFlags, |v| v.as_int().map(|n| n as u32);
        /// `pkt-srcaddr`.
        pkt_srcaddr -> IpAddr = PktSrcAddr, Value::as_addr;
        /// `pkt-dstaddr`.
        pkt_dstaddr -> IpAddr = PktDstAddr, Value::as_addr;
        /// `pkt-src-aws-service`.
        pkt_src_aws_service -> &'a str = PktSrcAwsService, Value::as_text;
        /// `pkt-dst-aws-service`.
        pkt_dst_aws_service -> &'a str = PktDstAwsService, Value::as_text;
        /// `flow-direction`.
        flow_direction -> FlowDirection = FlowDirection, |v| match v { Value::Direction(d) => Some(d), _ => None };
        /// `traffic-path`.
        traffic_path -> u32 = TrafficPath, |v| v.as_int().map(|n| n as u32);
    }
}
