//! `s3://` end to end against a real S3 server on 127.0.0.1: s3s-fs (an S3 API over a
//! folder, checking SigV4 signatures) run in-process, wrapped to fail GETs on demand.
//! Both key layouts, date filters (which prefixes were listed), gzip and Parquet
//! objects, a corrupted object, a server failing mid-run and a resumed run, and the S3
//! result equal to the same files read from disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use s3s::dto::{GetObjectInput, GetObjectOutput, ListObjectsV2Input, ListObjectsV2Output};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use crate::common::sample;
use crate::s3_serve::{ACCESS_KEY, SECRET_KEY, serve};

const BUCKET: &str = "flow";

/// GETs numbered `fail.0 .. fail.1` (counting from 0) answer 503 SlowDown; those in
/// `truncate` promise more bytes than they send (the connection breaks off mid-body).
struct Flaky {
    inner: s3s_fs::FileSystem,
    gets: Arc<AtomicUsize>,
    fail: (usize, usize),
    truncate: (usize, usize),
}

#[async_trait::async_trait]
impl S3 for Flaky {
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.inner.list_objects_v2(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let n = self.gets.fetch_add(1, Ordering::SeqCst);
        if (self.fail.0..self.fail.1).contains(&n) {
            return Err(s3_error!(SlowDown, "injected by the test"));
        }
        let mut response = self.inner.get_object(req).await?;
        if (self.truncate.0..self.truncate.1).contains(&n) {
            response.output.content_length = response.output.content_length.map(|l| l + 100);
        }
        Ok(response)
    }
}

/// A server over `root` on a free port, until dropped.
struct Server {
    port: u16,
    gets: Arc<AtomicUsize>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    fn start(root: &Path, fail: (usize, usize)) -> Server {
        Server::with_faults(root, fail, (0, 0))
    }

    fn with_faults(root: &Path, fail: (usize, usize), truncate: (usize, usize)) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let gets = Arc::new(AtomicUsize::new(0));
        let flaky = Flaky {
            inner: s3s_fs::FileSystem::new(root).unwrap(),
            gets: gets.clone(),
            fail,
            truncate,
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(serve(flaky, listener));
        Server {
            port,
            gets,
            runtime: Some(runtime),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Copies the files under `from` into `to`, keeping their relative paths (the sample's
/// directories are laid out as S3 keys).
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A bucket holding the sample's v5 text (AWS layout) and Parquet (Hive layout) logs.
fn bucket() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let b = root.path().join(BUCKET);
    std::fs::create_dir_all(&b).unwrap();
    copy_tree(Path::new(&sample("logs/s3-text-v5")), &b);
    copy_tree(Path::new(&sample("logs/s3-parquet")), &b);
    root
}

/// Runs flowfence against `server` with test credentials and nothing from this machine.
fn run(server: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowfence"))
        .args(args)
        .args(["--endpoint-url", &server.endpoint()])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(server: &Server, args: &[&str]) -> (String, String) {
    let out = run(server, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "flowfence {args:?}: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `aggregate` of `s3://flow/` into the CSV table `out`, with `extra` flags.
fn aggregate_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "aggregate",
        "--logs",
        "s3://flow/",
        "--inventory",
        &sample("inventory"),
        "-o",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn local_table(dir: &Path) -> String {
    let out = dir.join("local.csv");
    crate::common::ok(&[
        "aggregate",
        "-q",
        "--logs",
        &sample("logs/s3-text-v5"),
        &sample("logs/s3-parquet"),
        "--inventory",
        &sample("inventory"),
        "-o",
        out.to_str().unwrap(),
    ]);
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn ls_lists_only_the_windows_prefixes() {
    let root = bucket();
    let server = Server::start(root.path(), (0, 0));
    let (all, _) = ok(&server, &["ls", "s3://flow/"]);
    assert!(all.contains("s3://flow/: 24 objects"), "{all}");
    assert!(
        all.contains("2026-11-03") && all.contains("2026-11-04"),
        "{all}"
    );
    // One day of the Hive-layout logs: only that day's prefix is listed in full.
    let (one, _) = ok(
        &server,
        &[
            "ls",
            "s3://flow/",
            "--since",
            "2026-11-04",
            "--until",
            "2026-11-04",
            "--keys",
        ],
    );
    assert!(
        one.contains("12 objects") && one.contains("1 days; 2 prefixes listed"),
        "{one}"
    );
    let keys: Vec<&str> = one.lines().filter(|l| l.starts_with("  s3://")).collect();
    assert_eq!(keys.len(), 12);
    assert!(
        keys.iter()
            .all(|k| k.contains("year=2026/month=11/day=04/"))
    );
    // An account or region that isn't there lists nothing.
    let (none, _) = ok(&server, &["ls", "s3://flow/", "--account", "999999999999"]);
    assert!(none.contains(": 0 objects"), "{none}");
    assert_eq!(server.gets.load(Ordering::SeqCst), 0, "ls reads no object");
}

#[test]
fn aggregating_from_s3_equals_reading_the_same_files_from_disk() {
    let root = bucket();
    let server = Server::start(root.path(), (0, 0));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s3.csv");
    let (_, summary) = ok(&server, &strs(&aggregate_args(&out, &[])));
    assert!(summary.contains("S3: 24 objects read"), "{summary}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        local_table(dir.path())
    );
}

#[test]
fn throttling_is_retried_and_a_corrupted_object_is_reported_by_key() {
    let root = bucket();
    // A corrupted object among the v5 logs: gzip magic, then garbage.
    let day = root
        .path()
        .join(BUCKET)
        .join("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/03");
    std::fs::write(day.join("corrupted.log.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
    // The first three GETs are throttled.
    let server = Server::start(root.path(), (0, 3));
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("p.parquet");
    let (_, stderr) = ok(
        &server,
        &[
            "aggregate",
            "--logs",
            "s3://flow/",
            "--partial",
            partial.to_str().unwrap(),
        ],
    );
    assert!(stderr.contains("S3: 25 objects read"), "{stderr}");
    assert!(stderr.contains("0 failed"), "{stderr}");
    assert!(
        server.gets.load(Ordering::SeqCst) >= 28,
        "the throttled GETs were retried"
    );
    // The corrupted object is read, rejected and named; the run goes on.
    assert!(stderr.contains("corrupted.log.gz"), "{stderr}");
}

/// A run cut short by S3 going away resumes from its checkpoint (its store spilled, so
/// the checkpoint names runs kept beside it) to the result of one run.
#[test]
fn a_run_cut_short_resumes_from_its_checkpoint_to_the_same_result() {
    let root = bucket();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("state.parquet");
    let out = dir.path().join("s3.csv");
    let args = |checkpoint: &PathBuf, out: &PathBuf| -> Vec<String> {
        let checkpoint = checkpoint.to_str().unwrap();
        // A limit small enough that the store spills: the checkpoint names its runs.
        let flags = [
            "--checkpoint",
            checkpoint,
            "--concurrency",
            "1",
            "--attempts",
            "1",
            "--memory-limit",
            "64K",
        ];
        aggregate_args(out, &flags)
    };
    let mut strict = args(
        &dir.path().join("strict.parquet"),
        &dir.path().join("strict.csv"),
    );
    strict.push("--s3-strict".into());
    {
        // The server fails every GET after the sixth, as if it went away mid-run.
        let failing = Server::start(root.path(), (6, usize::MAX));
        let first = run(&failing, &strs(&args(&checkpoint, &out)));
        let stderr = String::from_utf8_lossy(&first.stderr);
        assert!(first.status.success(), "{stderr}");
        assert!(stderr.contains("S3: 6 objects read"), "{stderr}");
        assert!(stderr.contains("18 failed"), "{stderr}");
        let runs = dir.path().join("state.parquet.runs");
        assert!(
            std::fs::read_dir(&runs).unwrap().count() > 0,
            "no runs beside it"
        );
        // With --s3-strict the same failure stops the run, which still saves what its
        // finished batches read: the first four objects (batches of four at
        // --concurrency 1; the second batch failed at its third GET).
        let failing = Server::start(root.path(), (6, usize::MAX));
        assert!(!run(&failing, &strs(&strict)).status.success());
    }
    let (_, stderr) = ok(&Server::start(root.path(), (0, 0)), &strs(&strict));
    assert!(
        stderr.contains("S3: 20 objects read")
            && stderr.contains("4 sources already done (resumed)"),
        "{stderr}"
    );
    // Back up: the rerun reads only what is missing and ends where one run would.
    let server = Server::start(root.path(), (0, 0));
    let (_, stderr) = ok(&server, &strs(&args(&checkpoint, &out)));
    assert!(
        stderr.contains("S3: 18 objects read")
            && stderr.contains("6 sources already done (resumed)"),
        "{stderr}"
    );
    assert_eq!(server.gets.load(Ordering::SeqCst), 18);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        local_table(dir.path())
    );
}

/// `propose` takes `s3://` log paths like local ones; `--since` as a date both narrows
/// the listing and drops older connections.
#[test]
fn propose_reads_s3_like_local_files() {
    let root = bucket();
    let server = Server::start(root.path(), (0, 0));
    let inventory = sample("inventory");
    let (from_s3, _) = ok(
        &server,
        &[
            "propose",
            "-q",
            "--logs",
            "s3://flow/",
            "--inventory",
            &inventory,
        ],
    );
    let (local, _) = crate::common::ok(&[
        "propose",
        "-q",
        "--logs",
        &sample("logs/s3-text-v5"),
        &sample("logs/s3-parquet"),
        "--inventory",
        &inventory,
    ]);
    assert_eq!(from_s3, local);
    let gets = server.gets.load(Ordering::SeqCst);
    let (one_day, _) = ok(
        &server,
        &[
            "propose",
            "-q",
            "--logs",
            "s3://flow/",
            "--inventory",
            &inventory,
            "--since",
            "2026-11-04",
        ],
    );
    assert_eq!(
        server.gets.load(Ordering::SeqCst) - gets,
        12,
        "only 2026-11-04 is read"
    );
    assert_ne!(one_day, from_s3);
}

/// A body that breaks off mid-object is fetched again.
#[test]
fn truncated_bodies_are_fetched_again() {
    let root = bucket();
    let server = Server::with_faults(root.path(), (0, 0), (0, 3));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s3.csv");
    let (_, stderr) = ok(&server, &strs(&aggregate_args(&out, &[])));
    assert!(
        stderr.contains("S3: 24 objects read") && stderr.contains("0 failed"),
        "{stderr}"
    );
    assert!(
        server.gets.load(Ordering::SeqCst) >= 27,
        "the broken bodies were fetched again"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        local_table(dir.path())
    );
}

/// `parse` takes `s3://` too: NDJSON streamed batch by batch, CSV after every layout is
/// known; the same records as the files on disk.
#[test]
fn parse_reads_s3_like_local_files() {
    let root = bucket();
    let server = Server::start(root.path(), (0, 0));
    let local = |output: &str| {
        crate::common::ok(&[
            "parse",
            "-q",
            "--output",
            output,
            &sample("logs/s3-text-v5"),
            &sample("logs/s3-parquet"),
        ])
        .0
    };
    for output in ["ndjson", "csv"] {
        let (from_s3, _) = ok(
            &server,
            &[
                "parse",
                "-q",
                "--output",
                output,
                "s3://flow/",
                "--concurrency",
                "2",
            ],
        );
        assert_eq!(from_s3, local(output), "{output}");
    }
}

/// Sharded without a SQL engine: one `aggregate --partial` job per key range of the
/// bucket (here a day each, under its two delivery layouts), as an AWS Batch array job
/// or a Kubernetes indexed job runs them, and one `merge`, give the table of one run
/// over the whole bucket.
#[test]
fn partials_of_disjoint_key_ranges_merge_into_one_run() {
    let root = bucket();
    let server = Server::start(root.path(), (0, 0));
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let shards = [
        "s3://flow/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/03/",
        "s3://flow/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=04/",
    ];
    for (n, prefix) in shards.iter().enumerate() {
        let (_, stderr) = ok(
            &server,
            &[
                "aggregate",
                "--logs",
                prefix,
                "--partial",
                &path(&format!("shard-{n}.parquet")),
            ],
        );
        assert!(!stderr.contains("S3: 0 objects read"), "{stderr}");
    }
    let (_, merged) = crate::common::ok(&[
        "merge",
        &path("shard-1.parquet"),
        &path("shard-0.parquet"),
        "-o",
        &path("all.parquet"),
        "--inventory",
        &sample("inventory"),
        "--connections",
        &path("merged.csv"),
    ]);
    assert!(merged.contains("merged 2 partial results"), "{merged}");
    ok(
        &server,
        &strs(&aggregate_args(Path::new(&path("one.csv")), &["-q"])),
    );
    let merged = std::fs::read_to_string(path("merged.csv")).unwrap();
    assert_eq!(merged, std::fs::read_to_string(path("one.csv")).unwrap());
    assert_eq!(merged, local_table(dir.path()));
}
