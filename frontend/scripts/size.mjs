// Prints the gzipped size of the JavaScript the built Console loads first
// (every script index.html references and what they import statically) and
// fails above the budget.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 200 * 1024;
const dist = new URL('../dist/', import.meta.url);
const html = readFileSync(new URL('index.html', dist), 'utf8');
const first = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
let total = 0;
for (const f of first) {
  const gz = gzipSync(readFileSync(new URL(f, dist)), { level: 9 }).length;
  total += gz;
  console.log(`${f}: ${(gz / 1024).toFixed(1)} KB gzipped`);
}
const all = readdirSync(new URL('assets/', dist)).filter((f) => f.endsWith('.js'));
console.log(`first load: ${(total / 1024).toFixed(1)} KB of JavaScript gzipped (${all.length} chunk(s) in all; budget ${BUDGET / 1024} KB)`);
if (total > BUDGET) {
  console.error('over budget');
  process.exit(1);
}
