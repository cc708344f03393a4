//! The DAP client across the wasm boundary: the Worker fetches what it is told to and PUTs the bytes it
//! is given (`credentials: 'omit'`); the sharding and sealing happen here, in the same Rust code the CLI
//! runs natively.

use wasm_bindgen::prelude::*;

use crate::report::dap::{cell_index, one_hot, DapClient, DapConfig};
use crate::report::Outcome;

fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// One experiment's DAP reporter.
#[wasm_bindgen(js_name = DapReporter)]
pub struct WebDapReporter {
    inner: DapClient,
}

/// One upload: `PUT url` with `Content-Type: contentType` and `body`.
#[wasm_bindgen(js_name = DapUpload, getter_with_clone)]
pub struct WebDapUpload {
    /// The leader's report resource.
    pub url: String,
    /// `application/dap-report`.
    #[wasm_bindgen(js_name = contentType)]
    pub content_type: String,
    /// The encoded report.
    pub body: Vec<u8>,
}

#[wasm_bindgen(js_class = DapReporter)]
impl WebDapReporter {
    /// `config`: the JSON `scripts/dap.sh` writes (leader, helper, tasks); `experiment`: a registered id.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str, experiment: &str) -> Result<WebDapReporter, JsError> {
        let cfg = DapConfig::from_json(config)?;
        Ok(Self {
            inner: DapClient::new(&cfg, experiment)?,
        })
    }

    /// URLs to `GET` (leader's, then helper's `hpke_config`); empty while the cached ones are fresh.
    #[wasm_bindgen(js_name = hpkeConfigUrls)]
    pub fn hpke_config_urls(&self) -> Vec<String> {
        self.inner
            .hpke_config_requests(now_secs())
            .into_iter()
            .map(|r| r.url)
            .collect()
    }

    /// The two `application/dap-hpke-config-list` bodies, in the order of [`Self::hpke_config_urls`].
    #[wasm_bindgen(js_name = setHpkeConfigs)]
    pub fn set_hpke_configs(&mut self, leader: &[u8], helper: &[u8]) -> Result<(), JsError> {
        Ok(self.inner.set_hpke_configs(leader, helper, now_secs())?)
    }

    /// The upload of one shopper's window: `variant` and its deepest stage (`seen`, `click`,
    /// `add_to_cart`, `purchase` with `revenue`).
    pub fn build(&self, variant: &str, stage: &str, revenue: f64) -> Result<WebDapUpload, JsError> {
        let outcome = match stage {
            "seen" => Outcome::Seen,
            "click" => Outcome::Clicked,
            "add_to_cart" => Outcome::AddedToCart,
            "purchase" => Outcome::Purchased {
                bucket: Outcome::revenue_bucket(revenue),
            },
            other => {
                return Err(JsError::new(&format!(
                    "stage {other:?}: use seen, click, add_to_cart or purchase"
                )))
            }
        };
        let task = self.inner.task();
        let cells = one_hot(
            task.vdaf.length(),
            cell_index(task.variant_index(variant)?, outcome),
        )?;
        let req = self.inner.build(&cells, now_secs())?;
        Ok(WebDapUpload {
            url: req.url,
            content_type: req.content_type.into(),
            body: req.body,
        })
    }
}
