// Generated from the Rust types by `npm run types` (src/typescript.rs): do not edit by hand.
// The wire format of the values that cross the wasm boundary; index.d.ts builds the API on them.

export type CoreErrorCode = "invalid_input" | "not_gguf" | "model_truncated" | "model_version" | "model_metadata" | "missing_tensor" | "tensor_shape" | "model_checksum" | "tokenizer" | "tensor" | "gpu_unavailable" | "gpu" | "gpu_unsupported" | "catalog";

export type CoreInfo = { version: string, simd128: boolean, arch: string, };

export type EngineConfig = { history?: HistoryLimits, dailyEpsilon?: number, entryEpsilon?: number, };

export type HistoryLimits = { maxEvents?: number, maxAgeDays?: number, };

export type EngineDiagnostics = { encoder: boolean, intentModel: string, segments: number, catalogVectors: number, encodedVectors: number, historyEvents: number, };

export type BackendChoice = { backend: Backend, reason: string, adapter?: string | null, cpu_ms?: number | null, gpu_ms?: number | null, };

export type Backend = "cpu" | "webgpu";

export type ShopperEvent = { type: EventType, productId?: string, title?: string, category?: string, price?: number, quantity?: number, query?: string, ts?: number, };

export type EventType = "view" | "click" | "add_to_cart" | "purchase" | "search";

export type HistorySnapshot = { version: number, events: Array<ShopperEvent>, };

export type Candidate = { id: string, title?: string, category?: string, price?: number, };

export type Placement = { "placement": "forYou" } | { "placement": "similarTo", productId: string, } | { "placement": "rerankSearch", query: string, } | { "placement": "recentlyViewed" };

export type Rules = { limit?: number, filters?: Filters, boosts?: Array<Boost>, pins?: Array<Pin>, excludePurchased?: boolean, includeSeen?: boolean, diversity?: Diversity, };

export type Filters = { categories?: Array<string>, excludeCategories?: Array<string>, excludeIds?: Array<string>, minPrice?: number, maxPrice?: number, };

export type Boost = { category?: string, ids?: Array<string>, weight: number, };

export type Pin = { id: string, position: number, };

export type Diversity = { lambda: number, };

export type Ranked = { id: string, score: number, pinned: boolean, boost: number, reasons: Array<Reason>, };

export type Reason = { kind: ReasonKind, eventType?: EventType, productId?: string, query?: string, weight: number, };

export type ReasonKind = "event" | "query" | "product" | "position" | "recency";

export type CopyVariant = { id: string, text: string, };

export type CopyOptions = { "mode": "bandit", fitWeight?: number, } | { "mode": "ab", holdout?: number, };

export type CopyPick = { slot: string, variant: string, text: string, reportVariant: string, segment: number, fits: Array<number>, why: CopyWhy, };

export type CopyWhy = { "mode": "bandit", scores: Array<ArmScore>, } | { "mode": "ab", bucket: number, holdout: boolean, };

export type ArmScore = { variant: string, alpha: number, beta: number, sampled_rate: number, fit: number, score: number, };

export type Report = { v: number, hour: number, epsilon: number, entries: Array<ReportEntry>, };

export type ReportEntry = { experiment: string, variant: string, segment: number, bits: Array<number>, };

export type ReportState = { counters: Array<[CellKey, CellCounters]>, budget: Budget, };

export type CellKey = { experiment: string, variant: string, segment: number, };

export type CellCounters = { impressions: number, clicks: number, add_to_carts: number, purchases: number, revenue: number, };

export type Budget = { daily_micros: number, day: number, spent_micros: number, };
