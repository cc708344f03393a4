//! The shopper events Vitrine records: their types, and validation with errors that say what to fix.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the shopper did. The order is stable: the session model embeds `kind as usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "EventType"))]
pub enum EventKind {
    /// Saw a product page or tile long enough to count.
    View = 0,
    /// Clicked a product (a recommendation, a search result, a link).
    Click = 1,
    /// Put a product in the cart.
    AddToCart = 2,
    /// Bought a product (with price and quantity).
    Purchase = 3,
    /// Searched (with the query text; no product).
    Search = 4,
}

impl EventKind {
    /// Number of kinds: the size of the session model's event-type table.
    pub const COUNT: usize = 5;

    /// All kinds, in `kind as usize` order.
    pub const ALL: [EventKind; Self::COUNT] = [
        Self::View,
        Self::Click,
        Self::AddToCart,
        Self::Purchase,
        Self::Search,
    ];

    /// The wire name (`"add_to_cart"`), as the page writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Click => "click",
            Self::AddToCart => "add_to_cart",
            Self::Purchase => "purchase",
            Self::Search => "search",
        }
    }
}

/// Longest product id, category or query kept: longer input is a page bug, not a shopper's words.
pub const MAX_TEXT_LEN: usize = 512;
/// Longest product title kept, in bytes: the encoder reads at most 256 tokens (about 1 KB of English),
/// and the history is persisted, so a longer "title" only costs storage.
pub const MAX_TITLE_LEN: usize = 1024;

/// Checks one optional text field the page passed: at most `max` bytes, and not blank unless
/// `blank_ok` (titles: real catalogs have products without one). The error names the field.
pub fn check_text(
    name: &str,
    text: Option<&str>,
    max: usize,
    blank_ok: bool,
) -> std::result::Result<(), String> {
    match text {
        Some(t) if !blank_ok && t.trim().is_empty() => {
            Err(format!("`{name}` is empty; leave it out instead"))
        }
        Some(t) if t.len() > max => Err(format!(
            "`{name}` is {} bytes, over the {max}-byte limit",
            t.len()
        )),
        _ => Ok(()),
    }
}

/// One event as the page sends it (`v.track({...})`). Timestamps are ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), ts(rename = "ShopperEvent"))]
pub struct Event {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The product, for every kind but `search`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "productId")]
    pub product_id: Option<String>,
    /// The product's title: lets the device encode a product the catalog file does not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The product's category, if the page knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Unit price (purchase, add_to_cart); non-negative and finite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Units bought (purchase, add_to_cart); at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// The query text, for `search` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// When it happened, ms since the epoch; the store fills it in when the page leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<f64>,
}

impl Event {
    /// Checks the fields this kind needs and rejects those it must not have.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| {
            Err(Error::InvalidInput(format!(
                "{} event: {msg}",
                self.kind.as_str()
            )))
        };
        for (name, text, max) in [
            ("productId", &self.product_id, MAX_TEXT_LEN),
            ("title", &self.title, MAX_TITLE_LEN),
            ("category", &self.category, MAX_TEXT_LEN),
            ("query", &self.query, MAX_TEXT_LEN),
        ] {
            if let Err(msg) = check_text(name, text.as_deref(), max, name == "title") {
                return bad(msg);
            }
        }
        match self.kind {
            EventKind::Search => {
                if self.query.is_none() {
                    return bad("`query` is required".into());
                }
            }
            _ => {
                if self.product_id.is_none() {
                    return bad("`productId` is required".into());
                }
                if self.query.is_some() {
                    return bad("`query` belongs to search events only".into());
                }
            }
        }
        if let Some(p) = self.price {
            if !p.is_finite() || p < 0.0 {
                return bad(format!("`price` must be a finite number ≥ 0, got {p}"));
            }
        }
        if self.quantity == Some(0) {
            return bad("`quantity` must be at least 1".into());
        }
        if let Some(ts) = self.ts {
            if !ts.is_finite() || ts < 0.0 {
                return bad(format!("`ts` must be ms since the epoch, got {ts}"));
            }
        }
        Ok(())
    }
}
