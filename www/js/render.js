// DOM helpers for the demo storefront: product cards, strips, the product page. No framework: the demo
// shows what the package needs from a page, nothing more.

/** A text mark per category: the demo ships no product photos, and emoji fonts are not everywhere. */
const MARK = (category = 'Other') => category.split(/[ &]+/)[0];

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.flat().filter((c) => c != null));
  return node;
}

export const money = (p) => (p == null ? '' : `£${p.toFixed(2)}`);

/** One product tile; `reasons` (from the engine) become a short "because" line. */
export function card(product, { reasons, titleOf, onOpen } = {}) {
  const because = reasons?.length ? explain(reasons, titleOf) : null;
  return el('li', { class: 'card', dataset: { id: product.id, category: product.category } },
    el('a', { href: `#/product/${encodeURIComponent(product.id)}`, onclick: () => onOpen?.(product) },
      el('span', { class: 'thumb', 'aria-hidden': 'true', dataset: { category: product.category } }, MARK(product.category)),
      el('span', { class: 'title' }, product.title)),
    el('span', { class: 'price' }, money(product.price)),
    because && el('small', { class: 'because' }, because));
}

/** "Because you viewed X (62 %)" or "same words as X you viewed (“regency”)" from an item's reasons. */
export function explain(reasons, titleOf = (id) => id) {
  return reasons
    .slice(0, 2)
    .map((r) => {
      const pct = `${Math.round(r.weight * 100)} %`;
      if (r.kind === 'event' && r.query) return `you searched “${r.query}” (${pct})`;
      if (r.kind === 'event') return `you ${verb(r.eventType)} ${titleOf(r.productId)} (${pct})`;
      if (r.kind === 'words') return `same words as ${titleOf(r.productId)} you ${verb(r.eventType)} (${r.words.map((w) => `“${w}”`).join(', ')}; ${pct})`;
      if (r.kind === 'query') return `matches “${r.query}” (${pct})`;
      if (r.kind === 'product') return `similar to ${titleOf(r.productId)}`;
      if (r.kind === 'position') return `shop's order (${pct})`;
      return 'recently viewed';
    })
    .join('; ')
    .replace(/^/, 'Because ');
}

function verb(type) {
  return { view: 'viewed', click: 'clicked', add_to_cart: 'added', purchase: 'bought', search: 'searched' }[type] ?? type;
}

export { MARK };

export function strip(list, items, opts) {
  list.replaceChildren(...items.map(({ product, reasons }) => card(product, { ...opts, reasons })));
}
