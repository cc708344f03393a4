// Generated from the Rust types by `npm run types` (src/typescript.rs): do not edit by hand.
// The wire format of the values that cross the wasm boundary; index.d.ts builds the API on them.

/**
 * A stable, machine-readable name for each [`Error`] variant: the `code` of the error a page catches,
 * so it can switch on the kind of failure without parsing the message. Codes never change meaning;
 * a new variant gets a new code.
 */
export type CoreErrorCode = "invalid_input" | "not_gguf" | "model_truncated" | "model_version" | "model_metadata" | "missing_tensor" | "tensor_shape" | "model_checksum" | "tokenizer" | "tensor" | "gpu_unavailable" | "gpu" | "gpu_unsupported" | "catalog" | "size_mismatch" | "dap";

/**
 * A description of the running engine, shown by the demo page and returned by `Vitrine.info()`.
 */
export type CoreInfo = { 
/**
 * The crate version, which is also the npm package version.
 */
version: string, 
/**
 * Whether the build uses 128-bit SIMD (wasm simd128 in the browser, always true natively on x86_64).
 */
simd128: boolean, 
/**
 * The target the engine was compiled for, e.g. `wasm32` or `x86_64`.
 */
arch: string, };

/**
 * Settings for [`Vitrine::new`].
 */
export type EngineConfig = { 
/**
 * History limits (500 events, 30 days by default). Reporting has no settings: its ε and caps are
 * the SDK's constants (`report::REPORT_EPSILON`, `DAILY_EPSILON`, …), not the page's.
 */
history?: HistoryLimits, };

/**
 * How much history to keep.
 */
export type HistoryLimits = { 
/**
 * Most events kept; the oldest go first (default 500).
 */
maxEvents?: number, 
/**
 * Events older than this many days are dropped (default 30).
 */
maxAgeDays?: number, };

/**
 * What the engine runs on right now, for the page's diagnostics panel.
 */
export type EngineDiagnostics = { 
/**
 * Whether a text encoder is loaded (needed for search, copy and products missing from the catalog).
 */
encoder: boolean, 
/**
 * `"zero-shot"` (weighted mean of history vectors) until a session model is loaded.
 */
intentModel: string, 
/**
 * Segment centroids loaded (0: every report goes under segment 0).
 */
segments: number, 
/**
 * Vectors from the catalog file.
 */
catalogVectors: number, 
/**
 * Vectors encoded on this device and cached.
 */
encodedVectors: number, 
/**
 * Events in the history.
 */
historyEvents: number, 
/**
 * The collector's registry: how many experiments it lists, or why there is none.
 */
registry: string, 
/**
 * Per slot (and `report:EXPERIMENT`): whether the last pick or report was counted, and if not why.
 */
reporting: { [key in string]: string }, };

/**
 * Which backend runs, and why: the diagnostics a page or the CLI shows.
 */
export type BackendChoice = { backend: Backend, reason: string, 
/**
 * The GPU adapter, when one was found.
 */
adapter?: string | null, 
/**
 * Calibration: milliseconds per forward of the sample on each backend, when measured.
 */
cpu_ms?: number | null, gpu_ms?: number | null, };

/**
 * A compute backend for the encoder.
 */
export type Backend = "cpu" | "webgpu";

/**
 * One event as the page sends it (`v.track({...})`). Timestamps are ms since the Unix epoch.
 */
export type ShopperEvent = { 
/**
 * What happened.
 */
type: EventType, 
/**
 * The product, for every kind but `search`.
 */
productId?: string | null, 
/**
 * The product's title: lets the device encode a product the catalog file does not have.
 */
title?: string | null, 
/**
 * The product's category, if the page knows it.
 */
category?: string | null, 
/**
 * Unit price (purchase, add_to_cart); non-negative and finite.
 */
price?: number | null, 
/**
 * Units bought (purchase, add_to_cart); at least 1.
 */
quantity?: number | null, 
/**
 * The query text, for `search` only.
 */
query?: string | null, 
/**
 * When it happened, ms since the epoch; the store fills it in when the page leaves it out.
 */
ts?: number | null, };

/**
 * What the shopper did. The order is stable: the session model embeds `kind as usize`.
 */
export type EventType = "view" | "click" | "add_to_cart" | "purchase" | "search";

/**
 * What `export()` returns and what the browser persists: the shopper's own events, oldest first.
 */
export type HistorySnapshot = { 
/**
 * [`SCHEMA_VERSION`] when written by this build.
 */
version: number, 
/**
 * Events, oldest first, each with its timestamp.
 */
events: Array<ShopperEvent>, };

/**
 * A product the page offers for ranking. Unknown fields are ignored, so pages can pass their own objects.
 */
export type Candidate = { 
/**
 * The product id, as in events and in the catalog file.
 */
id: string, 
/**
 * Title: encoded on the device when the catalog file has no vector for this id.
 */
title?: string, 
/**
 * Category, for filters and boosts.
 */
category?: string, 
/**
 * Price, for filters.
 */
price?: number, };

/**
 * Where the results will be shown; each placement scores differently.
 */
export type Placement = { "placement": "forYou" } | { "placement": "similarTo", 
/**
 * The product to be similar to.
 */
productId: string, } | { "placement": "rerankSearch", 
/**
 * The query text.
 */
query: string, } | { "placement": "recentlyViewed" };

/**
 * Rules for one `rank` call. Every field is optional on the wire.
 */
export type Rules = { 
/**
 * How many results to return (1..=1000, default 10).
 */
limit?: number, 
/**
 * Candidates to drop.
 */
filters?: Filters, 
/**
 * Additive score boosts.
 */
boosts?: Array<Boost>, 
/**
 * Items forced to a position.
 */
pins?: Array<Pin>, 
/**
 * Drop products this shopper bought (default true).
 */
excludePurchased?: boolean, 
/**
 * forYou only: also show products already viewed, clicked or carted (default false: new things).
 */
includeSeen?: boolean, 
/**
 * Maximal marginal relevance: trade relevance for variety.
 */
diversity?: Diversity, };

/**
 * Candidates to keep or drop.
 */
export type Filters = { 
/**
 * Keep only these categories (when non-empty).
 */
categories?: Array<string>, 
/**
 * Drop these categories.
 */
excludeCategories?: Array<string>, 
/**
 * Drop these ids.
 */
excludeIds?: Array<string>, 
/**
 * Keep only items priced at least this (items without a price are kept).
 */
minPrice?: number, 
/**
 * Keep only items priced at most this (items without a price are kept).
 */
maxPrice?: number, };

/**
 * Adds `weight` to the score of matching items (a category, or a list of ids).
 */
export type Boost = { 
/**
 * Items in this category.
 */
category?: string, 
/**
 * Items with these ids.
 */
ids?: Array<string>, 
/**
 * Added to the score, in cosine units (-1..=1).
 */
weight: number, };

/**
 * Puts an item at a 0-based position, whatever its score (it must be among the candidates). An id
 * pinned twice is placed once, at the lower position.
 */
export type Pin = { 
/**
 * Product id.
 */
id: string, 
/**
 * 0-based position in the results.
 */
position: number, };

/**
 * MMR: each next pick maximises `λ·score − (1−λ)·max cosine to the picks so far`.
 */
export type Diversity = { 
/**
 * 1 = relevance only, 0 = variety only.
 */
lambda: number, };

/**
 * One ranked result.
 */
export type Ranked = { 
/**
 * Product id.
 */
id: string, 
/**
 * Final score (relevance plus boosts; MMR-adjusted when diversity is on). Pinned items keep theirs.
 */
score: number, 
/**
 * Whether a pin put it at its position.
 */
pinned: boolean, 
/**
 * Boost added by the rules.
 */
boost: number, 
/**
 * Why: the history events, query or product that drove the score, with weights summing to 1.
 */
reasons: Array<Reason>, };

/**
 * One driver of a score.
 */
export type Reason = { 
/**
 * What kind of driver.
 */
kind: ReasonKind, 
/**
 * The event's type (`view`, `search`, …) for event reasons.
 */
eventType?: EventType, 
/**
 * The product involved, when there is one.
 */
productId?: string, 
/**
 * The query, for query reasons and search events (shown on this device only, never reported).
 */
query?: string, 
/**
 * For `words` reasons: the shared title words, rarest in the catalog first (at most three).
 */
words?: Array<string>, 
/**
 * Share of the score, in [0, 1]; an item's reasons sum to 1.
 */
weight: number, };

/**
 * What a reason points at.
 */
export type ReasonKind = "event" | "words" | "query" | "product" | "position" | "recency";

/**
 * A copy variant as the page passes it.
 */
export type CopyVariant = { 
/**
 * Variant id (`[A-Za-z0-9_.:-]`, ≤ 64 bytes); the first is the control.
 */
id: string, 
/**
 * The copy text, embedded to measure its fit to the session.
 */
text: string, };

/**
 * How to choose, as the page passes it to `pickCopy`: `{"mode":"bandit"}` (default; `fitWeight`: the model file's, 8 for MiniLM) or
 * `{"mode":"ab","holdout":0.1}`. For a registered experiment the registry's mode and holdout apply; the
 * page's only when unregistered.
 */
export type CopyOptions = { "mode": "bandit", 
/**
 * How far fit moves a variant's prior click rate, in logits per unit of cosine (default: the
 * encoder's, from its model file; [`DEFAULT_FIT_WEIGHT`] for MiniLM); 0 ignores fit.
 */
fitWeight?: number, } | { "mode": "ab", 
/**
 * Share of devices held out, in [0, 1).
 */
holdout?: number, };

/**
 * The pick and why.
 */
export type CopyPick = { 
/**
 * The slot id.
 */
slot: string, 
/**
 * The registered experiment the pick is counted under, if any.
 */
experiment: string | null, 
/**
 * Whether this impression was counted for a report (see `diagnostics().reporting` if not).
 */
counted: boolean, 
/**
 * The variant to show.
 */
variant: string, 
/**
 * Its text.
 */
text: string, 
/**
 * The label outcomes are counted under (`holdout` for the A/B holdout).
 */
reportVariant: string, 
/**
 * The on-device segment of the session: local only, it never leaves the device.
 */
segment: number, 
/**
 * Each variant's cosine to the session intent, in the page's variant order.
 */
fits: Array<number>, 
/**
 * The scores behind the choice.
 */
why: CopyWhy, };

/**
 * Why a variant was chosen.
 */
export type CopyWhy = { "mode": "bandit", 
/**
 * In candidate order.
 */
scores: Array<ArmScore>, } | { "mode": "ab", 
/**
 * Hash of experiment id and device salt, mapped to [0, 1).
 */
bucket: number, 
/**
 * Whether the bucket is below the holdout share.
 */
holdout: boolean, };

/**
 * One variant's score in a bandit choice.
 */
export type ArmScore = { 
/**
 * Variant id.
 */
variant: string, 
/**
 * Posterior Beta parameters the rate was sampled from (fit prior, collector prior and this device's
 * counts together).
 */
alpha: number, 
/**
 * See `alpha`.
 */
beta: number, 
/**
 * The sampled click rate.
 */
sampled_rate: number, 
/**
 * The semantic fit passed in.
 */
fit: number, 
/**
 * What the arms are compared on (the sampled rate): the highest wins.
 */
score: number, };

/**
 * One device's report about one experiment.
 */
export type Report = { 
/**
 * Schema version ([`SCHEMA_VERSION`]).
 */
v: number, 
/**
 * A registered experiment id.
 */
experiment: string, 
/**
 * Hours since the Unix epoch when the report was built.
 */
hour: number, 
/**
 * The A/B arm (a variant id or `holdout`); absent in bandit mode.
 */
arm?: string | null, 
/**
 * Random single-use id (lowercase hex): a resend of the same report counts once.
 */
id: string, 
/**
 * The randomised value.
 */
r: Randomised, };

/**
 * The randomised part of a report.
 */
export type Randomised = number | Array<number>;

/**
 * The persisted part of a [`Reporter`]: pending counters by experiment id.
 */
export type ReportState = { 
/**
 * Pending counters.
 */
pending: Array<[string, PendingCell]>, };

/**
 * One experiment's pending counters on this device: about the first variant it was shown (a device
 * reports one cell per experiment; later exposures to other variants of a bandit are not counted).
 */
export type PendingCell = { 
/**
 * The measured variant (or `holdout`).
 */
variant: string, 
/**
 * What happened after it was shown.
 */
counters: CellCounters, 
/**
 * The shopper's segment when first shown the variant (`0..SEGMENTS`): a DAP task with a segment
 * axis puts the cell there. Never in a local-DP report. `None` for counters kept by an SDK that
 * did not record it.
 */
segment: number | null, };

/**
 * Raw counters of one cell. They never leave the device as such, only through [`CellCounters::outcome`].
 */
export type CellCounters = { 
/**
 * Times shown.
 */
impressions: number, 
/**
 * Clicks.
 */
clicks: number, 
/**
 * Add-to-carts.
 */
add_to_carts: number, 
/**
 * Purchases.
 */
purchases: number, 
/**
 * Purchase revenue, clamped to [`REVENUE_CLAMP`] as it accumulates.
 */
revenue: number, };
