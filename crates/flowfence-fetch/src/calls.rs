//! The describe calls, through the SDK's clients (their endpoint resolution, signing,
//! pagination tokens and standard retries, throttling included). Each page's own bytes
//! are kept by an interceptor and decoded as the AWS CLI decodes them; the pages of a
//! call are merged as the CLI merges them.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::decode::{self, DecodeError, Json};
use crate::model::{Model, Operation, Service};

/// Keeps the body of the last response a client deserialised (a retried call's last
/// attempt, the one that succeeded).
#[derive(Clone, Debug, Default)]
pub(crate) struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

impl Capture {
    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().expect("capture lock").take()
    }
}

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "flowfence-response-capture"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = context.response().body().bytes() {
            *self.0.lock().expect("capture lock") = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// The service refused it, or it couldn't be sent (after the SDK's retries).
    #[error("{service} {operation}: {detail}")]
    Service {
        /// `ec2`, `autoscaling`, ...
        service: &'static str,
        /// The call (`DescribeNetworkInterfaces`).
        operation: &'static str,
        /// The SDK's error, with the service's code and message.
        detail: String,
    },
    /// The response wasn't what the model says.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A response the interceptor didn't see (a bug: every call goes through it).
    #[error("{0}: no response body was captured")]
    NoBody(&'static str),
}

/// A service's client with its capture and model.
pub(crate) struct Caller<C> {
    pub(crate) client: C,
    capture: Capture,
    service: Service,
    model: Model,
}

impl<C> Caller<C> {
    pub(crate) fn new(service: Service, make: impl FnOnce(Capture) -> C) -> Caller<C> {
        let capture = Capture::default();
        Caller {
            client: make(capture.clone()),
            capture,
            service,
            model: service.model(),
        }
    }

    /// The error of `operation`, with the SDK's display of it (code and message).
    pub(crate) fn failed(
        &self,
        operation: &'static str,
        e: &(dyn std::error::Error + 'static),
    ) -> CallError {
        CallError::Service {
            service: self.service.cli_name(),
            operation,
            detail: chain(e),
        }
    }

    /// The file name of `operation`'s output, as the AWS CLI names the call:
    /// `ec2-describe-network-interfaces` (a per-resource call adds `-RESOURCE`).
    pub(crate) fn file(&self, operation: &str) -> String {
        let mut name = self.service.cli_name().to_string();
        for c in operation.chars() {
            if c.is_ascii_uppercase() {
                name.push('-');
            }
            name.push(c.to_ascii_lowercase());
        }
        name
    }

    /// The page the client just received, decoded.
    pub(crate) fn page(&self, operation: &'static str) -> Result<Json, CallError> {
        let body = self.capture.take().ok_or(CallError::NoBody(operation))?;
        let text = String::from_utf8_lossy(&body);
        Ok(decode::response(&self.model, operation, &text)?)
    }

    /// The pages of `operation` merged as the AWS CLI merges them: each result key's
    /// lists concatenated in page order, then the first page's other members (the
    /// pagination token dropped).
    pub(crate) fn merged(&self, operation: &'static str, pages: Vec<Json>) -> Json {
        merge_pages(&self.model.operations[operation], pages)
    }
}

/// `pages` of `op` merged as the AWS CLI's paginator merges them (botocore's
/// `build_full_result`): each result key's lists concatenated in page order, then the
/// first page's other members, the pagination token dropped.
pub(crate) fn merge_pages(op: &Operation, pages: Vec<Json>) -> Json {
    if op.result_keys.is_empty() {
        return pages.into_iter().next().unwrap_or(Json::Object(Vec::new()));
    }
    let mut out: Vec<(String, Json)> = Vec::new();
    for key in &op.result_keys {
        let mut merged: Option<Vec<Json>> = None;
        for page in &pages {
            if let Json::Object(members) = page
                && let Some((_, Json::List(items))) = members.iter().find(|(k, _)| k == key)
            {
                merged
                    .get_or_insert_with(Vec::new)
                    .extend(items.iter().cloned());
            }
        }
        if let Some(items) = merged {
            out.push((key.clone(), Json::List(items)));
        }
    }
    if let Some(Json::Object(first)) = pages.first() {
        for (k, v) in first {
            let token = op.output_token.as_deref() == Some(k.as_str());
            if !token && !op.result_keys.contains(k) {
                out.push((k.clone(), v.clone()));
            }
        }
    }
    Json::Object(out)
}

/// An error and its sources, each once, for a person: the service's code and message
/// where one answered (`AccessDenied: User is not authorized ...`), without the SDK's
/// wrappers that say nothing (`other`, `service error`, `unhandled error (CODE)`) or
/// its debug dump of the raw response.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(m) = e.downcast_ref::<aws_smithy_types::error::ErrorMetadata>() {
            let code = m.code().unwrap_or("error");
            parts.push(
                m.message()
                    .map_or(code.to_string(), |msg| format!("{code}: {msg}")),
            );
            break;
        }
        let text = e.to_string();
        let empty = matches!(text.as_str(), "other" | "service error")
            || text.starts_with("unhandled error (");
        if !empty && !parts.contains(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The [`Caller`] of a service: `$sdk` is its SDK crate (`aws_sdk_ec2`), its client
/// made from `$config` with the capture interceptor.
macro_rules! caller {
    ($service:expr, $sdk:ident, $config:expr) => {
        Caller::new($service, |capture| {
            $sdk::Client::from_conf(
                $sdk::config::Builder::from($config)
                    .interceptor(capture)
                    .build(),
            )
        })
    };
}
pub(crate) use caller;

/// Every page of a paginated call: `$call` is the fluent builder, `$token` the output's
/// next-token accessor and `$set` the builder's setter for it (by default
/// `next_token` and `set_next_token`, as most services name them).
macro_rules! paged {
    ($caller:expr, $op:literal, $call:expr) => {
        paged!($caller, $op, $call, set_next_token, next_token)
    };
    ($caller:expr, $op:literal, $call:expr, $set:ident, $token:ident) => {{
        let caller = &$caller;
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = $call
                .$set(token.take())
                .send()
                .await
                .map_err(|e| caller.failed($op, &e))?;
            pages.push(caller.page($op)?);
            match out.$token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        caller.merged($op, pages)
    }};
}
pub(crate) use paged;

/// One call that isn't paginated (`$call` is the fluent builder): the SDK's output and
/// the response decoded.
macro_rules! single {
    ($caller:expr, $op:literal, $call:expr) => {{
        let caller = &$caller;
        let out = $call.send().await.map_err(|e| caller.failed($op, &e))?;
        (out, caller.page($op)?)
    }};
}
pub(crate) use single;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::response;

    /// A refused call reads as what failed and the service's code and message.
    #[test]
    fn errors_read_as_the_service_said_them() {
        #[derive(Debug)]
        struct Wrapper(&'static str, Option<Box<dyn std::error::Error + 'static>>);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref()
            }
        }
        let service = aws_smithy_types::error::ErrorMetadata::builder()
            .code("AccessDenied")
            .message("User is not authorized to perform: sts:AssumeRole")
            .build();
        let e = Wrapper(
            "dispatch failure",
            Some(Box::new(Wrapper(
                "other",
                Some(Box::new(Wrapper(
                    "an error occurred while loading credentials",
                    Some(Box::new(Wrapper(
                        "unhandled error (AccessDenied)",
                        Some(Box::new(service)),
                    ))),
                ))),
            ))),
        );
        assert_eq!(
            chain(&e),
            "dispatch failure: an error occurred while loading credentials: AccessDenied: User is not authorized to perform: sts:AssumeRole"
        );
    }

    /// A query-protocol response (inside its result wrapper, lists of `member`) in two
    /// pages: the lists concatenate and the token goes, as the CLI prints them.
    #[test]
    fn query_pages_merge_as_the_cli_merges_them() {
        let page = |name: &str, token: &str| {
            format!(
                r#"<DescribeLaunchConfigurationsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
<DescribeLaunchConfigurationsResult>
<LaunchConfigurations><member>
<LaunchConfigurationName>{name}</LaunchConfigurationName>
<SecurityGroups><member>sg-1</member></SecurityGroups>
<EbsOptimized>false</EbsOptimized>
<ImageId>ami-1</ImageId>
</member></LaunchConfigurations>
{token}
</DescribeLaunchConfigurationsResult>
<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</DescribeLaunchConfigurationsResponse>"#
            )
        };
        let model = Service::AutoScaling.model();
        let op = "DescribeLaunchConfigurations";
        let pages = vec![
            response(&model, op, &page("a", "<NextToken>t</NextToken>")).unwrap(),
            response(&model, op, &page("b", "")).unwrap(),
        ];
        let merged = merge_pages(&model.operations[op], pages).to_cli_text();
        assert_eq!(
            merged,
            r#"{
    "LaunchConfigurations": [
        {
            "LaunchConfigurationName": "a",
            "ImageId": "ami-1",
            "SecurityGroups": [
                "sg-1"
            ],
            "EbsOptimized": false
        },
        {
            "LaunchConfigurationName": "b",
            "ImageId": "ami-1",
            "SecurityGroups": [
                "sg-1"
            ],
            "EbsOptimized": false
        }
    ]
}"#
        );
    }
}
