/**
 * A `driver: external` scenario against a modem whose host is someone else's driver (through
 * the serialport binding, `modem.host.stream()`, or a `serve` link): the steps are a fault
 * timeline (`wait`, `until`, `fault`, `far: …`, `note`) with expectations on what the modem
 * printed (`expectOutput`) and what the far side received (`far: expect`). Nothing is written
 * to the modem: the driver is the host.
 *
 * Model time is the modem's clock: with `clock: 'free'` a `wait` lets it run while the driver is
 * quiet, and stands still while the driver works, so the faults land at the same model instants
 * on every run of a deterministic driver. Start the timeline where the driver starts (right
 * after createModem) so its `wait`s count from power-on.
 */
import { sec, type Ns } from '../kernel.js';
import type { Modem } from '../modem.js';
import type { FaultBroker } from '../faults/index.js';
import { printable, quote } from './bytes.js';
import { formatDuration, formatModelTime } from './duration.js';
import { FarClient } from './far.js';
import { expectFarMessage, playFarPublish, playFault, reached, type StepPlace } from './common-steps.js';
import { FarSms } from './far-sms.js';
import { StepFailure } from './failure.js';
import { loadScenarioFile, ScenarioError } from './load.js';
import type { Logger } from '../log.js';
import type { StepResult } from './runner.js';
import { outputLines, Transcript } from './transcript.js';
import type { Scenario, Step } from './types.js';
import { stopwatch } from './wall.js';

export interface FaultTimelineOptions {
  /** The broker `far:` steps use (an EmbeddedBroker, or any `{ url }`); required by them. */
  broker?: { readonly url: string };
}

export interface FaultTimelineResult {
  name: string;
  ok: boolean;
  steps: StepResult[];
  /** `step N: expected …, got … (line n, model time t)` for the first failed step. */
  failure?: string;
  /** Model time when the timeline ended. */
  modelTimeNs: Ns;
  /** The →/← table of the faults and of what matched, with model times. */
  transcript: string;
  wallMs: number;
}

/** Output kept unmatched; past it the oldest half goes (a timeline with no expectOutput for long). */
const OUTPUT_LIMIT = 1 << 20;

function fail(msg: string): never {
  throw new StepFailure(msg);
}


/** Play an external-driver timeline; resolves when it ends (it never writes to the modem). */
export async function runFaultTimeline(modem: Modem, scenario: Scenario, opts: FaultTimelineOptions = {}): Promise<FaultTimelineResult> {
  if (scenario.driver !== 'external') {
    throw new ScenarioError(`${scenario.source ?? scenario.name}: a host script is played by runScenario; runFaultTimeline takes driver: external timelines`);
  }
  const wall = stopwatch();
  const run = new TimelineRun(modem, scenario, opts);
  try {
    return await run.play(wall);
  } finally {
    await run.close();
  }
}

/** `serve --faults FILE`: read and check the file before anything starts (a bad one fails the start). */
export function loadFaultTimelineFile(path: string): Scenario {
  const s = loadScenarioFile(path);
  if (s.driver !== 'external') throw new ScenarioError(`${path}: --faults takes a driver: external timeline (the driver on the serial link is the host)`);
  return s;
}

/**
 * `serve --faults FILE`: play the timeline from now (power-on) against whatever drives the link,
 * and log its verdict as one record (`{"msg":"faults", ok, failure, …}`).
 */
export function playServedTimeline(modem: Modem, scenario: Scenario, opts: { broker?: FaultBroker & { readonly url: string }; log: Logger }): Promise<FaultTimelineResult> {
  if (opts.broker !== undefined) modem.faults.useBroker(opts.broker);
  const played = runFaultTimeline(modem, scenario, opts.broker !== undefined ? { broker: opts.broker } : {});
  return played.then(
    (r) => {
      const rec = { name: r.name, ok: r.ok, steps: r.steps.length, modelTimeNs: r.modelTimeNs, ...(r.failure !== undefined && { failure: r.failure }) };
      if (r.ok) opts.log.info(rec, 'faults');
      else opts.log.warn(rec, 'faults');
      return r;
    },
    (err: unknown) => {
      opts.log.error({ err, name: scenario.name }, 'faults');
      throw err;
    },
  );
}

class TimelineRun {
  private readonly transcript = new Transcript();
  /** What the modem printed since the last expectOutput match. */
  private output = '';
  private readonly untap: () => void;
  private far: FarClient | undefined;
  private readonly sms: FarSms;

  constructor(
    private readonly modem: Modem,
    private readonly scenario: Scenario,
    private readonly opts: FaultTimelineOptions,
  ) {
    this.sms = new FarSms(modem);
    this.untap = modem.tapHostBytes((b) => {
      this.output += String.fromCharCode(b);
      if (this.output.length > OUTPUT_LIMIT) this.output = this.output.slice(OUTPUT_LIMIT >> 1);
    });
  }

  /**
   * Wait on the outside world (a broker, the far side) with model time standing still: a free
   * clock would otherwise run on while the driver is quiet, and the outcome would land at an
   * instant that depends on this machine's speed. A virtual clock nobody drives stands still
   * anyway; a real-time one ignores holds.
   */
  private async still<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const hold = this.modem.kernel.hold(label);
    try {
      return await fn();
    } finally {
      hold.release();
    }
  }

  async play(wall: () => number): Promise<FaultTimelineResult> {
    const m = this.modem;
    const s = this.scenario;
    const steps: StepResult[] = [];
    let failure: string | undefined;
    try {
      if (s.far) this.far = await FarClient.connect(this.brokerUrl('far.subscribe'), s.far.subscribe);
      if (s.start === 'ready' && !(await m.clock.waitUntil(() => m.pdp.dataReady, sec(60)))) {
        fail(`expected the data bearer within 60 s, got none`);
      }
    } catch (err) {
      failure = `step 0 (start): ${err instanceof Error ? err.message : String(err)}`;
    }
    for (const step of failure === undefined ? s.steps : []) {
      const startNs = m.kernel.now;
      const r: StepResult = { index: step.index, kind: step.kind, ok: true, startNs, endNs: startNs };
      if (step.line !== undefined) r.line = step.line;
      try {
        if (m.isClosed) fail('expected a running modem, got it closed');
        await this.step(step);
      } catch (err) {
        r.ok = false;
        r.message = err instanceof Error ? err.message : String(err);
      }
      r.endNs = m.kernel.now;
      steps.push(r);
      if (!r.ok) {
        const where = [step.line !== undefined ? `line ${step.line}` : undefined, `model time ${formatModelTime(r.endNs)}`].filter(Boolean).join(', ');
        failure = `step ${step.index}: ${r.message} (${where})`;
        this.transcript.add(m.kernel.now, '✗', [`step ${step.index}: ${r.message}`], step.index);
        break;
      }
    }
    const ok = failure === undefined;
    const verdict = ok ? `**PASS** — ${steps.length} steps, model time ${formatModelTime(m.kernel.now)}` : `**FAIL** — ${failure}`;
    const result: FaultTimelineResult = {
      name: s.name,
      ok,
      steps,
      modelTimeNs: m.kernel.now,
      transcript: this.transcript.render(s.name, s.description, verdict),
      wallMs: wall(),
    };
    if (failure !== undefined) result.failure = failure;
    return result;
  }

  async close(): Promise<void> {
    this.untap();
    await this.far?.close();
  }

  private brokerUrl(what: string): string {
    const url = this.opts.broker?.url;
    if (url === undefined) fail(`${what} needs a broker: runFaultTimeline(modem, scenario, { broker })`);
    return url;
  }

  private async step(step: Step): Promise<void> {
    const m = this.modem;
    const i = step.index;
    // the driver's free-running clock needs a hold to stand still
    const place: StepPlace = { modem: m, transcript: this.transcript, standStill: (label, fn) => this.still(label, fn) };
    switch (step.kind) {
      case 'wait': {
        this.transcript.add(m.kernel.now, 'wait', [formatDuration(step.ns) + (step.silent ? ', silent' : '')], i);
        const before = this.output.length;
        await m.clock.advance(step.ns);
        if (step.silent && this.output.length > before) fail(`expected nothing from the modem for ${formatDuration(step.ns)}, got ${quote(this.output.slice(before))}`);
        return;
      }
      case 'until': {
        if (!(await m.clock.waitUntil(() => reached(m, step.state), step.within))) fail(`expected ${step.state} within ${formatDuration(step.within)}, got it not`);
        this.transcript.add(m.kernel.now, 'note', [`reached ${step.state}`], i);
        return;
      }
      case 'fault':
        await playFault(place, step, this.far, i);
        return;
      case 'expectOutput': {
        const re = new RegExp(step.source);
        const seen: { hit: RegExpExecArray | null } = { hit: null };
        await m.clock.waitUntil(() => (seen.hit = re.exec(this.output)) !== null, step.within);
        const hit = seen.hit;
        if (hit === null) fail(`expected output matching /${step.source}/ within ${formatDuration(step.within)}, got ${quote(this.output.slice(-400))}`);
        const lines = outputLines(hit[0]);
        this.transcript.add(m.kernel.now, '←', lines.length > 0 ? lines : [printable(hit[0])], i);
        this.output = this.output.slice(hit.index + hit[0].length);
        return;
      }
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
      case 'send':
      case 'raw':
      case 'expect':
        // the loader refuses these in a driver: external scenario; one built in code gets told
        fail(`${step.kind} is the host's, and here the driver is the host`);
    }
  }

  private async farClient(): Promise<FarClient> {
    this.far ??= await FarClient.connect(this.brokerUrl('far: publish'), []);
    return this.far;
  }
}
