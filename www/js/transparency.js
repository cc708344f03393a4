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
  const cells = preview.state.pending;
  const diag = await vitrine.diagnostics();
  $('report').replaceChildren(
    el('p', {}, preview.consent === 'granted'
      ? `Consent given. Reports go to ${preview.collector ?? '(no collector configured)'}; sending: ${diag.transport ?? 'off'}.`
      : `Nothing is sent: consent ${preview.consent}.`),
    el('p', {}, `Registry: ${diag.registry}.`),
    cells.length
      ? el('table', { class: 'cells' },
        el('caption', {}, 'Counted on this device (never sent as is)'),
        el('thead', {}, el('tr', {}, ['Experiment', 'Variant', 'Shown', 'Clicks', 'Carts', 'Buys'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, cells.map(([exp, p]) => el('tr', {}, [exp, p.variant, p.counters.impressions, p.counters.clicks, p.counters.add_to_carts, p.counters.purchases].map((v) => el('td', {}, String(v)))))))
      : el('p', {}, `No counters pending. ${Object.entries(diag.reporting ?? {}).map(([k, v]) => `${k}: ${v}`).join('; ')}`),
    el('p', { class: 'note' }, 'Only experiments registered on the collector are counted. A report holds, per experiment, only the ' +
      'deepest step reached (and, for a bandit, which variant), randomised on this device (ε = 2 per report, at most 4 per day, ' +
      'one report per experiment ever). No id, cookie, product, query, segment or exact time is ever sent.'),
  );
  $('send-report').hidden = !(preview.consent === 'granted' && preview.collector);
}
