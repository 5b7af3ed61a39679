/**
 * Flash is charged per entry: every file and directory holds whole blocks, so the number of
 * entries (and what the image costs the host disk) is bounded by the capacity. Driven on the
 * FlashImage itself and through the serial port with the exact bytes a driver sees.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DIR_BLOCKS, FILE_HEADER_BLOCKS, FLASH_BLOCK_SIZE, FlashError, FlashImage, FlashOptions } from '../fs-model/flash.js';
import { Modem, ModemOptions } from '../sim/modem.js';
import { bootedModem, tempDir } from './helpers.js';

/** The Air724UG profile's image: 256 KiB in 512-byte blocks. */
const KIB256 = 256 * 1024;
const BLOCK = 512;
const BLOCKS = KIB256 / BLOCK;
const opts: FlashOptions = { capacity: KIB256, nameMax: 64 };

const cleanups: Array<() => void> = [];
let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const d = tempDir('modemsim-flash-acct-');
  cleanups.push(d.remove);
  return d.path;
}

async function modem(o: ModemOptions = {}): Promise<Modem> {
  m = await bootedModem(o);
  await m.host.command('ATE0');
  return m;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FlashError) return err.code;
    throw err;
  }
  return 'no error';
}

/** What the image costs the host disk, as `du` counts it: allocated blocks of every inode. */
function hostBytes(root: string): number {
  let total = lstatSync(root).blocks * 512;
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    total += e.isDirectory() ? hostBytes(p) : lstatSync(p).blocks * 512;
  }
  return total;
}

const fsmem = (bytes: number): string => `\r\n+FSMEM: ${bytes} bytes\r\n\r\nOK\r\n`;
const OK = '\r\nOK\r\n';
const E767 = '\r\n+CME ERROR: 767\r\n';

/** AT+FSWRITE through the serial line: the command, then the bytes if the prompt came. */
async function fsWrite(mm: Modem, name: string, data: Uint8Array): Promise<string> {
  mm.host.write(`AT+FSWRITE=${name},0,${data.length},15\r`);
  const first = await mm.host.expect(/\r\n>|\r\n\+CME ERROR: [^\r]*\r\n/);
  if (!first.match.endsWith('>')) return first.text;
  mm.host.write(data);
  return first.text + (await mm.host.expect(/\r\n(OK|\+CME ERROR: [^\r]*)\r\n/)).text;
}

describe('the accounting constants', () => {
  it('are one 512-byte block per directory and per file header', () => {
    expect(FLASH_BLOCK_SIZE).toBe(BLOCK);
    expect(DIR_BLOCKS).toBe(1);
    expect(FILE_HEADER_BLOCKS).toBe(1);
  });
});

for (const backend of ['disk', 'memory'] as const) {
  describe(`flash accounting (${backend})`, () => {
    const open = (o: FlashOptions = opts): FlashImage => FlashImage.open(backend === 'disk' ? join(dir(), 'flash') : undefined, o);

    it('an empty 256 KiB image has 512 blocks and all 262144 bytes free', () => {
      const f = open();
      expect(f.totalBlocks).toBe(BLOCKS);
      expect(f.free()).toBe(KIB256);
      expect(f.used()).toBe(0);
    });

    it('free() drops by one block for each mkdir and each new empty file, and not for creating an existing file', () => {
      const f = open();
      f.mkdir('/d');
      expect(f.free()).toBe(KIB256 - BLOCK);
      f.create('/d/a');
      expect(f.free()).toBe(KIB256 - 2 * BLOCK);
      f.create('/d/a');
      expect(f.free()).toBe(KIB256 - 2 * BLOCK);
      f.create('b');
      expect(f.free()).toBe(KIB256 - 3 * BLOCK);
      expect(f.used()).toBe(3 * BLOCK);
    });

    it('content is charged in whole blocks: 1 and 512 bytes take one block, 513 bytes two', () => {
      const f = open();
      f.create('x');
      const contentFree = (): number => KIB256 - BLOCK - f.free();
      f.write('x', Buffer.alloc(1), 'replace');
      expect(contentFree()).toBe(BLOCK);
      f.write('x', Buffer.alloc(512), 'replace');
      expect(contentFree()).toBe(BLOCK);
      f.write('x', Buffer.alloc(513), 'replace');
      expect(contentFree()).toBe(2 * BLOCK);
      f.write('x', Buffer.alloc(0), 'replace');
      expect(contentFree()).toBe(0);
    });

    it('appending charges only the blocks the new end needs; replacing counts the old blocks as freed', () => {
      const f = open();
      f.create('log');
      f.write('log', Buffer.alloc(500), 'append');
      expect(f.used()).toBe(2 * BLOCK);
      f.write('log', Buffer.alloc(12), 'append');
      expect(f.used()).toBe(2 * BLOCK);
      f.write('log', Buffer.alloc(1), 'append');
      expect(f.used()).toBe(3 * BLOCK);
      f.write('log', Buffer.alloc(10), 'replace');
      expect(f.used()).toBe(2 * BLOCK);
    });

    it('after 512 entries the next mkdir and create fail with no-space, leave nothing behind, and used() equals the capacity', () => {
      const f = open();
      for (let i = 0; i < BLOCKS / 2; i++) f.mkdir(`d${i}`);
      for (let i = 0; i < BLOCKS / 2; i++) f.create(`f${i}`);
      expect(f.free()).toBe(0);
      expect(f.used()).toBe(KIB256);
      expect(codeOf(() => f.mkdir('one-more'))).toBe('no-space');
      expect(codeOf(() => f.create('one-more'))).toBe('no-space');
      expect(f.exists('one-more')).toBeUndefined();
      expect(f.list().length).toBe(BLOCKS);
      // an existing file is still "created" (it costs nothing), and an empty write still fits
      f.create('f0');
      f.write('f0', Buffer.alloc(0), 'replace');
      expect(codeOf(() => f.write('f0', Buffer.alloc(1), 'replace'))).toBe('no-space');
      expect(f.used()).toBe(KIB256);
    });

    it('a write that needs more blocks than are free fails with no-space and keeps the old content', () => {
      const f = open({ capacity: 8 * BLOCK, nameMax: 64 });
      f.create('a');
      f.create('b');
      f.write('a', Buffer.alloc(5 * BLOCK, 0x61), 'replace');
      expect(f.free()).toBe(BLOCK);
      expect(codeOf(() => f.checkWrite('b', BLOCK + 1, 'replace'))).toBe('no-space');
      expect(codeOf(() => f.write('b', Buffer.alloc(BLOCK + 1), 'replace'))).toBe('no-space');
      expect(codeOf(() => f.write('a', Buffer.alloc(BLOCK + 1), 'append'))).toBe('no-space');
      expect(f.size('a')).toBe(5 * BLOCK);
      expect(f.size('b')).toBe(0);
      f.write('a', Buffer.alloc(1), 'append');
      expect(f.free()).toBe(0);
      expect(f.used()).toBe(8 * BLOCK);
    });

    it('delete and rmdir give back every block the entry held, down to an empty image', () => {
      const f = open();
      f.mkdir('/certs');
      f.create('/certs/ca.crt');
      f.write('/certs/ca.crt', Buffer.alloc(1282), 'replace');
      expect(f.free()).toBe(KIB256 - 5 * BLOCK);
      f.delete('/certs/ca.crt');
      expect(f.free()).toBe(KIB256 - BLOCK);
      f.rmdir('/certs');
      expect(f.free()).toBe(KIB256);
      expect(f.used()).toBe(0);
    });

    it('never uses more than its whole blocks and keeps used() + free() equal to them, over random operation sequences', () => {
      const name = fc.constantFrom('a', 'b', 'd', 'd/a', 'd/b', 'e', 'e/x');
      type Op = 'create' | 'mkdir' | 'write' | 'delete' | 'rmdir';
      const op = fc.record({
        kind: fc.constantFrom<Op>('create', 'mkdir', 'write', 'delete', 'rmdir'),
        name,
        size: fc.integer({ min: 0, max: 3 * BLOCK }),
        append: fc.boolean(),
      });
      fc.assert(
        fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
          const capacity = 6 * BLOCK + 100;
          const f = open({ capacity, nameMax: 64 });
          for (const o of ops) {
            try {
              if (o.kind === 'create') f.create(o.name);
              else if (o.kind === 'mkdir') f.mkdir(o.name);
              else if (o.kind === 'write') f.write(o.name, Buffer.alloc(o.size), o.append ? 'append' : 'replace');
              else if (o.kind === 'delete') f.delete(o.name);
              else f.rmdir(o.name);
            } catch (err) {
              if (!(err instanceof FlashError)) throw err;
            }
            expect(f.used()).toBeLessThanOrEqual(capacity);
            expect(f.used() + f.free()).toBe(6 * BLOCK);
          }
          // the running count is what the entries hold: recount it from the listing
          let held = 0;
          const walk = (d: string): void => {
            for (const e of f.list(d)) {
              const p = `${d === '/' ? '' : d}/${e.name}`;
              if (e.dir) {
                held += DIR_BLOCKS;
                walk(p);
              } else held += FILE_HEADER_BLOCKS + Math.ceil(e.size / BLOCK);
            }
          };
          walk('/');
          expect(f.used()).toBe(held * BLOCK);
        }),
        { numRuns: backend === 'disk' ? 40 : 300 },
      );
    });

    it('a blockSize option changes the unit: 4096-byte blocks hold 64 entries in 256 KiB', () => {
      const f = open({ capacity: KIB256, nameMax: 64, blockSize: 4096 });
      for (let i = 0; i < 64; i++) f.mkdir(`d${i}`);
      expect(f.free()).toBe(0);
      expect(codeOf(() => f.mkdir('d64'))).toBe('no-space');
    });

    it('a capacity that is not a multiple of the block size offers only its whole blocks', () => {
      const f = open({ capacity: 1000, nameMax: 64 });
      expect(f.totalBlocks).toBe(1);
      expect(f.free()).toBe(BLOCK);
      f.create('only');
      expect(codeOf(() => f.write('only', Buffer.alloc(1), 'replace'))).toBe('no-space');
      expect(codeOf(() => f.mkdir('d'))).toBe('no-space');
    });
  });
}

describe('flash accounting options', () => {
  it('refuses a block size that is not a positive integer and a negative capacity', () => {
    for (const blockSize of [0, -512, 0.5, Number.NaN, Infinity]) {
      expect(() => FlashImage.open(undefined, { capacity: KIB256, nameMax: 64, blockSize }), String(blockSize)).toThrow(RangeError);
    }
    expect(() => FlashImage.open(undefined, { capacity: -1, nameMax: 64 })).toThrow(RangeError);
  });

  it('a refused block size leaves no image directory on the host', () => {
    const root = join(dir(), 'flash');
    expect(() => FlashImage.open(root, { capacity: KIB256, nameMax: 64, blockSize: 0 })).toThrow(RangeError);
    expect(existsSync(root)).toBe(false);
  });
});

describe('flash accounting on disk', () => {
  it('a reopened image charges what is on disk: the same free bytes, and a full image stays full', () => {
    const root = join(dir(), 'flash');
    const f = FlashImage.open(root, opts);
    f.mkdir('/certs');
    f.create('/certs/ca.crt');
    f.write('/certs/ca.crt', Buffer.alloc(1282), 'replace');
    expect(FlashImage.open(root, opts).free()).toBe(KIB256 - 5 * BLOCK);
    for (let i = 0; f.free() > 0; i++) f.mkdir(`d${i}`);
    const g = FlashImage.open(root, opts);
    expect(g.free()).toBe(0);
    expect(codeOf(() => g.mkdir('more'))).toBe('no-space');
    expect(codeOf(() => g.create('more'))).toBe('no-space');
  });

  it('an image holding more than its capacity (made before entries were charged) reports 0 free, refuses new entries and accepts deletes', () => {
    const root = join(dir(), 'flash');
    mkdirSync(root, { recursive: true });
    for (let i = 0; i < BLOCKS + 100; i++) mkdirSync(join(root, `old${i}`));
    const f = FlashImage.open(root, opts);
    expect(f.free()).toBe(0);
    expect(codeOf(() => f.mkdir('new'))).toBe('no-space');
    for (let i = 0; i < 101; i++) f.rmdir(`old${i}`);
    expect(f.free()).toBe(BLOCK);
    f.mkdir('new');
    expect(f.free()).toBe(0);
  });

  it("the issue's 803 mkdir + 999 create stop at 512 entries, and the host disk holds under 8 x capacity + 64 KiB", () => {
    const root = join(dir(), 'flash');
    const f = FlashImage.open(root, opts);
    const before = hostBytes(root);
    let made = 0;
    let refused = 0;
    const attempt = (fn: () => void): void => {
      const code = codeOf(fn);
      if (code === 'no error') made++;
      else if (code === 'no-space') refused++;
      else throw new Error(code);
    };
    for (let i = 0; i < 803; i++) attempt(() => f.mkdir(`dir${i}`));
    for (let i = 0; i < 999; i++) attempt(() => f.create(`file${i}`));
    expect(made).toBe(BLOCKS);
    expect(refused).toBe(803 + 999 - BLOCKS);
    const dirsFull = hostBytes(root);
    // directories are the costly entries on the host (one host block each, 4 KiB on ext4)
    expect(dirsFull).toBeLessThanOrEqual(8 * KIB256 + 64 * 1024);

    // the other extreme: files of one byte (a header and a content block each)
    const g = FlashImage.open(join(dir(), 'flash'), opts);
    let files = 0;
    while (g.free() > 0) {
      g.create(`f${files}`);
      g.write(`f${files}`, Buffer.from('x'), 'replace');
      files++;
    }
    expect(files).toBe(BLOCKS / 2);
    const filesFull = hostBytes(g.root ?? '');
    expect(filesFull).toBeLessThanOrEqual(8 * KIB256 + 64 * 1024);
    // eslint-disable-next-line no-console
    console.log(
      `flash accounting: ${made} of 1802 entries made; host disk ${before} B empty, ${dirsFull} B with ${BLOCKS} dirs, ${filesFull} B with ${files} one-byte files (capacity ${KIB256} B)`,
    );
  });
});

describe('flash accounting through the serial port', () => {
  it('AT+FSMEM drops by 512 bytes for each FSMKDIR and FSCREATE, and not for an FSCREATE of an existing file', async () => {
    const mm = await modem();
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(262144));
    expect(await mm.host.command('AT+FSMKDIR="/certs"')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(261632));
    expect(await mm.host.command('AT+FSCREATE="/certs/ca.crt"')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(261120));
    expect(await mm.host.command('AT+FSCREATE="/certs/ca.crt"')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(261120));
  });

  it('with the default 256 KiB image, 512 FSMKDIR answer OK, the next FSMKDIR and FSCREATE answer +CME ERROR: 767 with FSMEM at 0, and one FSRMDIR gives 512 bytes back', async () => {
    const mm = await modem();
    for (let i = 0; i < BLOCKS; i++) {
      const line = `AT+FSMKDIR="/d${i}"`;
      expect(await mm.host.command(line), line).toBe(OK);
    }
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(0));
    expect(await mm.host.command('AT+FSMKDIR="/d512"')).toBe(E767);
    expect(await mm.host.command('AT+FSCREATE="new.txt"')).toBe(E767);
    expect(await mm.host.command('AT+FSLS="/d512"')).toBe(E767);
    expect(await mm.host.command('AT+FSRMDIR="/d7"')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(512));
    expect(await mm.host.command('AT+FSCREATE="new.txt"')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(0));
    // no block for content: the write is refused before the prompt
    expect(await fsWrite(mm, '"new.txt"', Buffer.from('x'))).toBe(E767);
    expect(await mm.host.command('AT+FSFLSIZE="new.txt"')).toBe('\r\n+FSFLSIZE: 0\r\n\r\nOK\r\n');
  });

  it('FSWRITE is charged in whole blocks and refused before the prompt when they do not fit; FSDEL gives them back', async () => {
    const mm = await modem({ profileOverrides: { limits: { fsCapacity: 4096 } } });
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(4096));
    await mm.host.command('AT+FSCREATE=a');
    await mm.host.command('AT+FSCREATE=b');
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(3072));
    expect(await fsWrite(mm, 'a', Buffer.alloc(2560, 0x61))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(512));
    expect(await fsWrite(mm, 'b', Buffer.alloc(513, 0x62))).toBe(E767);
    expect(await fsWrite(mm, 'b', Buffer.alloc(512, 0x62))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(0));
    // replacing counts the old blocks as freed
    expect(await fsWrite(mm, 'a', Buffer.alloc(1000, 0x63))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(1536));
    expect(await mm.host.command('AT+FSDEL=a')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(3072));
    expect(await mm.host.command('AT+FSDEL=b')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(4096));
  });

  it('FSDEL and FSRMDIR of a tree give back every block: FSMEM returns to 262144', async () => {
    const mm = await modem();
    await mm.host.command('AT+FSMKDIR="/USER"');
    await mm.host.command('AT+FSMKDIR="/USER/FTP"');
    await mm.host.command('AT+FSCREATE="/USER/FTP/fw.bin"');
    expect(await fsWrite(mm, '"/USER/FTP/fw.bin"', Buffer.alloc(10240, 0x5a))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(262144 - (2 + 1 + 20) * 512));
    expect(await mm.host.command('AT+FSDEL="/USER/FTP/fw.bin"')).toBe(OK);
    expect(await mm.host.command('AT+FSRMDIR="/USER/FTP"')).toBe(OK);
    expect(await mm.host.command('AT+FSRMDIR="/USER"')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(262144));
  });

  it('a full image in a data directory is still full for a new modem on it: FSMEM 0 bytes, FSMKDIR +CME ERROR: 767', async () => {
    const data = dir();
    const f = FlashImage.open(join(data, 'flash'), opts);
    for (let i = 0; f.free() > 0; i++) f.mkdir(`d${i}`);
    const mm = await modem({ dataDir: data });
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(0));
    expect(await mm.host.command('AT+FSMKDIR="/late"')).toBe(E767);
    expect(await mm.host.command('AT+FSRMDIR="/d0"')).toBe(OK);
    expect(await mm.host.command('AT+FSMEM')).toBe(fsmem(512));
  });
});
