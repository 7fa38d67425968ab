//! A source's layout chain: where its lines are and which layout is in force, carried
//! from one block of the source to the next (a header can change the layout mid-file).

use std::sync::Arc;

use crate::decode::RecordSink;
use crate::input;
use crate::layout::Layout;
use crate::reject::{Location, Reason, Rejection};

use super::jobs::Done;
use super::report::SourceTotals;

/// The state carried from one job of a source to the next: where its lines are and
/// which layout is in force.
pub(super) struct Chain {
    pub(super) source: usize,
    pub(super) lines: u64,
    /// The layout after the last absorbed job.
    pub(super) layout: Arc<Layout>,
    /// The layout expected after the last job handed out (see `Job::predict_end`).
    pub(super) predicted: Arc<Layout>,
    pub(super) initial: Arc<Layout>,
}

impl Chain {
    pub(super) fn new(source: usize, initial: Arc<Layout>) -> Chain {
        Chain {
            source,
            lines: 0,
            layout: Arc::clone(&initial),
            predicted: Arc::clone(&initial),
            initial,
        }
    }

    pub(super) fn layout(&self) -> Arc<Layout> {
        Arc::clone(&self.layout)
    }

    /// Like [`absorb`](Self::absorb), but first re-runs the job if it was decoded with a
    /// layout that turned out not to be the one in force at its start.
    pub(super) fn absorb_checked<P: RecordSink>(
        &mut self,
        done: Done,
        part: P,
        totals: &mut SourceTotals,
        make: &impl Fn() -> P,
    ) -> P {
        let expected = if done.first {
            &self.initial
        } else {
            &self.layout
        };
        if Arc::ptr_eq(&done.start, expected) || *done.start == **expected {
            self.absorb(done, totals);
            return part;
        }
        let mut fresh = make();
        let redone = done.rerun(Arc::clone(expected), &mut fresh);
        self.absorb(redone, totals);
        fresh
    }

    /// Adds a finished job's counts and rejections (made absolute) to `totals`.
    pub(super) fn absorb(&mut self, done: Done, totals: &mut SourceTotals) {
        let Done {
            mut outcome,
            failure,
            input_bytes,
            control_messages,
            unit,
            event_map,
            envelope,
            block,
            exported,
            ..
        } = done;
        if let Some(block) = block {
            input::recycle_block(block);
        }
        if let Some(map) = &event_map {
            outcome.tally.map_positions(|line| map.event_of_line(line));
        }
        outcome.tally.merge(envelope);
        outcome.tally.rebase(self.source, self.lines);
        if let Some(failure) = failure {
            let next_line = self.lines + outcome.counts.lines + 1;
            if failure.partial_line {
                outcome.counts.lines += 1;
                outcome.tally.add(Rejection {
                    location: Location {
                        source: self.source,
                        position: next_line,
                        unit,
                    },
                    reason: Reason::Truncated,
                    field: None,
                    detail: "the input ends inside this line".into(),
                });
            }
            outcome.tally.add(Rejection {
                location: Location {
                    source: self.source,
                    position: if failure.partial_line { next_line } else { 0 },
                    unit,
                },
                reason: Reason::Unreadable,
                field: None,
                detail: failure.message,
            });
        }
        self.lines += outcome.counts.lines;
        // Waves are planned only after the previous one is absorbed, so what is known for
        // sure replaces the guess.
        self.predicted = Arc::clone(&outcome.end_layout);
        self.layout = outcome.end_layout;
        totals.counts.add(&outcome.counts);
        totals.tally.merge(outcome.tally);
        totals.input_bytes += input_bytes;
        totals.control_messages += control_messages;
        totals.exported_sources += u64::from(exported);
    }
}

pub(super) fn ensure_chain(chains: &mut Vec<Chain>, source: usize, initial: &Arc<Layout>) {
    while chains.len() <= source {
        chains.push(Chain::new(chains.len(), Arc::clone(initial)));
    }
}
