// The demo storefront's script: loads the engine from the built package and shows what it found.
import { Vitrine } from '/pkg/index.js';

const status = document.getElementById('engine-status');
const list = document.getElementById('engine-info');

function row(term, value) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

try {
  const vitrine = await Vitrine.create({
    device: 'auto',
    progress_callback: (e) => { status.textContent = `Loading the engine… (${e.status})`; },
  });
  const info = vitrine.info();
  row('Version', info.version);
  row('SIMD (simd128)', info.simd128 ? 'yes' : 'no');
  row('Architecture', info.arch);
  row('WebGPU', info.webgpu.available ? `adapter: ${info.webgpu.adapter}` : `none (${info.webgpu.reason})`);
  row('Backend', `${info.backend.name} — ${info.backend.reason}`);
  status.textContent = 'Engine loaded.';
  document.body.dataset.engine = 'ready';
  window.vitrine = vitrine; // handy from the devtools console
} catch (err) {
  status.textContent = `The engine failed to load: ${err?.message ?? err}`;
  document.body.dataset.engine = 'error';
  console.error(err);
}
