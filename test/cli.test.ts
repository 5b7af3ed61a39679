/**
 * `modemsim` as a user runs it: a child process, logs on stderr as JSON lines, one `ready`
 * record, a real TCP socket or socat pty on the far side, SIGTERM to stop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChildProcess, spawn } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect, createServer } from 'node:net';
import { PtyHost, TcpHost } from './serial-host.js';
import { tempDir, WallWaits } from './helpers.js';
import { skipWithout } from './system-tools.js';
import mqtt from 'mqtt';

const ROOT = join(import.meta.dirname, '..');

interface LogRecord {
  level: number;
  msg: string;
  [k: string]: unknown;
}

class Cli {
  readonly child: ChildProcess;
  readonly records: LogRecord[] = [];
  stdout = '';
  stderrText = '';
  /** The exit code, once the process has exited and its output is all read. */
  readonly exited: Promise<number | null>;
  private partial = '';
  private readonly waits = new WallWaits();
  /** The process has exited and its output is all read. */
  private gone = false;

  constructor(args: string[], env: NodeJS.ProcessEnv = process.env) {
    // parallel test files must not fight over the embedded broker's default ports
    if (args[0] === 'serve' && !args.includes('--broker-port')) args = [...args, '--broker-port', '0', '--broker-tls-port', '0'];
    this.child = spawn(process.execPath, ['--import', 'tsx', 'sim/cli.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('latin1').on('data', (t: string) => {
      this.stdout += t;
      this.waits.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (t: string) => {
      this.stderrText += t;
      this.partial += t;
      const lines = this.partial.split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('{')) this.records.push(JSON.parse(l) as LogRecord);
      this.waits.notify();
    });
    // 'close', not 'exit': it comes after the last output is read ('exit' may come before it)
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
    this.child.once('close', () => {
      this.gone = true;
      this.waits.notify();
    });
  }

  /** Wait until stdout contains `text`. */
  stdoutHas(text: string, timeoutMs = 10_000): Promise<void> {
    return this.waits.until(
      () => (this.stdout.includes(text) ? true : undefined),
      timeoutMs,
      () => `timeout waiting for ${JSON.stringify(text)} on stdout: ${JSON.stringify(this.stdout)}`,
    ).then(() => undefined);
  }

  /** The first log record matching `probe` (waits for it; fails if the process exits first). */
  recordWhere(what: string, probe: (r: LogRecord) => boolean, timeoutMs = 15_000): Promise<LogRecord> {
    return this.waits.until(
      () => {
        const r = this.records.find(probe);
        if (r) return r;
        if (this.gone) throw new Error(`process exited waiting for ${what}; stderr: ${this.stderrText}`);
        return undefined;
      },
      timeoutMs,
      () => `timeout waiting for ${what}; stderr: ${this.stderrText}`,
    );
  }

  /** The first log record with this msg. */
  record(msg: string, timeoutMs = 15_000): Promise<LogRecord> {
    return this.recordWhere(`"${msg}"`, (r) => r.msg === msg, timeoutMs);
  }

  /** Every stderr line, JSON records and plain lines alike. */
  stderrLines(): string[] {
    return this.stderrText.split('\n').filter((l) => l !== '');
  }
}

/** A start-up failure as the CLI must print it: one plain line (not a JSON record). */
function expectOneLine(cli: Cli, ...parts: Array<string | RegExp>): string {
  const lines = cli.stderrLines();
  expect(lines, cli.stderrText).toHaveLength(1);
  const line = lines[0]!;
  expect(line.startsWith('modemsim: '), line).toBe(true);
  for (const p of parts) {
    if (typeof p === 'string') expect(line).toContain(p);
    else expect(line).toMatch(p);
  }
  return line;
}

/** A pid no process has (one that just exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.pid === undefined) throw new Error('could not spawn node');
  return r.pid;
}

describe('modemsim serve', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  function start(args: string[], env?: NodeJS.ProcessEnv): Cli {
    const cli = new Cli(args, env);
    cleanup.push(async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) {
        cli.child.kill('SIGKILL');
        await cli.exited;
      }
    });
    return cli;
  }

  /**
   * A TCP host on a `--clock virtual` serve, echo off, once cid 1 is active. The boot went out
   * before anyone was connected (lost, as on an unplugged UART); each line the host sends lets
   * model time run up to 10 s on, registration included.
   */
  async function dataReadyHost(serial: string): Promise<TcpHost> {
    const host = new TcpHost(serial);
    cleanup.push(() => host.close());
    await host.connected;
    expect(await host.command('ATE0')).toMatch(/\r\nOK\r\n$/);
    let cgact = '';
    for (let i = 0; i < 5 && !cgact.includes('+CGACT: 1,1'); i++) cgact = await host.command('AT+CGACT?');
    expect(cgact).toBe('\r\n+CGACT: 1,1\r\n\r\nOK\r\n');
    return host;
  }

  function dataDir(): string {
    const d = tempDir('modemsim-cli-');
    cleanup.push(() => d.remove());
    return d.path;
  }

  it('serves on TCP port 0: one ready record with host:port, AT works, SIGTERM exits 0', async () => {
    const dir = dataDir();
    const trace = join(dir, 'trace.jsonl');
    const cli = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--data-dir', dir, '--trace', trace]);
    const ready = await cli.record('ready');
    expect(ready['serial']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(ready['serial']).not.toBe('127.0.0.1:0');
    expect(ready).toMatchObject({ link: `tcp:${String(ready['serial'])}`, profile: 'air724ug', clock: 'realtime', baud: 115200, dataDir: dir });
    expect(cli.records.filter((r) => r.msg === 'ready')).toHaveLength(1);

    const host = new TcpHost(String(ready['serial']));
    cleanup.push(() => host.close());
    await host.connected;
    // Real time: the boot lines come out 1.5–2.6 s after power-on.
    expect(await host.expect('SMS READY\r\n', 10_000)).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY\r\n');
    expect(await host.command('AT')).toBe('AT\r\r\nOK\r\n');

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout).toBe('');
    const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ev: string });
    expect(lines.some((r) => r.ev === 'rx')).toBe(true);
    expect(lines.some((r) => r.ev === 'tx')).toBe(true);
  });

  it('serves the seed MQTT flow on the embedded broker (virtual clock), checked by a far-side mqtt client', async () => {
    const dir = dataDir();
    // virtual: registration and the default context take no wall time; the broker's round
    // trips still happen on real sockets, the clock holding still meanwhile
    const cli = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--clock', 'virtual', '--data-dir', dir]);
    const ready = await cli.record('ready');
    expect(String(ready['broker'])).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(String(ready['brokerTls'])).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const certs = ready['certs'] as { ca: string; clientCert: string; clientKey: string };
    expect(readFileSync(certs.ca, 'utf8')).toContain('BEGIN CERTIFICATE');

    const far = await mqtt.connectAsync(String(ready['broker']), { clientId: 'far-side', reconnectPeriod: 0 });
    cleanup.push(() => far.endAsync().then(() => undefined));
    await far.subscribeAsync('mqtt/topic');
    const received = new Promise<string>((resolve) => far.on('message', (_t, p) => resolve(p.toString())));

    const host = await dataReadyHost(String(ready['serial']));
    expect(await host.command('AT+CGREG?')).toBe('\r\n+CGREG: 0,1\r\n\r\nOK\r\n');
    expect(await host.command('AT+MCONFIG="dev1","",""')).toBe('\r\nOK\r\n');
    expect(await host.command('AT+MIPSTART="broker.emqx.io","1883"')).toBe('\r\nOK\r\n');
    expect(await host.expect('CONNECT OK\r\n', 10_000)).toBe('\r\nCONNECT OK\r\n');
    expect(await host.command('AT+MCONNECT=1,60')).toBe('\r\nOK\r\n');
    expect(await host.expect('CONNACK OK\r\n', 10_000)).toBe('\r\nCONNACK OK\r\n');
    expect(await host.command('AT+MPUB="mqtt/topic",0,0,"SSSSddddd"')).toBe('\r\nOK\r\n');
    expect(await received).toBe('SSSSddddd');
    expect(await host.command('AT+MQTTSTATU')).toBe('\r\n+MQTTSTATU :1\r\n\r\nOK\r\n');

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('--count 50 serves 50 modems on TCP, one ready record lists them; a real client per modem connects MQTT, publishes, and the control endpoint addresses modem i', async () => {
    const dir = dataDir();
    const cli = start(['serve', '--count', '50', '--serial', 'tcp:127.0.0.1:0', '--clock', 'virtual', '--data-dir', dir]);
    const ready = await cli.record('ready', 30_000);
    const modems = ready['modems'] as Array<{ serial: string; imei: string }>;
    expect(modems).toHaveLength(50);
    expect(new Set(modems.map((m) => m.serial)).size).toBe(50);
    expect(new Set(modems.map((m) => m.imei)).size).toBe(50);

    const far = await mqtt.connectAsync(String(ready['broker']), { clientId: 'far-fleet', reconnectPeriod: 0 });
    cleanup.push(() => far.endAsync().then(() => undefined));
    await far.subscribeAsync('fleet/#');
    const got = new Set<string>();
    far.on('message', (t) => got.add(t));

    await Promise.all(
      modems.map(async (m, i) => {
        const host = await dataReadyHost(m.serial);
        expect(await host.command(`AT+MCONFIG="dev${i}","",""`)).toBe('\r\nOK\r\n');
        expect(await host.command('AT+MIPSTART="broker.emqx.io","1883"')).toBe('\r\nOK\r\n');
        expect(await host.expect('CONNECT OK\r\n', 20_000)).toBe('\r\nCONNECT OK\r\n');
        expect(await host.command('AT+MCONNECT=1,60')).toBe('\r\nOK\r\n');
        expect(await host.expect('CONNACK OK\r\n', 20_000)).toBe('\r\nCONNACK OK\r\n');
        expect(await host.command(`AT+MPUB="fleet/${i}",1,0,"hello"`)).toBe('\r\nOK\r\n');
        expect(await host.expect('PUBACK\r\n', 20_000)).toBe('\r\nPUBACK\r\n');
      }),
    );
    expect(got.size).toBe(50);

    const [chost, cport] = String(ready['control']).split(':');
    const ask = (req: object): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const s = netConnect({ host: chost!, port: Number(cport) });
        let buf = '';
        s.on('data', (d) => {
          buf += d.toString();
          if (buf.includes('\n')) {
            s.destroy();
            resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
          }
        });
        s.on('error', reject);
        s.write(JSON.stringify(req) + '\n');
      });
    expect(await ask({ state: true, modem: 49 })).toMatchObject({ ok: true, state: { mqtt: { status: 1 } } });
    expect(await ask({ state: true, modem: 50 })).toEqual({ ok: false, error: 'modem: expected an index in 0..49' });

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  }, 120_000);

  it.skipIf(skipWithout('socat'))('serves on a socat pty with the virtual clock; SIGINT removes the link and exits 0', async () => {
    const dir = dataDir();
    const link = join(dir, 'ttyMODEM0');
    const cli = start(['serve', '--serial', `pty:${link}`, '--clock', 'virtual', '--data-dir', join(dir, 'data')]);
    const ready = await cli.record('ready');
    expect(ready).toMatchObject({ serial: link, link: `pty:${link}`, clock: 'virtual' });
    expect(existsSync(link)).toBe(true);

    const host = new PtyHost(link);
    cleanup.push(() => host.close());
    await host.expect('SMS READY\r\n', 10_000);
    expect(await host.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(await host.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(await host.command('AT+NOSUCH')).toBe('\r\nERROR\r\n');

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(existsSync(link)).toBe(false);
  });

  it.skipIf(skipWithout('socat'))('--count 3 on pty:DIR/ttyMODEM0 serves ttyMODEM0..2, each its own modem (its own IMEI); SIGTERM removes all three', async () => {
    const dir = dataDir();
    const link = join(dir, 'ttyMODEM0');
    const cli = start(['serve', '--count', '3', '--serial', `pty:${link}`, '--clock', 'virtual', '--data-dir', join(dir, 'data')]);
    const ready = await cli.record('ready', 30_000);
    const paths = [0, 1, 2].map((i) => join(dir, `ttyMODEM${i}`));
    const modems = ready['modems'] as Array<{ serial: string; imei: string }>;
    expect(modems.map((m) => m.serial)).toEqual(paths);
    const imeis: string[] = [];
    for (const [i, path] of paths.entries()) {
      const host = new PtyHost(path);
      cleanup.push(() => host.close());
      await host.expect('SMS READY\r\n', 10_000);
      expect(await host.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
      imeis.push(/\r\n(\d{15})\r\n/.exec(await host.command('AT+CGSN'))?.[1] ?? '');
      expect(imeis[i]).toBe(modems[i]!.imei);
    }
    expect(new Set(imeis).size).toBe(3);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    for (const path of paths) expect(existsSync(path)).toBe(false);
  });

  it('serves on stdio: modem bytes only on stdout, logs on stderr, exits 0 after stdin ends', async () => {
    const cli = start(['serve', '--serial', 'stdio', '--clock', 'virtual', '--data-dir', dataDir()]);
    await cli.record('ready');
    await cli.stdoutHas('SMS READY\r\n');
    expect(cli.stdout).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY\r\n');
    cli.stdout = '';
    cli.child.stdin!.write('AT+CPIN?\r');
    await cli.stdoutHas('OK\r\n');
    expect(cli.stdout).toBe('AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n');
    // The answer to a line sent just before EOF still comes out (1 s of model time of linger).
    cli.child.stdin!.end('ATE0\r');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout).toBe('AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\nATE0\r\r\nOK\r\n');
    expect(cli.records.some((r) => r.msg === 'shutting down' && r['why'] === 'stdin ended')).toBe(true);
  });

  it('fails with one line naming apt-get install socat when a pty is asked for and socat is missing', async () => {
    const dir = dataDir();
    const noBin = join(dir, 'bin');
    mkdirSync(noBin);
    const cli = start(['serve', '--serial', `pty:${join(dir, 'tty')}`, '--data-dir', join(dir, 'data')], { ...process.env, PATH: noBin });
    expect(await cli.exited).toBe(1);
    expectOneLine(cli, `--serial "pty:${join(dir, 'tty')}"`, 'apt-get install socat');
    expect(existsSync(join(dir, 'tty'))).toBe(false);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('without socat the default serial is TCP 127.0.0.1:7000, with a one-line hint', async () => {
    const dir = dataDir();
    const noBin = join(dir, 'bin');
    mkdirSync(noBin);
    const cli = start(['serve', '--data-dir', dir], { ...process.env, PATH: noBin });
    const hint = await cli.record('socat not found (apt-get install socat for a pty); serving on tcp:127.0.0.1:7000');
    expect(hint.level).toBe(40);
    // Port 7000 may be taken on this machine; either way the attempt was on it.
    const ready = await cli.record('ready').catch(() => undefined);
    if (ready) {
      expect(ready['serial']).toBe('127.0.0.1:7000');
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    } else {
      expect(await cli.exited).toBe(1);
      expect(cli.stderrLines().at(-1)).toBe(
        'modemsim: --serial tcp:127.0.0.1:7000 (the default without socat): port 7000 is in use; stop what holds the port (another modemsim, mosquitto?) or pick another (0 = any free port)',
      );
    }
  });

  it('takes faults on its loopback control endpoint while a host drives the serial port', async () => {
    const dir = dataDir();
    const cli = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--clock', 'virtual', '--data-dir', dir]);
    const ready = await cli.record('ready');
    expect(String(ready['control'])).toMatch(/^127\.0\.0\.1:\d+$/);
    const [chost, cport] = String(ready['control']).split(':');
    const control = netConnect({ host: chost!, port: Number(cport) });
    cleanup.push(() => void control.destroy());
    control.setEncoding('utf8');
    let replies = '';
    control.on('data', (d: string) => (replies += d));
    const ask = async (req: string): Promise<Record<string, unknown>> => {
      const before = replies.split('\n').length;
      control.write(req + '\n');
      for (let i = 0; i < 200 && replies.split('\n').length === before; i++) await new Promise((r) => setTimeout(r, 10));
      return JSON.parse(replies.trim().split('\n').at(-1)!) as Record<string, unknown>;
    };

    const host = await dataReadyHost(String(ready['serial']));

    expect(await ask('{"fault":"pdpDeact"}')).toEqual({ ok: true, applied: 'pdpDeact' });
    expect(await host.expect('+PDP DEACT\r\n', 5000)).toBe('\r\n+PDP DEACT\r\n');
    const state = (await ask('{"state":true}'))['state'] as { network: { tcpipState?: string; pdp?: { tcpipState?: string } } };
    expect(JSON.stringify(state)).toContain('PDP DEACT');
    expect(await host.command('AT+CIPSHUT')).toBe('\r\nSHUT OK\r\n');
    expect(await ask('{"fault":{"nosuch":{}}}')).toMatchObject({ ok: false });
    expect(await ask('not json')).toEqual({ ok: false, error: 'not JSON' });

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('fails with one line naming --trace when the trace file cannot be opened', async () => {
    const dir = dataDir();
    const trace = join(dir, 'missing', 't.jsonl');
    const cli = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--data-dir', dir, '--trace', trace]);
    expect(await cli.exited).toBe(1);
    expectOneLine(cli, `--trace "${trace}": directory ${join(dir, 'missing')} does not exist`);
  });

  it('rejects a malformed --serial before starting anything: exit 2, one line', async () => {
    const cli = start(['serve', '--serial', 'com1']);
    expect(await cli.exited).toBe(2);
    expectOneLine(cli, '--serial "com1"', 'expected pty:PATH, tcp:HOST:PORT or stdio');
  });

  it('usage errors exit 2 with one plain line naming the flag and the value', async () => {
    // one of each path a refusal takes (the values themselves: instance.test.ts, in-process)
    const cases: Array<[string[], string]> = [
      [['--baud', '7'], '--baud 7: not a UART rate of air724ug; use one of 600, 1200,'], // serve(), knowing the profile
      [['--route', 'bad'], '--route "bad": no "="; expected FROM=TO'], // a repeatable flag's parser
      [['--broker-auth', 'nocolon'], '--broker-auth "nocolon": expected USER:PASS'], // a flag's parser
      [['--bogus'], "unknown option '--bogus' (see modemsim serve --help)"], // commander's own
    ];
    const dir = dataDir();
    const clis = cases.map(([args]) => start(['serve', '--serial', 'tcp:127.0.0.1:0', '--data-dir', join(dir, 'never'), ...args]));
    for (const [i, cli] of clis.entries()) {
      expect(await cli.exited, cases[i]![1]).toBe(2);
      expectOneLine(cli, cases[i]![1]);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('a --data-dir that cannot be a directory (/proc/x, a file) exits at once with one line naming --data-dir', async () => {
    const file = join(dataDir(), 'file');
    writeFileSync(file, 'not a directory');
    const t0 = performance.now();
    // /proc/x: Node 20's recursive mkdirSync would spin there forever, deaf to SIGINT
    const proc = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--data-dir', '/proc/x']);
    const onFile = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--data-dir', file]);
    expect(await proc.exited).toBe(1);
    const wallMs = performance.now() - t0;
    expect(await onFile.exited).toBe(1);
    expectOneLine(proc, '--data-dir "/proc/x": cannot create /proc');
    expectOneLine(onFile, `--data-dir "${file}": is a file, not a directory`);
    console.log(`serve --data-dir /proc/x: exit 1 after ${wallMs.toFixed(0)} ms`);
    // the bug was a spin that never ended; start-up alone takes seconds on a loaded machine
    expect(wallMs).toBeLessThan(20_000);
  });

  it('a --control address of another machine is one line naming --control', async () => {
    const cli = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--data-dir', dataDir(), '--control', 'tcp:8.8.8.8:0']);
    expect(await cli.exited).toBe(1);
    expectOneLine(cli, '--control tcp:8.8.8.8:0: 8.8.8.8 is not an address of this machine');
  });

  it('port clashes name every clashing flag in one line', async () => {
    const servers = await Promise.all(
      [0, 1].map(async () => {
        const s = createServer();
        await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
        cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
        const a = s.address();
        return typeof a === 'object' && a ? a.port : 0;
      }),
    );
    const [p1, p2] = servers;
    const cli = start(['serve', '--serial', `tcp:127.0.0.1:${p1}`, '--data-dir', dataDir(), '--broker-port', String(p2), '--broker-tls-port', '0']);
    expect(await cli.exited).toBe(1);
    expectOneLine(cli, `--serial tcp:127.0.0.1:${p1}: port ${p1} is in use; --broker-port ${p2}: port ${p2} is in use; stop what holds the port`);
  });

  it('takes over a stale data dir lock (dead pid); a second serve there refuses with one line naming the pid; the first keeps answering AT and removes its lock on exit', async () => {
    const dir = dataDir();
    const lock = join(dir, 'modemsim.lock');
    writeFileSync(lock, `${deadPid()}\n`);
    const first = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--clock', 'virtual', '--data-dir', dir]);
    const ready = await first.record('ready');
    expect(readFileSync(lock, 'utf8')).toBe(`${first.child.pid}\n`);
    const second = start(['serve', '--serial', 'tcp:127.0.0.1:0', '--clock', 'virtual', '--data-dir', dir]);
    expect(await second.exited).toBe(1);
    expectOneLine(second, `--data-dir "${dir}": in use by modemsim pid ${first.child.pid}`);
    const host = new TcpHost(String(ready['serial']));
    cleanup.push(() => host.close());
    await host.connected;
    expect(await host.command('AT')).toBe('AT\r\r\nOK\r\n');
    first.child.kill('SIGTERM');
    expect(await first.exited, first.stderrText).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });

  it.skipIf(skipWithout('socat'))('a pty path a live serve serves is not taken over: one line naming its pid, its host still answers', async () => {
    const dir = dataDir();
    const link = join(dir, 'ttyMODEM0');
    const first = start(['serve', '--serial', `pty:${link}`, '--clock', 'virtual', '--data-dir', join(dir, 'a')]);
    await first.record('ready');
    const second = start(['serve', '--serial', `pty:${link}`, '--clock', 'virtual', '--data-dir', join(dir, 'b')]);
    expect(await second.exited).toBe(1);
    expectOneLine(second, `--serial "pty:${link}": ${link} is served by pid ${first.child.pid}`);
    const host = new PtyHost(link);
    cleanup.push(() => host.close());
    await host.expect('SMS READY\r\n', 10_000);
    expect(await host.command('AT')).toBe('AT\r\r\nOK\r\n');
    first.child.kill('SIGTERM');
    expect(await first.exited, first.stderrText).toBe(0);
    expect(existsSync(link)).toBe(false);
  });

  it('prints help with no subcommand, and the version', async () => {
    const help = start([]);
    const version = start(['--version']);
    expect(await help.exited).toBe(0);
    expect(help.stdout).toContain('Usage: modemsim');
    expect(help.stdout).toContain('serve');
    expect(await version.exited).toBe(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });
});
