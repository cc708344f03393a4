//! The bounded event store: newest events kept up to a count and an age, in memory. The browser
//! persists its snapshot in IndexedDB (pkg-template/), so the same rules hold on both sides.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::event::Event;
use crate::error::{Error, Result};

/// Snapshot format version; [`History::restore`] migrates older ones.
pub const SCHEMA_VERSION: u32 = 1;
const DAY_MS: f64 = 86_400_000.0;

/// How much history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "HistoryLimits"))]
pub struct StoreConfig {
    /// Most events kept; the oldest go first (default 500).
    #[serde(default = "default_max_events")]
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>", optional))]
    pub max_events: usize,
    /// Events older than this many days are dropped (default 30).
    #[serde(default = "default_max_age_days")]
    #[cfg_attr(not(target_arch = "wasm32"), ts(as = "Option<_>", optional))]
    pub max_age_days: f64,
}

fn default_max_events() -> usize {
    500
}

fn default_max_age_days() -> f64 {
    30.0
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_events: default_max_events(),
            max_age_days: default_max_age_days(),
        }
    }
}

impl StoreConfig {
    /// Rejects limits that would keep nothing or keep forever by accident.
    pub fn validate(&self) -> Result<()> {
        if self.max_events == 0 || self.max_events > 100_000 {
            return Err(Error::InvalidInput(format!(
                "history maxEvents is {}; use 1..=100000 (default 500)",
                self.max_events
            )));
        }
        if !(self.max_age_days.is_finite() && self.max_age_days > 0.0 && self.max_age_days <= 3650.0) {
            return Err(Error::InvalidInput(format!(
                "history maxAgeDays is {}; use a number of days in (0, 3650] (default 30)",
                self.max_age_days
            )));
        }
        Ok(())
    }
}

/// What `export()` returns and what the browser persists: the shopper's own events, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "HistorySnapshot"))]
pub struct Snapshot {
    /// [`SCHEMA_VERSION`] when written by this build.
    pub version: u32,
    /// Events, oldest first, each with its timestamp.
    pub events: Vec<Event>,
}

/// The shopper's events on this device, oldest first, always within the configured bounds.
#[derive(Debug, Clone, Default)]
pub struct History {
    config: StoreConfig,
    events: VecDeque<Event>,
}

impl History {
    /// An empty store with validated limits.
    pub fn new(config: StoreConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            events: VecDeque::new(),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> StoreConfig {
        self.config
    }

    /// Validates and records one event at `now_ms` (its own `ts` when given, which may not be in the
    /// future by more than a minute: clocks drift, pages lie, and a future event would never expire).
    pub fn push(&mut self, mut event: Event, now_ms: f64) -> Result<()> {
        event.validate()?;
        let ts = event.ts.unwrap_or(now_ms);
        let kind = event.kind.as_str();
        not_in_future(&event, ts, now_ms)?;
        if ts < now_ms - self.config.max_age_days * DAY_MS {
            return Err(Error::InvalidInput(format!(
                "{kind} event: `ts` {ts} is older than the history's {}-day limit",
                self.config.max_age_days
            )));
        }
        event.ts = Some(ts);
        // Keep time order even when the page reports a late event: insert after every older-or-equal one.
        let at = self.events.partition_point(|e| e.ts.unwrap_or(0.0) <= ts);
        self.events.insert(at, event);
        self.prune(now_ms);
        Ok(())
    }

    /// Drops events beyond the count limit or older than the age limit at `now_ms`.
    pub fn prune(&mut self, now_ms: f64) {
        let oldest = now_ms - self.config.max_age_days * DAY_MS;
        while self.events.front().is_some_and(|e| e.ts.unwrap_or(0.0) < oldest) {
            self.events.pop_front();
        }
        while self.events.len() > self.config.max_events {
            self.events.pop_front();
        }
    }

    /// Events, oldest first.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.events.iter()
    }

    /// Number of events kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.events.clear();
    }

    /// The shopper's own data, for `export()` and for persistence.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: SCHEMA_VERSION,
            events: self.events.iter().cloned().collect(),
        }
    }

    /// Replaces the events with a persisted snapshot, migrating older versions. Invalid events are
    /// skipped, not fatal: one bad record must not cost the shopper the rest. Returns how many were
    /// skipped so the caller can report it in diagnostics.
    pub fn restore(&mut self, json: &str, now_ms: f64) -> Result<usize> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::InvalidInput(format!("history snapshot is not JSON: {e}")))?;
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        let events = match version {
            // Version 1 is the current layout; a future version 2 would map its fields here.
            1 => value
                .get("events")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default(),
            v => {
                return Err(Error::InvalidInput(format!(
                    "history snapshot version {v} is not supported (this build reads 1..={SCHEMA_VERSION})"
                )))
            }
        };
        self.events.clear();
        let mut skipped = 0;
        for raw in events {
            // The same checks as `push`: a future event would never expire.
            let ok = serde_json::from_value::<Event>(raw).ok().filter(|e| {
                e.ts.is_some_and(|ts| not_in_future(e, ts, now_ms).is_ok()) && e.validate().is_ok()
            });
            match ok {
                Some(e) => {
                    let at = self.events.partition_point(|x| x.ts <= e.ts);
                    self.events.insert(at, e);
                }
                None => skipped += 1,
            }
        }
        self.prune(now_ms);
        Ok(skipped)
    }
}

/// Clocks drift and pages lie: an event more than a minute ahead of `now_ms` is refused.
fn not_in_future(event: &Event, ts: f64, now_ms: f64) -> Result<()> {
    if ts > now_ms + 60_000.0 {
        return Err(Error::InvalidInput(format!(
            "{} event: `ts` {ts} is in the future (now {now_ms}); pass ms since the epoch or leave it out",
            event.kind.as_str()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::EventKind;

    fn view(id: &str, ts: Option<f64>) -> Event {
        Event {
            kind: EventKind::View,
            product_id: Some(id.into()),
            title: None,
            category: None,
            price: None,
            quantity: None,
            query: None,
            ts,
        }
    }

    #[test]
    fn keeps_the_newest_events_within_count_and_age() {
        let mut h = History::new(StoreConfig {
            max_events: 3,
            max_age_days: 1.0,
        })
        .unwrap();
        let now = 10.0 * DAY_MS;
        for i in 0..5 {
            h.push(view(&format!("p{i}"), Some(now - 1000.0 * (5 - i) as f64)), now)
                .unwrap();
        }
        let ids: Vec<_> = h.events().map(|e| e.product_id.clone().unwrap()).collect();
        assert_eq!(ids, ["p2", "p3", "p4"]);
        // A day later, all of them are past the age limit.
        h.prune(now + DAY_MS);
        assert!(h.is_empty());
    }

    #[test]
    fn late_events_are_inserted_in_time_order_and_bad_ones_rejected() {
        let mut h = History::new(StoreConfig::default()).unwrap();
        let now = 100.0 * DAY_MS;
        h.push(view("b", None), now).unwrap();
        h.push(view("a", Some(now - 5_000.0)), now).unwrap();
        let ids: Vec<_> = h.events().map(|e| e.product_id.clone().unwrap()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(h.push(view("future", Some(now + 120_000.0)), now).is_err());
        assert!(h.push(view("ancient", Some(now - 31.0 * DAY_MS)), now).is_err());
        // Titles are persisted and encoded: 1,024 bytes is the most a page may pass.
        let mut long = view("long", None);
        long.title = Some("é".repeat(513));
        let err = h.push(long.clone(), now).unwrap_err().to_string();
        assert!(err.contains("`title` is 1026 bytes"), "{err}");
        long.title = Some("é".repeat(512));
        h.push(long, now).unwrap();
        h.clear();
        h.push(view("b", None), now).unwrap();
        h.push(view("a", Some(now - 5_000.0)), now).unwrap();
        let mut no_id = view("x", None);
        no_id.product_id = None;
        let err = h.push(no_id, now).unwrap_err().to_string();
        assert!(err.contains("productId"), "{err}");
        assert_eq!(h.len(), 2, "rejected events must not be stored");
    }

    #[test]
    fn snapshot_round_trips_and_skips_bad_records() {
        let mut h = History::new(StoreConfig::default()).unwrap();
        let now = 100.0 * DAY_MS;
        h.push(view("a", None), now).unwrap();
        let json = serde_json::to_string(&h.snapshot()).unwrap();
        let mut back = History::new(StoreConfig::default()).unwrap();
        assert_eq!(back.restore(&json, now).unwrap(), 0);
        assert_eq!(back.snapshot(), h.snapshot());

        let damaged = r#"{"version":1,"events":[{"type":"view","productId":"a","ts":1},{"type":"teleport"},{"type":"view","ts":2}]}"#;
        assert_eq!(back.restore(damaged, 3.0).unwrap(), 2);
        assert_eq!(back.len(), 1);
        assert!(back.restore(r#"{"version":99,"events":[]}"#, now).is_err());
        // A snapshot written under a wrong clock: the future event is skipped, as `push` refuses it
        // (kept, it would never expire).
        let future = format!(
            r#"{{"version":1,"events":[{{"type":"view","productId":"a","ts":{}}},{{"type":"view","productId":"b","ts":{}}}]}}"#,
            now - 1_000.0,
            now + 3_600_000.0
        );
        assert_eq!(back.restore(&future, now).unwrap(), 1);
        let ids: Vec<_> = back.events().map(|e| e.product_id.clone().unwrap()).collect();
        assert_eq!(ids, ["a"]);
        assert!(back.restore("not json", now).is_err());
    }

    #[test]
    fn limits_are_validated() {
        assert!(History::new(StoreConfig {
            max_events: 0,
            max_age_days: 1.0
        })
        .is_err());
        assert!(History::new(StoreConfig {
            max_events: 10,
            max_age_days: f64::NAN
        })
        .is_err());
    }
}
