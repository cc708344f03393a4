//! On-device counters of one experiment cell, and the funnel outcome they are reduced to before
//! randomisation.

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
/// Experiments one device keeps pending counters for at most: the store is bounded.
pub const MAX_CELLS: usize = 16;

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

    /// Position in the local-DP outcome domain ([`super::cells::LDP_OUTCOMES`]): purchases are one
    /// category there, whatever their revenue.
    pub fn ldp_index(self) -> usize {
        self.category().min(3)
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

/// Raw counters of one cell. They never leave the device as such, only through [`CellCounters::outcome`].
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
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

    /// Count `event`. Refuses invalid revenue (the page's input).
    pub fn track(&mut self, event: Interaction) -> Result<()> {
        match event {
            Interaction::Impression => self.impressions = self.impressions.saturating_add(1),
            Interaction::Click => self.clicks = self.clicks.saturating_add(1),
            Interaction::AddToCart => self.add_to_carts = self.add_to_carts.saturating_add(1),
            Interaction::Purchase { revenue } => {
                if !(revenue.is_finite() && revenue >= 0.0) {
                    return Err(Error::InvalidInput(format!(
                        "purchase revenue {revenue} must be a finite number ≥ 0; pass the order value in currency units"
                    )));
                }
                self.purchases = self.purchases.saturating_add(1);
                self.revenue = (self.revenue + revenue).min(REVENUE_CLAMP);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_is_the_deepest_stage_with_clamped_revenue() {
        let mut c = CellCounters::default();
        assert_eq!(c.outcome(), None, "never shown: nothing to report");
        c.track(Interaction::Impression).unwrap();
        assert_eq!(c.outcome(), Some(Outcome::Seen));
        c.track(Interaction::Click).unwrap();
        assert_eq!(c.outcome(), Some(Outcome::Clicked));
        c.track(Interaction::Purchase { revenue: 30.0 }).unwrap();
        assert_eq!(c.outcome(), Some(Outcome::Purchased { bucket: 1 }));
        c.track(Interaction::Purchase { revenue: 1e9 }).unwrap();
        assert_eq!(c.revenue, REVENUE_CLAMP);
        assert_eq!(Outcome::Purchased { bucket: 3 }.category(), CATEGORIES - 1);
        assert_eq!(Outcome::Purchased { bucket: 3 }.ldp_index(), 3);
        assert!(c.track(Interaction::Purchase { revenue: f64::NAN }).is_err());
        assert!(c.track(Interaction::Purchase { revenue: -1.0 }).is_err());
    }
}
