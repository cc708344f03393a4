// The package's one error type: every rejection a page sees (besides an AbortError) is a VitrineError
// whose `code` is stable, so a page can switch on it; the message says what to do next.

export class VitrineError extends Error {
  /**
   * @param {string} message what went wrong and what to do next
   * @param {string} code one of the `ErrorCode`s in index.d.ts
   */
  constructor(message, code, options) {
    super(message, options);
    this.name = 'VitrineError';
    this.code = code;
  }

  /**
   * The same error as a VitrineError: the engine's (a JS `Error` with the core's `code`), an AbortError
   * (kept as it is: pages test `name === 'AbortError'`), or anything else (`internal`: a bug).
   */
  static from(err) {
    if (err instanceof VitrineError || err?.name === 'AbortError') return err;
    const code = typeof err?.code === 'string' ? err.code : 'internal';
    return new VitrineError(err?.message ?? String(err), code, { cause: err });
  }
}
