//! The archive over aws-sdk-s3: credentials, region and profile from the standard chain,
//! `--endpoint-url`/`AWS_ENDPOINT_URL` with path-style addressing for S3-compatible
//! stores, paginated listings, and bounded concurrent GETs that retry what long batch
//! jobs meet (throttling and timeouts through the SDK's retries; truncated bodies and
//! broken streams here).

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use crate::listing::{Lister, Object};

/// How to reach S3.
#[derive(Clone, Debug, Default)]
pub struct Connect {
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); `AWS_ENDPOINT_URL` also works.
    pub endpoint_url: Option<String>,
    /// The region (default: the chain's, else `us-east-1`).
    pub region: Option<String>,
    /// A named profile.
    pub profile: Option<String>,
    /// Attempts per request before an object is reported failed.
    pub attempts: u32,
}

/// What went wrong talking to S3.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// A listing failed (after retries).
    #[error("s3://{bucket}/{prefix}: listing failed: {message}")]
    List {
        /// Bucket.
        bucket: String,
        /// Prefix.
        prefix: String,
        /// The SDK's message.
        message: String,
    },
    /// An object could not be read (after retries).
    #[error("s3://{bucket}/{key}: {message} (after {attempts} attempts)")]
    Get {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Why.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The async runtime could not start.
    #[error("cannot start the S3 client: {0}")]
    Runtime(#[from] std::io::Error),
}

/// One bucket, ready to list and read.
pub struct Archive {
    client: Client,
    runtime: Runtime,
    bucket: String,
    attempts: u32,
}

/// The full chain of an SDK error, for messages.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

impl Archive {
    /// Connects to `bucket` (nothing is sent until the first request).
    pub fn connect(bucket: &str, connect: &Connect) -> Result<Archive, S3Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let attempts = connect.attempts.max(1);
        // A stalled connection must not hang a batch job: each attempt has a deadline,
        // and a timed-out attempt is retried like any other transient failure.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(300))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(attempts))
            .timeout_config(timeouts);
        if let Some(p) = &connect.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &connect.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(url) = &connect.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = runtime.block_on(loader.load());
        let custom_endpoint = connect.endpoint_url.is_some() || shared.endpoint_url().is_some();
        let mut config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(custom_endpoint);
        if shared.region().is_none() {
            config = config.region(aws_config::Region::new("us-east-1"));
        }
        Ok(Archive {
            client: Client::from_conf(config.build()),
            runtime,
            bucket: bucket.to_string(),
            attempts,
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Reads `objects`, at most `concurrency` at a time; `done` is called as each one
    /// finishes (for progress). Results come back in the order of `objects`.
    pub fn fetch(
        &self,
        objects: &[Object],
        concurrency: usize,
        done: &(dyn Fn(&Object, &Result<Bytes, S3Error>) + Sync),
    ) -> Vec<Result<Bytes, S3Error>> {
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        self.runtime.block_on(async {
            let handles: Vec<_> = objects
                .iter()
                .map(|o| {
                    let (client, gate, bucket, key, size, attempts) = (
                        self.client.clone(),
                        gate.clone(),
                        self.bucket.clone(),
                        o.key.clone(),
                        o.size,
                        self.attempts,
                    );
                    tokio::spawn(async move {
                        let _permit = gate.acquire_owned().await.expect("the gate stays open");
                        get(&client, &bucket, &key, size, attempts).await
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(handles.len());
            for (h, o) in handles.into_iter().zip(objects) {
                let r = h.await.unwrap_or_else(|e| {
                    Err(S3Error::Get {
                        bucket: self.bucket.clone(),
                        key: o.key.clone(),
                        message: format!("task failed: {e}"),
                        attempts: 0,
                    })
                });
                done(o, &r);
                out.push(r);
            }
            out
        })
    }
}

/// One object, whole, retried on errors the SDK doesn't retry itself (a body that ends
/// early or breaks off) with exponential backoff.
async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    size: u64,
    attempts: u32,
) -> Result<Bytes, S3Error> {
    let mut last = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_millis(100 << (attempt - 2).min(6))).await;
        }
        let response = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(r) => r,
            Err(e) => {
                last = describe(&e);
                continue;
            }
        };
        match response.body.collect().await {
            Ok(body) => {
                let bytes = body.into_bytes();
                if bytes.len() as u64 == size {
                    return Ok(bytes);
                }
                last = format!("truncated: {} of {size} bytes", bytes.len());
            }
            Err(e) => last = format!("reading the body: {}", describe(&e)),
        }
    }
    Err(S3Error::Get {
        bucket: bucket.to_string(),
        key: key.to_string(),
        message: last,
        attempts,
    })
}

impl Lister for Archive {
    type Error = S3Error;

    fn list(&self, prefix: &str, delimited: bool) -> Result<(Vec<Object>, Vec<String>), S3Error> {
        self.runtime.block_on(async {
            let mut objects = Vec::new();
            let mut prefixes = Vec::new();
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_delimiter(delimited.then(|| "/".to_string()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| S3Error::List {
                    bucket: self.bucket.clone(),
                    prefix: prefix.to_string(),
                    message: describe(&e),
                })?;
                for o in page.contents() {
                    objects.push(Object {
                        key: o.key().unwrap_or_default().to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    });
                }
                for p in page.common_prefixes() {
                    if let Some(p) = p.prefix() {
                        prefixes.push(p.to_string());
                    }
                }
            }
            Ok((objects, prefixes))
        })
    }
}
