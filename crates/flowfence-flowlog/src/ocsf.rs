//! Amazon Security Lake's VPC flow logs: OCSF Network Activity (class 4001) Parquet,
//! mapped back onto flow log records so every later stage reads them unchanged.
//!
//! Both of Security Lake's source versions are read: version 2 (OCSF 1.1: `cloud.account
//! .uid`, `start_time_dt`/`end_time_dt`, `action_id`) and version 1 (OCSF 1.0.0-rc.2:
//! `cloud.account_uid`, `start_time`/`end_time` in milliseconds, the action as
//! `disposition_id` or `activity_id`). The mapping follows the files AWS wrote itself in
//! `aws-samples/amazon-security-lake-ocsf-validation` (with their input records):
//!
//! - the interface, VPC, subnet and instance sit on the endpoint of the record's side:
//!   `dst_endpoint` for inbound (`direction_id` 1), `src_endpoint` for outbound (2);
//! - `ip` is the packet address (`pkt-srcaddr`); the interface's address (`srcaddr`),
//!   where it differs, is the first of `intermediate_ips`;
//! - `svc_name` is `pkt-*-aws-service`, `protocol_ver` is `type`, `zone` is `az-id`,
//!   `metadata.product.version` is the flow log's `version`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, RecordBatch, StructArray};
use arrow_schema::{DataType, Schema, TimeUnit};

use crate::decode::{Counts, RecordSink};
use crate::field::{Field, Kind};
use crate::layout::{Column, Layout};
use crate::parquet_input::{IntArray, StrArray, int_cell, take_row, text_cell};
use crate::reject::{Reason, Tally};
use crate::value::Value;

/// The flow log fields an OCSF record maps back onto beyond the default format's, in
/// this order (after the default format's 14).
const MORE_FIELDS: [Field; 12] = [
    Field::VpcId,
    Field::SubnetId,
    Field::InstanceId,
    Field::TcpFlags,
    Field::Type,
    Field::PktSrcAddr,
    Field::PktDstAddr,
    Field::Region,
    Field::AzId,
    Field::PktSrcAwsService,
    Field::PktDstAwsService,
    Field::FlowDirection,
];

/// How many fields an OCSF record maps onto.
const FIELDS: usize = Field::DEFAULT_FORMAT.len() + MORE_FIELDS.len();

/// The layout OCSF records are read as.
pub(crate) fn layout() -> Layout {
    let fields = Field::DEFAULT_FORMAT.iter().chain(&MORE_FIELDS);
    Layout::from_columns(fields.map(|&f| Column::Known(f)).collect())
        .expect("distinct known fields")
}

/// Whether a Parquet schema is OCSF Network Activity: the nested endpoints and
/// connection info, and the class.
pub(crate) fn is_ocsf(schema: &Schema) -> bool {
    let has = |name: &str| schema.field_with_name(name).is_ok();
    has("class_uid") && has("src_endpoint") && has("dst_endpoint") && has("connection_info")
}

/// A leaf column reached through structs: null where it or any struct above it is.
struct Leaf<'a> {
    array: &'a dyn Array,
    parents: Vec<&'a dyn Array>,
}

impl<'a> Leaf<'a> {
    fn find(batch: &'a RecordBatch, path: &[&str]) -> Option<Leaf<'a>> {
        let (first, rest) = path.split_first()?;
        let mut array: &'a dyn Array = batch.column_by_name(first)?.as_ref();
        let mut parents = Vec::new();
        for name in rest {
            let parent: &'a StructArray = array.as_struct_opt()?;
            parents.push(array);
            array = parent.column_by_name(name)?.as_ref();
        }
        Some(Leaf { array, parents })
    }

    fn is_null(&self, row: usize) -> bool {
        self.array.is_null(row) || self.parents.iter().any(|p| p.is_null(row))
    }
}

/// A text leaf.
struct Text<'a>(Leaf<'a>, StrArray<'a>);

impl<'a> Text<'a> {
    fn find(batch: &'a RecordBatch, path: &[&str]) -> Option<Text<'a>> {
        let leaf = Leaf::find(batch, path)?;
        let strings = StrArray::new(leaf.array)?;
        Some(Text(leaf, strings))
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        (!self.0.is_null(row)).then(|| self.1.get(row))
    }
}

/// An integer leaf.
struct Int<'a>(Leaf<'a>, IntArray<'a>);

impl<'a> Int<'a> {
    fn find(batch: &'a RecordBatch, path: &[&str]) -> Option<Int<'a>> {
        let leaf = Leaf::find(batch, path)?;
        let ints = IntArray::new(leaf.array)?;
        Some(Int(leaf, ints))
    }

    fn get(&self, row: usize) -> Option<i128> {
        (!self.0.is_null(row)).then(|| self.1.get(row))
    }
}

/// The first string of a list leaf (`intermediate_ips`).
struct FirstOfList<'a>(Leaf<'a>);

impl<'a> FirstOfList<'a> {
    fn get(&self, row: usize) -> Option<&'a str> {
        if self.0.is_null(row) {
            return None;
        }
        let list = self.0.array.as_list_opt::<i32>()?;
        let offsets = list.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let values = StrArray::new(list.values().as_ref())?;
        (start < end && !list.values().is_null(start)).then(|| values.get(start))
    }
}

/// A time leaf: an OCSF timestamp (`start_time_dt`) or milliseconds (`start_time`), in
/// Unix seconds.
enum Time<'a> {
    Stamp(Leaf<'a>, TimeUnit),
    Millis(Int<'a>),
}

impl<'a> Time<'a> {
    fn find(batch: &'a RecordBatch, stamp: &str, millis: &str) -> Option<Time<'a>> {
        if let Some(leaf) = Leaf::find(batch, &[stamp])
            && let DataType::Timestamp(unit, _) = leaf.array.data_type()
        {
            let unit = *unit;
            return Some(Time::Stamp(leaf, unit));
        }
        Int::find(batch, &[millis]).map(Time::Millis)
    }

    fn seconds(&self, row: usize) -> Option<i128> {
        match self {
            Time::Millis(ms) => ms.get(row).map(|ms| ms.div_euclid(1000)),
            Time::Stamp(leaf, unit) => {
                if leaf.is_null(row) {
                    return None;
                }
                let a = leaf.array;
                Some(match unit {
                    TimeUnit::Second => {
                        i128::from(a.as_primitive::<TimestampSecondType>().value(row))
                    }
                    TimeUnit::Millisecond => {
                        i128::from(a.as_primitive::<TimestampMillisecondType>().value(row))
                            .div_euclid(1000)
                    }
                    TimeUnit::Microsecond => {
                        i128::from(a.as_primitive::<TimestampMicrosecondType>().value(row))
                            .div_euclid(1_000_000)
                    }
                    TimeUnit::Nanosecond => {
                        i128::from(a.as_primitive::<TimestampNanosecondType>().value(row))
                            .div_euclid(1_000_000_000)
                    }
                })
            }
        }
    }
}

/// One endpoint's leaves.
struct Endpoint<'a> {
    ip: Option<Text<'a>>,
    intermediate: Option<FirstOfList<'a>>,
    port: Option<Int<'a>>,
    interface: Option<Text<'a>>,
    vpc: Option<Text<'a>>,
    subnet: Option<Text<'a>>,
    instance: Option<Text<'a>>,
    service: Option<Text<'a>>,
}

impl<'a> Endpoint<'a> {
    fn find(batch: &'a RecordBatch, name: &str) -> Endpoint<'a> {
        let text = |leaf: &str| Text::find(batch, &[name, leaf]);
        Endpoint {
            ip: text("ip"),
            intermediate: Leaf::find(batch, &[name, "intermediate_ips"]).map(FirstOfList),
            port: Int::find(batch, &[name, "port"]),
            interface: text("interface_uid"),
            vpc: text("vpc_uid"),
            subnet: text("subnet_uid"),
            instance: text("instance_uid"),
            service: text("svc_name"),
        }
    }
}

/// Every leaf of a batch a record needs (absent ones stay `None`: their fields are null).
struct Leaves<'a> {
    version: Option<Text<'a>>,
    account: Option<Text<'a>>,
    region: Option<Text<'a>>,
    zone: Option<Text<'a>>,
    src: Endpoint<'a>,
    dst: Endpoint<'a>,
    protocol: Option<Int<'a>>,
    tcp_flags: Option<Int<'a>>,
    protocol_ver: Option<Text<'a>>,
    direction: Option<Int<'a>>,
    packets: Option<Int<'a>>,
    bytes: Option<Int<'a>>,
    start: Option<Time<'a>>,
    end: Option<Time<'a>>,
    action: Option<Int<'a>>,
    disposition: Option<Int<'a>>,
    activity: Option<Int<'a>>,
    status: Option<Text<'a>>,
}

impl<'a> Leaves<'a> {
    fn find(batch: &'a RecordBatch) -> Leaves<'a> {
        let text = |path: &[&str]| Text::find(batch, path);
        let int = |path: &[&str]| Int::find(batch, path);
        Leaves {
            version: text(&["metadata", "product", "version"]),
            // Source version 2 nests the account; version 1 had `account_uid`.
            account: text(&["cloud", "account", "uid"]).or_else(|| text(&["cloud", "account_uid"])),
            region: text(&["cloud", "region"]),
            zone: text(&["cloud", "zone"]),
            src: Endpoint::find(batch, "src_endpoint"),
            dst: Endpoint::find(batch, "dst_endpoint"),
            protocol: int(&["connection_info", "protocol_num"]),
            tcp_flags: int(&["connection_info", "tcp_flags"]),
            protocol_ver: text(&["connection_info", "protocol_ver"]),
            direction: int(&["connection_info", "direction_id"]),
            packets: int(&["traffic", "packets"]),
            bytes: int(&["traffic", "bytes"]),
            start: Time::find(batch, "start_time_dt", "start_time"),
            end: Time::find(batch, "end_time_dt", "end_time"),
            action: int(&["action_id"]),
            disposition: int(&["disposition_id"]),
            activity: int(&["activity_id"]),
            status: text(&["status_code"]),
        }
    }
}

/// A value being mapped: text to parse, an integer to range-check, or nothing.
enum Raw<'a> {
    Text(&'a str),
    Int(i128),
    Null,
}

impl<'a> Raw<'a> {
    fn text(t: Option<&'a str>) -> Raw<'a> {
        t.map_or(Raw::Null, Raw::Text)
    }

    fn int(n: Option<i128>) -> Raw<'a> {
        n.map_or(Raw::Null, Raw::Int)
    }

    /// The value for a field of `kind`, checked as a text token or a Parquet integer is.
    fn value(self, kind: Kind) -> Result<Value<'a>, (Reason, String)> {
        match self {
            Raw::Null => Ok(Value::Null),
            Raw::Int(n) => int_cell(n, kind),
            Raw::Text(t) => text_cell(t, kind),
        }
    }
}

/// The raw values of row `row`, in [`layout`]'s order.
fn row_values<'a>(l: &Leaves<'a>, row: usize) -> [Raw<'a>; FIELDS] {
    let text = |t: &Option<Text<'a>>| Raw::text(t.as_ref().and_then(|t| t.get(row)));
    let int = |i: &Option<Int<'a>>| Raw::int(i.as_ref().and_then(|i| i.get(row)));
    let direction = l.direction.as_ref().and_then(|d| d.get(row));
    // The interface's side: the destination of inbound traffic, else the source.
    let side = if direction == Some(1) { &l.dst } else { &l.src };
    let address = |e: &Endpoint<'a>| {
        let inner = e.intermediate.as_ref().and_then(|i| i.get(row));
        Raw::text(inner.or_else(|| e.ip.as_ref().and_then(|ip| ip.get(row))))
    };
    let id = |get: &Option<Int<'a>>| get.as_ref().and_then(|i| i.get(row));
    let action = match (id(&l.action), id(&l.disposition), id(&l.activity)) {
        (Some(1), _, _) | (_, Some(1), _) | (_, _, Some(6)) => Raw::Text("ACCEPT"),
        (Some(2), _, _) | (_, Some(2), _) | (_, _, Some(5)) => Raw::Text("REJECT"),
        _ => Raw::Null,
    };
    let flow_direction = match direction {
        Some(1) => Raw::Text("ingress"),
        Some(2) => Raw::Text("egress"),
        _ => Raw::Null,
    };
    let time = |t: &Option<Time<'a>>| Raw::int(t.as_ref().and_then(|t| t.seconds(row)));
    [
        text(&l.version),
        text(&l.account),
        text(&side.interface),
        address(&l.src),
        address(&l.dst),
        int(&l.src.port),
        int(&l.dst.port),
        int(&l.protocol),
        int(&l.packets),
        int(&l.bytes),
        time(&l.start),
        time(&l.end),
        action,
        text(&l.status),
        text(&side.vpc),
        text(&side.subnet),
        text(&side.instance),
        int(&l.tcp_flags),
        text(&l.protocol_ver),
        text(&l.src.ip),
        text(&l.dst.ip),
        text(&l.region),
        text(&l.zone),
        text(&l.src.service),
        text(&l.dst.service),
        flow_direction,
    ]
}

/// Reads one batch of OCSF rows into `sink`; `row_no` counts rows across batches.
pub(crate) fn read_batch(
    batch: &RecordBatch,
    layout: &Arc<Layout>,
    sink: &mut impl RecordSink,
    counts: &mut Counts,
    tally: &mut Tally,
    row_no: &mut u64,
) {
    let leaves = Leaves::find(batch);
    let mut values: Vec<Value<'_>> = Vec::with_capacity(FIELDS);
    for row in 0..batch.num_rows() {
        *row_no += 1;
        let cells = row_values(&leaves, row)
            .into_iter()
            .zip(layout.kinds())
            .map(|(raw, kind)| raw.value(*kind));
        take_row(layout, &mut values, cells, *row_no, sink, counts, tally);
    }
}
