//! `flowfence`: derives least-privilege AWS security groups from VPC flow logs.
//!
//! This binary is a thin layer: it turns flags into typed options, runs the library
//! crates and reports. Exit codes: 0 success, 1 a check failed (`verify`), 2 usage,
//! 65 bad input (`--strict`), 74 I/O error.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

mod aggregate;
mod allocator;
mod cli;
mod failure;
mod inventory;
mod logs;
mod parse;
mod progress;
mod propose;
mod run;
mod s3;

fn main() -> ExitCode {
    allocator::hold_mmap_threshold();
    let args = cli::Cli::parse();
    let quiet = args.global.quiet;
    if let Some(threads) = args.global.threads {
        // Only fails if a pool already exists, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
    let result = match args.command {
        cli::Command::Parse(args) => parse::run(args, quiet),
        cli::Command::Aggregate(args) => aggregate::run(args, quiet),
        cli::Command::Merge(args) => aggregate::merge(args, quiet),
        cli::Command::Propose(args) => propose::run(args, quiet),
        cli::Command::Export(args) => propose::export(args),
        cli::Command::Ls(args) => s3::ls(args),
        cli::Command::Run(args) => run::run(args, quiet),
        cli::Command::Verify(args) => propose::verify(args, quiet),
        cli::Command::Inventory(cli::InventoryCommand::Fetch(args)) => {
            inventory::fetch(args, quiet)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // A closed pipe (`flowfence parse ... | head`) is how a reader says "enough".
            if is_broken_pipe(failure.error()) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(
                std::io::stderr(),
                "flowfence: error: {}",
                message(failure.error())
            );
            ExitCode::from(failure.exit_code())
        }
    }
}

/// An error and its causes on one line, each cause once: many errors already spell out
/// their cause (`FILE: missing field ... at line 1 column 35`), so a cause the line
/// already says is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
