/**
 * The flows whose traces are pinned by SHA-256 in test/fixtures/trace-golden.json: every shipped
 * scenario through `runScenario`, and in-process flows that drive the UART through what the
 * scenarios do not (echo on and off, a burst that overflows the busy queue, backspace, `A/`, NUL,
 * raw data arriving in parts, a baud change, an over-long line, a reboot, output racing input,
 * unpaced mode, MPUBEX by length / Ctrl-Z / ESC). The digests were recorded before the UART
 * moved from one kernel event per byte to runs of bytes; the byte records, their timestamps and
 * their order, the VCD and the host's byte log must come out the same.
 *
 * Record afresh (only when a behaviour change is intended): `npx tsx test/golden/record.ts`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../sim/broker/index.js';
import { ms, sec } from '../../sim/kernel.js';
import { createModem, type Modem, type ModemOptions } from '../../sim/modem.js';
import { mqttOptionsFromBroker } from '../../sim/mqtt/options.js';
import { loadScenarioFile, runScenario, traceLines } from '../../sim/scenario/index.js';
import { canonicalRecord } from '../../sim/scenario/trace.js';
import type { TraceRecord } from '../../sim/trace.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const SCENARIO_DIR = join(ROOT, 'scenarios');
export const GOLDEN_FILE = join(ROOT, 'test', 'fixtures', 'trace-golden.json');

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Line records (sim/trace-lines.ts) came after the digests were recorded; they are derived from
 * the byte records alone, so the digests cover every other record and leave them out.
 */
// the trace file's header line (sim/trace.ts TraceHeader) came after them too
const isLineRecord = (r: { ev: string }): boolean => r.ev === 'line' || r.ev === 'header';
const withoutLineRecords = (jsonl: string): string =>
  jsonl
    .split('\n')
    .filter((l) => l === '' || !isLineRecord(JSON.parse(l)))
    .join('\n');

/**
 * The VCD's string tracks (`$var string`, `s<text> <id>`: sim/vcd.ts) came after the digests
 * too; the bit-level waveform is what they pin: the tracks and the timestamps that only they
 * used are left out.
 */
function withoutStringTracks(vcd: string): string {
  const out: string[] = [];
  let stamp: string | undefined;
  for (const line of vcd.split('\n')) {
    if (line.startsWith('$var string ') || /^s\S* \S+$/.test(line)) continue;
    if (line.startsWith('#')) {
      stamp = line;
      continue;
    }
    if (stamp !== undefined) {
      out.push(stamp);
      stamp = undefined;
    }
    out.push(line);
  }
  if (stamp !== undefined) out.push(stamp);
  return out.join('\n');
}

export function shippedScenarios(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

/** Trace and transcript digests of one shipped scenario. */
export async function scenarioDigests(file: string, broker: EmbeddedBroker, brokerDataDir: string): Promise<Record<string, string>> {
  const r = await runScenario(loadScenarioFile(join(SCENARIO_DIR, file)), { broker, brokerDataDir });
  if (!r.ok) throw new Error(`${file}: ${r.failure ?? 'failed'}`);
  const name = file.replace(/\.yaml$/, '');
  return { [`scenario:${name}:trace`]: sha256(traceLines(r.trace.filter((x) => !isLineRecord(x)))), [`scenario:${name}:transcript`]: sha256(r.transcript) };
}

const hostLog = (m: Modem): string => {
  // GOLDEN_SHOW=1 prints what the host received, to check a flow does what it says
  if (process.env.GOLDEN_SHOW) console.log(JSON.stringify(Buffer.from(m.host.log.map((e) => e.b)).toString('latin1')));
  return m.host.log.map((e) => `${e.t} ${e.b}`).join('\n');
};
const memoryTrace = (records: readonly TraceRecord[]): string =>
  records
    .filter((r) => !isLineRecord(r))
    .map((r) => JSON.stringify(r))
    .join('\n');

/** Send without waiting; what comes back is read later. */
const send = (m: Modem, s: string | Uint8Array): void => m.host.write(s);

/** Trace file, VCD and host log of a modem driven through the UART's corners. */
export async function uartMixDigests(): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'modemsim-golden-'));
  try {
    const traceFile = join(dir, 't.jsonl');
    const vcdFile = join(dir, 'u.vcd');
    const m = createModem({ seed: 7, traceFile, vcdFile, dataDir: join(dir, 'data') });
    await m.host.expect('SMS READY', sec(30));
    await m.host.advance(sec(6));
    for (const line of ['AT', 'AT+CSQ;+CPIN?', 'AT+CGREG?', 'AT+NOSUCH', 'AT+CMEE=2', 'AT+CPIN=1234']) await m.host.command(line);
    // a burst beyond the busy queue (pendingLines 4): the excess collapses into one ERROR
    send(m, 'AT\rAT+CSQ\rATI\rAT\rAT\rAT\rAT+CGMR\rAT\r');
    await m.host.advance(sec(2));
    // backspace, noise before AT, a lone LF, NUL, A/ repeat
    send(m, 'ATX\bI\r\nxxAT+CGMI\r\0AT\0\r');
    await m.host.advance(ms(300));
    send(m, 'A/');
    await m.host.advance(ms(300));
    // input while a long answer is on the wire
    send(m, 'ATI\r');
    await m.host.advance(ms(3) + 86_806 * 6);
    send(m, 'AT+CSQ\r');
    await m.host.advance(sec(1));
    await m.host.command('ATE0');
    await m.host.command('AT+CSQ');
    // raw data after the prompt, in two parts with a gap
    await m.host.command('AT+FSCREATE="g.txt"');
    send(m, 'AT+FSWRITE="g.txt",0,12,10\r');
    await m.host.expect('>', sec(5));
    send(m, 'hello ');
    await m.host.advance(ms(50));
    send(m, 'world!AT\r');
    await m.host.advance(sec(1));
    await m.host.command('AT+FSREAD="g.txt",0,12');
    // a raw-data timeout
    send(m, 'AT+FSWRITE="g.txt",0,5,1\r');
    await m.host.expect('>', sec(5));
    send(m, 'ab');
    await m.host.advance(sec(2));
    // an over-long line (past limits.lineBuffer), then a good one
    send(m, 'AT' + 'g'.repeat(10_300) + '\rAT\r');
    await m.host.advance(sec(3));
    await m.host.command('ATE1');
    await m.host.command('AT+IPR=9600');
    await m.host.command('ATI');
    send(m, 'AT+CSQ\rAT\r');
    await m.host.advance(sec(1));
    await m.host.command('AT+IPR=115200');
    await m.host.command('AT+RESET');
    await m.host.expect('SMS READY', sec(30));
    send(m, 'AT\r');
    await m.host.advance(sec(1));
    const log = hostLog(m);
    await m.close();
    return {
      'uart-mix:trace': sha256(withoutLineRecords(readFileSync(traceFile, 'utf8'))),
      'uart-mix:vcd': sha256(withoutStringTracks(readFileSync(vcdFile, 'utf8'))),
      'uart-mix:host-log': sha256(log),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Pacing off: every chunk in one event, output at once. Untraced, the engine takes a chunk in
 * one call (no byte records to interleave): the host must see the same bytes at the same times.
 */
export async function unpacedDigests(traced = true): Promise<Record<string, string>> {
  const opts: ModemOptions = { seed: 3, uartPacing: false, traceMemory: traced };
  const m = createModem(opts);
  await m.host.expect('SMS READY', sec(30));
  await m.host.advance(sec(6));
  for (const line of ['AT', 'ATE0', 'AT+CSQ', 'ATI']) await m.host.command(line);
  send(m, 'AT\rAT+CSQ\rAT\r');
  await m.host.advance(sec(1));
  const out: Record<string, string> = { 'unpaced:host-log': sha256(hostLog(m)) };
  if (traced) out['unpaced:trace'] = sha256(memoryTrace(m.trace.records));
  await m.close();
  return out;
}

/** MPUBEX by length, by Ctrl-Z and cancelled by ESC; own-topic messages back as +MSUB. */
export async function mpubexDigests(broker: EmbeddedBroker): Promise<Record<string, string>> {
  const m = createModem({ seed: 5, traceMemory: true, mqtt: mqttOptionsFromBroker(broker) });
  try {
    if (!(await m.clock.waitUntil(() => m.pdp.dataReady, sec(60)))) throw new Error('no data bearer');
    await m.host.advance(sec(1));
    for (const line of ['AT+MCONFIG=golden-mpubex,"",""', 'AT+MIPSTART="mqtt.example.com",1883']) await m.host.command(line);
    await m.host.expect('CONNECT OK', sec(10));
    await m.host.command('AT+MCONNECT=1,60');
    await m.host.expect('CONNACK OK', sec(10));
    await m.host.command('AT+MSUB="golden/x",0');
    await m.host.expect('SUBACK', sec(10));
    send(m, 'AT+MPUBEX="golden/x",0,0,5\r');
    await m.host.expect('>', sec(5));
    send(m, 'abcde');
    await m.host.expect('+MSUB:', sec(10));
    await m.host.advance(sec(1));
    send(m, 'AT+MPUBEX="golden/x",0,0\r');
    await m.host.expect('>', sec(5));
    send(m, 'by ctrl-z\x1a');
    await m.host.expect('+MSUB:', sec(10));
    await m.host.advance(sec(1));
    send(m, 'AT+MPUBEX="golden/x",0,0\r');
    await m.host.expect('>', sec(5));
    send(m, 'never\x1b');
    await m.host.advance(sec(2));
    await m.host.command('AT+MDISCONNECT');
    await m.host.advance(sec(2));
    const ports = { port: broker.port, tlsPort: broker.tlsPort };
    return { 'mpubex:trace': sha256(memoryTrace(m.trace.records.map((r) => canonicalRecord(r, ports)))), 'mpubex:host-log': sha256(hostLog(m)) };
  } finally {
    await m.close();
  }
}

/** Every digest, in a stable order. */
export async function allDigests(): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'modemsim-golden-broker-'));
  const broker = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir });
  try {
    const out: Record<string, string> = {};
    for (const f of shippedScenarios()) Object.assign(out, await scenarioDigests(f, broker, dataDir));
    Object.assign(out, await uartMixDigests());
    Object.assign(out, await unpacedDigests());
    Object.assign(out, await mpubexDigests(broker));
    return out;
  } finally {
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
