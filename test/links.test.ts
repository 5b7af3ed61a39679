/**
 * The modem over real serial links: a socat pty opened as a file by the host, and a TCP socket.
 * Same exchanges on both; the pty run is in real time and also checks the UART's wall pacing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModem, Modem } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { byteTimeNs } from '../sim/uart.js';
import { PtyInUseError, PtyLink, ptyLockPath, SocatMissingError } from '../sim/links/pty.js';
import { TcpLink } from '../sim/links/tcp.js';
import { parseSerialSpec, createLink } from '../sim/links/spec.js';
import { PtyHost, SerialHost, TcpHost, garbageLine } from './serial-host.js';
import { tempDir, WallWaits } from './helpers.js';
import { requireTool, skipWithout } from './system-tools.js';

const GARBAGE = 20_000;

/** The acceptance exchanges, for any link; the host has seen the boot lines already. */
function exchanges(host: () => SerialHost): void {
  it('AT with echo on answers AT\\r\\r\\nOK\\r\\n', async () => {
    expect(await host().command('ATE1')).toMatch(/\r\nOK\r\n$/);
    expect(await host().command('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('after ATE0, AT answers \\r\\nOK\\r\\n; unknown command answers ERROR', async () => {
    expect(await host().command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(await host().command('AT')).toBe('\r\nOK\r\n');
    expect(await host().command('AT+NOSUCH')).toBe('\r\nERROR\r\n');
  });

  it('AT+CSQ;+CPIN? answers both, then one OK', async () => {
    await host().command('ATE0');
    expect(await host().command('AT+CSQ;+CPIN?')).toBe('\r\n+CSQ: 24,99\r\n\r\n+CPIN: READY\r\n\r\nOK\r\n');
    expect(host().buf).toBe('');
  });

  it('a 20 KB garbage line answers ERROR and the next AT answers OK', async () => {
    await host().command('ATE0');
    expect(await host().command(garbageLine(GARBAGE), 10_000)).toBe('\r\nERROR\r\n');
    expect(await host().command('AT')).toBe('\r\nOK\r\n');
  });
}

describe.skipIf(skipWithout('socat'))('pty link (socat), real time', () => {
  let dir: { path: string; remove(): void };
  let path: string;
  let m: Modem;
  let link: PtyLink;
  let host: PtyHost;

  beforeAll(async () => {
    dir = tempDir('modemsim-pty-');
    path = join(dir.path, 'ttyMODEM0');
    // the profile's boot lines, sooner (the wall time goes to the exchanges), but not so soon
    // that they leave before the host below has opened the pty (output to nobody is lost)
    m = createModem({
      clock: 'realtime',
      profileOverrides: {
        boot: { urcs: [{ text: 'RDY', at: ms(500) }, { text: '+CFUN: 1', at: ms(510) }, { text: '+CPIN: READY', at: ms(520) }, { text: 'SMS READY', at: ms(540) }] },
        network: { simReady: { base: ms(20), jitter: 0 } },
      },
    });
    link = new PtyLink(path);
    await m.attach(link);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(link.device).toMatch(/^\/dev\/pts\/\d+$/);
    expect(readlinkSync(path)).toBe(link.device);
    host = new PtyHost(path);
    // The engine drops bytes until RDY; wait for the whole boot sequence.
    const boot = await host.expect('SMS READY\r\n', 10_000);
    expect(boot).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY\r\n');
  });

  afterAll(async () => {
    await host?.close();
    await m?.close();
    expect(existsSync(path)).toBe(false);
    expect(existsSync(ptyLockPath(path))).toBe(false);
    dir.remove();
  });

  exchanges(() => host);

  it("a long response's wall time matches its modelled UART time within 5 %", async () => {
    await host.command('ATE1');
    const start = host.arrivals.length;
    const line = garbageLine(GARBAGE);
    expect(await host.command(line, 10_000)).toBe(line + '\r\r\nERROR\r\n');
    // The echo: GARBAGE bytes, each one byte time after the previous.
    // A byte can arrive late (a stalled event loop, the pty's buffering) but never early, so
    // arrival(i) - i × byte time is smallest for the bytes that came on time. Its minimum over
    // the first and over the last tenth of the echo gives the schedule's origin twice; their
    // difference is the pacing error over the span, whatever stalls happened in between.
    const byteMs = byteTimeNs(115200) / 1e6;
    const origin = (from: number, to: number): number => {
      let o = Infinity;
      for (let i = from; i < to; i++) o = Math.min(o, host.arrivals[start + i]! - i * byteMs);
      return o;
    };
    const tenth = GARBAGE / 10;
    const drift = origin(GARBAGE - tenth, GARBAGE) - origin(0, tenth);
    const spanMs = (GARBAGE - tenth) * byteMs;
    const measuredMs = host.arrivals[start + GARBAGE - 1]! - host.arrivals[start]!;
    console.log(
      `pty echo of ${GARBAGE} bytes at 115200: first to last ${measuredMs.toFixed(1)} ms, modelled ${((GARBAGE - 1) * byteMs).toFixed(1)} ms; pacing drift ${drift.toFixed(1)} ms over ${spanMs.toFixed(0)} ms`,
    );
    expect(Math.abs(drift) / spanMs).toBeLessThan(0.05);
  });
});

describe('TCP link, free-running virtual clock', () => {
  let m: Modem;
  let link: TcpLink;
  let host: TcpHost;

  beforeAll(async () => {
    m = createModem({ clock: 'virtual', autoHorizonNs: sec(10) });
    link = new TcpLink('127.0.0.1', 0);
    await m.attach(link);
    expect(link.description).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    expect(link.boundTo).toBeGreaterThan(0);
    host = new TcpHost(link.address);
    await host.connected;
    // Power-on counts as an input: let the boot run up to the horizon.
    m.clock.inject('test-start', () => undefined);
    await host.expect('SMS READY\r\n', 10_000);
  });

  afterAll(async () => {
    await host?.close();
    await m?.close();
  });

  exchanges(() => host);
});

describe('TCP link: one host at a time', () => {
  let m: Modem | undefined;
  const hosts: TcpHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
    await m?.close();
  });

  it('loses what is sent while no host is connected; a new host replaces the old one', async () => {
    m = createModem({ clock: 'virtual', autoHorizonNs: sec(10) });
    const link = new TcpLink('127.0.0.1', 0);
    await m.attach(link);
    // Boot with nobody connected: the in-process port sees the lines, the socket side never will.
    const local = m.host.stream();
    let seen = '';
    const booted = new Promise<void>((resolve) =>
      local.on('data', (c: Buffer) => {
        seen += c.toString('latin1');
        if (seen.includes('SMS READY\r\n')) resolve();
      }),
    );
    m.clock.inject('test-start', () => undefined);
    await booted;
    expect(link.connected).toBe(false);

    const a = new TcpHost(link.address);
    hosts.push(a);
    await a.connected;
    expect(await a.command('AT')).toBe('AT\r\r\nOK\r\n');

    const b = new TcpHost(link.address);
    hosts.push(b);
    await b.connected;
    await a.closed;
    expect(await b.command('AT+CPIN?')).toBe('AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n');
    expect(a.buf).toBe('');
  });

  it('a host that floods 1 MB without CR is paused at the RX FIFO (under 256 KiB overrun), and a host replacing it is answered: the old bytes are discarded', async () => {
    m = createModem({ clock: 'virtual', autoHorizonNs: sec(10) });
    const link = new TcpLink('127.0.0.1', 0);
    await m.attach(link);
    const a = new TcpHost(link.address);
    hosts.push(a);
    await a.connected;
    m.clock.inject('test-start', () => undefined);
    await a.expect('SMS READY\r\n', 10_000);
    // no CR: the line buffer discards it, the FIFO holds what is unread; TCP pushes back on the rest
    void a.send(Buffer.alloc(1 << 20, 0x41)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    // the link pauses the socket at the FIFO's high water: TCP holds most of the megabyte back
    // (chunks already read when it paused may overrun, traced)
    expect(m.uart.rxDropped).toBeLessThan(1 << 18);
    const b = new TcpHost(link.address);
    hosts.push(b);
    await b.connected;
    await a.closed;
    // the flood's line is still open in the module's line buffer (it knows nothing of hosts):
    // the new host's first CR ends it with ERROR, as on hardware; then it is answered as usual
    expect(await b.command('AT', 10_000)).toMatch(/\r\n(ERROR|OK)\r\n$/);
    expect(await b.command('AT', 10_000)).toBe('AT\r\r\nOK\r\n');
  });

  it('refuses a port that is taken, with the OS error', async () => {
    const first = new TcpLink('127.0.0.1', 0);
    await first.open(() => undefined);
    try {
      const second = new TcpLink('127.0.0.1', first.boundTo);
      await expect(second.open(() => undefined)).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

describe('pty link failures', () => {
  it('names apt-get install socat when socat is missing', async () => {
    const dir = tempDir();
    const link = new PtyLink(join(dir.path, 'tty'), { socat: 'socat-that-is-not-installed' });
    const err = await link.open(() => undefined).catch((e: unknown) => e);
    dir.remove();
    expect(err).toBeInstanceOf(SocatMissingError);
    expect((err as Error).message).toContain('apt-get install socat');
    expect((err as Error).message).not.toContain('\n');
  });

  it('refuses to let socat replace a regular file', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'precious');
    writeFileSync(file, 'keep me');
    try {
      await expect(new PtyLink(file).open(() => undefined)).rejects.toThrow(/not a symlink/);
      expect(existsSync(file)).toBe(true);
    } finally {
      dir.remove();
    }
  });

  it.skipIf(skipWithout('socat'))('reports socat dying on its own and removes the link', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'tty');
    let lost = '';
    const gone = new Promise<void>((resolve, reject) => {
      const link = new PtyLink(path, {
        onLost: (why) => {
          lost = why;
          resolve();
        },
      });
      link.open(() => undefined).then(() => {
        expect(existsSync(path)).toBe(true);
        // Kill socat hard: the link is left for us to remove.
        const pid = findSocatPid(link);
        process.kill(pid, 'SIGKILL');
      }, reject);
    });
    await gone;
    expect(lost).toMatch(/socat exited \(SIGKILL\)/);
    expect(existsSync(path)).toBe(false);
    dir.remove();
  });
});

/** A pid no process has (one that just exited; reuse within the test is vanishingly unlikely). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.pid === undefined) throw new Error('could not spawn node');
  return r.pid;
}

/** Bytes a pty link received from its host, with a wait for them. */
function collector(): { onData: (b: Uint8Array) => void; has: (text: string) => Promise<void> } {
  let got = '';
  const waits = new WallWaits();
  return {
    onData: (b) => {
      got += Buffer.from(b).toString('latin1');
      waits.notify();
    },
    has: (text) => waits.until(() => (got.includes(text) ? true : undefined), 5000, () => `no ${JSON.stringify(text)} in ${JSON.stringify(got)}`).then(() => undefined),
  };
}

describe.skipIf(skipWithout('socat'))('pty link ownership', () => {
  // under CI without socat: fail at once, saying what to install
  beforeAll(() => void requireTool('socat'));
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });
  function scratch(): string {
    const d = tempDir('modemsim-ptyown-');
    cleanups.push(() => d.remove());
    return join(d.path, 'tty');
  }
  function opened(link: PtyLink): PtyLink {
    cleanups.push(() => link.close());
    return link;
  }

  it('refuses a path a live link serves, naming its pid; the live link keeps its pty and its host', async () => {
    const path = scratch();
    const rx = collector();
    const first = opened(new PtyLink(path));
    await first.open(rx.onData);
    const err = await opened(new PtyLink(path)).open(() => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PtyInUseError);
    expect(err).toMatchObject({ path, pid: process.pid });
    expect(readlinkSync(path)).toBe(first.device);
    const host = new PtyHost(path);
    cleanups.push(() => host.close());
    await host.send('still mine\r');
    await rx.has('still mine\r');
  });

  it('refuses a path a socat without our lock serves, naming that socat', async () => {
    const path = scratch();
    const socat = spawn('socat', [`PTY,link=${path},raw,echo=0`, 'STDIO'], { stdio: ['pipe', 'ignore', 'ignore'] });
    cleanups.push(() => {
      socat.kill('SIGKILL');
    });
    const waits = new WallWaits();
    const poll = setInterval(() => waits.notify(), 10);
    await waits.until(() => (existsSync(path) ? true : undefined), 5000, () => 'socat made no link').finally(() => clearInterval(poll));
    const err = await opened(new PtyLink(path)).open(() => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PtyInUseError);
    expect(err).toMatchObject({ pid: socat.pid });
    expect(existsSync(ptyLockPath(path))).toBe(false);
  });

  it('takes over a stale link whose lock names a dead pid', async () => {
    const path = scratch();
    const dead = deadPid();
    symlinkSync('/dev/pts/999999', path);
    writeFileSync(ptyLockPath(path), `${dead}\n`);
    const link = opened(new PtyLink(path));
    await link.open(() => undefined);
    expect(readlinkSync(path)).toBe(link.device);
    expect(readFileSync(ptyLockPath(path), 'utf8')).toBe(`${process.pid}\n`);
    await link.close();
    expect(existsSync(path)).toBe(false);
    expect(existsSync(ptyLockPath(path))).toBe(false);
  });

  it('on close leaves a link that no longer points to its pty', async () => {
    const path = scratch();
    const link = opened(new PtyLink(path));
    await link.open(() => undefined);
    unlinkSync(path);
    symlinkSync('/dev/null', path); // someone else's now
    await link.close();
    expect(readlinkSync(path)).toBe('/dev/null');
    expect(existsSync(ptyLockPath(path))).toBe(false);
  });
});

function findSocatPid(link: PtyLink): number {
  const pid = link.pid;
  if (pid === undefined) throw new Error('socat not running');
  return pid;
}

describe('parseSerialSpec', () => {
  it('parses the three kinds', () => {
    expect(parseSerialSpec('pty:./ttyMODEM0')).toEqual({ kind: 'pty', path: './ttyMODEM0' });
    expect(parseSerialSpec('tcp:127.0.0.1:7000')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7000 });
    expect(parseSerialSpec('tcp:0.0.0.0:0')).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 0 });
    expect(parseSerialSpec('tcp:[::1]:7001')).toEqual({ kind: 'tcp', host: '::1', port: 7001 });
    expect(parseSerialSpec('tcp:7002')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7002 });
    expect(parseSerialSpec('stdio')).toEqual({ kind: 'stdio' });
  });

  it('rejects malformed specs with a message naming the forms', () => {
    for (const bad of ['', 'pty:', 'tcp:host:port', 'tcp:1.2.3.4:65536', 'tcp::7000', 'serial:/dev/ttyS0', 'stdio:x']) {
      expect(() => parseSerialSpec(bad), bad).toThrow(/expected pty:PATH, tcp:HOST:PORT or stdio/);
    }
  });

  it('builds the matching link', () => {
    expect(createLink('tcp:127.0.0.1:0').description).toBe('tcp:127.0.0.1:0');
    expect(createLink('pty:/tmp/x/ttyA').description).toBe('pty:/tmp/x/ttyA');
    expect(createLink('stdio').description).toBe('stdio');
  });
});
