// The encoder benchmark's timed steps, as window.bench: load an engine, time queries and title batches.
// Engines: 'tjs' (transformers.js + onnxruntime-web, wasm, one thread, int8 ONNX) and 'vitrine-<variant>'
// (pkg/wasm Encoder, the build the SDK picks, over models/minilm-l6-<variant>.gguf; 'vitrine-e5' over the 12-layer
// models/multilingual-e5-small-zh-en.gguf, texts as given: the product adds `query: ` / `passage: `).
// scripts/bench-browser.mjs drives the runs.

// 16 tokens with [CLS] and [SEP]: the runner checks the count with the shared tokenizer.
export const QUERY = 'gentle vitamin c face serum for dry sensitive skin and fine lines at night';
// A sanity check on the vectors: the query must sit nearer to a paraphrase than to an unrelated product.
const NEAR = 'moisturizing vitamin C serum for sensitive facial skin';
const FAR = 'stainless steel claw hammer with fiberglass handle';
const TJS_URL = '/vendor/transformers/transformers.js';
const ORT_URL = '/vendor/ort/';
const TJS_MODEL_ROOT = '/vendor/models/';
const TJS_MODEL = 'minilm-int8';

const engines = new Map(); // name -> { embed(texts): Promise<Float32Array>, dims, tokenizer? }
let titles = null;
const now = () => performance.now();
const status = (text) => {
  document.getElementById('status').textContent = text;
};

async function loadTransformers() {
  const { env, pipeline } = await import(TJS_URL);
  env.allowLocalModels = true;
  env.allowRemoteModels = false;
  env.localModelPath = TJS_MODEL_ROOT;
  env.useBrowserCache = false; // every load fetches, like a first visit
  env.backends.onnx.wasm.numThreads = 1;
  env.backends.onnx.wasm.wasmPaths = ORT_URL;
  const extractor = await pipeline('feature-extraction', TJS_MODEL, { device: 'wasm', dtype: 'q8' });
  const embed = async (texts) => (await extractor(texts, { pooling: 'mean', normalize: true })).data;
  return { embed, dims: extractor.model.config.hidden_size, tokenizer: extractor.tokenizer };
}

async function loadVitrine(variant) {
  // The engine build the SDK picks for this browser (relaxed SIMD in Chromium); 'e5-simd128' is the
  // build Safari gets, for comparison. A glue module instantiates one wasm file once and ignores later
  // calls, so each build gets its own instance of the glue (the query string makes it another module).
  const simd128 = variant.endsWith('-simd128');
  const wasm = await import(simd128 ? '/pkg/wasm/vitrine.js?simd128' : '/pkg/wasm/vitrine.js');
  const { engineWasmUrl } = await import('/pkg/host.js');
  await wasm.default({ module_or_path: simd128 ? '/pkg/wasm/vitrine_bg.wasm' : engineWasmUrl() });
  variant = variant.replace(/-simd128$/, '');
  const file = variant === 'e5' ? 'multilingual-e5-small-zh-en.gguf' : `minilm-l6-${variant}.gguf`;
  const res = await fetch(`/models/${file}`);
  if (!res.ok) throw new Error(`/models/${file}: HTTP ${res.status}`);
  const encoder = wasm.Encoder.fromBytes(new Uint8Array(await res.arrayBuffer()));
  return { embed: async (texts) => encoder.embed(texts), dims: encoder.dims };
}

/** Loads one engine; `ms` covers import, engine download and init, model download and init. */
async function load(name) {
  status(`loading ${name}`);
  const t0 = now();
  const engine = name === 'tjs' ? await loadTransformers() : await loadVitrine(name.replace(/^vitrine-/, ''));
  const ms = now() - t0;
  engines.set(name, engine);
  const [query, near, far] = [await engine.embed([QUERY]), await engine.embed([NEAR]), await engine.embed([FAR])];
  const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
  status(`loaded ${name}`);
  return {
    name, ms, dims: engine.dims, length: query.length, query: Array.from(query),
    cosNear: dot(query, near), cosFar: dot(query, far),
  };
}

async function fixture() {
  titles ??= (await (await fetch('titles.json')).json()).titles;
  return titles;
}

/** Token counts (with [CLS]/[SEP], no padding) and the padded batch length, from the tjs tokenizer. */
async function tokens() {
  const { tokenizer } = engines.get('tjs');
  const list = await fixture();
  const count = (text) => tokenizer.encode(text).length;
  const padded = tokenizer(list, { padding: true, truncation: true }).input_ids.dims;
  const query = tokenizer([QUERY], { padding: true, truncation: true }).input_ids.dims;
  return {
    query: count(QUERY),
    queryInput: query,
    titles: list.reduce((sum, t) => sum + count(t), 0),
    titlesMax: Math.max(...list.map(count)),
    batchInput: padded,
  };
}

/** `n` single-query calls, each timed: returns the milliseconds of each. */
async function query(name, n) {
  const { embed } = engines.get(name);
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = now();
    await embed([QUERY]);
    out[i] = now() - t0;
  }
  return out;
}

/** The 64 titles, one call each: total milliseconds. */
async function titlesEach(name) {
  const { embed } = engines.get(name);
  const list = await fixture();
  const t0 = now();
  for (const t of list) await embed([t]);
  return now() - t0;
}

/** The 64 titles as one batch call: milliseconds, and the vectors' count as a check. */
async function titlesBatch(name) {
  const { embed, dims } = engines.get(name);
  const list = await fixture();
  const t0 = now();
  const out = await embed(list);
  const ms = now() - t0;
  if (out.length !== list.length * dims) throw new Error(`${name}: batch gave ${out.length} floats`);
  return ms;
}

window.bench = { load, tokens, query, titlesEach, titlesBatch, QUERY };
