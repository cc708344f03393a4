// Builds the demo storefront's catalog from the Online Retail data (../shared/data/onlineretail, CC BY 4.0):
// www/data/products.json (id, title, category, price, popularity), and target/demo-catalog.jsonl, the
// input of `vitrine embed-catalog` for www/data/products.vcat. Deterministic; run by
// scripts/regenerate-demo-catalog.sh; products.json and products.vcat are committed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const SRC = new URL('../../shared/data/onlineretail/products.csv', import.meta.url);
const OUT = new URL('../www/data/', import.meta.url);

/** RFC 4180 enough for this file: commas inside double quotes. */
function parseCsvLine(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') out.push(cur), (cur = '');
    else cur += ch;
  }
  out.push(cur);
  return out;
}

// First match wins: the order puts the specific (Christmas) before the generic (decoration).
const CATEGORIES = [
  ['Christmas', /CHRISTMAS|XMAS|ADVENT|SANTA|REINDEER|SNOWFLAKE|SNOW |NATIVITY|BAUBLE|TINSEL/],
  ['Bags', /\bBAG\b|BAGS|TOTE|SHOPPER|RUCKSACK|PURSE|WASHBAG/],
  ['Candles & lights', /CANDLE|T-LIGHT|TEA LIGHT|LANTERN|LIGHT|LAMP|NIGHTLIGHT/],
  ['Kitchen & dining', /MUG|CUP|PLATE|BOWL|CAKE|TEAPOT|TEA |JUG|KITCHEN|BAKING|APRON|CUTLERY|SPOON|NAPKIN|TRAY|LUNCH BOX|JAR|TIN\b|TINS|BOTTLE|COASTER|GLASS|EGG|CAKESTAND|OVEN|TOWEL/],
  ['Garden', /GARDEN|PLANT|FLOWER POT|WATERING|BIRD|HEN HOUSE|PARASOL|DOORMAT/],
  ['Stationery & gifts wrap', /CARD|WRAP|PAPER|NOTEBOOK|PEN\b|PENCIL|STICKER|TAPE|ENVELOPE|NOTE|DIARY|BOOK|RIBBON|GIFT TAG|CALENDAR/],
  ['Toys & kids', /TOY|GAME|DOLL|CHILDS|CHILDRENS|KIDS|PUZZLE|SPACEBOY|DOLLY|TEDDY|SKITTLES|JIGSAW|CRAYON|BALLOON|PLAYHOUSE/],
  ['Jewellery & accessories', /NECKLACE|BRACELET|EARRING|RING\b|HAIR|BROOCH|CHARM|UMBRELLA|SCARF|GLOVES|HAT\b/],
  ['Home decor', /HEART|SIGN|FRAME|CLOCK|MIRROR|CUSHION|DECORATION|HANGING|VASE|WREATH|BUNTING|GARLAND|DOORSTOP|HOOK|ORNAMENT|BOX|DRAWER|STORAGE|CABINET/],
];
const NOT_PRODUCTS = /^(POST|DOT|M|D|C2|S|B|CRUK|PADS|BANK CHARGES|AMAZONFEE|gift_.*)$/i;

function titleCase(s) {
  return s
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/(^|[\s\-(/])([a-z])/g, (m, p, c) => p + c.toUpperCase());
}

const lines = readFileSync(SRC, 'utf8').split('\n').slice(1).filter(Boolean);
const byTitle = new Map();
for (const line of lines) {
  const [code, desc, price, invoices] = parseCsvLine(line);
  const raw = desc.trim();
  if (NOT_PRODUCTS.test(code) || !/[A-Z]{3}/.test(raw) || /[a-z]/.test(raw) || !(Number(price) > 0)) continue;
  const product = {
    id: code,
    title: titleCase(raw),
    category: (CATEGORIES.find(([, re]) => re.test(` ${raw} `)) ?? ['Other'])[0],
    price: Math.round(Number(price) * 100) / 100,
    popularity: Number(invoices),
  };
  // The data lists some products twice under variant codes: keep the most bought.
  const seen = byTitle.get(product.title);
  if (!seen || seen.popularity < product.popularity) byTitle.set(product.title, product);
}
const products = [...byTitle.values()].sort((a, b) => b.popularity - a.popularity || a.id.localeCompare(b.id));
writeFileSync(new URL('products.json', OUT), JSON.stringify(products) + '\n');
mkdirSync(new URL('../target/', import.meta.url), { recursive: true });
writeFileSync(new URL('../target/demo-catalog.jsonl', import.meta.url), products.map((p) => JSON.stringify({ id: p.id, text: p.title })).join('\n') + '\n');
const counts = {};
for (const p of products) counts[p.category] = (counts[p.category] ?? 0) + 1;
console.log(`${products.length} products`, counts);

// Personas for the marketer preview, from real sessions: for a few themes, the customer whose purchases
// lean most towards that theme, with their last 8 distinct catalog products (ids only, oldest first).
const TX = new URL('../../shared/data/onlineretail/transactions.csv', import.meta.url);
const byCustomer = new Map();
for (const line of readFileSync(TX, 'utf8').split('\n').slice(1)) {
  if (!line) continue;
  const [invoice, code, , qty, date, , customer] = parseCsvLine(line);
  if (!customer || invoice.startsWith('C') || Number(qty) <= 0) continue;
  const p = products.find((x) => x.id === code);
  if (!p) continue;
  if (!byCustomer.has(customer)) byCustomer.set(customer, []);
  byCustomer.get(customer).push({ date, id: code, category: p.category });
}
const THEMES = [
  ['Christmas shopper', 'Christmas'],
  ['Home baker', 'Kitchen & dining'],
  ['Gardener', 'Garden'],
  ['Card and gift-wrap buyer', 'Stationery & gifts wrap'],
];
const personas = THEMES.map(([name, category]) => {
  let best = null;
  for (const [customer, rows] of byCustomer) {
    const ids = [...new Set(rows.sort((a, b) => a.date.localeCompare(b.date)).map((r) => r.id))];
    if (ids.length < 8) continue;
    const last = ids.slice(-8);
    const share = last.filter((id) => byTitle.get(products.find((p) => p.id === id).title).category === category).length;
    if (!best || share > best.share || (share === best.share && customer < best.customer)) best = { customer, share, last };
  }
  return { name, source: 'a real Online Retail customer session (ids only)', events: best.last.map((id) => ({ type: 'view', productId: id })) };
});
writeFileSync(new URL('personas.json', OUT), JSON.stringify(personas, null, 1) + '\n');
console.log(personas.map((p) => p.name));
