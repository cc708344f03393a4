// Public types of the Vitrine package. No `any`: every value the page sends or receives is typed.

/** Where inference runs. `auto` picks WebGPU only when it is present and measured faster. */
export type Device = 'auto' | 'webgpu' | 'cpu';

/** Loading progress, keyed on `status` (as in transformers.js). */
export type ProgressEvent =
  | { status: 'initiate'; name: string }
  | { status: 'progress'; name: string; loaded: number; total: number; progress?: number }
  | { status: 'done'; name: string; cached?: boolean }
  | { status: 'ready' };

export interface HistoryLimits {
  /** Most events kept (default 500). */
  maxEvents?: number;
  /** Events older than this are dropped (default 30). */
  maxAgeDays?: number;
}

export interface VitrineOptions {
  /**
   * URL of the text encoder (GGUF from `vitrine convert`), or of a folder holding the shipped files, of
   * which `dtype` picks one. Without it, only catalog vectors are used (no search, no copy fit).
   */
  model?: string | URL;
  /** Expected SHA-256 (hex) of the model file; a mismatch rejects `create`. */
  modelSha256?: string;
  /** Precomputed product vectors (`vitrine embed-catalog`) and the products `rank` uses by default. */
  catalog?: { vectors?: string | URL; sha256?: string; products?: Candidate[] };
  /** A trained session model (`vitrine train`) for forYou; the zero-shot intent serves without it. */
  sessionModel?: string | URL;
  /** Expected SHA-256 (hex) of the session model file. */
  sessionModelSha256?: string;
  /** Segment centroids (`vitrine segments`), made with the same encoder; without them every report is segment 0. */
  segments?: string | URL;
  /** Expected SHA-256 (hex) of the segments file. */
  segmentsSha256?: string;
  /** Base URL of the collector (`vitrine-collector`); no reports without it. */
  collector?: string | URL;
  /** The shopper agreed to anonymous statistics. Default false: nothing is sent. GPC on overrides it. */
  consent?: boolean;
  /** Compute backend; defaults to `'auto'`. */
  device?: Device;
  /** With a folder `model` URL: `q8` (minilm-l6-q8_0.gguf, default) or `small` (minilm-l6-small.gguf). */
  dtype?: 'q8' | 'small';
  /** History bounds. */
  history?: HistoryLimits;
  /** Daily ε budget of reports (default 3). */
  dailyEpsilon?: number;
  /** ε each report entry spends (default 1). */
  entryEpsilon?: number;
  /** Random delay range before the last visit's report is sent, ms (default [5000, 60000]). */
  reportDelayMs?: [number, number];
  /** Keep history in IndexedDB (default true). */
  persist?: boolean;
  /** Keep model bytes in the Cache API (default true). */
  cache?: boolean;
  /** IndexedDB database name (default `vitrine`). */
  storeName?: string;
  /** Run the engine in a Web Worker (default true). */
  worker?: boolean;
  /** Where to fetch the wasm module from; defaults to the file shipped beside this module. */
  wasmUrl?: string | URL;
  /** Called as loading proceeds; exceptions it throws are logged and ignored. */
  progress_callback?: (event: ProgressEvent) => void;
  /** Aborts loading. */
  signal?: AbortSignal;
}

export type EventType = 'view' | 'click' | 'add_to_cart' | 'purchase' | 'search';

/** One shopper event. `productId` for all but `search`; `query` for `search` only. */
export interface ShopperEvent {
  type: EventType;
  productId?: string;
  title?: string;
  category?: string;
  price?: number;
  quantity?: number;
  query?: string;
  /** ms since the epoch; now when left out. */
  ts?: number;
}

/** A product offered for ranking; other fields are ignored. */
export interface Candidate {
  id: string;
  /**
   * Encoded on the device when the catalog file has no vector for `id`. With a `sessionModel`, forYou also
   * scores the title's word overlap with recent products: a candidate without a title gets none, so pass
   * titles for all candidates or for none.
   */
  title?: string;
  category?: string;
  price?: number;
  [extra: string]: unknown;
}

export type Placement =
  | 'forYou'
  | 'recentlyViewed'
  | { placement: 'forYou' }
  | { placement: 'recentlyViewed' }
  | { placement: 'similarTo'; productId: string }
  | { placement: 'rerankSearch'; query: string };

export interface Rules {
  /** 1..1000, default 10. */
  limit?: number;
  filters?: {
    categories?: string[];
    excludeCategories?: string[];
    excludeIds?: string[];
    minPrice?: number;
    maxPrice?: number;
  };
  /** Added to the score (cosine units, -1..1) of items in `category` or with these `ids`. */
  boosts?: { category?: string; ids?: string[]; weight: number }[];
  /** Items forced to a 0-based position. */
  pins?: { id: string; position: number }[];
  /** Drop purchased products (default true). */
  excludePurchased?: boolean;
  /** forYou: keep products already seen (default false). */
  includeSeen?: boolean;
  /** MMR: 1 = relevance only, 0 = variety only. */
  diversity?: { lambda: number };
}

export interface RankOptions {
  candidates?: Candidate[];
  rules?: Rules;
  signal?: AbortSignal;
}

export interface Reason {
  /** `words`: an event whose title shares `words` with the item's ("same words as … you viewed"). */
  kind: 'event' | 'words' | 'query' | 'product' | 'position' | 'recency';
  eventType?: EventType;
  productId?: string;
  query?: string;
  /** For `words` reasons: the shared title words, rarest first (at most three). */
  words?: string[];
  /** Share of the score; an item's reasons sum to 1. */
  weight: number;
}

export interface Ranked {
  id: string;
  score: number;
  pinned: boolean;
  boost: number;
  reasons: Reason[];
}

export interface CopyVariant {
  id: string;
  text: string;
}

export type CopyOptions = { mode: 'bandit'; fitWeight?: number } | { mode: 'ab'; holdout?: number };

export interface ArmScore {
  variant: string;
  alpha: number;
  beta: number;
  sampled_rate: number;
  fit: number;
  score: number;
}

export interface CopyPick {
  slot: string;
  variant: string;
  text: string;
  reportVariant: string;
  segment: number;
  fits: number[];
  why: { mode: 'bandit'; scores: ArmScore[] } | { mode: 'ab'; bucket: number; holdout: boolean };
}

export interface HistorySnapshot {
  version: number;
  events: (ShopperEvent & { ts: number })[];
}

/** A randomised report, as sent to the collector. */
export interface Report {
  v: number;
  hour: number;
  epsilon: number;
  entries: { experiment: string; variant: string; segment: number; bits: number[] }[];
}

export interface ReportPreview {
  state: {
    counters: [
      { experiment: string; variant: string; segment: number },
      { impressions: number; clicks: number; add_to_carts: number; purchases: number; revenue: number },
    ][];
    budget: { daily_micros: number; day: number; spent_micros: number };
  };
  consent: string;
  collector: string | null;
}

/** What the browser offered for WebGPU. */
export type WebGpuInfo =
  | { available: true; adapter: string; fallbackAdapter: boolean }
  | { available: false; reason: string };

export interface Diagnostics {
  encoder: boolean;
  intentModel: string;
  segments: number;
  catalogVectors: number;
  encodedVectors: number;
  historyEvents: number;
  historySkipped?: number;
  consent?: string;
  priors?: string;
  persistence: { mode: 'indexeddb' | 'memory'; reason?: string };
  /** Live: with `device: 'auto'` the GPU calibrates after `create()`. */
  backend: Backends;
  webgpu: WebGpuInfo;
}

/** Which backend encodes one workload, and why. */
export interface BackendChoice {
  backend: 'cpu' | 'webgpu';
  /** Why: the request, a missing adapter, the calibration's timings, or a GPU error and the fallback. */
  reason: string;
  /** The WebGPU adapter, when one was found. */
  adapter?: string | null;
  /** Calibration, ms per encoder call on each backend, when measured. */
  cpu_ms?: number | null;
  gpu_ms?: number | null;
}

/** The encoder's backend per workload: one text (a query, a title) and batches (catalog titles). */
export interface Backends {
  query: BackendChoice;
  batch: BackendChoice;
  /** Texts the GPU has encoded so far. */
  gpuEncodedTexts: number;
}

export interface EngineInfo {
  /** Package and core version. */
  version: string;
  /** Whether the wasm module was built with 128-bit SIMD. */
  simd128: boolean;
  /** Architecture the core was compiled for (`wasm32` in a browser). */
  arch: string;
  webgpu: WebGpuInfo;
  /** The encoder's backend per workload at `create()` time, and why. */
  backend: Backends;
  /** Whether the engine runs in a Web Worker. */
  worker: boolean;
}

export declare class Vitrine {
  private constructor();
  /** Loads the engine, its models and the shopper's saved history. */
  static create(options?: VitrineOptions): Promise<Vitrine>;
  /** What the engine is and which backend runs. */
  info(): EngineInfo;
  track(event: ShopperEvent): Promise<void>;
  rank(placement: Placement, options?: RankOptions): Promise<Ranked[]>;
  forYou(options?: RankOptions): Promise<Ranked[]>;
  similarTo(productId: string, options?: RankOptions): Promise<Ranked[]>;
  rerankSearch(query: string, results: Candidate[], options?: Omit<RankOptions, 'candidates'>): Promise<Ranked[]>;
  recentlyViewed(options?: RankOptions): Promise<Ranked[]>;
  setProducts(products: Candidate[]): Promise<number>;
  pickCopy(slot: string, variants: CopyVariant[], options?: CopyOptions): Promise<CopyPick>;
  recordOutcome(pick: CopyPick, kind: 'click' | 'add_to_cart' | 'purchase', revenue?: number): Promise<void>;
  /** The shopper's own data. */
  export(): Promise<HistorySnapshot>;
  reportPreview(): Promise<ReportPreview>;
  /** Sends one randomised report now; resolves to it, or null when nothing was sent. */
  flushReports(): Promise<Report | null>;
  setConsent(consent: boolean): Promise<string>;
  intent(): Promise<Float32Array>;
  /** Wipes history, encoded vectors, pending counters and the A/B salt. */
  clear(): Promise<void>;
  diagnostics(): Promise<Diagnostics>;
  /** Releases the worker and the engine; later calls reject. */
  dispose(): void;
}

export default Vitrine;
