/**
 * Plays a scenario against a modem in virtual time: host exchanges through the in-process UART
 * host, faults as network-side events at exact model instants, a real broker (embedded, on
 * loopback, ephemeral ports) and optionally a far-side client. The tests and `modemsim run`
 * both call `runScenario`.
 *
 * Every byte the modem prints must be accounted for by a step: a command's answer is compared
 * with everything received since the previous step, so an unexpected URC fails the step it
 * lands in front of.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../broker/index.js';
import { ExpectTimeout } from '../host.js';
import { FINAL_OR_PROMPT } from '../../protocol/results.js';
import { sec, type Ns } from '../kernel.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { createModem, Modem } from '../modem.js';
import { mqttOptionsFromBroker } from '../mqtt/options.js';
import { printable, quote } from './bytes.js';
import { formatDuration, formatModelTime } from './duration.js';
import { FarClient } from './far.js';
import { expectFarMessage, playFarPublish, playFault, reached, type StepPlace } from './common-steps.js';
import { FarSms } from './far-sms.js';
import { StepFailure } from './failure.js';
import { ScenarioError } from './load.js';
import { canonicalRecord, ScenarioTraceRecord } from './trace.js';
import { outputLines, Transcript } from './transcript.js';
import type { OutputExpect, Scenario, Step, StepAction } from './types.js';
import { stopwatch } from './wall.js';

export interface RunOptions {
  /** Overrides the scenario's profile. */
  profile?: string;
  /** Overrides the scenario's seed. */
  seed?: number;
  /**
   * A running embedded broker to use (the CLI and tests share one across scenarios). A
   * scenario that sets broker options gets a broker of its own all the same.
   */
  broker?: EmbeddedBroker;
  /** Where brokers started by the runner keep their CA (reusing one saves generating keys). */
  brokerDataDir?: string;
  log?: Logger;
}

export interface StepResult {
  index: number;
  line?: number;
  kind: StepAction['kind'];
  ok: boolean;
  /** Model time at the start and end of the step. */
  startNs: Ns;
  endNs: Ns;
  /** On failure: `expected …, got …`. */
  message?: string;
}

export interface ScenarioResult {
  name: string;
  ok: boolean;
  profile: string;
  seed: number;
  steps: StepResult[];
  /** Model time when the run ended (from power-on, t = 0). */
  modelTimeNs: Ns;
  /** The modem's trace with step markers, broker ports written symbolically. */
  trace: ScenarioTraceRecord[];
  /** The Markdown section (`## name`, the →/← table, the verdict). */
  transcript: string;
  /** Counters of the modem at the end: kernel events run, the MQTT link's own. */
  stats: { eventsRun: number; mqtt: Modem['mqtt']['link']['stats'] };
  /** `step k: expected …, got … (line n, model time t)` for the first failed step. */
  failure?: string;
  wallMs: number;
}

/** A command's answer ends at its final result code, or at a raw-data prompt. */
const TERMINATOR = FINAL_OR_PROMPT;

const framed = (lines: readonly string[]): string => lines.map((l) => (l === '>' ? '\r\n>' : `\r\n${l}\r\n`)).join('');

function expectedText(e: OutputExpect, echo: string): string {
  if (e.kind === 'exact') return e.text;
  if (e.kind === 'lines') return echo + framed(e.lines);
  return `/${e.source}/`;
}

function describeExpect(e: OutputExpect, echo: string): string {
  return e.kind === 'regex' ? `a match for /${e.source}/` : quote(expectedText(e, echo));
}

function fail(msg: string): never {
  throw new StepFailure(msg);
}

function brokerOptions(s: Scenario, opts: RunOptions, log: Logger): EmbeddedBrokerOptions {
  const b: EmbeddedBrokerOptions = { port: 0, tlsPort: 0, log };
  if (opts.brokerDataDir !== undefined) b.dataDir = opts.brokerDataDir;
  if (s.broker.connectTimeout !== undefined) b.connectTimeoutMs = Math.max(1, Math.round(s.broker.connectTimeout / 1e6));
  if (s.broker.auth !== undefined) b.auth = s.broker.auth;
  return b;
}

export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<ScenarioResult> {
  if (scenario.driver === 'external') {
    throw new ScenarioError(`${scenario.source ?? scenario.name}: driver: external has no host script to play; run it against your driver (runFaultTimeline, modemsim serve --faults)`);
  }
  const wall = stopwatch();
  const log = opts.log ?? silentLogger();
  const shared = Object.keys(scenario.broker).length === 0 ? opts.broker : undefined;
  const ownBroker = shared === undefined;
  let tempCerts: string | undefined;
  const brokerOpts = brokerOptions(scenario, opts, log);
  if (ownBroker && brokerOpts.dataDir === undefined) {
    tempCerts = mkdtempSync(join(tmpdir(), 'modemsim-scenario-'));
    brokerOpts.dataDir = tempCerts;
  }
  const broker = shared ?? (await startEmbeddedBroker(brokerOpts));
  let run: ScenarioRun | undefined;
  try {
    run = new ScenarioRun(scenario, broker, opts, log);
    return await run.play(wall);
  } finally {
    await run?.close();
    if (ownBroker) await broker.close();
    if (tempCerts !== undefined) rmSync(tempCerts, { recursive: true, force: true });
  }
}

class ScenarioRun {
  readonly modem: Modem;
  readonly profile: string;
  readonly seed: number;
  private readonly transcript = new Transcript();
  private readonly markers: Array<{ at: number; rec: ScenarioTraceRecord }> = [];
  private far: FarClient | undefined;
  private readonly sms: FarSms;

  constructor(
    private readonly scenario: Scenario,
    private readonly broker: EmbeddedBroker,
    opts: RunOptions,
    log: Logger,
  ) {
    this.profile = opts.profile ?? scenario.profile ?? 'air724ug';
    this.seed = opts.seed ?? scenario.seed ?? 1;
    this.modem = createModem({ profile: this.profile, seed: this.seed, mqtt: mqttOptionsFromBroker(broker), broker, traceMemory: true, log });
    this.sms = new FarSms(this.modem);
  }

  async play(wall: () => number): Promise<ScenarioResult> {
    const s = this.scenario;
    const m = this.modem;
    const results: StepResult[] = [];
    let failure: string | undefined;
    try {
      if (s.far) this.far = await FarClient.connect(this.broker.url, s.far.subscribe);
      await this.start();
    } catch (err) {
      failure = `step 0 (start): ${err instanceof Error ? err.message : String(err)}`;
    }
    if (failure === undefined) {
      for (const step of s.steps) {
        const startNs = m.kernel.now;
        this.markers.push({ at: m.trace.records.length, rec: { t: startNs, ev: 'step', step: step.index, kind: step.kind } });
        const r: StepResult = { index: step.index, kind: step.kind, ok: true, startNs, endNs: startNs };
        if (step.line !== undefined) r.line = step.line;
        try {
          await this.step(step);
        } catch (err) {
          r.ok = false;
          r.message = err instanceof StepFailure ? err.message : `${err instanceof Error ? err.message : String(err)}`;
        }
        r.endNs = m.kernel.now;
        results.push(r);
        if (!r.ok) {
          const where = [step.line !== undefined ? `line ${step.line}` : undefined, `model time ${formatModelTime(r.endNs)}`].filter(Boolean).join(', ');
          failure = `step ${step.index}: ${r.message} (${where})`;
          this.transcript.add(m.kernel.now, '✗', [`step ${step.index}: ${r.message}`], step.index);
          break;
        }
      }
    }
    if (m.host.pending !== '') this.transcript.add(m.kernel.now, '←(URC)', [...outputLines(m.host.pending), '(not consumed by any step)']);
    const ok = failure === undefined;
    const modelTimeNs = m.kernel.now;
    const verdict = ok
      ? `**PASS** — ${results.length} steps, model time ${formatModelTime(modelTimeNs)}, profile ${this.profile}, seed ${this.seed}`
      : `**FAIL** — ${failure}`;
    const result: ScenarioResult = {
      name: s.name,
      ok,
      profile: this.profile,
      seed: this.seed,
      steps: results,
      modelTimeNs,
      trace: this.trace(),
      transcript: this.transcript.render(s.name, s.description, verdict),
      stats: { eventsRun: m.kernel.eventsRun, mqtt: { ...m.mqtt.link.stats } },
      wallMs: 0,
    };
    if (failure !== undefined) result.failure = failure;
    result.wallMs = wall();
    return result;
  }

  async close(): Promise<void> {
    // the broker may be shared: one a failed run left down is brought back
    await this.modem.faults.restoreBroker();
    await this.far?.close();
    await this.modem.close();
  }

  private trace(): ScenarioTraceRecord[] {
    const ports = { port: this.broker.port, tlsPort: this.broker.tlsPort };
    const out: ScenarioTraceRecord[] = [];
    const recs = this.modem.trace.records;
    let k = 0;
    for (let i = 0; i <= recs.length; i++) {
      while (k < this.markers.length && this.markers[k]!.at === i) out.push(this.markers[k++]!.rec);
      if (i < recs.length) out.push(canonicalRecord(recs[i]!, ports));
    }
    return out;
  }

  /** `ready`: the data bearer is up and a second has passed; the boot lines are consumed. */
  private async start(): Promise<void> {
    if (this.scenario.start === 'power-on') return;
    const m = this.modem;
    const limit = sec(60);
    if (!(await m.clock.waitUntil(() => m.pdp.dataReady, limit))) {
      fail(`expected the data bearer within ${formatDuration(limit)} of power-on, got ${this.state()}`);
    }
    await m.clock.advance(sec(1));
    if (m.host.pending !== '') {
      const boot = await m.host.expect(/[\s\S]+/, 0);
      this.transcript.add(boot.at, '←(URC)', outputLines(boot.text), 0);
    }
  }

  private state(): string {
    const m = this.modem;
    return `cfun=${m.network.cfun} sim=${m.network.sim} registered=${m.network.registered} attached=${m.pdp.attached} dataReady=${m.pdp.dataReady}`;
  }

  private async step(step: Step): Promise<void> {
    const m = this.modem;
    const i = step.index;
    // a clock nobody runs stands still by itself
    const place: StepPlace = { modem: m, transcript: this.transcript, standStill: (_label, fn) => fn() };
    switch (step.kind) {
      case 'send': {
        const echo = m.engine.settings.echo ? step.command + '\r' : '';
        this.transcript.add(m.kernel.now, '→', [printable(step.command)], i);
        m.host.write(step.command + '\r');
        await this.answer(step.expect, echo, step.command + '\r', step.within, i);
        return;
      }
      case 'raw': {
        const shown = step.bytes.length > 80 ? `${printable(step.bytes.subarray(0, 64).toString('latin1'))}… (${step.bytes.length} bytes)` : printable(step.bytes.toString('latin1'));
        this.transcript.add(m.kernel.now, '→(data)', [shown], i);
        m.host.write(step.bytes);
        if (step.expect) await this.answer(step.expect, '', undefined, step.within, i);
        return;
      }
      case 'expect':
        await this.urc(step.expect, step.within, i);
        return;
      case 'wait': {
        this.transcript.add(m.kernel.now, 'wait', [formatDuration(step.ns) + (step.silent ? ', silent' : '')], i);
        const before = m.host.pending.length;
        await m.clock.advance(step.ns);
        if (step.silent && m.host.pending.length > before) {
          fail(`expected nothing from the modem for ${formatDuration(step.ns)}, got ${quote(m.host.pending.slice(before))}`);
        }
        return;
      }
      case 'until': {
        if (!(await m.clock.waitUntil(() => reached(m, step.state), step.within))) fail(`expected ${step.state} within ${formatDuration(step.within)}, got ${this.state()}`);
        this.transcript.add(m.kernel.now, 'note', [`reached ${step.state}`], i);
        return;
      }
      case 'fault':
        await playFault(place, step, this.far, i);
        return;
      case 'farPublish':
        await playFarPublish(place, step, await this.farClient(), i);
        return;
      case 'farExpect':
        await expectFarMessage(place, this.far, step.topic, step.payload, step.within, i);
        return;
      case 'farSms':
      case 'farSmsReports':
      case 'farExpectSms':
        await this.sms.play(step, (dir, line) => this.transcript.add(m.kernel.now, dir, [printable(line)], i));
        return;
      case 'note':
        this.transcript.add(m.kernel.now, 'note', [step.text], i);
        return;
    }
  }

  /** Wait for a command's answer (through its final result code or prompt) and check it. */
  private async answer(expect: OutputExpect | undefined, echo: string, sent: string | undefined, within: Ns, i: number): Promise<void> {
    const m = this.modem;
    let got: string;
    let at: Ns;
    try {
      const r = await m.host.expect(TERMINATOR, within);
      got = r.text;
      at = r.at;
    } catch (err) {
      if (!(err instanceof ExpectTimeout)) throw err;
      const want = expect ? describeExpect(expect, echo) : 'a final result code';
      this.transcript.add(m.kernel.now, '←', outputLines(m.host.pending), i);
      fail(`expected ${want} within ${formatDuration(within)}, got ${quote(m.host.pending)}`);
    }
    const shown = sent !== undefined && got.startsWith(sent) ? got.slice(sent.length) : got;
    this.transcript.add(at, '←', outputLines(shown), i);
    if (!expect) return;
    const ok = expect.kind === 'regex' ? new RegExp(expect.source).test(got) : got === expectedText(expect, echo);
    if (!ok) fail(`expected ${describeExpect(expect, echo)}, got ${quote(got)}`);
  }

  /** Unsolicited output: exactly these bytes next (failing as soon as they differ), or a regex. */
  private async urc(expect: OutputExpect, within: Ns, i: number): Promise<void> {
    const m = this.modem;
    if (expect.kind === 'regex') {
      try {
        const r = await m.host.expect(new RegExp(expect.source), within);
        this.transcript.add(r.at, '←(URC)', outputLines(r.text), i);
        return;
      } catch (err) {
        if (!(err instanceof ExpectTimeout)) throw err;
        fail(`expected a match for /${expect.source}/ within ${formatDuration(within)}, got ${quote(m.host.pending)}`);
      }
    }
    const want = expectedText(expect, '');
    let verdict: 'match' | 'differs' | undefined;
    const check = (): 'match' | 'differs' | undefined => {
      const p = m.host.pending;
      if (p.startsWith(want)) return 'match';
      const n = Math.min(p.length, want.length);
      return p.slice(0, n) === want.slice(0, n) ? undefined : 'differs';
    };
    await m.clock.waitUntil(() => (verdict = check()) !== undefined, within);
    if (verdict === 'match') {
      const r = await m.host.expect(want, 0);
      this.transcript.add(r.at, '←(URC)', outputLines(r.text), i);
      return;
    }
    if (verdict === 'differs') {
      // let the line that differs arrive whole, for the message
      let at = 0;
      while (at < want.length && m.host.pending[at] === want[at]) at++;
      await m.clock.waitUntil(() => m.host.pending.indexOf('\r\n', at + 1) >= 0 || m.host.pending.length > at + 256, sec(1));
      this.transcript.add(m.kernel.now, '←(URC)', outputLines(m.host.pending), i);
      fail(`expected ${quote(want)}, got ${quote(m.host.pending)}`);
    }
    fail(`expected ${quote(want)} within ${formatDuration(within)}, got ${quote(m.host.pending)}`);
  }

  private async farClient(): Promise<FarClient> {
    this.far ??= await FarClient.connect(this.broker.url, []);
    return this.far;
  }
}
