/**
 * Replay and verify: a fresh modem (the header's profile, seed, power-on rate and saved
 * settings) in virtual time gets the recorded host input at its recorded instants, and every
 * record it makes is compared with the recording.
 *
 * What is fed back:
 * - the host's bytes, from the `rx` records (`rxrun` at level lines): a byte whose stop bit ended at t entered the line
 *   one byte time before (back-to-back bytes go in as one chunk, so each lands where it did);
 * - faults (`fault` records of a kind sim/faults knows), applied at their instant, after the
 *   records that came before them at that instant;
 * - in a `modemsim run` trace, the far side's publishes, read from the scenario file the trace
 *   names (they are the broker's input, not the module's).
 *
 * What replays exactly: any session whose network input a fresh embedded broker makes again
 * (the module's own traffic, a scenario's far side). A virtual-time session's I/O enters the
 * model at instants that do not depend on the machine. A real-time one (a live pty session)
 * entered it at the wall clock's instants, which its `io` records keep: the replay enters each
 * network input of a label at the next recorded instant of that label (RecordedInputs), and
 * waits there, model time standing, until the fresh broker has made it. What the recording's
 * broker got from other clients is not in a trace: a message they sent shows as the first
 * difference.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../broker/index.js';
import { FAULT_KINDS, parseFault, type Fault } from '../faults/index.js';
import { kernelWokenWithin } from '../faults/wall.js';
import { type InputSchedule, VirtualClock } from '../clock.js';
import { COMMAND_GROUPS } from '../groups.js';
import type { Ns } from '../kernel.js';
import { silentLogger, type Logger } from '../log.js';
import { createModem, type Modem } from '../modem.js';
import { mqttOptionsFromBroker } from '../mqtt/options.js';
import { FarClient } from '../scenario/far.js';
import { FarSms } from '../scenario/far-sms.js';
import { loadScenarioFile } from '../scenario/load.js';
import { smsGroup } from '../services/sms.js';
import { deliverRequestOf, deliveryRuleOf, type DeliverRequest } from '../sms/center.js';
import type { Scenario, Step } from '../scenario/types.js';
import type { TraceRecord } from '../trace.js';
import { compareRecords, type Difference } from './compare.js';
import type { StoredRecord, TraceSession } from './read.js';

export type ReplayOutcome =
  | { kind: 'match'; session: string; compared: number; modelTimeNs: Ns }
  | { kind: 'differs'; session: string; difference: Difference }
  | { kind: 'refused'; session: string; reason: string };

export interface ReplayOptions {
  log?: Logger;
  /** Where the replay's embedded broker keeps its CA (one for many replays saves making keys). */
  brokerDataDir?: string;
}

/** Back-to-back host bytes fed as one chunk, up to this many (well inside the RX FIFO). */
const MAX_CHUNK = 4096;
/** As the scenario runner: wall time a far-side publish is given to reach the modem. */
const FAR_DELIVERY_WALL_MS = 500;
/**
 * Wall time a recorded network event the replay has not made by its instant is waited for,
 * model time standing there: the broker acting on its own (a connect window running out).
 */
const NET_WAIT_WALL_MS = 5000;

type Input =
  | { kind: 'rx'; at: number; t: Ns; b: number }
  | { kind: 'fault'; at: number; t: Ns; fault: Fault }
  | { kind: 'far'; at: number; t: Ns; step: Extract<Step, { kind: 'farPublish' }> }
  | { kind: 'farSms'; at: number; t: Ns; step: Extract<Step, { kind: 'farSms' }> }
  | { kind: 'net'; at: number; t: Ns }
  | { kind: 'farLive'; at: number; t: Ns; topic: string; data: string; qos: 0 | 1 | 2; retain: boolean }
  /** `recorded`: a served session's far record (made again as it was); else a scenario step's. */
  | { kind: 'farSmsRule'; at: number; t: Ns; to: string; status: number; recorded: boolean }
  | { kind: 'farSmsLive'; at: number; t: Ns; sms: Extract<TraceRecord, { ev: 'far'; what: 'sms' }>['sms']; req: DeliverRequest };

const fmt = (t: Ns): string => `${(t / 1e9).toFixed(9)} s`;

function brief(r: StoredRecord): string {
  const { t: _t, ...rest } = r;
  return JSON.stringify(rest).slice(0, 160);
}

/**
 * Network I/O starts with a dial (every link, MQTT or bridged, is dialled first); the other
 * `net` records (a lost bearer, a signal change, a teardown at power-off) are the model's own.
 */
const isDial = (r: StoredRecord): boolean => r.ev === 'net' && typeof r['what'] === 'string' && r['what'].endsWith('-dial');

/** Why a session cannot be replayed exactly, or undefined when it can. */
function refusal(s: TraceSession): string | undefined {
  const h = s.header;
  if (h.fleet === true) return 'it was recorded by a modem of a fleet (one timeline for many), whose events interleave with the others\'; replay the fleet in-process';
  if (h.groups !== undefined && h.groups.join(',') !== COMMAND_GROUPS.map((g) => g.name).join(',')) {
    return `it was recorded with command groups ${h.groups.join(', ')}, which a replay cannot rebuild; replay it in-process with the same groups`;
  }
  if (h.overrides !== undefined && baudOverride(h.overrides) === undefined) {
    return `it was recorded with profile overrides ${JSON.stringify(h.overrides)}, which a replay cannot rebuild (it knows only uart.defaultBaud)`;
  }
  if (h.clock === 'realtime' && !s.records.some((r) => r.ev === 'io')) {
    const i = s.records.findIndex(isDial);
    const net = s.records[i];
    if (net !== undefined) {
      return `network I/O at trace line ${s.lines[i]} (net ${brief(net)} at model time ${fmt(net.t)}), and no io records saying when its replies entered the model: it was recorded by a modemsim that did not write them; record it again`;
    }
  }
  return undefined;
}

/** The power-on rate of overrides that are `{uart: {defaultBaud}}` (serve --baud), else undefined. */
function baudOverride(v: unknown): number | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const entries = Object.entries(v);
  if (entries.length !== 1 || entries[0]![0] !== 'uart') return undefined;
  const uart: unknown = entries[0]![1];
  if (typeof uart !== 'object' || uart === null) return undefined;
  const inner = Object.entries(uart);
  if (inner.length !== 1 || inner[0]![0] !== 'defaultBaud') return undefined;
  const baud: unknown = inner[0]![1];
  return typeof baud === 'number' ? baud : undefined;
}

/** The inputs of a session, in recorded order. */
function inputsOf(s: TraceSession, scenario: Scenario | undefined): Input[] | string {
  const out: Input[] = [];
  const faultKinds: readonly string[] = FAULT_KINDS;
  const steps = [...s.steps];
  const far = (at: number): string | undefined => {
    while (steps.length > 0 && steps[0]!.at <= at) {
      const m = steps.shift()!;
      if (m.kind === 'farSmsReports') {
        const rule = scenario?.steps.find((x) => x.index === m.step);
        if (rule === undefined || rule.kind !== 'farSmsReports') return `step ${m.step} sets an SMSC delivery rule, and the scenario file ${s.scenarioFile ?? '(not named)'} that says what was not found as it was recorded`;
        out.push({ kind: 'farSmsRule', at: m.at, t: m.t, to: rule.to, status: rule.status, recorded: false });
        continue;
      }
      if (m.kind === 'farSms') {
        const sms = scenario?.steps.find((x) => x.index === m.step);
        if (sms === undefined || sms.kind !== 'farSms') return `step ${m.step} sends an SMS from the far side, and the scenario file ${s.scenarioFile ?? '(not named)'} that says what was not found as it was recorded`;
        out.push({ kind: 'farSms', at: m.at, t: m.t, step: sms });
        continue;
      }
      if (m.kind !== 'farPublish') continue;
      const step = scenario?.steps.find((x) => x.index === m.step);
      if (step === undefined || step.kind !== 'farPublish') {
        return `step ${m.step} publishes from the far side, and the scenario file ${s.scenarioFile ?? '(not named)'} that says what was not found as it was recorded; run the replay where the trace was written`;
      }
      out.push({ kind: 'far', at: m.at, t: m.t, step });
    }
    return undefined;
  };
  for (let i = 0; i < s.records.length; i++) {
    const problem = far(i);
    if (problem !== undefined) return problem;
    const r = s.records[i]!;
    if (r.ev === 'rx' && typeof r['b'] === 'number') out.push({ kind: 'rx', at: i, t: r.t, b: r['b'] });
    else if (r.ev === 'rxrun' && typeof r['t0'] === 'number' && typeof r['dt'] === 'number' && typeof r['data'] === 'string') {
      const { t0, dt, data } = r;
      for (let k = 0; k < data.length; k++) out.push({ kind: 'rx', at: i, t: t0 + k * dt, b: data.charCodeAt(k) });
    }
    else if (r.ev === 'net' || r.ev === 'io') out.push({ kind: 'net', at: i, t: r.t });
    else if (r.ev === 'far' && r['what'] === 'smsRule') {
      const rule = deliveryRuleOf({ to: r['to'], status: r['status'] });
      if ('error' in rule) return `the SMSC rule at trace line ${s.lines[i]} cannot be set again: ${rule.error}`;
      out.push({ kind: 'farSmsRule', at: i, t: r.t, ...rule, recorded: true });
    } else if (r.ev === 'far' && r['what'] === 'sms') {
      const sms = r['sms'];
      const req = deliverRequestOf(sms);
      if ('error' in req) return `the SMS at trace line ${s.lines[i]} cannot be given again: ${req.error}`;
      const kept = 'pdu' in req ? { pdu: req.pdu } : { from: req.from, text: req.text, time: (req.time ?? new Date(0)).toISOString() };
      out.push({ kind: 'farSmsLive', at: i, t: r.t, sms: kept, req });
    } else if (r.ev === 'far') {
      const { topic, data, qos, retain } = r;
      if (typeof topic !== 'string' || typeof data !== 'string' || (qos !== 0 && qos !== 1 && qos !== 2) || typeof retain !== 'boolean') {
        return `the far-side publish at trace line ${s.lines[i]} lacks topic, data, qos or retain`;
      }
      out.push({ kind: 'farLive', at: i, t: r.t, topic, data, qos, retain });
    }
    else if (r.ev === 'fault' && typeof r['what'] === 'string' && faultKinds.includes(r['what'])) {
      let fault: Fault;
      try {
        fault = parseFault(r['detail'] === undefined ? r['what'] : { [r['what']]: r['detail'] }, `trace line ${s.lines[i]}`);
      } catch (err) {
        return `the fault at trace line ${s.lines[i]} cannot be applied again: ${err instanceof Error ? err.message : String(err)}`;
      }
      out.push({ kind: 'fault', at: i, t: r.t, fault });
    }
  }
  const problem = far(Number.MAX_SAFE_INTEGER);
  if (problem !== undefined) return problem;
  return out;
}

function brokerOptionsOf(scenario: Scenario | undefined, dataDir: string, log: Logger): EmbeddedBrokerOptions {
  const b: EmbeddedBrokerOptions = { port: 0, tlsPort: 0, dataDir, log };
  if (scenario?.broker.connectTimeout !== undefined) b.connectTimeoutMs = Math.max(1, Math.round(scenario.broker.connectTimeout / 1e6));
  if (scenario?.broker.auth !== undefined) b.auth = scenario.broker.auth;
  return b;
}

const isBrokerFault = (f: Fault): boolean => f.kind === 'tcpDrop' || f.kind === 'brokerDown' || f.kind === 'brokerUp';

/** The instants a real-time session's network inputs entered the model, per label, in order. */
class RecordedInputs implements InputSchedule {
  private readonly due = new Map<string, { at: Ns[]; taken: number }>();
  constructor(records: readonly StoredRecord[]) {
    for (const r of records) {
      if (r.ev !== 'io' || typeof r['what'] !== 'string') continue;
      const list = this.due.get(r['what']);
      if (list === undefined) this.due.set(r['what'], { at: [r.t], taken: 0 });
      else list.at.push(r.t);
    }
  }
  next(label: string): Ns | undefined {
    const list = this.due.get(label);
    return list === undefined ? undefined : list.at[list.taken++];
  }
}

export async function replaySession(s: TraceSession, opts: ReplayOptions = {}): Promise<ReplayOutcome> {
  const log = opts.log ?? silentLogger();
  const refused = refusal(s);
  if (refused !== undefined) return { kind: 'refused', session: s.name, reason: refused };
  let scenario: Scenario | undefined;
  if (s.scenarioFile !== undefined) {
    try {
      scenario = loadScenarioFile(s.scenarioFile);
    } catch {
      scenario = undefined;
    }
  }
  const inputs = inputsOf(s, scenario);
  if (typeof inputs === 'string') return { kind: 'refused', session: s.name, reason: inputs };

  const scratch = mkdtempSync(join(tmpdir(), 'modemsim-replay-'));
  let broker: EmbeddedBroker | undefined;
  let modem: Modem | undefined;
  let far: FarClient | undefined;
  try {
    const needsBroker = s.records.some(isDial) || inputs.some((x) => x.kind === 'far' || x.kind === 'farLive' || (x.kind === 'fault' && isBrokerFault(x.fault)));
    if (needsBroker) broker = await startEmbeddedBroker(brokerOptionsOf(scenario, opts.brokerDataDir ?? join(scratch, 'broker'), log));
    const h = s.header;
    let dataDir: string | undefined;
    if (Object.keys(h.saved).length > 0) {
      // the AT&W settings the recorded module powered on with
      dataDir = join(scratch, 'data');
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'nvram.json'), JSON.stringify(h.saved));
    }
    const baud = h.overrides === undefined ? undefined : baudOverride(h.overrides);
    const m = createModem({
      ...(s.records.some((r) => r.ev === 'io') && { inputSchedule: new RecordedInputs(s.records) }),
      profile: h.profile,
      seed: h.seed,
      ...(baud !== undefined && { profileOverrides: { uart: { defaultBaud: baud } } }),
      ...(h.pacing === false && { uartPacing: false }),
      ...(dataDir !== undefined && { dataDir }),
      ...(broker !== undefined && { mqtt: mqttOptionsFromBroker(broker), broker }),
      traceMemory: true,
      traceLevel: h.level,
      log,
    });
    modem = m;
    // the noise faults' bytes into the RX are in the trace as rx records, fed back as those
    m.faults.noiseRxFromTrace = true;
    // from power-on (the boot record comes out of the constructor), at the recorded level
    const replayed: readonly TraceRecord[] = m.trace.records;
    const vclock = m.clock;
    if (!(vclock instanceof VirtualClock)) throw new Error('a replay runs in virtual time');
    /** Run everything due before `t`, then stand at `t`. */
    const before = async (t: Ns): Promise<void> => {
      if (t > m.kernel.now) await vclock.runUntil(t - 1);
      m.kernel.setTime(t);
    };
    /** At `t`, run events until the replay has made `count` records (those recorded before an input of that instant). */
    const upTo = async (t: Ns, count: number): Promise<void> => {
      await before(t);
      await vclock.runWhile(() => replayed.length < count, t, false);
      m.kernel.setTime(t);
    };

    const end = s.records.reduce((t, r) => Math.max(t, r.t), 0);
    /** Feed one input (an rx input: it and the bytes back to back behind it); returns the next index. */
    const play = async (k: number): Promise<number> => {
      const x = inputs[k]!;
      switch (x.kind) {
        case 'rx': {
          const bt = m.uart.byteTime;
          const bytes = [x.b];
          let last = x.t;
          /** Inputs recorded while the run was on the wire (a broker reply, a fault): fed after it is queued. */
          const within: number[] = [];
          let j = k + 1;
          while (bytes.length < MAX_CHUNK) {
            let n = j;
            while (n < inputs.length && inputs[n]!.kind !== 'rx') n++;
            const y = inputs[n];
            if (y === undefined || y.kind !== 'rx' || y.t !== last + bt) break;
            for (let q = j; q < n; q++) within.push(q);
            bytes.push(y.b);
            last = y.t;
            j = n + 1;
          }
          await before(x.t - bt);
          m.host.write(Uint8Array.from(bytes));
          for (const q of within) await play(q);
          return j;
        }
        case 'fault':
          await upTo(x.t, x.at);
          await m.faults.apply(x.fault);
          if (x.fault.kind === 'brokerUp') await far?.revive();
          return k + 1;
        case 'net': {
          // at the last instant: what the module records as it is switched off (made below)
          if (x.t === end) return k + 1;
          // made by the model itself (under an I/O hold) it is there by now; else it is the
          // outside acting while model time stood at this instant: wait for it there
          await upTo(x.t, x.at);
          const made = (): boolean => replayed.length > x.at;
          await vclock.runWhile(() => !made(), x.t, false);
          while (!made() && (await kernelWokenWithin(m.kernel, NET_WAIT_WALL_MS))) await vclock.runWhile(() => !made(), x.t, false);
          m.kernel.setTime(x.t);
          return k + 1;
        }
        case 'farLive': {
          // another client's publish on the recording's broker: made again, and recorded as it was
          await upTo(x.t, x.at);
          if (broker === undefined) throw new Error('a far-side publish needs the broker');
          const { t, topic, data, qos, retain } = x;
          m.trace.record({ t, ev: 'far', what: 'publish', topic, data, qos, retain });
          far ??= await FarClient.connect(broker.url, []);
          await far.publish(topic, Buffer.from(data, 'base64'), qos, retain);
          return k + 1;
        }
        case 'farSmsRule': {
          await upTo(x.t, x.at);
          if (!m.hasGroup(smsGroup)) throw new Error('an SMSC rule needs the sms group');
          if (x.recorded) m.trace.record({ t: x.t, ev: 'far', what: 'smsRule', to: x.to, status: x.status });
          m.service(smsGroup).center.failDeliveries(x.to, x.status);
          return k + 1;
        }
        case 'farSmsLive': {
          await upTo(x.t, x.at);
          if (!m.hasGroup(smsGroup)) throw new Error('an SMS for the module needs the sms group');
          m.trace.record({ t: x.t, ev: 'far', what: 'sms', sms: x.sms });
          m.service(smsGroup).center.deliver(x.req);
          return k + 1;
        }
        case 'farSms': {
          await upTo(x.t, x.at);
          new FarSms(m).deliver(x.step.from, x.step.text);
          return k + 1;
        }
        case 'far': {
          await upTo(x.t, x.at);
          if (broker === undefined) throw new Error('a far-side publish needs the broker');
          far ??= await FarClient.connect(broker.url, []);
          // as the scenario runner: model time stands still while the broker forwards it
          const delivered = m.mqtt.link.phase === 'session' ? kernelWokenWithin(m.kernel, FAR_DELIVERY_WALL_MS) : Promise.resolve(false);
          await far.publish(x.step.topic, x.step.payload, x.step.qos, x.step.retain);
          await delivered;
          return k + 1;
        }
      }
    };
    for (let k = 0; k < inputs.length; ) k = await play(k);
    await vclock.runUntil(end);
    // what a module records as it is switched off comes at the recording's last instant too
    await m.faults.restoreBroker();
    await m.close();
    const ports = broker === undefined ? [] : [broker.port, broker.tlsPort];
    if (m.trace.droppedFromMemory > 0) {
      return { kind: 'refused', session: s.name, reason: `the replay made more than ${replayed.length} records, more than it keeps to compare; replay a shorter trace` };
    }
    const difference = compareRecords(s, replayed.map((r) => ({ ...r })), end, ports);
    if (difference !== undefined) return { kind: 'differs', session: s.name, difference };
    return { kind: 'match', session: s.name, compared: s.records.length, modelTimeNs: end };
  } finally {
    await far?.close();
    if (modem !== undefined) {
      await modem.faults.restoreBroker();
      await modem.close();
    }
    await broker?.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
