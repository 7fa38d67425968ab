//! A response as the AWS CLI (v1, from PyPI) prints it: botocore's parsing rules over
//! the trimmed model, then Python's `json.dumps(indent=4, ensure_ascii=False)`.
//!
//! - XML (the `ec2` and `query` protocols): members in model order and only those
//!   present, lists wrapped or flattened, `true`/`false` and numbers typed, timestamps
//!   and everything else as the wire text.
//! - JSON (`json`, `rest-json`): members in model order and only those present and not
//!   `null`, maps in the body's order, values (timestamps too: epoch seconds) as the
//!   body has them.

use std::fmt::Write as _;

use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};

use crate::model::{Model, Ref};

/// A decoded value, objects in the CLI's key order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Why a response couldn't be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not XML or JSON, or not what the model describes.
    #[error("{operation}: the response isn't what its model describes: {detail}")]
    Malformed {
        /// The call.
        operation: String,
        /// What went wrong.
        detail: String,
    },
}

fn malformed(operation: &str, detail: impl Into<String>) -> DecodeError {
    DecodeError::Malformed {
        operation: operation.to_string(),
        detail: detail.into(),
    }
}

/// The response of `operation` (its body) as the AWS CLI parses it, before its pages
/// are merged.
pub(crate) fn response(model: &Model, operation: &str, body: &str) -> Result<Json, DecodeError> {
    let op = model
        .operations
        .get(operation)
        .ok_or_else(|| malformed(operation, "not a call of the model"))?;
    if matches!(model.protocol.as_str(), "json" | "rest-json") {
        let raw: Json =
            serde_json::from_str(body).map_err(|e| malformed(operation, e.to_string()))?;
        let decoder = Decoder { model, operation };
        return Ok(decoder
            .json(&op.output.shape, raw)?
            .unwrap_or(Json::Object(Vec::new())));
    }
    let mut doc = Document::new(body);
    let mut root = doc
        .root_element()
        .map_err(|e| malformed(operation, e.to_string()))?;
    let decoder = Decoder { model, operation };
    match &op.output.result_wrapper {
        // Query: <XResponse><XResult>...</XResult><ResponseMetadata/></XResponse>.
        Some(wrapper) => {
            while let Some(mut child) = root.next_tag() {
                if child.start_el().local() == wrapper {
                    return decoder.shape(&op.output.shape, &mut child);
                }
            }
            Err(malformed(operation, format!("no {wrapper} element")))
        }
        // EC2: the response element is the output (its requestId is metadata, which the
        // CLI drops, and no member of the model).
        None => decoder.shape(&op.output.shape, &mut root),
    }
}

struct Decoder<'m> {
    model: &'m Model,
    operation: &'m str,
}

impl Decoder<'_> {
    fn shape(&self, name: &str, el: &mut ScopedDecoder<'_, '_>) -> Result<Json, DecodeError> {
        let shape =
            self.model.shapes.get(name).ok_or_else(|| {
                malformed(self.operation, format!("shape {name} not in the model"))
            })?;
        match shape.kind.as_str() {
            "structure" => {
                // (member index, value), put in model order at the end.
                let mut found: Vec<(usize, Json)> = Vec::new();
                while let Some(mut child) = el.next_tag() {
                    let tag = child.start_el().local().to_string();
                    let Some((i, (_, r))) = shape
                        .members
                        .iter()
                        .enumerate()
                        .find(|(_, (m, r))| self.xml_name(m, r) == tag)
                    else {
                        continue;
                    };
                    if let Some(item_ref) = self.flattened_item(r) {
                        let item = self.shape(&item_ref.shape, &mut child)?;
                        match found.iter_mut().find(|(j, _)| *j == i) {
                            Some((_, Json::List(items))) => items.push(item),
                            _ => found.push((i, Json::List(vec![item]))),
                        }
                    } else if !found.iter().any(|(j, _)| *j == i) {
                        found.push((i, self.shape(&r.shape, &mut child)?));
                    }
                }
                found.sort_by_key(|(i, _)| *i);
                Ok(Json::Object(
                    found
                        .into_iter()
                        .map(|(i, v)| (shape.members[i].0.clone(), v))
                        .collect(),
                ))
            }
            "list" => {
                let item = shape.member.as_ref().expect("lists have members");
                let mut items = Vec::new();
                while let Some(mut child) = el.next_tag() {
                    items.push(self.shape(&item.shape, &mut child)?);
                }
                Ok(Json::List(items))
            }
            "map" => {
                let (key, value) = (shape.key.as_ref(), shape.value.as_ref());
                let (Some(key), Some(value)) = (key, value) else {
                    return Err(malformed(
                        self.operation,
                        format!("map {name} without key or value"),
                    ));
                };
                let key_tag = key.location_name.as_deref().unwrap_or("key");
                let value_tag = value.location_name.as_deref().unwrap_or("value");
                let mut entries = Vec::new();
                while let Some(mut entry) = el.next_tag() {
                    let (mut k, mut v) = (None, None);
                    while let Some(mut part) = entry.next_tag() {
                        let tag = part.start_el().local().to_string();
                        if tag == key_tag {
                            k = Some(self.text(&mut part)?);
                        } else if tag == value_tag {
                            v = Some(self.shape(&value.shape, &mut part)?);
                        }
                    }
                    if let (Some(k), Some(v)) = (k, v) {
                        entries.push((k, v));
                    }
                }
                Ok(Json::Object(entries))
            }
            kind => {
                let text = self.text(el)?;
                Ok(match kind {
                    "boolean" => Json::Bool(text == "true"),
                    "integer" | "long" => Json::Int(text.trim().parse().map_err(|_| {
                        malformed(
                            self.operation,
                            format!("{name}: `{text}` is not an integer"),
                        )
                    })?),
                    "float" | "double" => Json::Float(text.trim().parse().map_err(|_| {
                        malformed(self.operation, format!("{name}: `{text}` is not a number"))
                    })?),
                    // Strings, and timestamps and blobs as the wire has them (the CLI's
                    // default `cli_timestamp_format = wire`).
                    _ => Json::Str(text),
                })
            }
        }
    }

    fn text(&self, el: &mut ScopedDecoder<'_, '_>) -> Result<String, DecodeError> {
        try_data(el)
            .map(|t| t.into_owned())
            .map_err(|e| malformed(self.operation, e.to_string()))
    }

    /// The element name of member `name` (referenced as `r`): its location name, or a
    /// flattened list's item name, or the member's name.
    fn xml_name<'a>(&'a self, name: &'a str, r: &'a Ref) -> &'a str {
        self.flattened_item(r)
            .and_then(|item| item.location_name.as_deref())
            .or(r.location_name.as_deref())
            .unwrap_or(name)
    }

    /// The item of the list `r` refers to, when the list is flattened (its items repeat
    /// in the parent, each one element).
    fn flattened_item<'a>(&'a self, r: &'a Ref) -> Option<&'a Ref> {
        self.model
            .shapes
            .get(&r.shape)
            .filter(|s| s.kind == "list" && (s.flattened || r.flattened))
            .and_then(|s| s.member.as_ref())
    }
}

/// A JSON body as it came, objects in the body's order (botocore reads maps in that
/// order; serde_json's own map sorts them): what [`Decoder::json`] reads.
impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
                Ok(Json::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
                // Beyond i64 (no field flowfence fetches): as Python would keep it, a
                // number, though printed as a float.
                Ok(i64::try_from(u).map_or(Json::Float(u as f64), Json::Int))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Json, E> {
                Ok(Json::Float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::Str(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::List(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut members: Vec<(String, Json)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    // A repeated key: the last wins, where the first stood (a dict).
                    match members.iter_mut().find(|(m, _)| *m == k) {
                        Some((_, old)) => *old = v,
                        None => members.push((k, v)),
                    }
                }
                Ok(Json::Object(members))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Decoder<'_> {
    /// A JSON value of shape `name` as botocore's JSON parser keeps it: `None` for a
    /// `null` member (left out of its structure).
    fn json(&self, name: &str, raw: Json) -> Result<Option<Json>, DecodeError> {
        let shape =
            self.model.shapes.get(name).ok_or_else(|| {
                malformed(self.operation, format!("shape {name} not in the model"))
            })?;
        let wrong = |what: &str| malformed(self.operation, format!("{name}: not {what}"));
        Ok(Some(match (shape.kind.as_str(), raw) {
            (_, Json::Null) => return Ok(None),
            ("structure", Json::Object(mut members)) => {
                let mut out = Vec::new();
                for (member, r) in &shape.members {
                    let key = r.location_name.as_deref().unwrap_or(member);
                    let Some(at) = members.iter().position(|(k, _)| k == key) else {
                        continue;
                    };
                    let (_, value) = members.swap_remove(at);
                    if let Some(v) = self.json(&r.shape, value)? {
                        out.push((member.clone(), v));
                    }
                }
                Json::Object(out)
            }
            ("structure", _) => return Err(wrong("an object")),
            ("list", Json::List(items)) => {
                let item = shape.member.as_ref().expect("lists have members");
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.json(&item.shape, i)?.unwrap_or(Json::Null));
                }
                Json::List(out)
            }
            ("list", _) => return Err(wrong("a list")),
            ("map", Json::Object(entries)) => {
                let value = shape
                    .value
                    .as_ref()
                    .ok_or_else(|| wrong("a map with values"))?;
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push((k, self.json(&value.shape, v)?.unwrap_or(Json::Null)));
                }
                Json::Object(out)
            }
            ("map", _) => return Err(wrong("an object")),
            // Scalars (timestamps as epoch seconds) as the body has them.
            (_, Json::List(_) | Json::Object(_)) => return Err(wrong("a scalar")),
            (_, scalar) => scalar,
        }))
    }
}

impl Json {
    /// Member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The items of list member `key` of an object (none when it has no such list).
    pub(crate) fn items(&self, key: &str) -> impl Iterator<Item = &Json> {
        match self.get(key) {
            Some(Json::List(items)) => items.iter(),
            _ => [].iter(),
        }
    }

    /// The text of a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as `json.dumps(value, indent=4, ensure_ascii=False)` writes it.
    pub(crate) fn to_cli_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, d: usize| {
            out.push('\n');
            for _ in 0..d * 4 {
                out.push(' ');
            }
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) => out.push_str(&python_float(*f)),
            Json::Str(s) => python_string(out, s),
            Json::List(items) if items.is_empty() => out.push_str("[]"),
            Json::List(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Object(members) => {
                out.push('{');
                for (n, (key, value)) in members.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    python_string(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

/// A string as Python's `json` writes it with `ensure_ascii=False`.
fn python_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as Python's `repr` writes it (shortest round trip; `1.0`, `1e-05`, `1e+16`).
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        // Rust writes `1e-5` / `1e16`; Python `1e-05` / `1e+16`.
        let s = format!("{f:e}");
        let (mantissa, e) = s.split_once('e').expect("an exponent");
        let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
        format!("{mantissa}e{sign}{digits:0>2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Service;

    /// An EC2 response: members in model order whatever the XML's, lists of items,
    /// booleans and numbers typed, empty lists kept, escapes undone, the requestId gone.
    #[test]
    fn ec2_responses_decode_as_the_cli_prints_them() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <securityGroupInfo>
    <item>
      <ownerId>123456789012</ownerId>
      <groupId>sg-1</groupId>
      <groupName>web &amp; "app"</groupName>
      <groupDescription>caf&#233;</groupDescription>
      <vpcId>vpc-1</vpcId>
      <ipPermissions>
        <item>
          <ipProtocol>tcp</ipProtocol>
          <fromPort>443</fromPort>
          <toPort>443</toPort>
          <groups/>
          <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges>
        </item>
      </ipPermissions>
      <ipPermissionsEgress/>
    </item>
  </securityGroupInfo>
</DescribeSecurityGroupsResponse>"#;
        let model = Service::Ec2.model();
        let json = response(&model, "DescribeSecurityGroups", xml).unwrap();
        let text = json.to_cli_text();
        // What Python prints for the same dict (member order of the model).
        let want = r#"{
    "SecurityGroups": [
        {
            "GroupId": "sg-1",
            "IpPermissionsEgress": [],
            "VpcId": "vpc-1",
            "SecurityGroupArn": null,
            "OwnerId": "123456789012",
            "GroupName": "web & \"app\"",
            "Description": "café",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "UserIdGroupPairs": [],
                    "IpRanges": [
                        {
                            "CidrIp": "0.0.0.0/0"
                        }
                    ]
                }
            ]
        }
    ]
}"#;
        let want: String = want
            .lines()
            .filter(|l| !l.contains("null"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(text, want);
    }

    #[test]
    fn floats_print_as_python_does() {
        for (f, s) in [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (123.25, "123.25"),
        ] {
            assert_eq!(python_float(f), s);
        }
    }

    /// A JSON-protocol response: members in model order whatever the body's, `null`s
    /// and unknown members gone, a map in the body's order, numbers as the body has
    /// them (a timestamp's epoch seconds, a whole float keeping its `.0`).
    #[test]
    fn json_responses_decode_as_the_cli_prints_them() {
        let body = r#"{"cluster": {"status": "ACTIVE", "tags": {"z": "1", "a": "2"},
            "resourcesVpcConfig": {"clusterSecurityGroupId": "sg-c", "securityGroupIds": [],
                "subnetIds": ["subnet-1"], "vpcId": null},
            "createdAt": 1.796600646052E9, "name": "demo", "unknownMember": 1,
            "version": "1.31", "health": {"issues": []}, "platformVersion": null}}"#;
        let model = Service::Eks.model();
        let json = response(&model, "DescribeCluster", body).unwrap();
        let want = r#"{
    "cluster": {
        "name": "demo",
        "createdAt": 1796600646.052,
        "version": "1.31",
        "resourcesVpcConfig": {
            "subnetIds": [
                "subnet-1"
            ],
            "securityGroupIds": [],
            "clusterSecurityGroupId": "sg-c"
        },
        "status": "ACTIVE",
        "tags": {
            "z": "1",
            "a": "2"
        },
        "health": {
            "issues": []
        }
    }
}"#;
        assert_eq!(json.to_cli_text(), want);
        let whole = response(
            &model,
            "DescribeCluster",
            r#"{"cluster": {"createdAt": 1.7E9}}"#,
        )
        .unwrap()
        .to_cli_text();
        assert!(whole.contains(r#""createdAt": 1700000000.0"#), "{whole}");
        let e = response(&model, "DescribeCluster", r#"{"cluster": []}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "DescribeCluster: the response isn't what its model describes: Cluster: not an object"
        );
    }
}
