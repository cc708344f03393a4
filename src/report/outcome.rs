//! On-device counters per cell, and the funnel outcome a cell is reduced to before randomisation.

use std::collections::BTreeMap;

use super::schema::validate_id;
use crate::{Error, Result};

/// Segments are coarse cohorts `0..SEGMENTS` (a u8 below 8), never anything finer.
pub const SEGMENTS: u8 = 8;
/// Revenue above this (in the shop's currency unit) is clamped: one big order must not dominate.
pub const REVENUE_CLAMP: f64 = 200.0;
/// Upper edges of the purchase revenue buckets (inclusive), after clamping.
pub const REVENUE_BUCKET_UPPER: [f64; 4] = [25.0, 50.0, 100.0, REVENUE_CLAMP];
/// The value the collector credits to each bucket (its midpoint) when estimating revenue.
pub const REVENUE_BUCKET_VALUE: [f64; 4] = [12.5, 37.5, 75.0, 150.0];
/// Outcome categories: seen only, clicked, added to cart, purchased in one of the revenue buckets.
pub const CATEGORIES: usize = 3 + REVENUE_BUCKET_UPPER.len();
/// Cells one device keeps at most: the store is bounded, extra cells are refused.
pub const MAX_CELLS: usize = 64;

/// The deepest funnel stage a cell reached. Stages are nested: a purchase counts as a click too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Shown, nothing else.
    Seen,
    /// Clicked, not added to the cart.
    Clicked,
    /// Added to the cart, not purchased.
    AddedToCart,
    /// Purchased; `bucket` indexes [`REVENUE_BUCKET_UPPER`].
    Purchased {
        /// Revenue bucket of the clamped purchase total.
        bucket: u8,
    },
}

impl Outcome {
    /// Position of this outcome in the one-hot encoding.
    pub fn category(self) -> usize {
        match self {
            Outcome::Seen => 0,
            Outcome::Clicked => 1,
            Outcome::AddedToCart => 2,
            Outcome::Purchased { bucket } => 3 + usize::from(bucket),
        }
    }

    /// The bucket of a purchase total: clamped to [0, [`REVENUE_CLAMP`]].
    pub fn revenue_bucket(revenue: f64) -> u8 {
        let r = if revenue.is_finite() {
            revenue.clamp(0.0, REVENUE_CLAMP)
        } else {
            0.0
        };
        let i = REVENUE_BUCKET_UPPER.iter().position(|&upper| r <= upper);
        i.unwrap_or(REVENUE_BUCKET_UPPER.len() - 1) as u8
    }
}

/// One event the page tracks for a cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Interaction {
    /// The copy or placement was shown.
    Impression,
    /// It was clicked.
    Click,
    /// A product reached through it was added to the cart.
    AddToCart,
    /// A purchase was attributed to it, with its revenue (finite, ≥ 0).
    Purchase {
        /// Order value in the shop's currency unit.
        revenue: f64,
    },
}

/// What a report is keyed by: never anything about the person, only which copy and which coarse segment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct CellKey {
    /// Experiment or placement id (`[A-Za-z0-9_.:-]`, ≤ 64 bytes).
    pub experiment: String,
    /// Variant id, same rules; `holdout` for the holdout arm of an A/B test.
    pub variant: String,
    /// Segment `< SEGMENTS`.
    pub segment: u8,
}

impl CellKey {
    /// A validated key.
    pub fn new(experiment: &str, variant: &str, segment: u8) -> Result<Self> {
        validate_id("experiment", experiment)?;
        validate_id("variant", variant)?;
        if segment >= SEGMENTS {
            return Err(Error::InvalidInput(format!(
                "segment {segment} is not below {SEGMENTS}; map your cohorts onto 0..{SEGMENTS}"
            )));
        }
        Ok(Self {
            experiment: experiment.to_owned(),
            variant: variant.to_owned(),
            segment,
        })
    }
}

/// Raw counters of one cell. They never leave the device as such, only through [`CellCounters::outcome`].
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CellCounters {
    /// Times shown.
    pub impressions: u32,
    /// Clicks.
    pub clicks: u32,
    /// Add-to-carts.
    pub add_to_carts: u32,
    /// Purchases.
    pub purchases: u32,
    /// Purchase revenue, clamped to [`REVENUE_CLAMP`] as it accumulates.
    pub revenue: f64,
}

impl CellCounters {
    /// The deepest stage reached; `None` for a cell never shown (nothing to report).
    pub fn outcome(&self) -> Option<Outcome> {
        if self.impressions == 0 {
            return None;
        }
        Some(if self.purchases > 0 {
            Outcome::Purchased {
                bucket: Outcome::revenue_bucket(self.revenue),
            }
        } else if self.add_to_carts > 0 {
            Outcome::AddedToCart
        } else if self.clicks > 0 {
            Outcome::Clicked
        } else {
            Outcome::Seen
        })
    }
}

/// The bounded on-device store of cells.
// Persisted by the browser between visits (reports go out on the next visit), as a list of pairs:
// JSON object keys must be strings.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "Vec<(CellKey, CellCounters)>", from = "Vec<(CellKey, CellCounters)>")]
pub struct Counters {
    // Ordered, so reports list cells deterministically for a given history (tests, reproducible sims).
    cells: BTreeMap<CellKey, CellCounters>,
}

impl From<Counters> for Vec<(CellKey, CellCounters)> {
    fn from(c: Counters) -> Self {
        c.cells.into_iter().collect()
    }
}

impl From<Vec<(CellKey, CellCounters)>> for Counters {
    fn from(pairs: Vec<(CellKey, CellCounters)>) -> Self {
        // A persisted state is untrusted input: keep only valid keys, at most MAX_CELLS.
        let cells = pairs
            .into_iter()
            .filter(|(k, _)| CellKey::new(&k.experiment, &k.variant, k.segment).is_ok())
            .filter(|(_, c)| c.revenue.is_finite() && c.revenue >= 0.0)
            .take(MAX_CELLS)
            .collect();
        Self { cells }
    }
}

impl Counters {
    /// Count `event` for `key`. Refuses a new cell beyond [`MAX_CELLS`] and invalid revenue.
    pub fn track(&mut self, key: &CellKey, event: Interaction) -> Result<()> {
        if let Interaction::Purchase { revenue } = event {
            if !(revenue.is_finite() && revenue >= 0.0) {
                return Err(Error::InvalidInput(format!(
                    "purchase revenue {revenue} must be a finite number ≥ 0; pass the order value in currency units"
                )));
            }
        }
        // Borrowed key: the common case (a cell already pending) allocates nothing.
        if !self.cells.contains_key(key) {
            if self.cells.len() >= MAX_CELLS {
                return Err(Error::InvalidInput(format!(
                    "more than {MAX_CELLS} experiment cells pending; build a report to flush them first"
                )));
            }
            self.cells.insert(key.clone(), CellCounters::default());
        }
        let Some(c) = self.cells.get_mut(key) else {
            return Ok(());
        };
        match event {
            Interaction::Impression => c.impressions = c.impressions.saturating_add(1),
            Interaction::Click => c.clicks = c.clicks.saturating_add(1),
            Interaction::AddToCart => c.add_to_carts = c.add_to_carts.saturating_add(1),
            Interaction::Purchase { revenue } => {
                c.purchases = c.purchases.saturating_add(1);
                c.revenue = (c.revenue + revenue).min(REVENUE_CLAMP);
            }
        }
        Ok(())
    }

    /// The counters of one cell, if any.
    pub fn get(&self, key: &CellKey) -> Option<&CellCounters> {
        self.cells.get(key)
    }

    /// Number of pending cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Forget everything (consent withdrawn, or the page's one-call wipe).
    pub fn clear(&mut self) {
        self.cells.clear();
    }

    /// Remove every cell, in key order, for the builder (which puts back what it cannot report).
    pub(crate) fn drain(&mut self) -> BTreeMap<CellKey, CellCounters> {
        std::mem::take(&mut self.cells)
    }

    /// Put a cell back (the builder ran out of budget or room).
    pub(crate) fn restore(&mut self, key: CellKey, counters: CellCounters) {
        self.cells.insert(key, counters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_is_the_deepest_stage_with_clamped_revenue() {
        let key = CellKey::new("hero", "A", 1).unwrap();
        let mut c = Counters::default();
        c.track(&key, Interaction::Impression).unwrap();
        assert_eq!(c.get(&key).unwrap().outcome(), Some(Outcome::Seen));
        c.track(&key, Interaction::Click).unwrap();
        assert_eq!(c.get(&key).unwrap().outcome(), Some(Outcome::Clicked));
        c.track(&key, Interaction::Purchase { revenue: 30.0 }).unwrap();
        assert_eq!(
            c.get(&key).unwrap().outcome(),
            Some(Outcome::Purchased { bucket: 1 })
        );
        c.track(&key, Interaction::Purchase { revenue: 1e9 }).unwrap();
        assert_eq!(c.get(&key).unwrap().revenue, REVENUE_CLAMP);
        assert_eq!(Outcome::Purchased { bucket: 3 }.category(), CATEGORIES - 1);
    }

    #[test]
    fn rejects_hostile_input() {
        assert!(CellKey::new("hero", "A", 8).is_err());
        assert!(CellKey::new("", "A", 0).is_err());
        assert!(CellKey::new("hero", "a b", 0).is_err());
        let key = CellKey::new("hero", "A", 0).unwrap();
        let mut c = Counters::default();
        assert!(c
            .track(&key, Interaction::Purchase { revenue: f64::NAN })
            .is_err());
        assert!(c.track(&key, Interaction::Purchase { revenue: -1.0 }).is_err());
        for i in 0..MAX_CELLS {
            c.track(
                &CellKey::new("e", &format!("v{i}"), 0).unwrap(),
                Interaction::Impression,
            )
            .unwrap();
        }
        assert!(c
            .track(
                &CellKey::new("e", "one-more", 0).unwrap(),
                Interaction::Impression
            )
            .is_err());
    }
}
