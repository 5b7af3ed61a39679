/**
 * Atomicity for real: a child process writes (replace and append) in a tight loop and is
 * SIGKILLed at random instants; every file must then hold exactly an old or a new content,
 * and no temp file may show in a listing.
 *
 * The writers run fs-model/flash.ts and atomic.ts transpiled once to plain JS with the
 * TypeScript compiler (type erasure only), so a writer starts in ~0.1 s instead of the ~0.9 s
 * of `node --import tsx`; that buys many more kills per second of test.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { FlashImage } from '../fs-model/flash.js';
import { bootedModem, tempDir } from './helpers.js';

const WRITERS = 4;
const KILLS_PER_WRITER = 8;
const RECORD = 32;
const FLASH = { capacity: 64 << 20, nameMax: 64 };

/** Content number i of the replaced file: its number, then i-specific bytes, of i-specific length. */
function contentOf(i: number): Buffer {
  const len = 200 + ((i * 7919) % 12000);
  const b = Buffer.alloc(len);
  const head = b.write(`#${i}#`, 'latin1');
  for (let k = head; k < len; k++) b[k] = (i * 31 + k) & 0xff;
  return b;
}

/** Record i of the appended file. */
function recordOf(i: number): Buffer {
  return Buffer.from(`R${i}:`.padEnd(RECORD - 1, '.') + '\n', 'latin1');
}

const repo = fileURLToPath(new URL('..', import.meta.url));
const work = tempDir('modemsim-kill-');
afterAll(() => work.remove());

for (const mod of ['flash', 'atomic']) {
  const source = readFileSync(join(repo, 'fs-model', `${mod}.ts`), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(join(work.path, `${mod}.mjs`), js.replace(/from '\.\/atomic\.js'/, "from './atomic.mjs'"));
}
const script = join(work.path, 'writer.mjs');
writeFileSync(
  script,
  `import { FlashImage } from './flash.mjs';
const contentOf = ${contentOf.toString()};
const recordOf = ${recordOf.toString()};
const RECORD = ${RECORD};
const f = FlashImage.open(process.argv[2], ${JSON.stringify(FLASH)});
f.create('a.bin');
f.create('log.bin');
// resume after the last appended record (a.bin may be one write ahead of it)
const log = Buffer.from(f.read('log.bin'));
let i = log.length ? Number(/^R(\\d+):/.exec(log.subarray(log.length - RECORD).toString('latin1'))[1]) : 0;
let first = true;
for (;;) {
  i++;
  f.write('a.bin', contentOf(i), 'replace');
  // keep the appended file short: start a new run of records now and then
  if (f.size('log.bin') > 64 * RECORD) f.write('log.bin', recordOf(i), 'replace');
  else f.write('log.bin', recordOf(i), 'append');
  if (first) { process.stdout.write('ready\\n'); first = false; }
}
`,
);

/** Start a writer, let it run a random while after its first write, SIGKILL it. */
function runAndKill(root: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, root], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.once('data', () => {
      // a real process on real time (no model here); one loop iteration takes a few ms of
      // write, fsync and rename, so the kill lands anywhere in them
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited ${code} ${signal}: ${err}`));
    });
  });
}

interface Check {
  index: number;
  strayTemps: number;
}

function check(image: FlashImage, root: string, lastIndex: number): Check {
  // what FSLS would print: only the two files, whatever the kill left on disk
  expect(image.list().map((e) => e.name)).toEqual(['a.bin', 'log.bin']);
  const a = Buffer.from(image.read('a.bin'));
  const m = /^#(\d+)#/.exec(a.subarray(0, 16).toString('latin1'));
  expect(m, 'a.bin has a header').not.toBeNull();
  const index = Number(m![1]);
  expect(a.equals(contentOf(index)), `a.bin is exactly content #${index}`).toBe(true);
  expect(index).toBeGreaterThanOrEqual(lastIndex);
  const log = Buffer.from(image.read('log.bin'));
  expect(log.length % RECORD).toBe(0);
  const first = Number(/^R(\d+):/.exec(log.subarray(0, RECORD).toString('latin1'))![1]);
  const count = log.length / RECORD;
  for (let r = 0; r < count; r++) {
    expect(log.subarray(r * RECORD, (r + 1) * RECORD).equals(recordOf(first + r))).toBe(true);
  }
  // the append follows the replace: the log ends at the same write or the one before
  expect(index - (first + count - 1)).toBeGreaterThanOrEqual(0);
  expect(index - (first + count - 1)).toBeLessThanOrEqual(1);
  const strayTemps = readdirSync(root).filter((n) => n.startsWith('.')).length;
  return { index, strayTemps };
}

describe('flash writes across SIGKILL', () => {
  it(`leaves old or new content exactly after ${WRITERS * KILLS_PER_WRITER} kills at random instants`, async () => {
    const results = await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const root = join(work.path, `w${w}`, 'flash');
        let image: FlashImage | undefined;
        let last = 0;
        let temps = 0;
        for (let k = 0; k < KILLS_PER_WRITER; k++) {
          await runAndKill(root, Math.random() * 40);
          // opened once, after the first run created the image: it must not clean up, only hide
          image ??= FlashImage.open(root, FLASH);
          const c = check(image, root, last);
          last = c.index;
          if (c.strayTemps > 0) temps++;
        }
        return { writes: last, temps };
      }),
    );
    // each writer got real writes in between its kills (on a loaded machine a child may be
    // killed before its first write; the property above holds either way)
    for (const r of results) expect(r.writes).toBeGreaterThan(0);
    // eslint-disable-next-line no-console
    console.log(`kill test: ${WRITERS * KILLS_PER_WRITER} kills, writes per writer ${results.map((r) => r.writes).join('/')}, kills that left a temp file ${results.reduce((n, r) => n + r.temps, 0)}`);
    // a fresh open clears the dead writers' temp files; the module still sees both files
    const m = await bootedModem({ dataDir: join(work.path, 'w0') });
    try {
      expect(await m.host.command('AT+FSLS')).toBe('AT+FSLS\r\r\na.bin\r\n\r\nlog.bin\r\n\r\nOK\r\n');
      expect(readdirSync(join(work.path, 'w0', 'flash')).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      await m.close();
    }
  }, 60_000);
});
