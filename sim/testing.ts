/**
 * Test helpers for a driver of your own, for vitest or any other runner (no test framework is
 * imported here): `startTestModem()` builds a modem on free-running virtual time, registered in
 * the serialport binding under a path of its own, with an embedded broker on ephemeral loopback
 * ports and a far-side `mqtt` client standing for the server application; it awaits states of
 * the model, injects faults, reads the trace, and `dispose()` leaves no socket, timer or
 * temporary file behind.
 *
 * The far side lives outside the model (real sockets): its waits first hold model time still
 * for a bounded wall time, as `runFaultTimeline`'s `far:` steps do, so a message the modem has
 * already sent is seen at the instant it left, on every run.
 */
import { reached } from './scenario/common-steps.js';
import type { UntilState } from './scenario/types.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { ModemBinding, type ModemRegistry } from './binding/binding.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/index.js';
import type { ModemFaults } from './faults/index.js';
import { notifiedWithin, kernelWokenWithin } from './faults/wall.js';
import { NS_PER_MS, sec, type Ns } from './kernel.js';
import type { Modem, ModemOptions } from './modem.js';
import { mqttOptionsFromBroker } from './mqtt/options.js';
import type { TraceRecord } from './trace.js';

export interface TestModemOptions {
  /** The binding name: the modem opens as `modemsim://NAME` (default: `test-<pid>-<n>`). */
  name?: string;
  /** The registry to register in (default: the process-wide `ModemBinding`). */
  binding?: ModemRegistry;
  /** Start an embedded broker and route every MIPSTART to it (default true). */
  broker?: boolean;
  /** A far-side mqtt client on that broker, subscribed to these topics (default: one, subscribed to nothing). */
  far?: { subscribe?: readonly string[] } | false;
  /**
   * Options of the modem (`seed`, `profile`, `profileOverrides`, `freeRun` …). The clock is
   * `free` unless said otherwise; the trace is kept in memory; `mqtt` and `broker` are filled
   * in from the embedded broker.
   */
  modem?: ModemOptions;
}

/** What `until` waits for: a state of the model, or the number AT+MQTTSTATU would print. */
export type TestModemState = UntilState | { mqttStatus: 0 | 1 | 2 };

export interface FarMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

/** Wall time the far side is given, model time standing still, for what is already on its way. */
const FAR_STILL_WALL_MS = 2000;

let started = 0;

/** The server application's side: a plain mqtt client on the embedded broker. */
export class TestFarSide {
  /** Every message received, in arrival order. */
  readonly messages: FarMessage[] = [];
  private listeners = new Set<() => void>();
  private target: Modem | undefined;

  constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: Buffer.from(payload), qos: packet.qos, retain: packet.retain });
      for (const l of [...this.listeners]) l();
    });
    // a broker outage (brokerDown) cuts this client too: that is the fault, not a test error
    client.on('error', () => undefined);
  }

  /** The modem whose model time the far side's waits hold and wake. */
  attach(modem: Modem): void {
    this.target = modem;
  }

  private get modem(): Modem {
    if (this.target === undefined) throw new Error('the far side is not attached to a modem yet');
    return this.target;
  }

  async subscribe(topic: string, qos: 0 | 1 | 2 = 0): Promise<void> {
    await this.client.subscribeAsync(topic, { qos });
  }

  /**
   * Publish to the modem. Model time stands still while the broker forwards it (bounded), so
   * the modem receives it at the instant of this call and prints `+MSUB` from there.
   */
  async publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1 | 2; retain?: boolean } = {}): Promise<void> {
    const m = this.modem;
    const hold = m.kernel.hold('far-publish');
    try {
      const delivered = m.mqtt.link.phase === 'session' ? kernelWokenWithin(m.kernel, FAR_STILL_WALL_MS) : Promise.resolve(false);
      await this.client.publishAsync(topic, typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload, { qos: opts.qos ?? 0, retain: opts.retain ?? false });
      await delivered;
    } finally {
      hold.release();
    }
  }

  /**
   * The messages on `topic` once there are `count` of them. First waits up to 2 s of wall time
   * with model time still (what the modem sent already), then lets model time run, up to
   * `within` of it, while the driver goes on. Rejects naming what arrived.
   */
  async waitFor(topic: string, count = 1, within: Ns = sec(60)): Promise<FarMessage[]> {
    const m = this.modem;
    const got = (): FarMessage[] => this.messages.filter((x) => x.topic === topic);
    if (got().length < count) {
      const hold = m.kernel.hold('far-receive');
      try {
        await notifiedWithin((notify) => this.listen(() => got().length >= count && notify()), FAR_STILL_WALL_MS);
      } finally {
        hold.release();
      }
    }
    if (got().length < count) {
      // each arrival enters model time, so the clock's wait sees it at once
      const off = this.listen(() => m.clock.inject('far-rx', () => undefined));
      try {
        await m.clock.waitUntil(() => got().length >= count, within);
      } finally {
        off();
      }
    }
    const all = got();
    if (all.length < count) throw new Error(`expected ${count} message(s) on ${JSON.stringify(topic)} at the far side, got ${all.length}`);
    return all.slice(0, count);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.client.endAsync(true);
  }

  private listen(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

export interface TestModem {
  readonly modem: Modem;
  /** What the driver opens: `modemsim://NAME`. */
  readonly path: string;
  readonly name: string;
  /** The embedded broker (undefined with `broker: false`). */
  readonly broker: EmbeddedBroker | undefined;
  /** The far-side client (undefined with `broker: false` or `far: false`). */
  readonly far: TestFarSide | undefined;
  /** `modem.faults`: pdpDeact, detach, deregister, register, signal, reboot, tcpDrop, brokerDown, brokerUp. */
  readonly faults: ModemFaults;
  /** Resolves once the state holds; rejects after `within` of model time (default 60 s). */
  until(state: TestModemState, within?: Ns): Promise<void>;
  /** Let `ms` of model time pass (for a driver's poll period in a test: never a wall timer). */
  sleep(ms: number): Promise<void>;
  /** Model time, ns since power-on. */
  now(): Ns;
  /** Every byte the modem printed to the host since it was built. */
  output(): string;
  /** The trace records so far. */
  trace(): readonly TraceRecord[];
  /** Close the port (if open), the far side, the modem and the broker; remove the broker's temporary directory. */
  dispose(): Promise<void>;
}

function holds(m: Modem, state: TestModemState): boolean {
  return typeof state === 'object' ? m.mqtt.link.status === state.mqttStatus : reached(m, state);
}

const describeState = (s: TestModemState): string => (typeof s === 'object' ? `+MQTTSTATU :${s.mqttStatus}` : s);

/**
 * Start a modem (+ broker + far side) for a driver under test; `dispose()` it after the test.
 * The modem powers on as this resolves: open the driver's port right away (in the test, not at
 * a module's top level), or the boot lines go out with no host attached, as on a UART unplugged.
 */
export async function startTestModem(opts: TestModemOptions = {}): Promise<TestModem> {
  const binding = opts.binding ?? ModemBinding;
  const name = opts.name ?? `test-${process.pid}-${++started}`;
  const wantBroker = opts.broker ?? true;
  let dir: string | undefined;
  let broker: EmbeddedBroker | undefined;
  let modem: Modem | undefined;
  let far: TestFarSide | undefined;
  let untap: (() => void) | undefined;
  let printed = '';
  let disposed = false;

  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    untap?.();
    await binding.port(name)?.close();
    if (modem !== undefined && binding.modem(name) === modem) binding.unregister(name);
    await far?.close();
    await modem?.close();
    // a brokerDown the test left in place: resumed so close() finds it whole
    await modem?.faults.restoreBroker();
    await broker?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (wantBroker) {
      dir = mkdtempSync(join(tmpdir(), 'modemsim-test-'));
      broker = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: dir });
    }
    if (broker !== undefined && opts.far !== false) {
      const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clientId: `modemsim-far-${name}`, connectTimeout: 5000 });
      far = new TestFarSide(client);
      for (const t of opts.far?.subscribe ?? []) await far.subscribe(t);
    }
    const modemOpts: ModemOptions = { clock: 'free', traceMemory: true, ...opts.modem };
    if (broker !== undefined) {
      modemOpts.mqtt = { ...mqttOptionsFromBroker(broker), ...opts.modem?.mqtt };
      modemOpts.broker = broker;
    }
    // built last, with nothing awaited after it: power-on is the instant the caller gets it back,
    // and model time runs only once the caller is idle (a driver opening its port is not)
    modem = binding.create(name, modemOpts);
    const m = modem;
    far?.attach(m);
    untap = m.tapHostBytes((b) => (printed += String.fromCharCode(b)));
    return {
      modem: m,
      path: `modemsim://${name}`,
      name,
      broker,
      far,
      faults: m.faults,
      async until(state, within = sec(60)) {
        if (!(await m.clock.waitUntil(() => holds(m, state), within))) {
          throw new Error(`expected ${describeState(state)} within ${Number(within) / 1e9} s of model time, got it not`);
        }
      },
      sleep: (ms) => m.clock.advance(Math.round(ms * NS_PER_MS)),
      now: () => m.kernel.now,
      output: () => printed,
      trace: () => m.trace.records,
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
