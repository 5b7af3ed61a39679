/**
 * `modemsim replay`: a recorded session fed back into a fresh modem in virtual time must make
 * every record again — bytes, lines, URCs, state changes — at the same nanoseconds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ms, sec } from '../sim/kernel.js';
import { silentLogger } from '../sim/log.js';
import { createModem } from '../sim/modem.js';
import { outcomeLine, runReplay } from '../sim/replay/command.js';
import { parseTrace } from '../sim/replay/read.js';
import * as api from '../sim/index.js';
import { recordFarSms } from '../sim/replay/record.js';
import { replaySession } from '../sim/replay/replay.js';
import { smsGroup } from '../sim/services/sms.js';
import { runScenarioFiles } from '../sim/scenario/run-files.js';
import type { TraceLevel } from '../sim/trace.js';
import { connect as netConnect } from 'node:net';
import { tempDir, WallWaits } from './helpers.js';
import { PtyHost } from './serial-host.js';
import { skipWithout } from './system-tools.js';
import { ServedChild } from './trace-child.js';
import mqtt from 'mqtt';
import { ExampleDriver, type Received } from './examples/driver.js';

const ROOT = join(import.meta.dirname, '..');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function scratch(): string {
  const d = tempDir('modemsim-replay-test-');
  cleanups.push(() => d.remove());
  return d.path;
}

async function replay(file: string): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await runReplay(file, silentLogger(), (l) => out.push(l), (l) => out.push(l));
  return { code, out };
}

/** An in-process session on the UART's corners: a burst past the busy queue, a prompt, faults. */
async function recordInProcess(file: string, level: TraceLevel): Promise<void> {
  const m = createModem({ traceFile: file, traceLevel: level, seed: 4 });
  await m.host.expect('SMS READY', sec(30));
  await m.host.advance(sec(6));
  for (const l of ['AT', 'AT+CSQ;+CPIN?', 'AT+CGREG=2', 'AT+FSCREATE="r.txt"']) await m.host.command(l);
  m.host.write('AT\rAT+CSQ\rATI\rAT\rAT\rAT\rAT+CGMR\rAT\r');
  await m.host.advance(sec(2));
  m.host.write('AT+FSWRITE="r.txt",0,6,10\r');
  await m.host.expect('>');
  m.host.write('abc');
  await m.host.advance(ms(40));
  m.host.write('\r\nd');
  await m.host.expect('OK');
  await m.faults.deregister();
  await m.host.advance(sec(3));
  await m.faults.register();
  await m.host.advance(sec(3));
  await m.close();
}

describe('modemsim replay', () => {
  it.each(['bytes', 'lines'] as const)('verifies an in-process session at level %s, and names the first byte a doctored copy changes', async (level) => {
    const dir = scratch();
    const file = join(dir, 'session.jsonl');
    await recordInProcess(file, level);
    const good = await replay(file);
    expect(good.out).toEqual([expect.stringMatching(/^MATCH .*: \d+ records through model time \d+\.\d{9} s$/)]);
    expect(good.code).toBe(0);

    // one byte of the module's output changed: the byte at bytes level, its line at lines level
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => (level === 'bytes' ? l.includes('"ev":"tx","b":79') : l.includes('"text":"+CSQ: 24,99"')));
    expect(at).toBeGreaterThan(0);
    lines[at] = level === 'bytes' ? lines[at]!.replace('"b":79', '"b":80') : lines[at]!.replace('24,99', '25,99');
    const bad = join(dir, 'doctored.jsonl');
    writeFileSync(bad, lines.join('\n'));
    const r = await replay(bad);
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toContain(`(trace line ${at + 1}, ${level === 'bytes' ? 'tx' : 'records'}): recorded ${lines[at]}, replayed `);
    expect(r.out[0]).toContain(level === 'bytes' ? '"b":79' : '+CSQ: 24,99');
  });

  it('verifies every shipped scenario played by modemsim run --trace', async () => {
    const dir = scratch();
    const file = join(dir, 'scenarios.jsonl');
    const files = readdirSync(join(ROOT, 'scenarios'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join('scenarios', f));
    const cwd = process.cwd();
    process.chdir(ROOT);
    try {
      expect(await runScenarioFiles(files, { trace: file }, silentLogger(), () => undefined)).toBe(0);
      const r = await replay(file);
      expect(r.out).toHaveLength(files.length);
      for (const line of r.out) expect(line).toMatch(/^MATCH scenario /);
      expect(r.code).toBe(0);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a real-time session with network I/O but no io records (an older recording), naming the first network event', async () => {
    const text = [
      { t: 0, ev: 'header', format: 'modemsim-trace', version: 1, profile: 'air724ug', seed: 1, clock: 'realtime', level: 'bytes', baud: 115200, saved: {} },
      { t: 0, ev: 'boot', generation: 1 },
      { t: 7e9, ev: 'net', what: 'mqtt-dial', detail: { host: '127.0.0.1', port: 1883 } },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const [s] = parseTrace(text + '\n', 'live.jsonl');
    const o = await replaySession(s!);
    expect(outcomeLine(o)).toBe(
      'CANNOT REPLAY live.jsonl: network I/O at trace line 3 (net {"ev":"net","what":"mqtt-dial","detail":{"host":"127.0.0.1","port":1883}} at model time 7.000000000 s), and no io records saying when its replies entered the model: it was recorded by a modemsim that did not write them; record it again',
    );
  });

  it('names the file and the fix when the trace cannot be read', async () => {
    const dir = scratch();
    const plain = join(dir, 'notes.txt');
    writeFileSync(plain, 'hello\n');
    expect(await replay(join(dir, 'missing.jsonl'))).toEqual({ code: 1, out: [`replay ${join(dir, 'missing.jsonl')}: cannot read it (ENOENT); pass a trace written by serve --trace, createModem({traceFile}) or run --trace`] });
    expect((await replay(plain)).out[0]).toBe(`replay ${plain}:1: expected a JSON record, got "hello"; pass a trace written by serve --trace, createModem({traceFile}) or run --trace`);
  });
});

describe('the package API', () => {
  it('readTrace, replaySession and outcomeLine from modemsim verify a trace in-process: MATCH', async () => {
    const file = join(scratch(), 'api.jsonl');
    await recordInProcess(file, 'lines');
    const out: string[] = [];
    for (const s of api.readTrace(file)) out.push(api.outcomeLine(await api.replaySession(s)));
    expect(out).toEqual([expect.stringMatching(/^MATCH /)]);
  });
});

describe('network input while the host\'s bytes are on the line', () => {
  it('an io record inside a back-to-back rx run does not split the run: the replay MATCHes, and each byte keeps its time', async () => {
    const dir = scratch();
    const file = join(dir, 'mid-run.jsonl');
    const m = createModem({ traceFile: file, seed: 3, recordNetworkInputs: true });
    await m.host.expect('SMS READY', sec(30));
    await m.host.advance(sec(6));
    await m.host.command('AT+CNMI=2,1,0,0,0');
    const stop = recordFarSms(m, m.service(smsGroup).center);
    m.host.write('AT+CMGF=1;+CSQ;+CGATT?\r');
    // three bytes in, the SMSC is given a message: its io record lands inside the run
    await m.host.advance(3 * m.uart.byteTime + 1);
    m.service(smsGroup).center.deliver({ from: '+8613800138000', text: 'mid-run' });
    await m.host.expect('OK', sec(5));
    await m.host.advance(sec(10));
    stop();
    await m.close();
    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ev: string; what?: string; t: number });
    const io = records.findIndex((r) => r.ev === 'io' && r.what === 'smsc-deliver');
    // host bytes on both sides of it, one byte time apart: one run
    const before = records.slice(0, io).reverse().find((r) => r.ev === 'rx');
    const after = records.slice(io).find((r) => r.ev === 'rx');
    expect(after!.t - before!.t).toBe(m.uart.byteTime);
    const r = await replay(file);
    expect(r.out).toEqual([expect.stringMatching(/^MATCH /)]);
  });
});

describe.skipIf(skipWithout('socat'))('a live pty session (serve, real time)', () => {
  it('replays in virtual time and verifies', async () => {
    const dir = scratch();
    const tty = join(dir, 'ttyMODEM0');
    const file = join(dir, 'live.jsonl');
    const served = new ServedChild(['--serial', `pty:${tty}`, '--data-dir', join(dir, 'data'), '--trace', file]);
    cleanups.push(() => served.kill());
    await served.ready();
    const host = new PtyHost(tty);
    cleanups.push(() => host.close());
    await host.expect('SMS READY\r\n', 10_000);
    // a driver's start-up, typed as a person would: a byte at a time, with pauses
    for (const b of 'AT\r') {
      await host.send(b);
      await new Promise((r) => setTimeout(r, 15));
    }
    await host.expect('OK\r\n');
    for (const cmd of ['ATE0', 'AT+CSQ', 'AT+CGREG?', 'AT+FSCREATE="drv.cfg"']) await host.command(cmd);
    await host.send('AT+FSWRITE="drv.cfg",0,8,10\r');
    await host.expect('>');
    await host.send('id=42\r\n;');
    await host.expect('OK\r\n');
    expect(await host.command('AT+FSREAD="drv.cfg",0,8')).toContain('id=42');
    await host.send('AT+CSQ\rAT+CPIN?\r');
    await host.expect(/\+CPIN: READY\r\n\r\nOK\r\n/);
    await served.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    const r = await replay(file);
    expect(r.out).toEqual([expect.stringMatching(/^MATCH /)]);
    expect(r.code).toBe(0);
  });
});

describe.skipIf(skipWithout('socat'))('the example driver recorded over a real pty (serve, real time)', () => {
  it('replays in virtual time and verifies: the MQTT session, its publish, the message back and a back end\'s message, each broker reply entering at its recorded instant', async () => {
    const dir = scratch();
    const tty = join(dir, 'ttyMODEM0');
    const file = join(dir, 'driver.jsonl');
    const served = new ServedChild(['--serial', `pty:${tty}`, '--data-dir', join(dir, 'data'), '--trace', file]);
    cleanups.push(() => served.kill());
    const ready = await served.ready();
    const topic = 'example/recorded';
    const d = new ExampleDriver(tty, { clientId: 'example-recorded', topic });
    cleanups.push(() => d.close());
    await d.start();
    const back = new Promise<Received>((resolve) => {
      d.onMessage = resolve;
    });
    expect(await d.publish('recorded-1')).toBe(true);
    expect(await back).toEqual({ topic, payload: 'recorded-1' });
    // a back end's message: the trace keeps it (a far record) for the replay's broker
    const backEnd = await mqtt.connectAsync(String(ready['broker']), { clientId: 'back-end', reconnectPeriod: 0 });
    cleanups.push(() => backEnd.endAsync(true).then(() => undefined));
    const fromFar = new Promise<Received>((resolve) => {
      d.onMessage = resolve;
    });
    await backEnd.publishAsync(topic, 'from-back-end', { qos: 1 });
    expect(await fromFar).toEqual({ topic, payload: 'from-back-end' });
    expect(await d.poll()).toBe(1);
    await d.close();
    await served.kill('SIGTERM');
    expect(await served.exited).toBe(0);

    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ev: string; what?: string });
    expect(records[0]).toMatchObject({ ev: 'header', clock: 'realtime' });
    const inputs = records.filter((r) => r.ev === 'io').map((r) => r.what);
    expect(inputs).toEqual(expect.arrayContaining(['mqtt-dial', 'mqtt-rx']));
    expect(records.filter((r) => r.ev === 'far')).toEqual([
      expect.objectContaining({ what: 'publish', topic, data: Buffer.from('from-back-end').toString('base64'), qos: 1, retain: false }),
    ]);
    const r = await replay(file);
    expect(r.out).toEqual([expect.stringMatching(/^MATCH /)]);
    expect(r.code).toBe(0);

    // the message back entered 1 ms later than it did: the replay names its +MSUB, printed 1 ms late
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('"ev":"io","what":"mqtt-rx"');
    const start = text.lastIndexOf('\n', at) + 1;
    const line = text.slice(start, text.indexOf('\n', at));
    const t = (JSON.parse(line) as { t: number }).t;
    const doctored = join(dir, 'doctored.jsonl');
    writeFileSync(doctored, text.slice(0, start) + line.replace(`"t":${t}`, `"t":${t + 1_000_000}`) + text.slice(start + line.length));
    const bad = await replay(doctored);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toEqual([expect.stringMatching(/^DIFFERS .*: first difference at model time [\d.]+ s .*recorded \{"t":\d+,"ev":"urc","text":"\+MSUB: \\"example\/recorded\\",10 byte,recorded-1"\}, replayed \{"t":\d+,/)]);
  });
});

describe.skipIf(skipWithout('socat'))('a real-time session fed from the control endpoint', () => {
  it('replays to a MATCH: an SMS given to the SMSC, a failing-delivery rule (far records) and a pdpDeact fault enter at their recorded instants', async () => {
    const dir = scratch();
    const tty = join(dir, 'ttyMODEM0');
    const file = join(dir, 'fed.jsonl');
    const served = new ServedChild(['--serial', `pty:${tty}`, '--data-dir', join(dir, 'data'), '--trace', file], { control: true });
    cleanups.push(() => served.kill());
    const ready = await served.ready();
    const [chost, cport] = String(ready['control']).split(':');
    const control = netConnect({ host: chost!, port: Number(cport) });
    cleanups.push(() => void control.destroy());
    control.setEncoding('utf8');
    const replies = new WallWaits();
    let said = '';
    control.on('data', (d: string) => {
      said += d;
      replies.notify();
    });
    const ask = async (req: string): Promise<unknown> => {
      const before = said.split('\n').length;
      control.write(req + '\n');
      const line = await replies.until(() => (said.split('\n').length > before ? said.trim().split('\n').at(-1) : undefined), 5000, () => `no reply to ${req}`);
      return JSON.parse(line);
    };
    const host = new PtyHost(tty);
    cleanups.push(() => host.close());
    await host.expect('SMS READY\r\n', 10_000);
    for (const cmd of ['ATE0', 'AT+CMGF=1', 'AT+CNMI=2,1,0,1,0', 'AT+CSMP=49,167,0,0']) await host.command(cmd);
    expect(await ask('{"sms":{"from":"+8613800138000","text":"replay me"}}')).toEqual({ ok: true, sms: { id: 1, parts: 1 } });
    await host.expect(/\+CMTI: "SM",\d+\r\n/, 10_000);
    expect(await host.command('AT+CMGR=1')).toContain('replay me');
    // the SMSC is told deliveries to this number fail (TP-ST 70): the report says so
    expect(await ask('{"smsReports":{"to":"+8613912345678","status":70}}')).toEqual({ ok: true, smsReports: { to: '+8613912345678', status: 70 } });
    await host.send('AT+CMGS="+8613912345678"\r');
    await host.expect('> ');
    await host.send('report me\x1a');
    await host.expect(/\+CMGS: \d+\r\n\r\nOK\r\n/);
    await host.expect(/\+CDS: 6,\d+,"\+8613912345678",145,"[^"]+","[^"]+",70\r\n/, 15_000);
    expect(await ask('{"smsReports":{"to":"12"}}')).toEqual({ ok: false, error: 'smsReports: status: expected a TP-ST 0..255 (0 delivered, 70 validity period expired)' });
    expect(await ask('{"fault":"pdpDeact"}')).toEqual({ ok: true, applied: 'pdpDeact' });
    await host.expect('+PDP DEACT\r\n', 5000);
    await served.kill('SIGTERM');
    expect(await served.exited).toBe(0);

    const far = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ev: string }).filter((r) => r.ev === 'far');
    expect(far).toEqual([
      expect.objectContaining({ what: 'sms', sms: expect.objectContaining({ from: '+8613800138000', text: 'replay me' }) }),
      expect.objectContaining({ what: 'smsRule', to: '+8613912345678', status: 70 }),
    ]);
    const r = await replay(file);
    expect(r.out).toEqual([expect.stringMatching(/^MATCH /)]);
    expect(r.code).toBe(0);
  });
});
