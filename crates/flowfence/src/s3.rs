//! `s3://` on the command line: `flowfence ls`, and the fetch loop that hands what a
//! window selects to a command a batch at a time, with a progress bar.

use std::io::IsTerminal;

use anyhow::anyhow;
use flowfence_aggregate::Stamped;
use flowfence_flowlog::Source;
use flowfence_s3::{
    Archive, BatchLimits, Connect, Fetched, Listing, ListingSummary, Object, S3Uri, Window,
    batches, list,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{LsArgs, S3Args};
use crate::failure::Failure;

impl S3Args {
    fn window(&self) -> Window {
        Window {
            since: self.since.map(day_of),
            until: self.until,
            accounts: self.accounts.clone(),
            regions: self.regions.clone(),
        }
    }

    fn connect(&self, uri: &S3Uri) -> Result<Archive, Failure> {
        Archive::connect(
            &uri.bucket,
            &Connect {
                endpoint_url: self.endpoint_url.clone(),
                region: self.bucket_region.clone(),
                profile: self.profile.clone(),
                attempts: self.attempts,
            },
        )
        .map_err(|e| Failure::Io(e.into()))
    }

    fn listing(&self, uri: &S3Uri) -> Result<(Archive, Listing), Failure> {
        let archive = self.connect(uri)?;
        let listing = list(&archive, uri, &self.window()).map_err(|e| Failure::Io(e.into()))?;
        Ok((archive, listing))
    }
}

/// The day a Unix time falls on.
fn day_of(secs: u64) -> flowfence_s3::Day {
    flowfence_s3::civil_from_days((secs / 86_400) as i64)
}

fn parse_uri(s: &str) -> Result<S3Uri, Failure> {
    S3Uri::parse(s).ok_or_else(|| Failure::Usage(anyhow!("{s}: expected s3://bucket/prefix")))
}

/// `flowfence ls`.
pub(crate) fn ls(args: LsArgs) -> Result<(), Failure> {
    let mut out = String::new();
    for location in &args.locations {
        let uri = parse_uri(location)?;
        let (_, listing) = args.s3.listing(&uri)?;
        out += &ListingSummary {
            uri: &uri,
            listing: &listing,
            keys: args.keys,
        }
        .to_string();
    }
    print!("{out}");
    Ok(())
}

/// Which of a location's objects are still to read, given them and their names.
pub(crate) type Pending<'a> =
    dyn FnMut(Vec<Object>, &dyn Fn(&Object) -> String) -> Vec<Object> + 'a;

/// Lists `locations` and fetches what the window selects in batches bounded in bytes
/// and count, handing each batch (sources in memory, with their ETags) to `f`. Only the
/// objects `pending` keeps are fetched (it is given each location's objects and their
/// names); objects that still fail after retries are counted (or, `strict`, stop the
/// run).
pub(crate) fn each_batch(
    locations: &[String],
    s3: &S3Args,
    strict: bool,
    quiet: bool,
    pending: &mut Pending<'_>,
    fetched: &mut Fetched,
    f: &mut dyn FnMut(Vec<Stamped>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    for location in locations {
        let uri = parse_uri(location)?;
        let (archive, listing) = s3.listing(&uri)?;
        let name = |o: &Object| format!("s3://{}/{}", uri.bucket, o.key);
        let todo = pending(listing.objects, &name);
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            ProgressBar::new(todo.iter().map(|o| o.size).sum()).with_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}  {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            )
        });
        for range in batches(&todo, BatchLimits::new(s3.batch_mib, s3.concurrency)) {
            let batch = &todo[range.clone()];
            let objects_done = std::sync::atomic::AtomicUsize::new(range.start);
            let results = archive.fetch(batch, s3.concurrency, &|o, _| {
                let n = objects_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if let Some(b) = &bar {
                    b.inc(o.size);
                    b.set_message(format!("{n}/{} objects", todo.len()));
                }
            });
            let mut sources = Vec::new();
            for (o, r) in batch.iter().zip(results) {
                match r {
                    Ok(data) => {
                        fetched.objects += 1;
                        fetched.bytes += data.len() as u64;
                        sources.push(Stamped {
                            source: Source::Memory {
                                name: name(o),
                                data,
                            },
                            stamp: o.etag.clone(),
                        });
                    }
                    Err(e) if strict => {
                        return Err(Failure::Io(anyhow!(
                            "{e} (--strict / --s3-strict stop at the first object that fails)"
                        )));
                    }
                    Err(e) => fetched.failed.push((name(o), e.to_string())),
                }
            }
            f(sources)?;
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }
    Ok(())
}
