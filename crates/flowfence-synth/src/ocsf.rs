//! Flow log records as Amazon Security Lake stores them: OCSF 1.1 Network Activity
//! (class 4001) Parquet, source version 2, mapped as AWS maps them (the interface on the
//! endpoint of the record's side, `ip` the packet address, the interface's address in
//! `intermediate_ips` where it differs).

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampMillisecondArray,
};
use arrow_schema::{Field, Fields};
use flowfence_flowlog::{Action, Field as FlowField, FlowDirection, LogStatus, Record, Value};
use parquet::arrow::ArrowWriter;

/// One endpoint's columns.
#[derive(Default)]
struct Endpoint {
    ip: Vec<Option<String>>,
    intermediate: Vec<Option<String>>,
    port: Vec<Option<i32>>,
    interface: Vec<Option<String>>,
    vpc: Vec<Option<String>>,
    subnet: Vec<Option<String>>,
    instance: Vec<Option<String>>,
    service: Vec<Option<String>>,
}

impl Endpoint {
    fn array(self) -> ArrayRef {
        let text = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let mut ips = ListBuilder::new(StringBuilder::new());
        for i in &self.intermediate {
            match i {
                Some(ip) => {
                    ips.values().append_value(ip);
                    ips.append(true);
                }
                None => ips.append(false),
            }
        }
        structure(vec![
            ("port", Arc::new(Int32Array::from(self.port))),
            ("svc_name", text(self.service)),
            ("ip", text(self.ip)),
            ("intermediate_ips", Arc::new(ips.finish())),
            ("interface_uid", text(self.interface)),
            ("vpc_uid", text(self.vpc)),
            ("instance_uid", text(self.instance)),
            ("subnet_uid", text(self.subnet)),
        ])
    }
}

/// A struct column of `fields`, each nullable and typed as its array.
fn structure(fields: Vec<(&str, ArrayRef)>) -> ArrayRef {
    let fields: Vec<(Arc<Field>, ArrayRef)> = fields
        .into_iter()
        .map(|(name, a)| (Arc::new(Field::new(name, a.data_type().clone(), true)), a))
        .collect();
    Arc::new(StructArray::from(fields))
}

/// The columns of a Security Lake VPC flow file, filled record by record.
#[derive(Default)]
pub(crate) struct OcsfColumns {
    version: Vec<Option<String>>,
    account: Vec<Option<String>>,
    region: Vec<Option<String>>,
    zone: Vec<Option<String>>,
    src: Endpoint,
    dst: Endpoint,
    protocol: Vec<Option<i32>>,
    tcp_flags: Vec<Option<i32>>,
    protocol_ver: Vec<Option<String>>,
    direction: Vec<Option<i32>>,
    packets: Vec<Option<i64>>,
    bytes: Vec<Option<i64>>,
    start: Vec<Option<i64>>,
    end: Vec<Option<i64>>,
    action_id: Vec<i32>,
    activity_id: Vec<i32>,
    status: Vec<Option<String>>,
}

impl OcsfColumns {
    /// Adds a record.
    pub(crate) fn push(&mut self, r: &Record<'_>) {
        let text = |f: FlowField| r.get(f).as_text().map(str::to_string);
        let addr = |f: FlowField| r.get(f).as_addr().map(|a| a.to_string());
        let int = |f: FlowField| r.get(f).as_int();
        let direction = r.flow_direction();
        // The interface's side: the destination of inbound traffic, else the source.
        let (mine, theirs) = if direction == Some(FlowDirection::Ingress) {
            (&mut self.dst, &mut self.src)
        } else {
            (&mut self.src, &mut self.dst)
        };
        mine.interface.push(text(FlowField::InterfaceId));
        mine.vpc.push(text(FlowField::VpcId));
        mine.subnet.push(text(FlowField::SubnetId));
        mine.instance.push(text(FlowField::InstanceId));
        for v in [
            &mut theirs.interface,
            &mut theirs.vpc,
            &mut theirs.subnet,
            &mut theirs.instance,
        ] {
            v.push(None);
        }
        for (e, pkt, addr_field, port, service) in [
            (
                &mut self.src,
                FlowField::PktSrcAddr,
                FlowField::SrcAddr,
                FlowField::SrcPort,
                FlowField::PktSrcAwsService,
            ),
            (
                &mut self.dst,
                FlowField::PktDstAddr,
                FlowField::DstAddr,
                FlowField::DstPort,
                FlowField::PktDstAwsService,
            ),
        ] {
            let interface_address = addr(addr_field);
            let packet = addr(pkt).or_else(|| interface_address.clone());
            e.intermediate
                .push(interface_address.filter(|a| Some(a) != packet.as_ref()));
            e.ip.push(packet);
            e.port.push(int(port).map(|n| n as i32));
            e.service.push(text(service));
        }
        self.version
            .push(int(FlowField::Version).map(|n| n.to_string()));
        self.account.push(text(FlowField::AccountId));
        self.region.push(text(FlowField::Region));
        self.zone.push(text(FlowField::AzId));
        self.protocol
            .push(int(FlowField::Protocol).map(|n| n as i32));
        self.tcp_flags
            .push(int(FlowField::TcpFlags).map(|n| n as i32));
        self.protocol_ver.push(text(FlowField::Type));
        self.direction.push(Some(match direction {
            Some(FlowDirection::Ingress) => 1,
            Some(FlowDirection::Egress) => 2,
            None => 99,
        }));
        self.packets.push(int(FlowField::Packets).map(|n| n as i64));
        self.bytes.push(int(FlowField::Bytes).map(|n| n as i64));
        self.start
            .push(int(FlowField::Start).map(|s| s as i64 * 1000));
        self.end.push(int(FlowField::End).map(|s| s as i64 * 1000));
        let (action, activity) = match r.get(FlowField::Action) {
            Value::Action(Action::Accept) => (1, 6),
            Value::Action(Action::Reject) => (2, 5),
            _ => (0, 0),
        };
        self.action_id.push(action);
        self.activity_id.push(activity);
        self.status.push(match r.get(FlowField::LogStatus) {
            Value::LogStatus(LogStatus::Ok) => Some("OK".to_string()),
            Value::LogStatus(LogStatus::NoData) => Some("NODATA".to_string()),
            Value::LogStatus(LogStatus::SkipData) => Some("SKIPDATA".to_string()),
            _ => None,
        });
    }

    /// The columns as one Parquet file.
    pub(crate) fn into_parquet(self) -> anyhow::Result<Vec<u8>> {
        let n = self.action_id.len();
        let text = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let utc = |v: Vec<Option<i64>>| {
            Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC")) as ArrayRef
        };
        let constant = |s: &str| text(vec![Some(s.to_string()); n]);
        let product = structure(vec![
            ("name", constant("Amazon VPC")),
            ("vendor_name", constant("AWS")),
            ("version", text(self.version)),
        ]);
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "metadata",
                structure(vec![("product", product), ("version", constant("1.1.0"))]),
            ),
            (
                "cloud",
                structure(vec![
                    ("account", structure(vec![("uid", text(self.account))])),
                    ("region", text(self.region)),
                    ("zone", text(self.zone)),
                    ("provider", constant("AWS")),
                ]),
            ),
            ("src_endpoint", self.src.array()),
            ("dst_endpoint", self.dst.array()),
            (
                "connection_info",
                structure(vec![
                    ("protocol_num", Arc::new(Int32Array::from(self.protocol))),
                    ("tcp_flags", Arc::new(Int32Array::from(self.tcp_flags))),
                    ("protocol_ver", text(self.protocol_ver)),
                    ("boundary_id", Arc::new(Int32Array::from(vec![99; n]))),
                    ("direction_id", Arc::new(Int32Array::from(self.direction))),
                ]),
            ),
            (
                "traffic",
                structure(vec![
                    ("packets", Arc::new(Int64Array::from(self.packets))),
                    ("bytes", Arc::new(Int64Array::from(self.bytes))),
                ]),
            ),
            ("time", utc(self.start.clone())),
            ("start_time_dt", utc(self.start)),
            ("end_time_dt", utc(self.end)),
            ("action_id", Arc::new(Int32Array::from(self.action_id))),
            ("activity_id", Arc::new(Int32Array::from(self.activity_id))),
            ("status_code", text(self.status)),
            ("class_uid", Arc::new(Int32Array::from(vec![4001; n]))),
            ("category_uid", Arc::new(Int32Array::from(vec![4; n]))),
            ("severity_id", Arc::new(Int32Array::from(vec![1; n]))),
        ];
        let fields: Fields = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(arrow_schema::Schema::new(fields));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            columns.into_iter().map(|(_, a)| a).collect(),
        )?;
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, schema, None)?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(out)
    }
}
