import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlashError, FlashImage, parseFlashPath } from '../fs-model/flash.js';
import { tempDir } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const d = tempDir('modemsim-flash-');
  cleanups.push(d.remove);
  return d.path;
}

// one-byte blocks keep the counts below byte-exact: an entry's header is one byte (test/flash-accounting.test.ts covers real blocks)
const opts = { capacity: 1000, nameMax: 64, blockSize: 1 };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FlashError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('flash names', () => {
  it('maps module paths to segments under the root', () => {
    expect(parseFlashPath('ca.crt', 64)?.segments).toEqual(['ca.crt']);
    expect(parseFlashPath('/ca.crt', 64)?.segments).toEqual(['ca.crt']);
    expect(parseFlashPath('C:/USER/FTP/fw.bin', 64)?.segments).toEqual(['USER', 'FTP', 'fw.bin']);
    expect(parseFlashPath('c:/dir/', 64)?.segments).toEqual(['dir']);
    expect(parseFlashPath('/', 64)?.segments).toEqual([]);
    expect(parseFlashPath('C:', 64)?.segments).toEqual([]);
    expect(parseFlashPath('my file.txt', 64)?.segments).toEqual(['my file.txt']);
  });

  it('refuses names outside the safe set', () => {
    for (const bad of ['', '..', '../x', 'a/../b', './a', '.hidden', 'a\\b', 'a\0b', 'a//b', 'D:/x', 'C:x', 'a:b', 'a\nb', ' lead', 'é', 'x'.repeat(65)]) {
      expect(parseFlashPath(bad, 64), JSON.stringify(bad)).toBeUndefined();
    }
    expect(parseFlashPath('x'.repeat(64), 64)).toBeDefined();
  });
});

for (const backend of ['disk', 'memory'] as const) {
  describe(`flash image (${backend})`, () => {
    const open = (root = backend === 'disk' ? join(dir(), 'flash') : undefined): FlashImage => FlashImage.open(root, opts);

    it('creates, writes, appends, reads, sizes and deletes files', () => {
      const f = open();
      f.create('a.txt');
      expect(f.size('a.txt')).toBe(0);
      f.write('a.txt', Buffer.from('hello'), 'replace');
      f.write('/a.txt', Buffer.from(' world'), 'append');
      expect(Buffer.from(f.read('C:/a.txt')).toString()).toBe('hello world');
      expect(Buffer.from(f.read('a.txt', 6, 3)).toString()).toBe('wor');
      f.create('a.txt');
      expect(f.size('a.txt')).toBe(11);
      f.write('a.txt', Buffer.from('x'), 'replace');
      expect(Buffer.from(f.read('a.txt')).toString()).toBe('x');
      f.delete('a.txt');
      expect(f.exists('a.txt')).toBeUndefined();
      expect(codeOf(() => f.delete('a.txt'))).toBe('not-found');
      expect(codeOf(() => f.write('a.txt', Buffer.from('x'), 'replace'))).toBe('not-found');
      expect(codeOf(() => f.create('../a'))).toBe('bad-name');
    });

    it('counts file bytes against the capacity', () => {
      const f = open();
      f.create('a');
      f.create('b');
      f.write('a', Buffer.alloc(600), 'replace');
      expect(f.free()).toBe(398);
      expect(codeOf(() => f.write('b', Buffer.alloc(399), 'replace'))).toBe('no-space');
      expect(codeOf(() => f.write('a', Buffer.alloc(399), 'append'))).toBe('no-space');
      expect(f.size('b')).toBe(0);
      f.write('a', Buffer.alloc(998), 'replace');
      expect(f.free()).toBe(0);
    });

    it('keeps directories: parents must exist, only empty ones are removed, lists are sorted', () => {
      const f = open();
      expect(codeOf(() => f.create('/d/x'))).toBe('not-found');
      f.mkdir('/d');
      f.mkdir('/d/sub');
      f.create('/d/b');
      f.create('/d/a');
      expect(f.list('/d').map((e) => (e.dir ? e.name + '\\' : e.name))).toEqual(['a', 'b', 'sub\\']);
      expect(f.list('/').map((e) => e.name)).toEqual(['d']);
      expect(codeOf(() => f.rmdir('/d'))).toBe('not-empty');
      expect(codeOf(() => f.mkdir('/d'))).toBe('exists');
      expect(codeOf(() => f.list('/d/a'))).toBe('not-dir');
      expect(codeOf(() => f.create('/d/a/x'))).toBe('not-dir');
      f.rmdir('/d/sub');
      f.delete('/d/a');
      f.delete('/d/b');
      f.rmdir('/d');
      expect(f.list()).toEqual([]);
    });
  });
}

describe('flash image on disk', () => {
  it('survives reopening', () => {
    const root = join(dir(), 'flash');
    const f = FlashImage.open(root, opts);
    f.mkdir('/certs');
    f.create('/certs/ca.crt');
    f.write('/certs/ca.crt', Buffer.from('PEM'), 'replace');
    const g = FlashImage.open(root, opts);
    expect(Buffer.from(g.read('/certs/ca.crt')).toString()).toBe('PEM');
    expect(g.free()).toBe(995);
  });

  it('refuses symlinks inside the image and never reads or writes through them', () => {
    const base = dir();
    const root = join(base, 'flash');
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'secret');
    const f = FlashImage.open(root, opts);
    symlinkSync(outside, join(root, 'link'));
    symlinkSync(join(outside, 'secret'), join(root, 'file'));
    expect(codeOf(() => f.read('/link/secret'))).toBe('unsafe');
    expect(codeOf(() => f.create('/link/new'))).toBe('unsafe');
    expect(codeOf(() => f.read('file'))).toBe('unsafe');
    expect(codeOf(() => f.write('file', Buffer.from('x'), 'replace'))).toBe('unsafe');
    expect(codeOf(() => f.delete('file'))).toBe('unsafe');
    expect(f.list()).toEqual([]);
    expect(f.used()).toBe(0);
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
  });

  it('hides temp files of an interrupted write and removes stale ones on open', () => {
    const root = join(dir(), 'flash');
    const f = FlashImage.open(root, opts);
    f.create('ca.crt');
    // a temp file as atomicWriteFileSync names it, left by a writer that no longer runs
    const stale = join(root, '.ca.crt.999999999.0.tmp');
    writeFileSync(stale, 'partial');
    writeFileSync(join(root, 'bad\\name'), 'host-made');
    expect(f.list().map((e) => e.name)).toEqual(['ca.crt']);
    expect(f.used()).toBe(1);
    FlashImage.open(root, opts);
    expect(existsSync(stale)).toBe(false);
  });
});
