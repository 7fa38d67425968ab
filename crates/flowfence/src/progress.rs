//! A progress bar on stderr while a long read runs, when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flowfence_flowlog::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// Draws the bar from a background thread until dropped.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts a bar over `sources` sources, or nothing when stderr is not a terminal or
    /// `quiet` is set (piped output stays clean).
    pub(crate) fn start(progress: &Arc<Progress>, sources: u64, quiet: bool) -> Option<Ticker> {
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new(sources).with_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} sources  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(progress), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while !s.load(Ordering::Relaxed) {
                let mib = p.text_bytes() as f64 / (1024.0 * 1024.0);
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                bar.set_position(p.sources());
                bar.set_message(format!(
                    "{mib:.0} MiB of text, {} records, {:.0} MiB/s",
                    p.records(),
                    mib / secs
                ));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Some(Ticker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
