/**
 * Writes test/fixtures/trace-golden.json: `npx tsx test/golden/record.ts` (or with `--check`,
 * compares instead and exits 1 on a difference). Recording is for intended behaviour changes
 * only; test/trace-golden.test.ts checks the file on every run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { allDigests, GOLDEN_FILE } from './flows.js';

const digests = await allDigests();
if (process.argv.includes('--check')) {
  const want: Record<string, string> = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8'));
  let bad = 0;
  for (const [k, v] of Object.entries(want)) {
    const ok = digests[k] === v;
    if (!ok) bad++;
    console.log(`${ok ? 'same' : 'DIFF'} ${k}`);
  }
  process.exit(bad === 0 ? 0 : 1);
}
writeFileSync(GOLDEN_FILE, JSON.stringify(digests, null, 2) + '\n');
console.log(`${Object.keys(digests).length} digests written to ${GOLDEN_FILE}`);
