//! JSON envelopes around flow log records: CloudWatch Logs subscription documents
//! (`{"messageType":"DATA_MESSAGE","logEvents":[{"message":...}]}`, possibly several
//! concatenated, as Firehose delivers them), `aws logs filter-log-events` /
//! `get-log-events` output (`{"events":[...]}`), a bare array of events, and JSON lines
//! with a `message` field.
//!
//! The envelope is unwrapped into one text line per event so the ordinary line decoder
//! reads the records; event numbers stand in for line numbers in messages.

use std::borrow::Cow;

use serde::Deserialize;

use crate::reject::{Location, Reason, Rejection, Tally, Unit};

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(rename = "messageType", borrow, default)]
    message_type: Option<Cow<'a, str>>,
    #[serde(rename = "logEvents", borrow, default)]
    log_events: Option<Vec<Event<'a>>>,
    #[serde(borrow, default)]
    events: Option<Vec<Event<'a>>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

/// The events of an envelope, as text lines.
#[derive(Debug, Default)]
pub(crate) struct Unwrapped {
    /// One line per event with a message, in file order.
    pub(crate) text: Vec<u8>,
    /// Event numbers (1-based) that had no usable message and so have no line in `text`;
    /// sorted. Line `n` of `text` is event `n + (skipped events before it)`.
    pub(crate) skipped_events: Vec<u64>,
    /// CloudWatch `CONTROL_MESSAGE` documents (destination health checks, no records).
    pub(crate) control_messages: u64,
    /// Envelope problems, positioned by event number.
    pub(crate) tally: Tally,
}

impl Unwrapped {
    /// The event number of line `line` (1-based) of `text`.
    pub(crate) fn event_of_line(&self, line: u64) -> u64 {
        // Each skipped event at or before the running position shifts it by one.
        let mut event = line;
        for &s in &self.skipped_events {
            if s <= event {
                event += 1;
            } else {
                break;
            }
        }
        event
    }

    fn push_message(&mut self, message: Option<&str>, event: u64) {
        match message {
            Some(m) => {
                // A record never spans lines; a stray newline must not split one event
                // into two lines (the decoder will judge the joined text).
                let m = m.trim_end();
                if m.contains('\n') {
                    self.text.extend(
                        m.bytes()
                            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
                    );
                } else {
                    self.text.extend_from_slice(m.as_bytes());
                }
                self.text.push(b'\n');
            }
            None => {
                self.skipped_events.push(event);
                self.reject(
                    event,
                    Reason::BadEnvelope,
                    "event has no `message` string".into(),
                );
            }
        }
    }

    /// Counts a rejection at `event`: `BadEnvelope` for an event that could not be read,
    /// `Unreadable` when the file as a whole stops being readable there (not an event, so
    /// no line is lost).
    fn reject(&mut self, event: u64, reason: Reason, detail: String) {
        self.tally.add(Rejection {
            location: Location {
                source: 0,
                position: event,
                unit: Unit::Event,
            },
            reason,
            field: None,
            detail,
        });
    }

    fn take_document(&mut self, doc: Document<'_>, events: &mut u64) {
        if doc.message_type.as_deref() == Some("CONTROL_MESSAGE") {
            self.control_messages += 1;
            return;
        }
        match (doc.log_events.or(doc.events), doc.message) {
            (Some(list), _) => {
                for e in list {
                    *events += 1;
                    self.push_message(e.message.as_deref(), *events);
                }
            }
            (None, Some(m)) => {
                *events += 1;
                self.push_message(Some(&m), *events);
            }
            (None, None) => {
                *events += 1;
                self.skipped_events.push(*events);
                self.reject(
                    *events,
                    Reason::BadEnvelope,
                    "JSON object has no `message`, `logEvents` or `events`".into(),
                );
            }
        }
    }
}

/// Unwraps every event of a JSON envelope.
pub(crate) fn unwrap(content: &[u8]) -> Unwrapped {
    let mut out = Unwrapped::default();
    let mut events = 0u64;
    let first_line = content
        .split(|&b| b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or_default();
    let trimmed = first_line.trim_ascii_start();
    if trimmed.starts_with(b"[") {
        match serde_json::from_slice::<Vec<Event<'_>>>(content) {
            Ok(list) => {
                for e in list {
                    events += 1;
                    out.push_message(e.message.as_deref(), events);
                }
            }
            Err(e) => out.reject(
                1,
                Reason::Unreadable,
                format!("not a JSON array of events: {e}"),
            ),
        }
        return out;
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(first_line).is_ok() {
        // JSON lines: one object per line, and a broken line costs only itself.
        for line in content.split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Document<'_>>(line) {
                Ok(doc) => out.take_document(doc, &mut events),
                Err(e) => {
                    events += 1;
                    out.skipped_events.push(events);
                    out.reject(
                        events,
                        Reason::BadEnvelope,
                        format!("not a JSON object: {e}"),
                    );
                }
            }
        }
    } else {
        // One pretty-printed document, or several concatenated: read them in turn. A
        // syntax error leaves no way to find the next document, so it ends the source.
        let mut stream = serde_json::Deserializer::from_slice(content).into_iter::<Document<'_>>();
        for doc in stream.by_ref() {
            match doc {
                Ok(doc) => out.take_document(doc, &mut events),
                Err(e) => {
                    out.reject(
                        events + 1,
                        Reason::Unreadable,
                        format!("unreadable JSON, the rest of the file is skipped: {e}"),
                    );
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(u: &Unwrapped) -> Vec<&str> {
        std::str::from_utf8(&u.text).unwrap().lines().collect()
    }

    #[test]
    fn subscription_documents_concatenated() {
        let doc = br#"{"messageType":"DATA_MESSAGE","owner":"1","logEvents":[{"id":"1","timestamp":1,"message":"a b"},{"id":"2","timestamp":2,"message":"c d"}]}{"messageType":"CONTROL_MESSAGE","logEvents":[{"message":"CWL CONTROL MESSAGE: Checking health of destination"}]}{"messageType":"DATA_MESSAGE","logEvents":[{"message":"e f"}]}"#;
        let u = unwrap(doc);
        assert_eq!(lines(&u), ["a b", "c d", "e f"]);
        assert_eq!(u.control_messages, 1);
        assert!(u.tally.is_empty());
    }

    #[test]
    fn filter_log_events_output_pretty_printed() {
        let doc = b"{\n  \"events\": [\n    {\"logStreamName\": \"eni-1-all\", \"timestamp\": 1, \"message\": \"x \\\"y\\\"\"},\n    {\"message\": \"z\"}\n  ],\n  \"searchedLogStreams\": []\n}\n";
        let u = unwrap(doc);
        assert_eq!(lines(&u), ["x \"y\"", "z"]);
    }

    #[test]
    fn json_lines_with_a_bad_line() {
        let doc = b"{\"message\":\"one\"}\nnot json\n\n{\"message\":\"three\"}\n{\"other\":1}\n";
        let u = unwrap(doc);
        assert_eq!(lines(&u), ["one", "three"]);
        assert_eq!(u.tally.count_of(Reason::BadEnvelope), 2);
        assert_eq!(u.skipped_events, [2, 4]);
        assert_eq!(u.event_of_line(1), 1);
        assert_eq!(u.event_of_line(2), 3);
        assert_eq!(u.tally.positions(), [2, 4]);
    }

    #[test]
    fn array_of_events() {
        let u = unwrap(b"[{\"message\":\"a\"},{\"message\":\"b\"}]");
        assert_eq!(lines(&u), ["a", "b"]);
        // Found by fuzzing: a broken array is the file failing, not an event.
        let u = unwrap(b"[ mes8 2/ ni\n");
        assert!(u.text.is_empty() && u.skipped_events.is_empty());
        assert_eq!(u.tally.count_of(Reason::Unreadable), 1);
    }

    #[test]
    fn broken_document_stream_is_reported() {
        let u = unwrap(b"{\"events\":[{\"message\":\"a\"}]}\n{\"events\": [ {\"mess");
        assert_eq!(lines(&u), ["a"]);
        assert_eq!(u.tally.count_of(Reason::BadEnvelope), 1);
        let u = unwrap(b"{\n\"events\":[{\"message\":\"a\"}]}\n{\"events\": [ {\"mess");
        assert_eq!(lines(&u), ["a"]);
        assert_eq!(u.tally.count_of(Reason::Unreadable), 1);
    }
}
