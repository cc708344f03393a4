// Public types of the Vitrine package. No `any`: every value the page sends or receives is typed. The
// shapes of the values that cross into the engine (events, candidates, rules, results, diagnostics,
// config, copy, reports, error codes) are generated from the Rust types into types.d.ts (`npm run types`);
// this file builds the API on them and adds what only the JavaScript side knows.
import type {
  ArmScore,
  BackendChoice,
  Boost,
  CellCounters,
  PendingCell,
  CopyOptions,
  CopyPick,
  CopyVariant,
  CopyWhy,
  CoreErrorCode,
  CoreInfo,
  Diversity,
  EngineConfig,
  EngineDiagnostics,
  EventType,
  Filters,
  HistoryLimits,
  HistorySnapshot as CoreHistorySnapshot,
  Pin,
  Placement as CorePlacement,
  Ranked,
  Reason,
  ReasonKind,
  Randomised,
  Report,
  ReportState,
  Rules,
  ShopperEvent,
  Candidate as CoreCandidate,
} from './types.js';

export type {
  ArmScore,
  BackendChoice,
  Boost,
  CellCounters,
  PendingCell,
  CopyOptions,
  CopyPick,
  CopyVariant,
  CopyWhy,
  CoreErrorCode,
  CoreInfo,
  Diversity,
  EngineConfig,
  EngineDiagnostics,
  EventType,
  Filters,
  HistoryLimits,
  Pin,
  Ranked,
  Reason,
  ReasonKind,
  Randomised,
  Report,
  ReportState,
  Rules,
  ShopperEvent,
};

/** Where inference runs. `auto` picks WebGPU only when it is present and measured faster. */
export type Device = 'auto' | 'webgpu' | 'cpu';

/** Loading progress, keyed on `status`, with the `name` of the part and the `file` loaded (as in transformers.js). */
export type ProgressEvent =
  | { status: 'initiate'; name: string; file: string }
  | {
      status: 'progress';
      name: string;
      file: string;
      loaded: number;
      /** Bytes expected; 0 when unknown (no length, or a compressed body whose length counts other bytes). */
      total: number;
      /** Percent, when `total` is known. */
      progress?: number;
    }
  | { status: 'done'; name: string; file: string; cached?: boolean }
  | { status: 'ready' };

/** Codes of the errors the package itself raises (the engine's are `CoreErrorCode`). */
export type PackageErrorCode =
  /** An option of `create()` is not one it accepts. */
  | 'invalid_option'
  /** `model` names no shipped model; the message lists the names. */
  | 'unknown_model'
  /** A file could not be downloaded (network, a non-2xx answer). */
  | 'download_failed'
  /** A downloaded file does not match the pinned SHA-256. */
  | 'sha256_mismatch'
  /** A message named no method the engine answers (or came before `init`). */
  | 'unknown_method'
  /** The instance was disposed. */
  | 'disposed'
  /** The Web Worker failed to load or crashed. */
  | 'worker_failed'
  /** Anything else: a bug in Vitrine; please report it with the message. */
  | 'internal';

/** Every `code` a `VitrineError` can carry: stable, so a page can switch on it. */
export type ErrorCode = CoreErrorCode | PackageErrorCode;

/**
 * What every method rejects with, except an abort (a `DOMException` named `AbortError`). `message` says
 * what went wrong and what to do next; `code` says which kind of failure it is.
 */
export declare class VitrineError extends Error {
  readonly name: 'VitrineError';
  readonly code: ErrorCode;
}

/** The encoders shipped in `models/`, by name (`shippedModels` lists them at run time). */
export type ShippedModel = 'all-MiniLM-L6-v2' | 'multilingual-e5-small-zh-en';

/** The names `model` accepts besides a URL. */
export declare const shippedModels: readonly ShippedModel[];

export interface VitrineOptions extends EngineConfig {
  /**
   * The text encoder: a shipped model's name (`'all-MiniLM-L6-v2'`, English; `'multilingual-e5-small-zh-en'`,
   * Chinese + English), fetched from `modelBase`; the URL of a GGUF from `vitrine convert`; or the URL of
   * a folder (ending in `/`) holding the shipped files, meaning `'all-MiniLM-L6-v2'` there. An unknown name
   * rejects with code `unknown_model`, listing the shipped names. The score weights (copy fit, search mix)
   * come from the file. Without a model only catalog vectors are used (no search, no copy fit).
   */
  model?: ShippedModel | (string & {}) | URL;
  /** Folder URL the shipped models are served from when `model` is a name; default `/models/`. */
  modelBase?: string | URL;
  /** Expected SHA-256 (hex) of the model file; a mismatch rejects `create`. Without it the cached copy is revalidated. */
  modelSha256?: string;
  /** Precomputed product vectors (`vitrine embed-catalog`) and the products `rank` uses by default. */
  catalog?: { vectors?: string | URL; sha256?: string; products?: Candidate[] };
  /** A trained session model (`vitrine train`) for forYou; the zero-shot intent serves without it. */
  sessionModel?: string | URL;
  /** Expected SHA-256 (hex) of the session model file. */
  sessionModelSha256?: string;
  /** Segment centroids (`vitrine segments`), made with the same encoder: they pick the bandit's segment priors and, for a DAP task with a segment axis, the report's segment; without them every shopper is segment 0. */
  segments?: string | URL;
  /** Expected SHA-256 (hex) of the segments file. */
  segmentsSha256?: string;
  /** Base URL of the collector (`vitrine-collector`); no reports without it. */
  collector?: string | URL;
  /**
   * DAP mode (docs/dap.md): the experiments the collector lists at `/v1/dap-tasks` are reported as DAP
   * reports, secret-shared between these two aggregators (Janus), with no local noise; the others keep
   * local noise. Needs `collector`. The DAP module (≈ 60 KB brotli) loads only when this is set.
   */
  dap?: DapOptions;
  /** The shopper agreed to anonymous statistics. Default false: nothing is sent. GPC on overrides it. */
  consent?: boolean;
  /** Compute backend; defaults to `'auto'`. */
  device?: Device;
  /**
   * Quantization, with a shipped name or folder: all-MiniLM-L6-v2 `q8` (minilm-l6-q8_0.gguf, default) or
   * `small` (minilm-l6-small.gguf); multilingual-e5-small-zh-en `q4` only. A file's URL is its own quantization.
   */
  dtype?: 'q8' | 'small' | 'q4';
  /** Random delay range of each report before it is sent, ms (default [5000, 60000]). The privacy budget
   *  (ε 2 per report, 4 per device per day) is the SDK's and cannot be set. */
  reportDelayMs?: [number, number];
  /** Keep history in IndexedDB (default true). */
  persist?: boolean;
  /** Keep model bytes in the Cache API (default true). */
  cache?: boolean;
  /** IndexedDB database name (default `vitrine`). */
  storeName?: string;
  /** Run the engine in a Web Worker (default true). */
  worker?: boolean;
  /**
   * Where to fetch the wasm module from; defaults to the file shipped beside this module that the
   * browser can run: `vitrine_relaxed_bg.wasm` where WebAssembly relaxed SIMD validates (faster
   * q4_0 models), `vitrine_bg.wasm` elsewhere (Safari).
   */
  wasmUrl?: string | URL;
  /** Called as loading proceeds; exceptions it throws are logged and ignored. */
  progress_callback?: (event: ProgressEvent) => void;
  /** Aborts loading, downloads included. */
  signal?: AbortSignal;
}

/**
 * A product offered for ranking; other fields are ignored. `title` is encoded on the device when the
 * catalog file has no vector for `id`; forYou also scores the title's word overlap with recent products
 * (with or without a `sessionModel`): a candidate without a title gets none, so pass titles for all or none.
 */
export type Candidate = CoreCandidate & { [extra: string]: unknown };

/** Where results are shown; the two without parameters may be given by name alone. */
export type Placement = 'forYou' | 'recentlyViewed' | CorePlacement;

export interface RankOptions {
  candidates?: Candidate[];
  rules?: Rules;
  signal?: AbortSignal;
}

/** The shopper's own events, oldest first: each carries its timestamp. */
export interface HistorySnapshot extends CoreHistorySnapshot {
  events: (ShopperEvent & { ts: number })[];
}

export interface ReportPreview {
  state: ReportState;
  consent: string;
  collector: string | null;
}

/** The two DAP aggregators; task ids and keys come from the collector and the aggregators. */
export interface DapOptions {
  /** The leader's base URL: reports are PUT to `{leader}tasks/{task_id}/reports`. */
  leader: string | URL;
  /** The helper's base URL: only its HPKE configuration is fetched. It must not collude with the leader. */
  helper: string | URL;
}

/** What `flushReports()` says about a DAP report it queued: the sealed bytes, never the cell. */
export interface SealedDapReport {
  experiment: string;
  dap: true;
  bytes: number;
}

/** What the browser offered for WebGPU. */
export type WebGpuInfo =
  | { available: true; adapter: string; fallbackAdapter: boolean }
  | { available: false; reason: string };

export interface Diagnostics extends EngineDiagnostics {
  historySkipped?: number;
  consent?: string;
  /** `on`, or why nothing is sent. */
  transport?: string;
  queued?: number;
  lastSend?: { status: number; kept: boolean } | null;
  /** With `dap`: `on`, or why DAP experiments wait. */
  dap?: string;
  persistence: { mode: 'indexeddb' | 'memory'; reason?: string };
  /** Live: with `device: 'auto'` the GPU calibrates after `create()`. */
  backend: Backends;
  webgpu: WebGpuInfo;
}

/** The encoder's backend per workload: one text (a query, a title) and batches (catalog titles). */
export interface Backends {
  query: BackendChoice;
  batch: BackendChoice;
  /** Texts the GPU has encoded so far. */
  gpuEncodedTexts: number;
}

export interface EngineInfo extends CoreInfo {
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
  /**
   * Builds the randomised reports the device's ledger allows now and queues them, each sent later in its
   * own request after its own random delay; resolves to them (empty when nothing is due or allowed).
   */
  flushReports(): Promise<Array<Report | SealedDapReport>>;
  setConsent(consent: boolean): Promise<string>;
  intent(): Promise<Float32Array>;
  /** Wipes history, encoded vectors, pending counters and the A/B salt. */
  clear(): Promise<void>;
  diagnostics(): Promise<Diagnostics>;
  /** Releases the worker and the engine once the calls made so far and their IndexedDB writes are done; later calls reject. */
  dispose(): Promise<void>;
}

export default Vitrine;
