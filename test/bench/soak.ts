/**
 * The soak: 7 simulated days of one modem on the embedded broker, driven through its serial
 * endpoint with the exact bytes a driver sends, in virtual time. Every simulated minute one QoS 1
 * MPUB out (PUBACK, and a far-side `mqtt` client receives it) and one message in (+MSUB); every
 * simulated hour a fault of the catalogue in turn (brokerDown/brokerUp and deregister/register
 * as pairs), then the documented recovery (behaviour §9, §23) and a new session.
 *
 * Checked: the heap after GC stays within ±10 % of where it was after a warm-up day (run the same
 * way first; the heap settles over it);
 * the trace keeps nothing in memory; no listener, socket or timer is left behind (emitters'
 * listeners and the process's active resources counted before and after); nothing OK'd is lost
 * silently (PUBACKed ≤ received by the far side ≤ OK'd, each OK with one verdict).
 *
 *   npm run soak                 # node --expose-gc --import tsx test/bench/soak.ts
 *   npm run soak -- --days 1 --warmup-days 0     # a shorter soak
 *
 * `runSoak(opts)` is the same, for `npm run bench` (test/bench/run.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../sim/broker/index.js';
import type { FaultKind } from '../../sim/faults/index.js';
import { watchKernelWake } from '../../sim/faults/wall.js';
import { FINAL_RESULT } from '../../sim/host.js';
import { sec, type Ns } from '../../sim/kernel.js';
import { createModem, type Modem } from '../../sim/modem.js';
import { mqttOptionsFromBroker } from '../../sim/mqtt/options.js';
import { QUIET } from '../fuzz/quiet-log.js';

export interface SoakOptions {
  /** Simulated days measured (default 7). */
  days?: number;
  /**
   * Simulated days run first, the same way, before the baseline is taken (default 1): the heap
   * grows by ~2 MB over the first day as code paths warm up, then stays (28 days measured: +0.9 MB).
   */
  warmupDays?: number;
  /** Model time between faults (default 1 h). */
  faultEvery?: Ns;
  /** Model time between one MPUB out and one message in (default 60 s). */
  trafficEvery?: Ns;
  /** A running embedded broker (default: one of the soak's own). */
  broker?: EmbeddedBroker;
  /** The modem's seed (default 1). */
  seed?: number;
  /** Progress lines (one per simulated day). */
  log?: (line: string) => void;
  /** Allowed heap drift after GC, as a fraction (default 0.10). */
  heapTolerance?: number;
}

export interface SoakResult {
  ok: boolean;
  /** What broke, if anything. */
  failures: string[];
  days: number;
  modelNs: Ns;
  wallMs: number;
  faults: Partial<Record<SoakFault, number>>;
  traffic: { minutes: number; published: number; pubacks: number; ackErrors: number; farReceived: number; inbound: number; sessions: number };
  /** Heap in use after GC, MB: before any traffic, after the warm-up (the baseline), at the end, and per day. */
  heap: { coldMb: number; startMb: number; endMb: number; driftPct: number; withinTolerance: boolean; perDayMb: number[] };
  /** In-memory trace records kept (the soak runs with the in-memory trace off). */
  traceRecords: number;
  /** Listeners and active resources before (after the first hour) and after. */
  leaks: { before: Record<string, number>; after: Record<string, number>; grown: string[] };
}

const HOUR = sec(3600);
const MINUTE = sec(60);
/** The catalogue of issue 12 in the order the soak plays it, pairs as their first half. */
const SOAK_FAULTS = ['pdpDeact', 'detach', 'tcpDrop', 'brokerDown', 'deregister', 'signal', 'reboot'] as const satisfies readonly FaultKind[];
type SoakFault = (typeof SOAK_FAULTS)[number];

let gcFn: (() => void) | undefined;
function heapMb(): number {
  if (!gcFn) {
    const g: unknown = (globalThis as { gc?: unknown }).gc;
    if (typeof g === 'function') gcFn = () => void (g as () => void)();
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

class SoakError extends Error {}

const framed = (lines: readonly string[]): string => lines.map((l) => `\r\n${l}\r\n`).join('');

/** The far side: publishes the messages in, counts what the modem published. */
class Far {
  received = 0;
  private client!: MqttClient;
  constructor(private readonly broker: EmbeddedBroker) {}
  async open(): Promise<void> {
    this.client = await mqtt.connectAsync(this.broker.url, { clientId: `soak-far-${process.pid}`, reconnectPeriod: 0 });
    this.client.on('error', () => undefined);
    this.client.on('message', () => this.received++);
    await this.client.subscribeAsync('soak/out', { qos: 1 });
  }
  async revive(): Promise<void> {
    await this.client.endAsync(true);
    await this.open();
  }
  publish(payload: string): Promise<unknown> {
    return this.client.publishAsync('soak/in', payload, { qos: 1 });
  }
  listeners(): number {
    return this.client.eventNames().reduce((n, e) => n + this.client.listenerCount(e), 0);
  }
  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** Unsolicited lines a fault and its recovery may bring. */
const AFTER_FAULT = /^(PUBACK|ERROR|CLOSED|\+PDP DEACT|\+MSUB: .*|CONNECT OK|CONNACK OK|SUBACK|STATE: TCP CLOSED|CONNECT FAIL|RDY|\+CFUN: 1|\+CPIN: READY|SMS READY)$/;

/** The driver: exact bytes out, exact answers in (echo off), unsolicited lines counted. */
class Driver {
  pubacks = 0;
  ackErrors = 0;
  inbound = 0;
  constructor(private readonly m: Modem) {}

  /** Everything received and not yet read: only these unsolicited lines may be in it. */
  private drainUnsolicited(allowed: RegExp): void {
    const text = this.m.host.take();
    const re = /\r\n([^\r\n]*)\r\n/g;
    let end = 0;
    for (let x = re.exec(text); x; x = re.exec(text)) {
      if (x.index !== end) throw new SoakError(`unframed output ${JSON.stringify(text)}`);
      end = re.lastIndex;
      const line = x[1]!;
      if (!allowed.test(line)) throw new SoakError(`unexpected line ${JSON.stringify(line)} in ${JSON.stringify(text)}`);
      if (line === 'PUBACK') this.pubacks++;
      else if (line === 'ERROR') this.ackErrors++;
      else if (line.startsWith('+MSUB: ')) this.inbound++;
    }
    if (end !== text.length) throw new SoakError(`unframed output ${JSON.stringify(text)}`);
  }

  /** A line and its exact answer; `before`: unsolicited lines that may precede it; `echo`: echo is on. */
  async cmd(line: string, answer: readonly string[], before: RegExp = /^$/, echo = false): Promise<void> {
    this.drainUnsolicited(before);
    this.m.host.write(`${line}\r`);
    const r = await this.m.host.expect(FINAL_RESULT, sec(130));
    const want = (echo ? `${line}\r` : '') + framed(answer);
    if (r.text !== want) throw new SoakError(`${line}: expected ${JSON.stringify(want)}, got ${JSON.stringify(r.text)}`);
  }

  /** Wait for these unsolicited lines (in this order), counting them. */
  async urc(line: string, within: Ns = sec(20)): Promise<void> {
    const want = `\r\n${line}\r\n`;
    if (!(await this.m.clock.waitUntil(() => this.m.host.pending.includes(want), within))) {
      throw new SoakError(`expected ${JSON.stringify(line)}, got ${JSON.stringify(this.m.host.pending)}`);
    }
    this.drainUnsolicited(AFTER_FAULT);
  }

  /** Unsolicited output after a fault: only what a fault may bring, counted. */
  settle(): void {
    this.drainUnsolicited(AFTER_FAULT);
  }
}

/** Listener and resource counts that must not grow. */
function census(m: Modem, far: Far): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) c[`resource ${r}`] = (c[`resource ${r}`] ?? 0) + 1;
  c['far-side client listeners'] = far.listeners();
  c['kernel wake listeners'] = m.kernel.timeline.wakeListeners.length;
  c['kernel hold waiters'] = m.kernel.timeline.holdWaiters.length;
  for (const e of ['exit', 'uncaughtException', 'unhandledRejection', 'SIGINT', 'warning'] as const) c[`process ${e} listeners`] = process.listenerCount(e);
  return c;
}

export async function runSoak(opts: SoakOptions = {}): Promise<SoakResult> {
  const days = opts.days ?? 7;
  const warmupDays = opts.warmupDays ?? 1;
  const faultEvery = opts.faultEvery ?? HOUR;
  const trafficEvery = opts.trafficEvery ?? MINUTE;
  const tolerance = opts.heapTolerance ?? 0.1;
  const log = opts.log ?? ((): void => undefined);
  const wall0 = performance.now();
  const certs = opts.broker === undefined ? mkdtempSync(join(tmpdir(), 'modemsim-soak-')) : undefined;
  const broker = opts.broker ?? (await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: certs!, log: QUIET }));
  const m = createModem({ mqtt: mqttOptionsFromBroker(broker), broker, seed: opts.seed ?? 1, traceMemory: false, log: QUIET });
  m.host.keepLog = false;
  const far = new Far(broker);
  await far.open();
  const d = new Driver(m);
  const result: SoakResult = {
    ok: false,
    failures: [],
    days,
    modelNs: 0,
    wallMs: 0,
    faults: {},
    traffic: { minutes: 0, published: 0, pubacks: 0, ackErrors: 0, farReceived: 0, inbound: 0, sessions: 0 },
    heap: { coldMb: 0, startMb: 0, endMb: 0, driftPct: 0, withinTolerance: false, perDayMb: [] },
    traceRecords: 0,
    leaks: { before: {}, after: {}, grown: [] },
  };
  let brokerDown = false;

  const session = async (): Promise<void> => {
    await d.cmd('AT+MCONFIG=soak-modem,"",""', ['OK']);
    await d.cmd('AT+MIPSTART="mqtt.example.com","1883"', ['OK']);
    await d.urc('CONNECT OK');
    await d.cmd('AT+MCONNECT=1,60', ['OK']);
    await d.urc('CONNACK OK');
    await d.cmd('AT+MSUB="soak/in",1', ['OK']);
    await d.urc('SUBACK');
    result.traffic.sessions++;
  };

  const fault = async (kind: SoakFault, n: number): Promise<void> => {
    result.faults[kind] = (result.faults[kind] ?? 0) + 1;
    switch (kind) {
      case 'pdpDeact':
      case 'detach':
      case 'deregister':
        await m.faults.apply({ kind });
        await d.urc('+PDP DEACT');
        if (kind === 'deregister') await m.faults.register();
        await d.cmd('AT+CIPSHUT', ['SHUT OK']);
        await d.cmd('AT+CGACT=1,1', ['OK']);
        break;
      case 'tcpDrop':
        await m.faults.tcpDrop();
        await d.urc('CLOSED');
        break;
      case 'brokerDown':
        await m.faults.brokerDown();
        brokerDown = true;
        await d.urc('CLOSED');
        // the outage lasts a simulated minute; a MIPSTART meanwhile fails
        await d.cmd('AT+MIPSTART="mqtt.example.com","1883"', ['OK']);
        await d.urc('CONNECT FAIL');
        await m.host.advance(MINUTE);
        await m.faults.brokerUp();
        brokerDown = false;
        await far.revive();
        break;
      case 'signal':
        await m.faults.signal({ rssi: 5 + (n % 20) });
        await d.cmd('AT+CSQ', [`+CSQ: ${5 + (n % 20)},99`, 'OK']);
        return;
      case 'reboot':
        await m.faults.reboot();
        await d.urc('SMS READY');
        // echo is back on after the reboot (ATE0 was not saved with AT&W)
        await d.cmd('ATE0', ['OK'], /^$/, true);
        for (let i = 0; i < 30; i++) {
          d.settle();
          m.host.write('AT+CGACT?\r');
          const r = await m.host.expect(FINAL_RESULT, sec(10));
          if (r.text === framed(['+CGACT: 1,1', 'OK'])) break;
          await m.host.advance(sec(1));
        }
        break;
    }
    await m.host.advance(sec(1));
    d.settle();
    await d.cmd('AT+MQTTSTATU', ['+MQTTSTATU :0', 'OK']);
    await session();
  };

  try {
    if (!(await m.clock.waitUntil(() => m.pdp.dataReady, sec(60)))) throw new SoakError('no data bearer 60 s after power-on');
    await m.host.advance(sec(1));
    m.host.take();
    await d.cmd('ATE0', ['OK'], /^$/, true);
    await session();
    result.heap.coldMb = heapMb();
    const perDay = Math.round((24 * HOUR) / trafficEvery);
    const warmup = Math.round(warmupDays * perDay);
    const minutes = warmup + Math.round(days * perDay);
    const perHour = Math.max(1, Math.round(faultEvery / trafficEvery));
    let faultNo = 0;
    if (warmup === 0) {
      result.heap.startMb = heapMb();
      result.leaks.before = census(m, far);
    }
    let next = m.kernel.now;
    for (let i = 1; i <= minutes; i++) {
      // one MPUB out, one message in
      await d.cmd(`AT+MPUB="soak/out",1,0,"m${i}"`, ['OK'], /^(PUBACK|ERROR|\+MSUB: .*)$/);
      result.traffic.published++;
      await d.urc('PUBACK');
      const woke = watchKernelWake(m.kernel, 2000);
      await far.publish(`in${i}`);
      await woke.done;
      await d.urc(`+MSUB: "soak/in",${`in${i}`.length} byte,in${i}`);
      result.traffic.minutes = i;
      if (i % perHour === 0) await fault(SOAK_FAULTS[faultNo % SOAK_FAULTS.length]!, faultNo++);
      if (i === warmup) {
        // the baseline: every code path has run many times over
        result.heap.startMb = heapMb();
        result.leaks.before = census(m, far);
      }
      if (i % perDay === 0) {
        const h = heapMb();
        if (i > warmup) result.heap.perDayMb.push(h);
        log(`  ${i <= warmup ? 'warm-up ' : ''}day ${(i - (i <= warmup ? 0 : warmup)) / perDay}: heap ${h.toFixed(1)} MB, ${result.traffic.published} published, ${d.pubacks} PUBACK, ${far.received} received far side, ${d.inbound} in, ${faultNo} faults, wall ${((performance.now() - wall0) / 1000).toFixed(1)} s`);
      }
      next += trafficEvery;
      if (next > m.kernel.now) await m.host.advance(next - m.kernel.now);
      else next = m.kernel.now;
    }
    await m.host.advance(sec(2));
    d.settle();
    result.heap.endMb = heapMb();
    result.leaks.after = census(m, far);
  } catch (err) {
    result.failures.push(err instanceof Error ? err.message : String(err));
  } finally {
    result.modelNs = m.kernel.now;
    result.traffic.pubacks = d.pubacks;
    result.traffic.ackErrors = d.ackErrors;
    result.traffic.inbound = d.inbound;
    result.traffic.farReceived = far.received;
    result.traceRecords = m.trace.records.length;
    if (brokerDown) await m.faults.restoreBroker();
    await m.close();
    await far.close();
    if (opts.broker === undefined) await broker.close();
    if (certs !== undefined) rmSync(certs, { recursive: true, force: true });
    result.wallMs = performance.now() - wall0;
  }

  const h = result.heap;
  if (result.failures.length === 0) {
    h.driftPct = h.startMb > 0 ? ((h.endMb - h.startMb) / h.startMb) * 100 : 0;
    h.withinTolerance = Math.abs(h.driftPct) <= tolerance * 100;
    if (!h.withinTolerance) result.failures.push(`heap drifted ${h.driftPct.toFixed(1)} % (allowed ±${(tolerance * 100).toFixed(0)} %)`);
    for (const [k, after] of Object.entries(result.leaks.after)) {
      const before = result.leaks.before[k] ?? 0;
      if (after > before) result.leaks.grown.push(`${k}: ${before} → ${after}`);
    }
    if (result.leaks.grown.length > 0) result.failures.push(`grown: ${result.leaks.grown.join(', ')}`);
    if (result.traceRecords !== 0) result.failures.push(`the in-memory trace kept ${result.traceRecords} records`);
    const t = result.traffic;
    if (t.pubacks + t.ackErrors !== t.published) result.failures.push(`${t.published} MPUBs OK'd, ${t.pubacks} PUBACK + ${t.ackErrors} ERROR: some without a verdict`);
    if (t.farReceived < t.pubacks || t.farReceived > t.published) result.failures.push(`far side received ${t.farReceived}, PUBACKed ${t.pubacks}, OK'd ${t.published}`);
    if (t.inbound !== t.minutes) result.failures.push(`${t.minutes} messages sent in, ${t.inbound} printed as +MSUB`);
  }
  result.ok = result.failures.length === 0;
  return result;
}

/** The result as `npm run soak` prints it. */
export function formatSoak(r: SoakResult): string {
  const t = r.traffic;
  const faults = Object.entries(r.faults)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `soak: ${r.days} simulated days after a warm-up (model time ${(r.modelNs / 86_400e9).toFixed(2)} d in all) in ${(r.wallMs / 1000).toFixed(1)} s wall`,
    `  traffic: ${t.minutes} minutes, ${t.published} MPUB QoS 1 out (${t.pubacks} PUBACK, ${t.ackErrors} ERROR), ${t.farReceived} received by the far side, ${t.inbound} messages in; ${t.sessions} sessions`,
    `  faults: ${faults}`,
    `  heap after GC: start ${r.heap.startMb.toFixed(1)} MB (after the warm-up; ${r.heap.coldMb.toFixed(1)} MB before any traffic), end ${r.heap.endMb.toFixed(1)} MB: drift ${r.heap.driftPct.toFixed(1)} % → ${r.heap.withinTolerance ? 'PASS' : 'FAIL'} (±10 %)`,
    `  heap at the end of each measured day: ${r.heap.perDayMb.map((x) => x.toFixed(1)).join(', ')} MB`,
    `  in-memory trace: ${r.traceRecords} records kept (off)`,
    `  listeners and resources, before → after: ${Object.entries(r.leaks.after)
      .map(([k, v]) => `${k} ${r.leaks.before[k] ?? 0}→${v}`)
      .join(', ')}`,
    r.ok ? 'PASS' : `FAIL: ${r.failures.join('; ')}`,
  ].join('\n');
}

function argNumber(argv: readonly string[], flag: string): number | undefined {
  const i = argv.indexOf(flag);
  if (i < 0) return undefined;
  const n = Number(argv[i + 1]);
  if (!(n >= 0)) throw new Error(`${flag} wants a number ≥ 0, got ${JSON.stringify(argv[i + 1])}`);
  return n;
}

// run alone: `npm run soak` (imported by test/bench/run.ts, it only exports)
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const days = argNumber(argv, '--days');
  const warmupDays = argNumber(argv, '--warmup-days');
  const r = await runSoak({ ...(days !== undefined && { days }), ...(warmupDays !== undefined && { warmupDays }), log: (l) => console.log(l) });
  console.log(formatSoak(r));
  process.exitCode = r.ok ? 0 : 1;
}
