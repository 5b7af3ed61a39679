/**
 * The fault matrix: every fault of the catalogue (sim/faults FAULT_KINDS; brokerDown/brokerUp
 * and deregister/register as pairs) injected after every step of the manual's flows — the seed
 * plain MQTT flow with its cache, HEX and direct parts (as the manual has it, QoS 0, and with
 * QoS 1 publishes), and the SSL flow — through the serial endpoint with exact bytes, against the
 * real embedded broker and a real `mqtt` far-side client.
 *
 * For each case: the module's reaction is the documented one (`+PDP DEACT` for a network-side
 * loss with the MQTT link dropped silently, `CLOSED` for a broker-side cut, the boot lines for a
 * reboot, nothing for a fault that does not touch the link); the documented recovery succeeds
 * (behaviour §9, §23: CIPSHUT then CGACT; MIPSTART again; wait for data after a reboot); the
 * interrupted part of the flow runs again and the flow completes. For QoS 1: every publish the
 * host was told OK for gets exactly one verdict — PUBACK, or ERROR (behaviour §17), or the boot
 * lines of a reboot, which end the session with the module's RAM (behaviour §7) — and what was
 * PUBACKed the far side received, and no more than was OK'd: nothing lost silently.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, type Fault, type FaultKind } from '../sim/faults/index.js';
import { FINAL_RESULT } from '../sim/host.js';
import { ms, sec } from '../sim/kernel.js';
import type { Modem } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import { cleanupsAfterEach, dataReadyModem, WallWaits } from './helpers.js';
import { sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('fault-matrix-');
const cleanups = cleanupsAfterEach();

// ---- the flows ------------------------------------------------------------------------------

type LinkState = 'none' | 'opening' | 'open' | 'handshake' | 'session' | 'released';

type Step =
  /** A command line and its exact answer lines after the echo. `publishes`: a QoS 1 MPUB's payload. */
  | { kind: 'send'; line: string; answer: readonly string[]; publishes?: string; link?: LinkState }
  /** The next unsolicited lines are exactly these, in any order. */
  | { kind: 'urcs'; lines: readonly string[]; link?: LinkState }
  /** The far side receives this payload on the flow's up topic. */
  | { kind: 'farGets'; payload: string }
  /** The far side publishes this (QoS 1) on the flow's down topic. */
  | { kind: 'farSends'; payload: string };

interface Part {
  name: string;
  steps: readonly Step[];
  /** MQTTMSGSET and MQTTMODE this part starts from (what the parts before it set). */
  entry?: { msgset: 0 | 1; mode: 0 | 1 };
}

interface Flow {
  name: string;
  /** Publishes at QoS 1: verdicts and the far side are accounted. */
  qos1: boolean;
  up: string;
  down: string;
  parts: readonly Part[];
  /** Index of the part that opens the session (run again after a loss). */
  sessionPart: number;
  /** Parts after whose steps the matrix injects (default all); the others still run. */
  faultParts?: readonly number[];
}

const send = (line: string, answer: readonly string[], extra: Partial<Extract<Step, { kind: 'send' }>> = {}): Step => ({ kind: 'send', line, answer, ...extra });
const urcs = (lines: readonly string[], link?: LinkState): Step => (link ? { kind: 'urcs', lines, link } : { kind: 'urcs', lines });
const farGets = (payload: string): Step => ({ kind: 'farGets', payload });

/** The manual's plain flow (seeds/000, scenarios/seed-plain-mqtt.yaml); `q` the QoS of MSUB and MPUB. */
function plainFlow(q: 0 | 1): Flow {
  const t = 'mqtt/topic';
  const ack = q === 1 ? ['PUBACK'] : [];
  const pub = (payload: string, wire: string): Step => send(`AT+MPUB="${t}",${q},0,"${wire}"`, ['OK'], q === 1 ? { publishes: payload } : {});
  return {
    name: q === 0 ? 'seed plain flow (QoS 0, as the manual)' : 'seed plain flow with QoS 1 publishes',
    qos1: q === 1,
    up: t,
    down: t,
    sessionPart: 1,
    // with QoS 1 only the publishing parts differ from the QoS 0 flow's cases
    ...(q === 1 && { faultParts: [2, 3, 4] }),
    parts: [
      { name: 'attach check', steps: [send('AT+CGREG?', ['+CGREG: 0,1', 'OK']), send('AT+CGATT?', ['+CGATT: 1', 'OK'])] },
      {
        name: 'session',
        steps: [
          send('AT+MCONFIG={id},XXXX,$$$$', ['OK']),
          send('AT+MQTTSTATU', ['+MQTTSTATU :0', 'OK']),
          send('AT+MIPSTART="mqtt.example.com","1883"', ['OK'], { link: 'opening' }),
          urcs(['CONNECT OK'], 'open'),
          send('AT+MQTTSTATU', ['+MQTTSTATU :2', 'OK']),
          send('AT+MCONNECT=1,60', ['OK'], { link: 'handshake' }),
          urcs(['CONNACK OK'], 'session'),
          send('AT+MQTTSTATU', ['+MQTTSTATU :1', 'OK']),
          send(`AT+MSUB="${t}",${q}`, ['OK']),
          urcs(['SUBACK']),
        ],
      },
      {
        name: 'cache',
        entry: { msgset: 0, mode: 0 },
        steps: [
          send('AT+MQTTMSGSET=1', ['OK']),
          pub('SSSSddddd', 'SSSSddddd'),
          farGets('SSSSddddd'),
          urcs(['+MSUB: 0', ...ack]),
          send('AT+MQTTMSGGET?', ['+MQTTMSGGET: 0,VALID', '+MQTTMSGGET: 1,INVALID', '+MQTTMSGGET: 2,INVALID', '+MQTTMSGGET: 3,INVALID', 'OK']),
          send('AT+MQTTMSGGET', [`+MSUB: ${t},9 byte,SSSSddddd`, 'OK']),
          send('AT+MQTTMSGGET', ['OK']),
        ],
      },
      {
        name: 'HEX',
        entry: { msgset: 1, mode: 0 },
        steps: [send('AT+MQTTMODE=1', ['OK']), pub('123', '313233'), farGets('123'), urcs(['+MSUB: 0', ...ack]), send('AT+MQTTMSGGET', [`+MSUB: ${t},3 byte,123`, 'OK'])],
      },
      {
        name: 'direct',
        entry: { msgset: 1, mode: 1 },
        steps: [
          send('AT+MQTTMSGSET=0', ['OK']),
          send('AT+MQTTMODE=0', ['OK']),
          pub('SSSSddddd', 'SSSSddddd'),
          farGets('SSSSddddd'),
          urcs([`+MSUB: "${t}",9 byte,SSSSddddd`, ...ack]),
        ],
      },
      {
        name: 'close',
        steps: [
          send('AT+MDISCONNECT', ['OK'], { link: 'released' }),
          send('AT+MQTTSTATU', ['+MQTTSTATU :0', 'OK']),
          send('AT+MIPCLOSE', ['OK'], { link: 'none' }),
          send('AT+MQTTSTATU', ['+MQTTSTATU :0', 'OK']),
        ],
      },
    ],
  };
}

/** The manual's SSL flow without certificate verification (scenarios/seed-ssl.yaml). */
const sslFlow: Flow = {
  name: 'seed SSL flow',
  qos1: true,
  up: 'ssl/up',
  down: 'ssl/down',
  sessionPart: 1,
  parts: [
    { name: 'attach check', steps: [send('AT+CGATT?', ['+CGATT: 1', 'OK']), send('AT+SSLCFG="seclevel",88', ['+SSLCFG: "seclevel",88,0', 'OK'])] },
    {
      name: 'session',
      steps: [
        send('AT+MCONFIG={id},"",""', ['OK']),
        send('AT+SSLMIPSTART="mqtt.example.com",8883', ['OK'], { link: 'opening' }),
        urcs(['CONNECT OK'], 'open'),
        send('AT+MCONNECT=1,60', ['OK'], { link: 'handshake' }),
        urcs(['CONNACK OK'], 'session'),
        send('AT+MSUB="ssl/down",1', ['OK']),
        urcs(['SUBACK']),
      ],
    },
    {
      name: 'traffic',
      entry: { msgset: 0, mode: 0 },
      steps: [send('AT+MPUB="ssl/up",1,0,"sealed"', ['OK'], { publishes: 'sealed' }), urcs(['PUBACK']), farGets('sealed'), { kind: 'farSends', payload: 'sealed too' }, urcs(['+MSUB: "ssl/down",10 byte,sealed too'])],
    },
    { name: 'close', steps: [send('AT+MDISCONNECT', ['OK'], { link: 'released' }), send('AT+MIPCLOSE', ['OK'], { link: 'none' }), send('AT+MQTTSTATU', ['+MQTTSTATU :0', 'OK'])] },
  ],
};

const FLOWS: readonly Flow[] = [plainFlow(0), plainFlow(1), sslFlow];

/** A flow's steps in order, with their part and the link state after each. */
interface Position {
  index: number;
  part: number;
  first: number;
  step: Step;
  link: LinkState;
}

function positions(flow: Flow): Position[] {
  const out: Position[] = [];
  let link: LinkState = 'none';
  let i = 0;
  flow.parts.forEach((p, part) => {
    const first = i;
    for (const step of p.steps) {
      if ((step.kind === 'send' || step.kind === 'urcs') && step.link) link = step.link;
      out.push({ index: i++, part, first, step, link });
    }
  });
  return out;
}

const describeStep = (s: Step): string => {
  switch (s.kind) {
    case 'send':
      return s.line.replace('{id}', '<id>');
    case 'urcs':
      return s.lines.join(' + ');
    case 'farGets':
      return `far side gets ${s.payload}`;
    case 'farSends':
      return `far side sends ${s.payload}`;
  }
};

// ---- the faults and what they should do -------------------------------------------------------

/**
 * The catalogue as the matrix plays it: the pairs together, as their first half. The line and
 * power faults are not in it: their reactions are timings, not a link state (test/faults-rich.test.ts).
 * uartFragment and brokerSlow are: they change only when bytes and replies come, so under them
 * every flow must go on and complete with the same bytes.
 */
type LineFault = 'freeze' | 'noise' | 'slow' | 'powerLoss';
const LINE_FAULTS: readonly string[] = ['freeze', 'noise', 'slow', 'powerLoss'] satisfies readonly LineFault[];
type MatrixFault = Exclude<FaultKind, 'brokerUp' | 'register' | LineFault>;
const MATRIX_FAULTS: readonly MatrixFault[] = FAULT_KINDS.filter((k): k is MatrixFault => k !== 'brokerUp' && k !== 'register' && !LINE_FAULTS.includes(k));
const SIGNAL_RSSI = 9;
/** The matrix's uartFragment and brokerSlow: windows longer than any flow, delays well inside the module's waits. */
const FRAGMENT = { chunk: 5, gap: ms(30), for: sec(120) } as const;
const BROKER_DELAY = { delay: sec(2), for: sec(120) } as const;

function specOf(f: MatrixFault): Fault {
  switch (f) {
    case 'signal':
      return { kind: f, rssi: SIGNAL_RSSI };
    case 'uartFragment':
      return { kind: f, ...FRAGMENT };
    case 'brokerSlow':
      return { kind: f, ...BROKER_DELAY };
    default:
      return { kind: f };
  }
}

/** What the module shows of a fault, by the link state it meets. */
type Reaction = 'pdp-deact' | 'closed' | 'reboot' | 'refused' | 'nothing' | 'bursts' | 'late';
/** Reactions after which the flow goes on where it was. */
const GOES_ON: readonly Reaction[] = ['refused', 'nothing', 'bursts', 'late'];

function reaction(f: MatrixFault, link: LinkState): Reaction {
  switch (f) {
    case 'pdpDeact':
    case 'detach':
    case 'deregister':
      // a context is active at every step of the flows
      return 'pdp-deact';
    case 'tcpDrop':
      // the broker knows the module's client id from its CONNECT on
      return link === 'handshake' || link === 'session' ? 'closed' : 'refused';
    case 'brokerDown':
      return link === 'opening' || link === 'open' || link === 'handshake' || link === 'session' ? 'closed' : 'nothing';
    case 'signal':
      return 'nothing';
    case 'reboot':
      return 'reboot';
    case 'uartFragment':
      return 'bursts';
    case 'brokerSlow':
      return 'late';
  }
}

const REACTION_TEXT: Record<Reaction, string> = {
  'pdp-deact': '+PDP DEACT, link dropped silently; AT+CIPSHUT, AT+CGACT=1,1, MIPSTART again',
  closed: 'CLOSED; MQTTSTATU :0, MIPSTART again',
  reboot: 'the boot lines; wait for the data bearer, MIPSTART again',
  refused: 'refused (no MQTT client at the broker), nothing printed',
  nothing: 'nothing printed, the link untouched',
  bursts: `the same bytes, in ${FRAGMENT.chunk}-byte bursts ${FRAGMENT.gap / 1e6} ms apart`,
  late: `every broker reply ${BROKER_DELAY.delay / 1e9} s late, nothing else changes`,
};

const FAULT_TEXT: Record<MatrixFault, string> = {
  pdpDeact: 'pdpDeact',
  detach: 'detach',
  tcpDrop: 'tcpDrop',
  brokerDown: 'brokerDown+brokerUp',
  deregister: 'deregister+register',
  signal: `signal (rssi ${SIGNAL_RSSI})`,
  reboot: 'reboot',
  uartFragment: `uartFragment (${FRAGMENT.chunk} bytes, gap ${FRAGMENT.gap / 1e6} ms)`,
  brokerSlow: `brokerSlow (${BROKER_DELAY.delay / 1e9} s)`,
};

/** Unsolicited lines a fault may catch on their way (the pending URC of the step just done). */
const IN_FLIGHT = /^(CONNECT OK|CONNACK OK|SUBACK|PUBACK|ERROR|\+MSUB: .*)$/;

// ---- the far side ---------------------------------------------------------------------------------

/** A real `mqtt` client on the broker; keeps every message, reconnects after an outage. */
class Far {
  readonly log: Array<{ topic: string; payload: string }> = [];
  private cursor = 0;
  private readonly waits = new WallWaits();
  private client!: MqttClient;

  private constructor(private readonly topics: readonly string[]) {}

  static async open(topics: readonly string[]): Promise<Far> {
    const f = new Far(topics);
    await f.connect();
    return f;
  }

  private async connect(): Promise<void> {
    this.client = await mqtt.connectAsync(shared.broker.url, { reconnectPeriod: 0, clientId: `matrix-far-${Math.random().toString(16).slice(2, 10)}` });
    this.client.on('error', () => undefined);
    this.client.on('message', (topic, payload) => {
      this.log.push({ topic, payload: payload.toString('latin1') });
      this.waits.notify();
    });
    for (const t of this.topics) await this.client.subscribeAsync(t, { qos: 1 });
  }

  /** After brokerUp: a new connection (the outage cut this one). */
  async revive(): Promise<void> {
    await this.client.endAsync(true);
    await this.connect();
  }

  /** Messages from here on are the next ones a `gets` looks at (a part runs again). */
  skipToNow(): void {
    this.cursor = this.log.length;
  }

  /** The next message on `topic` is `payload` (wall time: the far side is outside the model). */
  async gets(topic: string, payload: string): Promise<void> {
    const found = await this.waits
      .until(
        () => {
          const i = this.log.findIndex((m, k) => k >= this.cursor && m.topic === topic);
          return i < 0 ? undefined : i;
        },
        3000,
        () => `far side: no message on ${topic}`,
      )
      .catch((err: unknown) => {
        throw err instanceof Error ? err : new Error(String(err));
      });
    expect(this.log[found]!.payload, `far side, on ${topic}`).toBe(payload);
    this.cursor = found + 1;
  }

  publish(topic: string, payload: string): Promise<unknown> {
    return this.client.publishAsync(topic, payload, { qos: 1 });
  }

  received(topic: string, payload: string): number {
    return this.log.filter((m) => m.topic === topic && m.payload === payload).length;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

// ---- the host side --------------------------------------------------------------------------------

/** What the host saw, in order: QoS 1 publishes answered OK, and unsolicited lines. */
type Seen = { kind: 'ok-publish'; payload: string } | { kind: 'urc'; line: string };

const framed = (lines: readonly string[]): string => lines.map((l) => `\r\n${l}\r\n`).join('');

/** Unsolicited text as its lines (each framed \r\n…\r\n). */
function linesOf(text: string): string[] {
  const out: string[] = [];
  const re = /\r\n([^\r\n]*)\r\n/g;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    expect(m.index, `unframed bytes in ${JSON.stringify(text)}`).toBe(end);
    out.push(m[1]!);
    end = re.lastIndex;
  }
  expect(end, `unframed bytes in ${JSON.stringify(text)}`).toBe(text.length);
  return out;
}

class Host {
  readonly seen: Seen[] = [];

  constructor(
    readonly m: Modem,
    private readonly id: string,
  ) {}

  /** A line and its exact answer; nothing unsolicited may come before the echo. */
  async send(step: Extract<Step, { kind: 'send' }>, what: string): Promise<void> {
    const line = step.line.replace('{id}', this.id);
    expect(this.m.host.pending, `${what}: output nobody expected before ${line}`).toBe('');
    this.m.host.write(`${line}\r`);
    const r = await this.m.host.expect(FINAL_RESULT, sec(120));
    expect(r.text, `${what}: ${line}`).toBe(`${line}\r${framed(step.answer)}`);
    if (step.publishes !== undefined) this.seen.push({ kind: 'ok-publish', payload: step.publishes });
  }

  /** Exactly these unsolicited lines next, in any order. */
  async urcs(lines: readonly string[], what: string): Promise<void> {
    const want = [...lines].sort();
    const got = (): string[] | undefined => {
      try {
        return linesOf(this.m.host.pending);
      } catch {
        return undefined;
      }
    };
    await this.m.clock.waitUntil(() => (got()?.length ?? 0) >= lines.length, sec(10));
    const have = linesOf(this.m.host.take());
    expect([...have].sort(), `${what}: unsolicited lines`).toEqual(want);
    for (const l of have) this.seen.push({ kind: 'urc', line: l });
  }

  /** Whatever unsolicited lines came (after a fault), recorded. */
  takeLines(): string[] {
    const have = linesOf(this.m.host.take());
    for (const l of have) this.seen.push({ kind: 'urc', line: l });
    return have;
  }

  /** A line whose answer is one of several (polling), returned. */
  async ask(line: string): Promise<string> {
    expect(this.m.host.pending, `output nobody expected before ${line}`).toBe('');
    this.m.host.write(`${line}\r`);
    const r = await this.m.host.expect(FINAL_RESULT, sec(120));
    expect(r.text.startsWith(`${line}\r`)).toBe(true);
    return r.text.slice(line.length + 1);
  }
}

// ---- one case -------------------------------------------------------------------------------------

let caseNo = 0;

/** Verdicts over the whole matrix, by kind (the QoS 1 ERROR path must be reached at least once). */
const verdictTotals = { acked: 0, lost: 0, rebooted: 0 };

/**
 * `early`: a broker fault at the very instant the module answers a QoS 1 MPUB with OK, before
 * its PUBLISH can have reached the broker (in virtual time the PUBACK is otherwise in before
 * the OK's first byte is on the wire). Faults may be called from inside a model event
 * (sim/faults); the test sees the OK leave through the UART's frame hand-over.
 */
async function runCase(flow: Flow, fault: MatrixFault, at: Position, early = false): Promise<void> {
  const id = `matrix-${process.pid}-${++caseNo}`;
  const m = await dataReadyModem({ mqtt: mqttOptionsFromBroker(shared.broker), broker: shared.broker, profileOverrides: { identity: { imei: `86${String(caseNo).padStart(13, '0')}` } } });
  cleanups.push(() => m.close());
  const far = await Far.open([flow.up, flow.down]);
  cleanups.push(() => far.close());
  let brokerDown = false;
  cleanups.push(async () => {
    if (brokerDown) await m.faults.restoreBroker();
  });
  const host = new Host(m, id);
  const all = positions(flow);

  const run = async (p: Position, what: string): Promise<void> => {
    const s = p.step;
    switch (s.kind) {
      case 'send':
        return host.send(s, what);
      case 'urcs':
        return host.urcs(s.lines, what);
      case 'farGets':
        return far.gets(flow.up, s.payload);
      case 'farSends':
        await far.publish(flow.down, s.payload);
        return;
    }
  };
  const runFrom = async (from: number, what: string): Promise<void> => {
    for (const p of all.slice(from)) await run(p, `${what}, step ${p.index + 1} (${describeStep(p.step)})`);
  };

  const spec = specOf(fault);
  // the flow up to the step the fault follows
  for (const p of all.slice(0, at.index)) await run(p, `before the fault, step ${p.index + 1} (${describeStep(p.step)})`);
  let applying: Promise<string> | undefined;
  if (early) {
    const uart = m.uart;
    const pass = uart.send.bind(uart);
    uart.send = (frame: Uint8Array): void => {
      if (applying === undefined && Buffer.from(frame).toString('latin1') === '\r\nOK\r\n') applying = m.faults.apply(spec);
      pass(frame);
    };
  }
  await run(at, `the step the fault follows, ${at.index + 1} (${describeStep(at.step)})`);
  // replies already on their way reach the module first: the fault meets the state the step left
  if (!early) await m.clock.advance(0);

  const expected = reaction(fault, at.link);
  let reacted: Reaction = 'nothing';
  try {
    await (applying ?? m.faults.apply(spec));
    if (fault === 'brokerDown') brokerDown = true;
  } catch (err) {
    reacted = 'refused';
    expect(expected, `${fault} refused: ${err instanceof Error ? err.message : String(err)}`).toBe('refused');
  }
  const signature: Record<Reaction, readonly string[]> = {
    'pdp-deact': ['+PDP DEACT'],
    closed: ['CLOSED'],
    reboot: ['RDY', '+CFUN: 1', '+CPIN: READY', 'SMS READY'],
    refused: [],
    nothing: [],
    bursts: [],
    late: [],
  };
  if (reacted !== 'refused') {
    const want = signature[expected];
    const last = want[want.length - 1];
    // wait for it without taking it: the whole reaction is checked below
    if (last !== undefined) await m.clock.waitUntil(() => m.host.pending.includes(`\r\n${last}\r\n`), sec(15));
    reacted = expected;
  }
  if (fault === 'brokerDown') {
    await m.faults.brokerUp();
    brokerDown = false;
    await far.revive();
  }
  if (fault === 'deregister') await m.faults.register();

  const faultAt = m.kernel.now;
  if (GOES_ON.includes(reacted)) {
    // nothing to recover: the flow goes on where it was, every byte still accounted for
    await runFrom(at.index + 1, `${fault} touched nothing, the flow goes on`);
  } else {
    // let the reaction settle, then check it is the documented one and nothing else
    await m.host.advance(sec(1));
    const lines = host.takeLines();
    const want = signature[reacted];
    const sig = lines.filter((l) => want.includes(l));
    expect(sig, `${fault} after step ${at.index + 1}: what the module printed: ${JSON.stringify(lines)}`).toEqual(want);
    for (const l of lines) if (!want.includes(l)) expect(l, `${fault} after step ${at.index + 1}: a line besides ${want.join(', ')}`).toMatch(IN_FLIGHT);
    if (reacted !== 'reboot') expect(lines, 'no CLOSED after a network-side loss: the link drops silently').not.toContain(reacted === 'pdp-deact' ? 'CLOSED' : '+PDP DEACT');

    // the documented recovery
    if (reacted === 'pdp-deact') {
      await host.send({ kind: 'send', line: 'AT+CIPSHUT', answer: ['SHUT OK'] }, 'recovery');
      await host.send({ kind: 'send', line: 'AT+CGACT=1,1', answer: ['OK'] }, 'recovery');
    } else if (reacted === 'reboot') {
      // a driver polls until the default context is up again
      let up = false;
      for (let i = 0; i < 30 && !up; i++) {
        const a = await host.ask('AT+CGACT?');
        up = a === framed(['+CGACT: 1,1', 'OK']);
        if (!up) {
          expect(a, 'AT+CGACT? while the module boots').toBe(framed(['+CGACT: 1,0', 'OK']));
          await m.host.advance(sec(1));
        }
      }
      expect(up, 'the default context came back after the reboot').toBe(true);
    }
    await host.send({ kind: 'send', line: 'AT+MQTTSTATU', answer: ['+MQTTSTATU :0', 'OK'] }, 'recovery');
    await m.host.advance(sec(1));
    host.takeLines();

    // the part the fault interrupted runs again, on a new session when it needs one
    const next = all[Math.min(at.index + 1, all.length - 1)]!;
    const part = flow.parts[next.part]!;
    far.skipToNow();
    if (next.part > flow.sessionPart) {
      const session = all.filter((p) => p.part === flow.sessionPart);
      for (const p of session) await run(p, `recovery, session again, step ${p.index + 1} (${describeStep(p.step)})`);
      if (part.entry) {
        await host.send({ kind: 'send', line: `AT+MQTTMSGSET=${part.entry.msgset}`, answer: ['OK'] }, 'recovery, modes');
        await host.send({ kind: 'send', line: `AT+MQTTMODE=${part.entry.mode}`, answer: ['OK'] }, 'recovery, modes');
        // what the cache kept from before the fault is read out and dropped
        const drained = await host.ask('AT+MQTTMSGGET');
        expect(drained.endsWith('\r\nOK\r\n'), 'AT+MQTTMSGGET after the fault').toBe(true);
      }
    }
    await runFrom(next.first, `after recovery, part "${part.name}" again`);
  }

  if (fault === 'uartFragment') {
    // the host got every byte in bursts: no run of back-to-back bytes longer than a chunk (the
    // byte on the wire at the fault finishes as it was, so counting starts after it)
    const bt = m.uart.byteTime;
    const after = m.host.log.filter((x) => x.t > faultAt + bt);
    let run = 1;
    let longest = 0;
    for (let i = 1; i < after.length; i++) {
      const dt = after[i]!.t - after[i - 1]!.t;
      // after a full burst, the next byte waits out the gap
      if (dt !== bt && run === FRAGMENT.chunk) expect(dt, 'after a full burst: the gap, then a byte time').toBeGreaterThanOrEqual(FRAGMENT.gap + bt);
      run = dt === bt ? run + 1 : 1;
      longest = Math.max(longest, run);
    }
    expect(longest, 'longest run of back-to-back bytes').toBeLessThanOrEqual(FRAGMENT.chunk);
    // after the flow's last step nothing more is printed
    if (at.index < all.length - 1) expect(after.length, 'bytes the host got under the fault').toBeGreaterThan(0);
  }
  if (fault === 'signal') {
    const csq = await host.ask('AT+CSQ');
    expect(csq, 'AT+CSQ reads the new signal').toBe(m.profile.network.rssiSpread === 0 ? framed([`+CSQ: ${SIGNAL_RSSI},99`, 'OK']) : csq);
  }

  // QoS 1: every OK'd publish has one verdict; what was PUBACKed the far side received
  await m.host.advance(sec(2));
  host.takeLines();
  if (flow.qos1) {
    const waiting: string[] = [];
    const verdicts = new Map<string, { ok: number; acked: number; lost: number }>();
    const v = (p: string): { ok: number; acked: number; lost: number } => {
      let x = verdicts.get(p);
      if (!x) verdicts.set(p, (x = { ok: 0, acked: 0, lost: 0 }));
      return x;
    };
    for (const s of host.seen) {
      if (s.kind === 'ok-publish') {
        waiting.push(s.payload);
        v(s.payload).ok++;
      } else if (s.line === 'RDY') {
        // a power cycle ends the session with the module's RAM (behaviour §7): the boot lines
        // are the host's notice that whatever was still waiting for its PUBACK is unconfirmed
        for (const p of waiting.splice(0)) {
          v(p).lost++;
          verdictTotals.rebooted++;
        }
      } else if (s.line === 'PUBACK' || s.line === 'ERROR') {
        const p = waiting.shift();
        expect(p, `a ${s.line} for no publish the host was told OK for`).toBeDefined();
        if (s.line === 'PUBACK') {
          v(p!).acked++;
          verdictTotals.acked++;
        } else {
          v(p!).lost++;
          verdictTotals.lost++;
        }
      }
    }
    expect(waiting, 'publishes OK\'d that never got PUBACK, ERROR or a reboot (lost silently)').toEqual([]);
    for (const [payload, x] of verdicts) {
      const got = far.received(flow.up, payload);
      expect(got, `"${payload}": PUBACKed ${x.acked}×, far side received ${got}×`).toBeGreaterThanOrEqual(x.acked);
      expect(got, `"${payload}": OK'd ${x.ok}×, far side received ${got}× (more than was sent)`).toBeLessThanOrEqual(x.ok);
    }
  }
  expect(m.kernel.holdsOpen, 'no I/O hold left open').toBe(0);
}

// ---- the table ------------------------------------------------------------------------------------

for (const flow of FLOWS) {
  describe(flow.name, () => {
    for (const fault of MATRIX_FAULTS) {
      for (const at of positions(flow).filter((p) => flow.faultParts?.includes(p.part) ?? true)) {
        const r = reaction(fault, at.link);
        const then = GOES_ON.includes(r) ? 'the flow goes on and completes' : `part "${flow.parts[at.part]!.name}" (or the next) runs again and the flow completes`;
        const q = flow.qos1 ? '; QoS 1: one verdict (PUBACK, ERROR, reboot) per OK, PUBACKed ⊆ far-side received ⊆ OK\'d' : '';
        it(`${FAULT_TEXT[fault]} × after step ${at.index + 1} (${describeStep(at.step)}): ${REACTION_TEXT[r]}; ${then}${q}`, () => runCase(flow, fault, at));
        if ((fault === 'tcpDrop' || fault === 'brokerDown') && at.step.kind === 'send' && at.step.publishes !== undefined) {
          const name = `${FAULT_TEXT[fault]} × at the instant of the OK of step ${at.index + 1} (${describeStep(at.step)}), before its PUBLISH reached the broker: CLOSED, ERROR or PUBACK; ${then}${q}`;
          it(name, () => runCase(flow, fault, at, true));
        }
      }
    }
  });
}

describe('the matrix as a whole', () => {
  it('reached every verdict a QoS 1 publish can get: PUBACK, ERROR (the ack lost with the link) and a reboot', () => {
    console.log(`QoS 1 verdicts over the matrix: ${verdictTotals.acked} PUBACK, ${verdictTotals.lost} ERROR, ${verdictTotals.rebooted} ended by a reboot`);
    expect(verdictTotals.acked).toBeGreaterThan(0);
    expect(verdictTotals.lost).toBeGreaterThan(0);
    expect(verdictTotals.rebooted).toBeGreaterThan(0);
  });
});
