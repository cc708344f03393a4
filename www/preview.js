// The marketer preview: copy variants and a placement against shopper personas, side by side. Each
// persona is replayed into one in-memory engine (nothing persisted, nothing reported); the whole setup
// lives in the URL fragment, so a link shares it. The encoder is chosen per setup: the English demo
// catalog with all-MiniLM-L6-v2, or a setup's own products (the Chinese example's) with
// multilingual-e5-small-zh-en, whose copy fit weight comes from its model file.
import { Vitrine } from '/pkg/index.js';
import { el, money } from './js/render.js';

const $ = (id) => document.getElementById(id);
const DEFAULT_VARIANTS = [
  'christmas: Deck the halls: Christmas decorations, baubles and lights for a festive home',
  'kitchen: Bake, brew and serve: mugs, cake stands and kitchenware for cosy days',
  'garden: Bring the garden to life: planters, lanterns and outdoor charm',
  'stationery: Little gifts for everyone: cards, wrapping paper and notebooks',
].join('\n');
const ENGLISH_MODEL = 'all-MiniLM-L6-v2';
let catalog = [];   // the demo's English products (their vectors ship in data/products.vcat)
let products = [];  // what the current setup ranks: the catalog, or the setup's own products
let byId = new Map();
let vitrine;
let engineModel = null;
let englishPersonas = [];

/** Setup ⇄ fragment: base64url of JSON, so the link is self-contained. */
const encode = (s) => btoa(unescape(encodeURIComponent(JSON.stringify(s)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
function decode(hash) {
  try {
    return JSON.parse(decodeURIComponent(escape(atob(hash.replace(/-/g, '+').replace(/_/g, '/')))));
  } catch {
    return null;
  }
}

/** A persona as typed: one line per event, `view: product title or id` or `search: query`. */
function personaEditor(p, i) {
  const lines = p.events.map((e) => (e.type === 'search' ? `search: ${e.query}` : `${e.type}: ${byId.get(e.productId)?.title ?? e.title ?? e.productId}`));
  return el('div', { class: 'persona-edit' },
    el('label', { for: `pname-${i}` }, `Persona ${i + 1} name`),
    el('input', { id: `pname-${i}`, value: p.name }),
    el('label', { for: `pevents-${i}` }, 'Events, oldest first (view: title, add_to_cart: title, search: query)'),
    el('textarea', { id: `pevents-${i}`, rows: 5 }, lines.join('\n')));
}

function readSetup() {
  const personas = [...document.querySelectorAll('.persona-edit')].map((div, i) => ({
    name: $(`pname-${i}`).value.trim() || `Persona ${i + 1}`,
    events: $(`pevents-${i}`).value.split('\n').map(parseEvent).filter(Boolean),
  }));
  const fit = $('fit-weight').value.trim();
  const setup = { model: $('model').value, variants: $('variants').value, placement: $('placement').value, fitWeight: fit === '' ? null : Number(fit), personas };
  if (setup.model !== ENGLISH_MODEL) setup.products = products;
  return setup;
}

function parseEvent(line) {
  const m = line.match(/^\s*(view|click|add_to_cart|purchase|search)\s*:\s*(.+?)\s*$/);
  if (!m) return null;
  if (m[1] === 'search') return { type: 'search', query: m[2] };
  const text = m[2].toLowerCase();
  const p = byId.get(m[2]) ?? products.find((x) => x.title.toLowerCase() === text) ?? products.find((x) => x.title.toLowerCase().includes(text));
  return p ? { type: m[1], productId: p.id, title: p.title } : { type: m[1], productId: `typed:${m[2]}`, title: m[2] };
}

function useProducts(setup) {
  products = setup.model && setup.model !== ENGLISH_MODEL ? setup.products ?? [] : catalog;
  byId = new Map(products.map((p) => [p.id, p]));
}

function showSetup(setup) {
  useProducts(setup);
  $('model').value = setup.model ?? ENGLISH_MODEL;
  $('variants').value = setup.variants;
  $('placement').value = setup.placement;
  $('fit-weight').value = setup.fitWeight ?? '';
  $('personas').replaceChildren(...setup.personas.map(personaEditor));
}

/** The engine for `model`: the English one reads the catalog's shipped vectors and segments (both
 * made by MiniLM); another encoder embeds the setup's products on the device. */
async function engineFor(model) {
  if (engineModel === model) return vitrine;
  await vitrine?.dispose();
  vitrine = null;
  const english = model === ENGLISH_MODEL;
  vitrine = await Vitrine.create({
    model,
    ...(english ? { catalog: { vectors: 'data/products.vcat', products: catalog }, segments: '/models/segments-onlineretail.json' } : {}),
    persist: false, // personas must never touch the marketer's own history
    progress_callback: (e) => { $('status').textContent = `Loading the engine… (${e.name ?? ''} ${e.status})`; },
  });
  engineModel = model;
  document.body.dataset.engine = 'ready';
  return vitrine;
}

async function run() {
  const setup = readSetup();
  await engineFor(setup.model);
  const candidates = setup.model === ENGLISH_MODEL ? undefined : products;
  history.replaceState(null, '', `#${encode(setup)}`);
  $('share').href = location.href;
  const variants = setup.variants.split('\n').map((l) => l.match(/^\s*([A-Za-z0-9_.-]+)\s*[:：]\s*(.+)$/)).filter(Boolean).map((m) => ({ id: m[1], text: m[2] }));
  if (!variants.length) {
    $('status').textContent = 'Add at least one variant as “id: text”.';
    return;
  }
  $('status').textContent = 'Running…';
  const cards = [];
  for (const persona of setup.personas) {
    await vitrine.clear();
    const start = Date.now() - persona.events.length * 60_000;
    for (const [i, e] of persona.events.entries()) await vitrine.track({ ...e, ts: start + i * 60_000 });
    const ranked = await vitrine.rank(setup.placement, { candidates, rules: { limit: 5, diversity: { lambda: 0.85 } } });
    // No weight typed: the model's own (its file's; MiniLM's is 8), since cosines differ between encoders.
    const options = setup.fitWeight == null ? { mode: 'bandit' } : { mode: 'bandit', fitWeight: setup.fitWeight };
    const pick = await vitrine.pickCopy('preview', variants, options);
    // The expected winner: the highest posterior mean click rate, whose prior the fit sets (the
    // collector's data and this device's outweigh it as they grow); Thompson samples around it.
    const expected = pick.why.scores.map((s) => s.alpha / (s.alpha + s.beta));
    const winner = variants[expected.indexOf(Math.max(...expected))];
    cards.push(el('article', { class: 'persona', dataset: { winner: winner.id } },
      el('h3', {}, persona.name),
      el('p', { class: 'winner' }, 'Copy: ', el('strong', {}, winner.id), ` — “${winner.text}”`),
      el('table', { class: 'cells' }, el('caption', {}, 'Why: fit to this persona’s intent'),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Variant'), el('th', { scope: 'col' }, 'Fit (cosine)'), el('th', { scope: 'col' }, 'Expected click rate'))),
        el('tbody', {}, variants.map((v, i) => el('tr', {}, el('th', { scope: 'row' }, v.id), el('td', {}, pick.fits[i].toFixed(3)), el('td', {}, expected[i].toFixed(3)))))),
      el('ol', { class: 'ranking' }, ranked.map((r) => el('li', {}, `${byId.get(r.id)?.title ?? r.id} ${money(byId.get(r.id)?.price)}`)))));
  }
  await vitrine.clear();
  $('results').replaceChildren(...cards);
  $('status').textContent = `Previewed ${setup.personas.length} personas.`;
  document.body.dataset.previewed = String(Date.now());
}

/** The ready Chinese setup (data/zh-example.json): its personas are typed lines, resolved against its
 * own products as a marketer's typing would be. */
async function chineseExample() {
  const ex = await fetch('data/zh-example.json').then((r) => r.json());
  useProducts(ex);
  const personas = ex.personas.map((p) => ({ name: p.name, events: p.lines.map(parseEvent).filter(Boolean) }));
  return { model: ex.model, products: ex.products, variants: ex.variants.join('\n'), placement: ex.placement, fitWeight: null, personas };
}

function englishExample() {
  return { model: ENGLISH_MODEL, variants: DEFAULT_VARIANTS, placement: 'forYou', fitWeight: null, personas: englishPersonas.slice(0, 3) };
}

async function start() {
  catalog = await fetch('data/products.json').then((r) => r.json());
  englishPersonas = await fetch('data/personas.json').then((r) => r.json());
  showSetup(decode(location.hash.slice(1)) ?? englishExample());
  await run();
}

$('setup').addEventListener('submit', (e) => {
  e.preventDefault();
  run().catch((err) => { $('status').textContent = `Failed: ${err.message}`; });
});
$('zh-example').addEventListener('click', () => {
  chineseExample().then(showSetup).then(run).catch((err) => { $('status').textContent = `Failed: ${err.message}`; });
});
// Each encoder comes with products it can rank: switching loads that encoder's example setup.
$('model').addEventListener('change', () => {
  const next = $('model').value === ENGLISH_MODEL ? Promise.resolve(englishExample()) : chineseExample();
  next.then(showSetup).then(run).catch((err) => { $('status').textContent = `Failed: ${err.message}`; });
});
$('add-persona').addEventListener('click', () => {
  const i = document.querySelectorAll('.persona-edit').length;
  $('personas').append(personaEditor({ name: `Persona ${i + 1}`, events: [{ type: 'search', query: 'gift for a gardener' }] }, i));
});
start().catch((err) => {
  document.body.dataset.engine = 'error';
  $('status').textContent = `The engine failed to load: ${err?.message ?? err}`;
  console.error(err);
});
