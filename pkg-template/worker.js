// The package's Web Worker: runs the engine host off the main thread. Each message `{id, method, args}`
// goes through `EngineHost.call`, which answers only `init`, the listed methods and `dispose`;
// `{abort: id}` aborts that call's downloads (index.js sends it when the page's AbortSignal fires).
import { EngineHost } from './host.js';

const host = new EngineHost();
const running = new Map();

self.onmessage = async ({ data }) => {
  if (data?.abort !== undefined) {
    running.get(data.abort)?.abort(new DOMException('the operation was aborted', 'AbortError'));
    return;
  }
  const { id, method, args } = data ?? {};
  const controller = new AbortController();
  running.set(id, controller);
  const progress = (event) => self.postMessage({ progress: event });
  try {
    const result = await host.call(method, Array.isArray(args) ? args : [], { signal: controller.signal, progress });
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: { message: err?.message ?? String(err), name: err?.name ?? 'Error', code: err?.code } });
  } finally {
    running.delete(id);
  }
};
