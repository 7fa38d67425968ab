//! `flowfence-synth`: writes a generated environment's flow logs, inventory and truth.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use flowfence_synth::{
    Environment, Form, Span, Variant, WINDOW, WINDOWS_PER_FILE, unix_day, write_inventory,
    write_logs, write_truth,
};

/// Generate a VPC environment's flow logs, inventory and truth.
///
/// Examples:
///
///   flowfence-synth --sample --out sample-logs
///
///   flowfence-synth --form s3-text-v5 --target-size 1G --out benches/data/v5
///
///   flowfence-synth --variant drift --hours 10 --continuation 0.8 --out /tmp/drift
///
///   flowfence-synth --hours 6 --continuation 0.5 --replace-instance 0.5 --out /tmp/replaced
///
///   flowfence-synth --growing --hours 24 --scale 20 --out /tmp/day
#[derive(Debug, Parser)]
#[command(name = "flowfence-synth", version, verbatim_doc_comment)]
struct Args {
    /// Directory to write into.
    #[arg(long)]
    out: PathBuf,
    /// Seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Instances in each of the web and app tiers.
    #[arg(long, default_value_t = 3)]
    instances: usize,
    /// Write the bundled sample: one day each of v2 text, v5 text, Parquet and a
    /// CloudWatch export, plus the inventory and the truth.
    #[arg(long, conflicts_with_all = ["form", "target_size"])]
    sample: bool,
    /// The delivery form to write.
    #[arg(long, value_enum, default_value_t = FormArg::S3TextV5)]
    form: FormArg,
    /// First day, YYYY-MM-DD.
    #[arg(long, default_value = "2026-11-02")]
    start: String,
    /// Hours of traffic.
    #[arg(long, default_value_t = 1.0)]
    hours: f64,
    /// Connection rate multiplier.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Write at least this much log text instead of --hours (e.g. 500M, 1G).
    #[arg(long, value_name = "SIZE")]
    target_size: Option<String>,
    /// Traffic added to the base environment: `rare-flows` (one tier's members see
    /// different rare flows), `partner-api` (more partner addresses than a group's rule
    /// quota), `drift` (traffic that changes over the span as a real VPC's does: pods
    /// rescheduled onto new addresses, changing internet peers, refused and rejected
    /// attempts, a one-way protocol, and new internal flows from 70% and 85% of the span
    /// on; learn a plan from the first 80% and check it on the rest).
    #[arg(long, value_enum, default_value_t = VariantArg::Base)]
    variant: VariantArg,
    /// Split the logs in time: files from this fraction of the span on go under
    /// OUT/continuation, the rest under OUT/training (e.g. 0.8), to learn a plan from one
    /// and check it on the other.
    #[arg(long, value_name = "FRACTION", conflicts_with = "sample")]
    continuation: Option<f64>,
    /// At this fraction of the span, the web tier's auto scaling group replaces an
    /// instance: a new interface and address, in the groups its launch template names
    /// (the default group). OUT/inventory is taken before, OUT/inventory-after at the
    /// end: learn a plan before the replacement and check it after.
    #[arg(long, value_name = "FRACTION", conflicts_with = "sample")]
    replace_instance: Option<f64>,
    /// Traffic whose distinct connections keep growing with the span, as a real VPC's
    /// do, at any length: internet clients and NAT'd destinations keep arriving (half of
    /// each file's internet connections are a peer first seen then, half one first seen
    /// in the day before), and internet clients draw ephemeral ports from their
    /// operating system's range (Linux 32768-60999, Windows and macOS 49152-65535). For
    /// memory benchmarks: the base environment's peers fill a fixed space, so its
    /// connections per GiB fall as the span grows.
    #[arg(long, conflicts_with = "sample")]
    growing: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum VariantArg {
    Base,
    RareFlows,
    PartnerApi,
    Drift,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormArg {
    S3TextV2,
    S3TextV5,
    S3Parquet,
    Cloudwatch,
    /// `aws logs create-export-task` objects (default format).
    CloudwatchExport,
    /// Amazon Security Lake's OCSF Parquet.
    SecurityLake,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowfence-synth: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_day(s: &str) -> anyhow::Result<u64> {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        bail!("--start: expected YYYY-MM-DD, got {s}")
    };
    Ok(unix_day(y.parse()?, m.parse()?, d.parse()?))
}

fn parse_size(s: &str) -> anyhow::Result<u64> {
    let (num, mult) = match s.chars().last() {
        Some('G' | 'g') => (&s[..s.len() - 1], 1u64 << 30),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('K' | 'k') => (&s[..s.len() - 1], 1 << 10),
        _ => (s, 1),
    };
    Ok((num.parse::<f64>().with_context(|| format!("size {s}"))? * mult as f64) as u64)
}

fn run(args: Args) -> anyhow::Result<()> {
    let variant = match args.variant {
        VariantArg::Base => Variant::Base,
        VariantArg::RareFlows => Variant::RareFlows,
        VariantArg::PartnerApi => Variant::PartnerApi,
        VariantArg::Drift => Variant::Drift,
    };
    let mut env = Environment::new(args.seed, args.instances).with_variant(variant);
    if args.growing {
        env = env.growing();
    }
    if let Some(at) = args.replace_instance {
        if !(0.0..1.0).contains(&at) {
            bail!("--replace-instance: {at} is not a fraction of the span (0 to 1)");
        }
        env = env.with_replacement(at);
    }
    let day = parse_day(&args.start)?;
    let file_secs = WINDOWS_PER_FILE * WINDOW;
    if args.sample {
        // An hour of morning traffic per form (20 minutes for the bulkier CloudWatch
        // export), on consecutive days, so the sample stays small.
        let forms = [
            (Form::S3TextV2, "s3-text-v2", 12),
            (Form::S3TextV5, "s3-text-v5", 12),
            (Form::S3Parquet, "s3-parquet", 12),
            (Form::CloudWatch, "cloudwatch", 4),
        ];
        for (n, (form, name, files)) in forms.into_iter().enumerate() {
            let span = Span {
                start: day + n as u64 * 86_400 + 9 * 3600,
                files,
                scale: 0.2,
                continuation_from: None,
            };
            let w = write_logs(
                &env,
                args.seed,
                form,
                span,
                &args.out.join("logs").join(name),
            )?;
            eprintln!("{name}: {} files, {} records", w.files.len(), w.records);
        }
        write_inventory(&env, &args.out.join("inventory"))?;
        write_truth(&env, args.seed, &args.out.join("truth.json"))?;
        return Ok(());
    }
    let form = match args.form {
        FormArg::S3TextV2 => Form::S3TextV2,
        FormArg::S3TextV5 => Form::S3TextV5,
        FormArg::S3Parquet => Form::S3Parquet,
        FormArg::Cloudwatch => Form::CloudWatch,
        FormArg::CloudwatchExport => Form::CloudWatchExport(flowfence_synth::Format::V2),
        FormArg::SecurityLake => Form::SecurityLake,
    };
    if args.continuation.is_some() && matches!(form, Form::CloudWatch | Form::CloudWatchExport(_)) {
        bail!("--continuation: the CloudWatch forms are not split in time; choose an S3 form");
    }
    let files = match &args.target_size {
        Some(size) => {
            // Size one file, then write as many as reach the target.
            let target = parse_size(size)?;
            let probe = tempfile_dir(&args.out)?;
            let one = write_logs(
                &env,
                args.seed,
                form,
                Span {
                    start: day,
                    files: 1,
                    scale: args.scale,
                    continuation_from: None,
                },
                &probe,
            )?;
            std::fs::remove_dir_all(&probe)?;
            target.div_ceil(one.text_bytes.max(1))
        }
        None => ((args.hours * 3600.0) as u64).div_ceil(file_secs).max(1),
    };
    let w = write_logs(
        &env,
        args.seed,
        form,
        Span {
            start: day,
            files,
            scale: args.scale,
            continuation_from: args.continuation,
        },
        &args.out,
    )?;
    write_inventory(&env.at(0.0), &args.out.join("inventory"))?;
    if args.replace_instance.is_some() {
        write_inventory(&env.at(1.0), &args.out.join("inventory-after"))?;
    }
    write_truth(&env, args.seed, &args.out.join("truth.json"))?;
    eprintln!(
        "wrote {} files, {} records, {:.1} MiB of log text under {}",
        w.files.len(),
        w.records,
        w.text_bytes as f64 / (1 << 20) as f64,
        args.out.display()
    );
    Ok(())
}

fn tempfile_dir(out: &std::path::Path) -> anyhow::Result<PathBuf> {
    let dir = out.join(".probe");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
