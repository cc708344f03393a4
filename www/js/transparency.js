// The transparency panel: the shopper's local history, why each item is recommended, and exactly what a
// report would contain — all read from the engine in this tab.
import { el, explain } from './render.js';

const $ = (id) => document.getElementById(id);

export function showEngine(info) {
  const row = (term, value) => [el('dt', {}, term), el('dd', {}, value)];
  $('engine-info').replaceChildren(
    ...row('Version', info.version),
    ...row('SIMD (simd128)', info.simd128 ? 'yes' : 'no'),
    ...row('Architecture', info.arch),
    ...row('WebGPU', info.webgpu.available ? `adapter: ${info.webgpu.adapter}` : `none (${info.webgpu.reason})`),
    ...row('Encoder backend', `queries: ${info.backend.query.backend} (${info.backend.query.reason}); batches: ${info.backend.batch.backend} (${info.backend.batch.reason})`),
    ...row('Runs in', info.worker ? 'a Web Worker' : 'the page'),
    ...row('History kept in', info.persistence?.mode === 'indexeddb' ? 'IndexedDB (this browser only)' : `memory (${info.persistence?.reason})`),
  );
  $('engine-status').textContent = 'Engine loaded.';
}

export async function renderTransparency(vitrine, { ranked, history, titleOf }) {
  $('history-count').textContent = history.events.length;
  $('history').replaceChildren(
    ...history.events
      .slice()
      .reverse()
      .map((e) => el('li', {}, el('time', { datetime: new Date(e.ts).toISOString() }, new Date(e.ts).toLocaleTimeString()), ' ',
        e.type === 'search' ? `searched “${e.query}”` : `${e.type.replace(/_/g, ' ')}: ${titleOf(e.productId)}`)),
  );
  $('why').replaceChildren(
    ...ranked.map((r) => el('li', {}, el('strong', {}, titleOf(r.id)), ` — score ${r.score.toFixed(3)}. `,
      r.reasons.length ? explain(r.reasons, titleOf) : 'No history yet: popular items.')),
  );
  const preview = await vitrine.reportPreview();
  const cells = preview.state.counters;
  const budget = preview.state.budget;
  const spent = (budget.spent_micros ?? 0) / 1e6;
  $('report').replaceChildren(
    el('p', {}, preview.consent === 'granted'
      ? `Consent given. Reports go to ${preview.collector ?? '(no collector configured)'}.`
      : `Nothing is sent: consent ${preview.consent}.`),
    el('p', {}, `Today’s privacy budget: ε ${spent.toFixed(1)} of ${(budget.daily_micros / 1e6).toFixed(1)} spent.`),
    cells.length
      ? el('table', { class: 'cells' },
        el('caption', {}, 'Counted on this device (never sent as is)'),
        el('thead', {}, el('tr', {}, ['Slot', 'Variant', 'Segment', 'Shown', 'Clicks', 'Carts', 'Buys'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, cells.map(([k, c]) => el('tr', {}, [k.experiment, k.variant, k.segment, c.impressions, c.clicks, c.add_to_carts, c.purchases].map((v) => el('td', {}, String(v)))))))
      : el('p', {}, 'No counters pending.'),
    el('p', { class: 'note' }, 'A report holds, per slot, variant and segment, only the deepest step reached, ' +
      'one-hot encoded and randomised on this device (optimized unary encoding, ε = 1 per entry). ' +
      'No id, cookie, product, query or exact time is ever sent.'),
  );
  $('send-report').hidden = !(preview.consent === 'granted' && preview.collector);
}
