// The demo storefront: a gift shop over the Online Retail catalog, personalised live by Vitrine in this
// tab. Routes live in the URL fragment (#/, #/product/ID, #/search/QUERY, #/category/NAME, #/cart).
import { Vitrine } from '/pkg/index.js';
import { MARK, card, el, money, strip } from './js/render.js';
import { renderTransparency, showEngine } from './js/transparency.js';

const params = new URLSearchParams(location.search);
// Reports go to `npm run collector` by default; nothing is sent (or even fetched) until the shopper consents.
const collector = params.get('collector') ?? 'http://127.0.0.1:8787';
// `?leader=…&helper=…` (what `npm run dap` prints): the collector's DAP experiments go to that Janus pair.
const dap = params.get('leader') && params.get('helper') ? { leader: params.get('leader'), helper: params.get('helper') } : undefined;
const MODEL = params.get('model') === 'small' ? 'minilm-l6-small.gguf' : 'minilm-l6-q8_0.gguf';
const BANNER = [
  { id: 'christmas', text: 'Deck the halls: Christmas decorations, baubles and lights for a festive home', go: '#/category/Christmas' },
  { id: 'kitchen', text: 'Bake, brew and serve: mugs, cake stands and kitchenware for cosy days', go: '#/category/Kitchen%20%26%20dining' },
  { id: 'garden', text: 'Bring the garden to life: planters, lanterns and outdoor charm', go: '#/category/Garden' },
  { id: 'stationery', text: 'Little gifts for everyone: cards, wrapping paper and notebooks', go: '#/category/Stationery%20%26%20gifts%20wrap' },
];

const $ = (id) => document.getElementById(id);
const state = { products: [], byId: new Map(), cart: [], pick: null, forYou: [] };
const titleOf = (id) => state.byId.get(id)?.title ?? id;
let vitrine;

async function sha256Of(name) {
  const sums = await fetch('/models/SHA256SUMS').then((r) => (r.ok ? r.text() : ''));
  return sums.split('\n').map((l) => l.trim().split(/\s+/)).find(([, f]) => f === name)?.[0];
}

async function start() {
  state.products = await fetch('data/products.json').then((r) => r.json());
  for (const p of state.products) state.byId.set(p.id, p);
  vitrine = await Vitrine.create({
    model: `/models/${MODEL}`,
    modelSha256: await sha256Of(MODEL),
    catalog: { vectors: 'data/products.vcat', products: state.products },
    // No sessionModel: the shipped one is trained on Amazon Beauty, research-use data (models/README.md),
    // and a gift shop should train its own; the zero-shot intent keeps the demo free of that download.
    segments: '/models/segments-onlineretail.json',
    segmentsSha256: await sha256Of('segments-onlineretail.json'),
    collector,
    dap,
    consent: localStorage.getItem('demo-consent') === 'yes',
    device: 'auto',
    reportDelayMs: [2_000, 10_000],
    progress_callback: (e) => {
      const pct = e.status === 'progress' && e.total ? ` ${Math.round(e.progress)} %` : '';
      $('engine-status').textContent = `Loading the engine… (${e.name ?? ''} ${e.status}${pct})`;
    },
  });
  window.vitrine = vitrine; // handy from the devtools console, and for the tests
  showEngine(vitrine.info());
  document.body.dataset.engine = 'ready';
  $('consent').checked = localStorage.getItem('demo-consent') === 'yes';
  await route();
}

/** Tracks an event, then refreshes everything that depends on the session. */
async function track(event, opts) {
  await vitrine.track(event);
  await refresh(opts);
}

/** Re-ranks and redraws what depends on the session; `banner` re-picks the copy (once per page view:
 *  every pick counts an impression, so events within a page must not re-pick it). */
async function refresh({ banner = false } = {}) {
  const current = location.hash.match(/^#\/product\/(.+)$/)?.[1];
  const exclude = current ? [decodeURIComponent(current)] : [];
  const ranked = await vitrine.forYou({ rules: { limit: 8, diversity: { lambda: 0.85 }, filters: { excludeIds: exclude } } });
  const history = await vitrine.export();
  state.forYou = ranked;
  const items = ranked.map((r) => ({ product: state.byId.get(r.id), reasons: r.reasons })).filter((x) => x.product);
  $('for-you-note').textContent = history.events.length
    ? 'Picked in this tab from what you did here.'
    : 'Popular right now. Browse a little and this row adapts to you.';
  strip($('for-you'), history.events.length ? items : state.products.slice(0, 8).map((product) => ({ product })), { titleOf, onOpen: openProduct });
  if (banner || !state.pick) await pickBanner();
  await renderTransparency(vitrine, { ranked, history, titleOf });
  document.body.dataset.updated = String(Date.now());
}

async function pickBanner() {
  const pick = await vitrine.pickCopy('home-banner', BANNER.map(({ id, text }) => ({ id, text })), { mode: 'bandit' });
  state.pick = pick;
  $('banner').hidden = false;
  $('banner').dataset.variant = pick.variant;
  $('banner-text').textContent = pick.text;
  const fits = pick.fits.map((f, i) => `${BANNER[i].id} ${f.toFixed(2)}`).join(', ');
  const counted = pick.counted ? `counted for experiment ${pick.experiment}` : 'not counted';
  $('banner-why').textContent = `Variant “${pick.variant}” (segment ${pick.segment}, ${counted}); fit to your session: ${fits}`;
}

function openProduct(product) {
  vitrine.track({ type: 'click', productId: product.id, title: product.title, category: product.category }).catch(console.warn);
}

async function route() {
  const view = $('view');
  const [, kind, arg] = location.hash.match(/^#\/(\w+)\/?(.*)$/) ?? [];
  const value = arg ? decodeURIComponent(arg) : '';
  if (kind === 'product' && state.byId.has(value)) {
    const p = state.byId.get(value);
    const similar = await vitrine.similarTo(p.id, { rules: { limit: 6 } });
    view.replaceChildren(
      el('article', { class: 'product', 'aria-labelledby': 'product-title' },
        el('span', { class: 'thumb big', 'aria-hidden': 'true', dataset: { category: p.category } }, MARK(p.category)),
        el('div', {},
          el('h2', { id: 'product-title' }, p.title),
          el('p', {}, `${p.category} · ${money(p.price)}`),
          el('button', { type: 'button', id: 'add-to-cart', onclick: () => addToCart(p) }, 'Add to cart'))),
      el('h3', {}, 'Similar items'),
      el('ol', { class: 'strip', id: 'similar' }, similar.map((r) => card(state.byId.get(r.id), { titleOf, onOpen: openProduct }))),
    );
    await track({ type: 'view', productId: p.id, title: p.title, category: p.category }, { banner: true });
    return;
  }
  if (kind === 'search' && value) {
    $('search').value = value;
    // The shop's own search: keyword match by popularity, then re-ranked by Vitrine for this shopper.
    const words = value.toLowerCase().split(/\s+/).filter(Boolean);
    const hits = state.products.filter((p) => words.some((w) => p.title.toLowerCase().includes(w))).slice(0, 60);
    await vitrine.track({ type: 'search', query: value });
    const ranked = hits.length ? await vitrine.rerankSearch(value, hits, { rules: { limit: 24 } }) : [];
    view.replaceChildren(el('h2', {}, `Results for “${value}”`),
      ranked.length ? el('ol', { class: 'grid', id: 'results' }, ranked.map((r) => card(state.byId.get(r.id), { reasons: r.reasons, titleOf, onOpen: openProduct })))
        : el('p', {}, 'No products match. Try “lantern”, “mug” or “christmas”.'));
    await refresh({ banner: true });
    return;
  }
  if (kind === 'cart') {
    const total = state.cart.reduce((s, p) => s + p.price, 0);
    view.replaceChildren(el('h2', {}, 'Your cart'),
      el('ul', { id: 'cart' }, state.cart.map((p) => el('li', {}, `${p.title} — ${money(p.price)}`))),
      el('p', {}, `Total ${money(total)}`),
      el('button', { type: 'button', id: 'checkout', disabled: !state.cart.length, onclick: checkout }, 'Buy now'));
    return;
  }
  const category = kind === 'category' ? value : null;
  const list = state.products.filter((p) => !category || p.category === category).slice(0, 48);
  const cats = [...new Set(state.products.map((p) => p.category))].sort();
  view.replaceChildren(
    el('nav', { 'aria-label': 'Categories', class: 'cats' }, el('a', { href: '#/' }, 'All'), cats.map((c) => el('a', { href: `#/category/${encodeURIComponent(c)}`, 'aria-current': c === category ? 'page' : null }, c))),
    el('h2', {}, category ?? 'Popular products'),
    el('ol', { class: 'grid', id: 'grid' }, list.map((p) => card(p, { titleOf, onOpen: openProduct }))));
  await refresh({ banner: true });
}

async function addToCart(p) {
  state.cart.push(p);
  $('cart-count').textContent = state.cart.length;
  if (state.pick) await vitrine.recordOutcome(state.pick, 'add_to_cart');
  await track({ type: 'add_to_cart', productId: p.id, title: p.title, category: p.category, price: p.price, quantity: 1 });
}

async function checkout() {
  const revenue = state.cart.reduce((s, p) => s + p.price, 0);
  for (const p of state.cart) await vitrine.track({ type: 'purchase', productId: p.id, title: p.title, category: p.category, price: p.price, quantity: 1 });
  if (state.pick) await vitrine.recordOutcome(state.pick, 'purchase', revenue);
  state.cart = [];
  $('cart-count').textContent = '0';
  $('view').replaceChildren(el('h2', {}, 'Thank you!'), el('p', {}, `Order of ${money(revenue)} placed (a demo: nothing is charged).`));
  await refresh();
}

$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('search').value.trim();
  if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
});
$('banner-cta').addEventListener('click', async () => {
  if (state.pick) await vitrine.recordOutcome(state.pick, 'click');
  location.hash = BANNER.find((b) => b.id === state.pick?.variant)?.go ?? '#/';
});
$('consent').addEventListener('change', async (e) => {
  localStorage.setItem('demo-consent', e.target.checked ? 'yes' : 'no');
  await vitrine.setConsent(e.target.checked);
  await refresh();
});
$('send-report').addEventListener('click', async () => {
  const built = await vitrine.flushReports();
  $('send-report').textContent = built.length ? `Queued ${built.length} randomised report(s); each leaves after its own delay` : 'Nothing to send';
  await refresh();
});
$('wipe').addEventListener('click', async () => {
  await vitrine.clear();
  state.cart = [];
  $('cart-count').textContent = '0';
  await refresh();
});
window.addEventListener('hashchange', () => route().catch(fail));

function fail(err) {
  $('engine-status').textContent = `The engine failed: ${err?.message ?? err}`;
  document.body.dataset.engine ??= 'error';
  console.error(err);
}

start().catch((err) => {
  document.body.dataset.engine = 'error';
  fail(err);
});
