// The package's Web Worker: runs the engine host off the main thread and answers index.js by method name.
import { EngineHost } from './host.js';

const host = new EngineHost();

self.onmessage = async ({ data }) => {
  const { id, method, args } = data;
  const progress = (event) => self.postMessage({ progress: event });
  try {
    if (!(method in host) || method.startsWith('#')) throw new Error(`unknown method ${method}`);
    const result = method === 'init' ? await host.init(args[0], progress) : await host[method](...args);
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: { message: err?.message ?? String(err), name: err?.name ?? 'Error' } });
  }
};
