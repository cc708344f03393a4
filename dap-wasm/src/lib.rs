//! The DAP module's wasm boundary (`pkg/wasm/vitrine_dap*`): a second, small wasm the package loads only
//! when the page configures `dap`, so the engine's bundle carries no prio or HPKE code. The Worker fetches
//! what it is told to and PUTs the bytes it is given (`credentials: 'omit'`); the sharding and sealing
//! happen here, in the same Rust code (`vitrine::report::dap`) the CLI runs natively. The engine decides
//! what to report and hands over one cell index ([`vitrine::report::DapMeasurement`]), never a report.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::prelude::*;

use vitrine::report::dap::{one_hot, DapClient, DapConfig};

/// A JS `Error` with the message of `e` and its stable `code`, as the engine's exports throw.
fn js(e: vitrine::Error) -> JsError {
    let err = JsError::new(&e.to_string());
    // A clone is a second handle on the same JS object: setting `code` through it sets it on `err`.
    let _ = js_sys::Reflect::set(
        &JsValue::from(err.clone()),
        &"code".into(),
        &e.code().as_str().into(),
    );
    err
}

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
        let cfg = DapConfig::from_json(config).map_err(js)?;
        Ok(Self {
            inner: DapClient::new(&cfg, experiment).map_err(js)?,
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
        self.inner
            .set_hpke_configs(leader, helper, now_secs())
            .map_err(js)
    }

    /// The upload of one shopper's window: cell `cell` of the engine's `DapMeasurement` is 1, every other
    /// cell 0 (the task's length comes from the task, not the caller).
    pub fn build(&self, cell: u32) -> Result<WebDapUpload, JsError> {
        let cells = one_hot(self.inner.task().vdaf.length(), cell as usize).map_err(js)?;
        let req = self.inner.build(&cells, now_secs()).map_err(js)?;
        Ok(WebDapUpload {
            url: req.url,
            content_type: req.content_type.into(),
            body: req.body,
        })
    }
}
