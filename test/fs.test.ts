import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Modem, ModemOptions } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { bootedModem, tempDir } from './helpers.js';

let m: Modem | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await m?.close();
  m = undefined;
  for (const c of cleanups.splice(0)) c();
});

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  m = await bootedModem(opts);
  return m;
}

function dataDir(): string {
  const d = tempDir('modemsim-fs-');
  cleanups.push(d.remove);
  return d.path;
}

const FS_FINAL = /\r\n(OK|ERROR|TimeOut|\+CME ERROR: [^\r]*)\r\n/;

/** AT+FSWRITE through the serial line: the command, the `>` prompt, the bytes, the result. */
async function fsWrite(mm: Modem, name: string, data: Uint8Array, mode = 0, seconds = 15): Promise<string> {
  mm.host.write(`AT+FSWRITE=${name},${mode},${data.length},${seconds}\r`);
  const first = await mm.host.expect(/\r\n>|\r\n\+CME ERROR: [^\r]*\r\n/);
  if (!first.match.endsWith('>')) return first.text;
  mm.host.write(data);
  return first.text + (await mm.host.expect(FS_FINAL)).text;
}

/** Every byte value, CR, Ctrl-Z, ESC and an `AT` line: raw mode must take them all as data. */
function certLike(length: number): Buffer {
  const head = Buffer.from('-----BEGIN CERTIFICATE-----\r\nAT+CSQ\r\n\x1a\x1b', 'latin1');
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const out = Buffer.alloc(length);
  Buffer.concat([head, all]).copy(out);
  for (let i = head.length + 256; i < length; i++) out[i] = 0x41 + (i % 26);
  return out;
}

describe('flash file system commands', () => {
  it('runs the seed certificate flow: FSCREATE, FSWRITE 1282 bytes, FSREAD, FSLS, FSFLSIZE, FSMEM', async () => {
    const mm = await modem();
    expect(await mm.host.command('AT+FSMEM')).toBe('AT+FSMEM\r\r\n+FSMEM: 262144 bytes\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSCREATE="ca.crt"')).toBe('AT+FSCREATE="ca.crt"\r\r\nOK\r\n');
    const cert = certLike(1282);
    mm.host.write('AT+FSWRITE="ca.crt",0,1282,15\r');
    const prompt = await mm.host.expect('>');
    expect(prompt.text).toBe('AT+FSWRITE="ca.crt",0,1282,15\r\r\n>');
    mm.host.write(cert);
    // no echo of the data, nothing but the final OK
    expect((await mm.host.expect(FS_FINAL)).text).toBe('\r\nOK\r\n');
    const read = await mm.host.command('AT+FSREAD="ca.crt",0,10240,0');
    expect(Buffer.from(read, 'latin1')).toEqual(
      Buffer.concat([Buffer.from('AT+FSREAD="ca.crt",0,10240,0\r\r\n', 'latin1'), cert, Buffer.from('\r\n\r\nOK\r\n', 'latin1')]),
    );
    expect(await mm.host.command('AT+FSLS')).toBe('AT+FSLS\r\r\nca.crt\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSLS="/"')).toBe('AT+FSLS="/"\r\r\nca.crt\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSFLSIZE="ca.crt"')).toBe('AT+FSFLSIZE="ca.crt"\r\r\n+FSFLSIZE: 1282\r\n\r\nOK\r\n');
    // a header block and three 512-byte blocks of content
    expect(await mm.host.command('AT+FSMEM')).toBe(`AT+FSMEM\r\r\n+FSMEM: ${262144 - 4 * 512} bytes\r\n\r\nOK\r\n`);
    expect(mm.host.pending).toBe('');
  });

  it('prints the prompt ~26 ms after the command and OK a few ms after the last byte', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    await mm.host.command('AT+FSCREATE=big.bin');
    const start = mm.kernel.now;
    mm.host.write('AT+FSWRITE=big.bin,0,10240,15\r');
    const prompt = await mm.host.expect('\r\n>');
    const lineTime = 30 * mm.uart.byteTime; // 29 characters and CR
    const promptLatency = prompt.at - start - lineTime;
    expect(promptLatency).toBeGreaterThanOrEqual(ms(26));
    expect(promptLatency).toBeLessThanOrEqual(ms(36));
    const sent = mm.kernel.now;
    mm.host.write(certLike(10240));
    const ok = await mm.host.expect('\r\nOK\r\n');
    const dataTime = 10240 * mm.uart.byteTime; // 888.9 ms at 115200
    const afterLastByte = ok.at - sent - dataTime;
    expect(afterLastByte).toBeGreaterThanOrEqual(ms(4));
    expect(afterLastByte).toBeLessThanOrEqual(ms(4) + ms(2) + 6 * mm.uart.byteTime);
    const total = ok.at - start;
    expect(total).toBeGreaterThan(ms(915));
    expect(total).toBeLessThan(ms(935));
  });

  it('appends with mode 1 and replaces the whole content with mode 0', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    await mm.host.command('AT+FSCREATE="log.txt"');
    expect(await fsWrite(mm, '"log.txt"', Buffer.from('hello'))).toBe('\r\n>\r\nOK\r\n');
    expect(await fsWrite(mm, '"log.txt"', Buffer.from(' world'), 1)).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREAD="log.txt",0,100,0')).toBe('\r\nhello world\r\n\r\nOK\r\n');
    expect(await fsWrite(mm, 'log.txt', Buffer.from('bye'))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREAD=log.txt,0,100,0')).toBe('\r\nbye\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSFLSIZE=log.txt')).toBe('\r\n+FSFLSIZE: 3\r\n\r\nOK\r\n');
  });

  it('reads from a position, clips to the file, and adds a header after AT+FSREADHEAD=1', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    await mm.host.command('AT+FSCREATE=n.txt');
    await fsWrite(mm, 'n.txt', Buffer.from('1234567890'));
    expect(await mm.host.command('AT+FSREAD=n.txt,1,4,3')).toBe('\r\n4567\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREAD=n.txt,1,100,8')).toBe('\r\n90\r\n\r\nOK\r\n');
    // mode 0 ignores the position
    expect(await mm.host.command('AT+FSREAD=n.txt,0,3,8')).toBe('\r\n123\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREAD=n.txt,1,4,10')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSREAD=n.txt,1,4')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSREAD=n.txt,0,0,0')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSREADHEAD?')).toBe('\r\n+FSREADHEAD: 0\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREADHEAD=1')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREADHEAD?')).toBe('\r\n+FSREADHEAD: 1\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREAD=n.txt,0,10,0')).toBe('\r\n+FSREAD: 10\r\n1234567890\r\n\r\nOK\r\n');
    await mm.host.command('AT+FSCREATE=empty');
    expect(await mm.host.command('AT+FSREAD=empty,0,10,0')).toBe('\r\n+FSREAD: 0\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREADHEAD=2')).toBe('\r\n+CME ERROR: 765\r\n');
  });

  it('answers TimeOut when the bytes stop coming, writes nothing, and takes commands again', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    await mm.host.command('AT+FSCREATE=t.bin');
    await fsWrite(mm, 't.bin', Buffer.from('old'));
    mm.host.write('AT+FSWRITE=t.bin,0,100,2\r');
    const prompt = await mm.host.expect('\r\n>');
    mm.host.write('only ten b');
    await mm.host.advance(sec(1));
    expect(mm.host.pending).toBe('');
    const timeout = await mm.host.expect(FS_FINAL, sec(5));
    expect(timeout.text).toBe('\r\nTimeOut\r\n');
    const waited = timeout.at - prompt.at;
    expect(waited).toBeGreaterThanOrEqual(sec(2));
    expect(waited).toBeLessThan(sec(2) + ms(5));
    expect(await mm.host.command('AT+FSREAD=t.bin,0,100,0')).toBe('\r\nold\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT')).toBe('\r\nOK\r\n');
  });

  it('refuses missing files with 767 and bad names or values with 765', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    expect(await mm.host.command('AT+FSWRITE="ca.crt",0,1282,15')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSREAD="ca.crt",0,10,0')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSDEL="ca.crt"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSFLSIZE="ca.crt"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSLS="/nodir"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSCREATE="/nodir/x"')).toBe('\r\n+CME ERROR: 767\r\n');
    for (const bad of ['"../etc/passwd"', '"a/../b"', '"a\\b"', '".hidden"', '"D:/x"', '""', `"${'n'.repeat(65)}"`, '"a//b"']) {
      expect(await mm.host.command(`AT+FSCREATE=${bad}`), bad).toBe('\r\n+CME ERROR: 765\r\n');
    }
    expect(await mm.host.command(`AT+FSCREATE="${'n'.repeat(64)}"`)).toBe('\r\nOK\r\n');
    await mm.host.command('AT+FSCREATE=f');
    expect(await mm.host.command('AT+FSWRITE=f,0,0,15')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSWRITE=f,0,10241,15')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSWRITE=f,2,10,15')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSWRITE=f,0,10,0')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSWRITE=f,0,10')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSDRIVE=1')).toBe('\r\n+CME ERROR: 765\r\n');
    expect(await mm.host.command('AT+FSDRIVE=0')).toBe('\r\n+FSDRIVE:C\r\n\r\nOK\r\n');
    for (const c of ['FSCREATE', 'FSWRITE', 'FSREAD', 'FSREADHEAD', 'FSDEL', 'FSLS', 'FSFLSIZE', 'FSMEM', 'FSDRIVE', 'FSMKDIR', 'FSRMDIR']) {
      expect(await mm.host.command(`AT+${c}=?`), c).toBe('\r\nOK\r\n');
    }
    await mm.host.command('AT+CMEE=2');
    expect(await mm.host.command('AT+FSDEL=nothing')).toBe('\r\n+CME ERROR: Operation failed\r\n');
  });

  it('keeps absolute and drive paths inside the image: nothing outside the data directory is touched', async () => {
    const dir = dataDir();
    const mm = await modem({ dataDir: dir });
    await mm.host.command('ATE0');
    const unique = `modemsim-escape-${randomBytes(6).toString('hex')}`;
    const hostTmp = join('/tmp', unique);
    const passwdBefore = readFileSync('/etc/passwd');
    expect(await mm.host.command('AT+FSWRITE="/etc/passwd",0,10,15')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSCREATE="/etc/passwd"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command(`AT+FSCREATE="/tmp/${unique}"`)).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSMKDIR="/tmp"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMKDIR="C:/etc"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSCREATE="/etc/passwd"')).toBe('\r\nOK\r\n');
    expect(await fsWrite(mm, '"C:/etc/passwd"', Buffer.from('root:x:0:0'))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command(`AT+FSCREATE="/tmp/${unique}"`)).toBe('\r\nOK\r\n');
    expect(await fsWrite(mm, `"C:/tmp/${unique}"`, Buffer.from('inside'))).toBe('\r\n>\r\nOK\r\n');
    expect(existsSync(hostTmp)).toBe(false);
    expect(readFileSync('/etc/passwd')).toEqual(passwdBefore);
    expect(readFileSync(join(dir, 'flash', 'tmp', unique), 'latin1')).toBe('inside');
    expect(readFileSync(join(dir, 'flash', 'etc', 'passwd'), 'latin1')).toBe('root:x:0:0');
    expect(await mm.host.command('AT+FSLS="C:/"')).toBe('\r\netc\\\r\n\r\ntmp\\\r\n\r\nOK\r\n');
    // the data directory holds only the image (and nothing was written next to it)
    expect(readdirSync(dir).filter((n) => n !== 'nvram.json')).toEqual(['flash']);
  });

  it('refuses a write that does not fit the capacity before the prompt', async () => {
    const mm = await modem({ profileOverrides: { limits: { fsCapacity: 4096 } } });
    await mm.host.command('ATE0');
    expect(await mm.host.command('AT+FSMEM')).toBe('\r\n+FSMEM: 4096 bytes\r\n\r\nOK\r\n');
    await mm.host.command('AT+FSCREATE=a');
    await mm.host.command('AT+FSCREATE=b');
    // 8 blocks of 512: a header each for a and b, then a's 5 content blocks leave one
    expect(await fsWrite(mm, 'a', certLike(2560))).toBe('\r\n>\r\nOK\r\n');
    expect(await fsWrite(mm, 'b', certLike(513))).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await fsWrite(mm, 'a', certLike(513), 1)).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await fsWrite(mm, 'b', certLike(512))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMEM')).toBe('\r\n+FSMEM: 0 bytes\r\n\r\nOK\r\n');
    // replacing counts the old content as freed
    expect(await fsWrite(mm, 'a', certLike(2000))).toBe('\r\n>\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMEM')).toBe('\r\n+FSMEM: 512 bytes\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSDEL=b')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMEM')).toBe('\r\n+FSMEM: 1536 bytes\r\n\r\nOK\r\n');
  });

  it('makes, lists and removes directories', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    expect(await mm.host.command('AT+FSMKDIR="/testdir"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMKDIR="/testdir/testdir"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSMKDIR="/testdir"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSCREATE="/testdir/test.txt"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSLS="/testdir"')).toBe('\r\ntest.txt\r\n\r\ntestdir\\\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSLS=/testdir/testdir')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSLS="/testdir/test.txt"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSRMDIR="/testdir"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSDEL="/testdir/testdir"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSRMDIR="/testdir/test.txt"')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSDEL="/testdir/test.txt"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSRMDIR="/testdir/testdir"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSRMDIR="/testdir"')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSLS')).toBe('\r\nOK\r\n');
  });

  it('keeps files across AT+RESET and in a new modem on the same data directory; FSREADHEAD is RAM', async () => {
    const dir = dataDir();
    const mm = await modem({ dataDir: dir });
    await mm.host.command('ATE0');
    await mm.host.command('AT+FSCREATE=keep.txt');
    await fsWrite(mm, 'keep.txt', Buffer.from('persisted'));
    await mm.host.command('AT+FSREADHEAD=1');
    expect(await mm.host.command('AT+RESET')).toBe('\r\nOK\r\n');
    await mm.host.expect('SMS READY', sec(30));
    await mm.host.command('ATE0');
    expect(await mm.host.command('AT+FSREAD=keep.txt,0,100,0')).toBe('\r\npersisted\r\n\r\nOK\r\n');
    expect(await mm.host.command('AT+FSREADHEAD?')).toBe('\r\n+FSREADHEAD: 0\r\n\r\nOK\r\n');
    await mm.close();
    const again = await modem({ dataDir: dir });
    await again.host.command('ATE0');
    expect(await again.host.command('AT+FSREAD=keep.txt,0,100,0')).toBe('\r\npersisted\r\n\r\nOK\r\n');
    // a header block and one block of content
    expect(await again.host.command('AT+FSMEM')).toBe(`\r\n+FSMEM: ${262144 - 2 * 512} bytes\r\n\r\nOK\r\n`);
  });

  it('keeps the in-memory image across AT+RESET when there is no data directory', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    await mm.host.command('AT+FSCREATE=ram.txt');
    await fsWrite(mm, 'ram.txt', Buffer.from('still here'));
    await mm.host.command('AT+RESET');
    await mm.host.expect('SMS READY', sec(30));
    await mm.host.command('ATE0');
    expect(await mm.host.command('AT+FSREAD=ram.txt,0,100,0')).toBe('\r\nstill here\r\n\r\nOK\r\n');
  });

  it('keeps an existing file on FSCREATE and refuses FSCREATE over a directory', async () => {
    const mm = await modem();
    await mm.host.command('ATE0');
    await mm.host.command('AT+FSCREATE=x');
    await fsWrite(mm, 'x', Buffer.from('abc'));
    expect(await mm.host.command('AT+FSCREATE=x')).toBe('\r\nOK\r\n');
    expect(await mm.host.command('AT+FSFLSIZE=x')).toBe('\r\n+FSFLSIZE: 3\r\n\r\nOK\r\n');
    await mm.host.command('AT+FSMKDIR=d');
    expect(await mm.host.command('AT+FSCREATE=d')).toBe('\r\n+CME ERROR: 767\r\n');
    expect(await mm.host.command('AT+FSWRITE=d,0,3,5')).toBe('\r\n+CME ERROR: 767\r\n');
  });
});
