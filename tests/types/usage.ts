// Compiled by tests/e2e/types.test.mjs with `tsc --strict`: storefront code against the public types.
// The `@ts-expect-error` lines prove the types reject misuse (tsc fails if one of them compiles).
import { Vitrine, VitrineError, shippedModels, type ShippedModel, type Ranked, type CopyPick, type ErrorCode, type Rules, type ReportState } from 'vitrine';

export async function storefront(): Promise<void> {
  const v = await Vitrine.create({
    model: '/models/minilm-l6-q8_0.gguf',
    catalog: { vectors: '/data/products.vcat', products: [{ id: '1', title: 'Mug', price: 2 }] },
    device: 'auto',
    dtype: 'q8',
    consent: false,
    progress_callback: (e) => {
      if (e.status === 'progress') console.log(e.name, e.file, e.loaded, e.total);
    },
    signal: new AbortController().signal,
  });
  await v.track({ type: 'view', productId: '1' });
  await v.track({ type: 'search', query: 'mugs' });
  const forYou: Ranked[] = await v.forYou({ rules: { limit: 8, diversity: { lambda: 0.8 }, pins: [{ id: '1', position: 0 }] } });
  const why: string[] = forYou.flatMap((r) => r.reasons.map((x) => `${x.kind} ${x.weight.toFixed(2)}`));
  await v.rank({ placement: 'similarTo', productId: '1' });
  await v.rerankSearch('mug', [{ id: '1', title: 'Mug' }]);
  const pick: CopyPick = await v.pickCopy('banner', [{ id: 'a', text: 'Hello' }], { mode: 'ab', holdout: 0.1 });
  await v.recordOutcome(pick, 'purchase', 12.5);
  const counted: boolean = pick.counted;
  const built: number = (await v.flushReports()).length;
  const sealed: number[] = (await v.flushReports()).flatMap((r) => ('dap' in r ? [r.bytes] : []));
  const dapped = await Vitrine.create({ collector: 'https://c.example/', dap: { leader: 'https://l.example/', helper: new URL('https://h.example/') } });
  const dapState: string | undefined = (await dapped.diagnostics()).dap;
  // @ts-expect-error the helper is required: a report sealed to the leader alone would not be private
  await Vitrine.create({ collector: 'https://c.example/', dap: { leader: 'https://l.example/' } });
  const history = await v.export();
  const last: number = history.events[0].ts;
  const diag = await v.diagnostics();
  const mode: 'indexeddb' | 'memory' = diag.persistence.mode;
  const vectors: number = diag.catalogVectors;
  const state: ReportState = (await v.reportPreview()).state;
  const rules: Rules = { filters: { maxPrice: 20 }, boosts: [{ ids: ['1'], weight: 0.1 }], includeSeen: true };
  console.log(why, last, mode, vectors, state.pending.length, rules, counted, built, sealed, dapState, diag.reporting[pick.slot]);
  try {
    await v.track({ type: 'view', productId: '' });
  } catch (err) {
    if (err instanceof VitrineError) {
      const code: ErrorCode = err.code;
      switch (code) {
        case 'invalid_input':
        case 'disposed':
        case 'catalog':
          break;
        default:
          console.log(code);
      }
    }
  }

  // @ts-expect-error: not an event type
  await v.track({ type: 'hover', productId: '1' });
  // @ts-expect-error: similarTo needs a productId
  await v.rank({ placement: 'similarTo' });
  // A shipped model by name, from the page's own folder; the names are listed at run time too.
  const zh = await Vitrine.create({ model: 'multilingual-e5-small-zh-en', modelBase: '/static/models/', dtype: 'q4' });
  const names: readonly ShippedModel[] = shippedModels;
  const unknown: ErrorCode = 'unknown_model';
  console.log(names, unknown);
  await zh.dispose();
  // @ts-expect-error: dtype names a shipped quantization
  await Vitrine.create({ model: 'all-MiniLM-L6-v2', dtype: 'int8' });
  // @ts-expect-error: not a device
  await Vitrine.create({ device: 'gpu' });
  // @ts-expect-error: the privacy budget is the SDK's, not a page option
  await Vitrine.create({ dailyEpsilon: 8 });
  // @ts-expect-error: the outcome kinds are closed
  await v.recordOutcome(pick, 'like');
  // @ts-expect-error: not a rule (the generated Rules type is closed)
  await v.forYou({ rules: { limt: 3 } });
  // @ts-expect-error: not an error code
  const wrong: ErrorCode = 'oops';
  // @ts-expect-error: a reason's eventType is an EventType
  const reason: Ranked['reasons'][number] = { kind: 'event', eventType: 'hover', weight: 1 };
  console.log(wrong, reason);
  await v.dispose();
}
