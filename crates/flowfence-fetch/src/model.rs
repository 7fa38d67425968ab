//! The response models: botocore's service models cut down to the calls flowfence
//! makes (`models/trim.py` writes them from the botocore the AWS CLI ships). They say
//! what the AWS CLI's JSON is made of: member names and their order, which elements are
//! lists, which text is a number or a boolean.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A service's trimmed model.
#[derive(Debug, Deserialize)]
pub(crate) struct Model {
    /// `ec2`, `query` (XML), `json` or `rest-json`.
    pub(crate) protocol: String,
    /// The calls, by operation name (`DescribeNetworkInterfaces`).
    pub(crate) operations: BTreeMap<String, Operation>,
    /// Every shape the responses reach.
    pub(crate) shapes: BTreeMap<String, Shape>,
}

/// One call.
#[derive(Debug, Deserialize)]
pub(crate) struct Operation {
    /// Its response.
    pub(crate) output: Ref,
    /// What the AWS CLI concatenates across pages (absent: one page).
    #[serde(default)]
    pub(crate) result_keys: Vec<String>,
    /// The response member holding the next page's token.
    #[serde(default)]
    pub(crate) output_token: Option<String>,
}

/// A reference to a shape, with how it is serialised where it is referenced.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ref {
    pub(crate) shape: String,
    /// The element's name in XML, when not the member's name.
    #[serde(default)]
    pub(crate) location_name: Option<String>,
    /// A list whose items repeat in the parent, without a wrapping element.
    #[serde(default)]
    pub(crate) flattened: bool,
    /// The query protocol's element wrapping the response.
    #[serde(default)]
    pub(crate) result_wrapper: Option<String>,
}

/// A shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Shape {
    /// `structure`, `list`, `map`, `string`, `integer`, `boolean`, ...
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// A structure's members, in the model's order (the CLI's key order).
    #[serde(default)]
    pub(crate) members: Vec<(String, Ref)>,
    /// A list's items.
    #[serde(default)]
    pub(crate) member: Option<Ref>,
    /// A list serialised without a wrapping element.
    #[serde(default)]
    pub(crate) flattened: bool,
    /// A map's keys and values.
    #[serde(default)]
    pub(crate) key: Option<Ref>,
    #[serde(default)]
    pub(crate) value: Option<Ref>,
}

/// The services flowfence reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// Amazon EC2.
    Ec2,
    /// EC2 Auto Scaling.
    AutoScaling,
    /// Elastic Load Balancing (application, network and gateway load balancers).
    Elbv2,
    /// AWS STS.
    Sts,
    /// Amazon EKS.
    Eks,
    /// Amazon ECS.
    Ecs,
    /// AWS Lambda.
    Lambda,
}

impl Service {
    /// The AWS CLI's name for it (`aws ec2 ...`).
    pub fn cli_name(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::AutoScaling => "autoscaling",
            Service::Elbv2 => "elbv2",
            Service::Sts => "sts",
            Service::Eks => "eks",
            Service::Ecs => "ecs",
            Service::Lambda => "lambda",
        }
    }

    /// Its trimmed model.
    pub(crate) fn model(self) -> Model {
        let text = match self {
            Service::Ec2 => include_str!("../models/ec2.json"),
            Service::AutoScaling => include_str!("../models/autoscaling.json"),
            Service::Elbv2 => include_str!("../models/elbv2.json"),
            Service::Sts => include_str!("../models/sts.json"),
            Service::Eks => include_str!("../models/eks.json"),
            Service::Ecs => include_str!("../models/ecs.json"),
            Service::Lambda => include_str!("../models/lambda.json"),
        };
        serde_json::from_str(text).expect("the bundled models parse")
    }
}
