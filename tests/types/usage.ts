// Compiled by tests/e2e/types.test.mjs with `tsc --strict`: storefront code against the public types.
// The `@ts-expect-error` lines prove the types reject misuse (tsc fails if one of them compiles).
import { Vitrine, type Ranked, type CopyPick } from 'vitrine';

export async function storefront(): Promise<void> {
  const v = await Vitrine.create({
    model: '/models/minilm-l6-q8_0.gguf',
    catalog: { vectors: '/data/products.vcat', products: [{ id: '1', title: 'Mug', price: 2 }] },
    device: 'auto',
    dtype: 'q8',
    consent: false,
    progress_callback: (e) => {
      if (e.status === 'progress') console.log(e.name, e.loaded, e.total);
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
  const history = await v.export();
  const last: number = history.events[0].ts;
  const diag = await v.diagnostics();
  const mode: 'indexeddb' | 'memory' = diag.persistence.mode;
  console.log(why, last, mode, counted, built, diag.reporting[pick.slot]);

  // @ts-expect-error: not an event type
  await v.track({ type: 'hover', productId: '1' });
  // @ts-expect-error: similarTo needs a productId
  await v.rank({ placement: 'similarTo' });
  // @ts-expect-error: not a device
  await Vitrine.create({ device: 'gpu' });
  // @ts-expect-error: the privacy budget is the SDK's, not a page option
  await Vitrine.create({ dailyEpsilon: 8 });
  // @ts-expect-error: the outcome kinds are closed
  await v.recordOutcome(pick, 'like');
  v.dispose();
}
