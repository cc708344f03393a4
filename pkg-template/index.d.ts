// Public types of the Vitrine package.

/** Where inference runs. `auto` picks WebGPU only when it is present and measured faster. */
export type Device = 'auto' | 'webgpu' | 'cpu';

/** Loading progress, keyed on `status`. */
export type ProgressEvent =
  | { status: 'initiate'; name: string }
  | { status: 'done'; name: string }
  | { status: 'ready' };

export interface VitrineOptions {
  /** Compute backend; defaults to `'auto'`. */
  device?: Device;
  /** Where to fetch the wasm module from; defaults to the file shipped beside this module. */
  wasmUrl?: string | URL;
  /** Called as loading proceeds; exceptions it throws are logged and ignored. */
  progress_callback?: (event: ProgressEvent) => void;
}

/** What the browser offered for WebGPU. */
export type WebGpuInfo =
  | { available: true; adapter: string; fallbackAdapter: boolean }
  | { available: false; reason: string };

export interface EngineInfo {
  /** Package and core version. */
  version: string;
  /** Whether the wasm module was built with 128-bit SIMD. */
  simd128: boolean;
  /** Architecture the core was compiled for (`wasm32` in a browser). */
  arch: string;
  webgpu: WebGpuInfo;
  /** The backend that runs inference, and why it was chosen. */
  backend: { name: 'cpu' | 'webgpu'; reason: string };
}

export declare class Vitrine {
  private constructor();
  /** Loads the engine and returns a ready instance. */
  static create(options?: VitrineOptions): Promise<Vitrine>;
  /** What the engine is and which backend runs. */
  info(): EngineInfo;
  /** Releases this instance; any later call throws. */
  dispose(): void;
}

export default Vitrine;
