/**
 * Faults as methods of the model: `modem.faults.pdpDeact()`, `.tcpDrop()`, `.apply(fault)` …
 * Each brings itself into model time, so a test may call it from anywhere — between host
 * exchanges, from a socket callback, from inside a kernel event — and the scenario player and
 * the control endpoint are thin callers of the same code.
 *
 * Network-side faults run as a kernel event injected at the current instant, traced there as a
 * `fault` record. Broker-side ones act on real sockets: the call waits, with model time standing
 * still, until the modem's side of the socket has noticed (bounded by wall time), so the drop
 * enters the model at the fault's instant on every run. Faults that last (slow, uartFragment,
 * brokerSlow) end by a kernel timer; armed faults fire on their trigger (triggers.ts).
 */
import type { ClockDriver } from '../clock.js';
import { type Kernel, type Ns, sec } from '../kernel.js';
import type { TxSpacing } from '../uart.js';
import type { LinkPhase } from '../mqtt/link.js';
import type { CellChange, NoServiceStat } from '../network/cell.js';
import type { SignalChange } from '../network/signal.js';
import type { Trace } from '../trace.js';
import { TxBursts } from './bursts.js';
import { corruptLine, Freeze, injectNoise } from './line.js';
import { describeFault, Fault, faultDetail, FaultKind } from './spec.js';
import { FaultTriggers } from './triggers.js';
import { type FaultTrigger, parseTrigger } from './trigger-spec.js';
import { NOTHING_TO_WATCH, watchKernelWake } from './wall.js';
import { FaultWindow } from './window.js';

export { describeFault, FAULT_KINDS, faultDetail, FaultSpecError, parseFault } from './spec.js';
export type { Fault, FaultKind } from './spec.js';
export { describeArmed, describeTrigger, lineMatches, parseTrigger, stateMatches, urcMatches } from './trigger-spec.js';
export type { FaultTrigger, StateValue } from './trigger-spec.js';

/** A fault that cannot apply; the message reads `expected …, got …`. */
export class FaultError extends Error {}

/** The network side of the radio (NetworkService's network-side events). */
export interface RadioNetworkEvents {
  deregister(opts: { stat?: NoServiceStat }): void;
  register(change: CellChange): void;
  setSignal(change: SignalChange): void;
}

/** The network side of the packet domain (PdpService's network-side events). */
export interface PacketNetworkEvents {
  /** False when no such context is active. */
  networkDeactivate(cid?: number): boolean;
  /** False when the module is not attached. */
  networkDetach(): boolean;
}

/** What broker faults read of the modem's MQTT side. */
export interface MqttFaultView {
  /** The id the broker knows the module by: the running session's, else AT+MCONFIG's. */
  readonly clientId: string;
  /** `replyDelay`: the brokerSlow fault's delay of everything the broker sends (0: none). */
  readonly link: { readonly phase: LinkPhase; replyDelay: Ns };
}

/** The broker a modem's MQTT links reach, as far as faults act on it (EmbeddedBroker is one). */
export interface FaultBroker {
  /** Cut this client's TCP link (no DISCONNECT); false when no such client is connected. */
  disconnectClient(clientId: string): boolean;
  /** Stop listening and cut every connection. */
  pause(): Promise<void>;
  /** Listen again on the same ports. */
  resume(): Promise<void>;
}

/** The module's UART as the line faults act on it (a Uart is one). */
export interface FaultUart {
  /** Bytes arriving at the module's RX now (through the line, traced as `rx`). */
  receive(bytes: Uint8Array): void;
  /** Bytes queued for the host. */
  send(frame: Uint8Array): void;
  /** No new byte for the host starts while set (shared with RTS flow control). */
  txPaused: boolean;
  /** Where each byte for the host starts (the uartFragment fault's bursts); unset: back to back. */
  txSpacing: TxSpacing | undefined;
  /** Each byte as it arrives across a noisy line (the noise fault's `rate`); unset: as sent. */
  rxCorrupt: ((b: number) => number) | undefined;
  txCorrupt: ((b: number) => number) | undefined;
}

/** The parts of a modem faults act on (a Modem is one). */
export interface FaultTarget {
  readonly clock: ClockDriver;
  readonly kernel: Pick<Kernel, 'now' | 'onWake' | 'after' | 'prng' | 'hold'>;
  readonly uart: FaultUart;
  /** The AT engine's latency scale (1: as the profile says). */
  readonly engine: { latencyFactor: number; onLine: ((text: string) => void) | undefined };
  readonly trace: Pick<Trace, 'record' | 'onRecord'>;
  readonly network: RadioNetworkEvents;
  readonly pdp: PacketNetworkEvents;
  readonly mqtt: MqttFaultView;
  /** As by AT+RESET: after the current output has left. */
  reboot(): void;
  /** At once: queued output gone, RAM state lost, boots again after the reset delay. */
  powerLoss(): void;
}

type BrokerFault = Extract<Fault, { kind: 'tcpDrop' | 'brokerDown' | 'brokerUp' }>;
type NetworkFault = Exclude<Fault, BrokerFault>;
/** Ends the promise `on` returned. */
type Settle = { resolve(text: string): void; reject(err: unknown): void };
/** The arguments of one kind of fault. */
export type FaultArgs<K extends FaultKind> = Omit<Extract<Fault, { kind: K }>, 'kind'>;

const isBrokerFault = (f: Fault): f is BrokerFault => f.kind === 'tcpDrop' || f.kind === 'brokerDown' || f.kind === 'brokerUp';

/** Wall time a dropped socket is given to be noticed by the modem's side. */
const DROP_NOTICE_WALL_MS = 2000;
/** Real time: how long an injected fault may wait for the clock's next tick (it takes ~0). */
const REALTIME_ENTRY_LIMIT = sec(10);
/** Wall time a broker fault fired by a trigger may hold model time while the broker acts. */
const TRIGGERED_BROKER_HOLD_MS = 10_000;

export class ModemFaults {
  private broker: FaultBroker | undefined;
  /** The broker brokerDown paused, until brokerUp (or restoreBroker) resumes it. */
  private paused: FaultBroker | undefined;
  /** The freeze fault: the firmware hung, output held. */
  private readonly freezing: Freeze;
  /** The faults that last, each ended by its own timer. */
  private readonly slowing: FaultWindow;
  private readonly fragmenting: FaultWindow;
  private readonly brokerSlowing: FaultWindow;
  /** A noise fault's window of corrupted bytes (`rate`, `for`). */
  private readonly noisy: FaultWindow;
  /**
   * A replay sets this: the RX bytes of noise faults come back as the trace's `rx` records, so
   * the fault only records itself and sends its toHost bytes.
   */
  noiseRxFromTrace = false;
  /** Faults armed to fire on a trigger. */
  private readonly triggers: FaultTriggers;

  constructor(
    private readonly target: FaultTarget,
    /** Absent when the modem talks to an external broker: broker faults then cannot apply. */
    broker?: FaultBroker,
  ) {
    this.broker = broker;
    this.triggers = new FaultTriggers(target);
    this.freezing = new Freeze(target);
    const m = target;
    const window = (kind: FaultKind, end: () => void, traced = true): FaultWindow => new FaultWindow(m.kernel, m.trace, kind, end, traced);
    this.slowing = window('slow', () => (m.engine.latencyFactor = 1), false);
    this.fragmenting = window('uartFragment', () => (m.uart.txSpacing = undefined));
    this.brokerSlowing = window('brokerSlow', () => (m.mqtt.link.replyDelay = 0));
    this.noisy = window('noise', () => {
      m.uart.rxCorrupt = undefined;
      m.uart.txCorrupt = undefined;
    });
  }

  /** The embedded broker tcpDrop, brokerDown and brokerUp act on (undefined: an external one). */
  useBroker(broker: FaultBroker | undefined): void {
    this.broker = broker;
  }

  /** The network releases a context (default: the lowest active): `+PDP DEACT`. */
  pdpDeact(cid?: number): Promise<string> {
    return this.apply(cid === undefined ? { kind: 'pdpDeact' } : { kind: 'pdpDeact', cid });
  }

  /** The network detaches the module: every context goes as by pdpDeact. */
  detach(): Promise<string> {
    return this.apply({ kind: 'detach' });
  }

  /** Coverage lost: registration goes to `stat` (default 2, searching), contexts lost. */
  deregister(opts: FaultArgs<'deregister'> = {}): Promise<string> {
    return this.apply({ kind: 'deregister', ...opts });
  }

  /** Coverage back, or a cell change while registered. */
  register(change: FaultArgs<'register'> = {}): Promise<string> {
    return this.apply({ kind: 'register', ...change });
  }

  /** What AT+CSQ reads from now on. */
  signal(change: FaultArgs<'signal'>): Promise<string> {
    return this.apply({ kind: 'signal', ...change });
  }

  /** The module reboots as by AT+RESET. */
  reboot(): Promise<string> {
    return this.apply({ kind: 'reboot' });
  }

  /** The firmware hangs for `forNs`: input bytes lost, output held; then it carries on. */
  freeze(forNs: Ns): Promise<string> {
    return this.apply({ kind: 'freeze', for: forNs });
  }

  /** Line noise: garbage into the module's RX (`bytes` random, `burst` hex) and/or to the host. */
  noise(opts: FaultArgs<'noise'>): Promise<string> {
    return this.apply({ kind: 'noise', ...opts });
  }

  /** Every latency `factor` times the profile's for `forNs`; a new slow replaces the one running. */
  slow(factor: number, forNs: Ns): Promise<string> {
    return this.apply({ kind: 'slow', factor, for: forNs });
  }

  /** Power cut: no more output, RAM state lost, flash kept; RDY again after the reset delay. */
  powerLoss(): Promise<string> {
    return this.apply({ kind: 'powerLoss' });
  }

  /** For `forNs` the host gets the output in bursts of `chunk` bytes with `gap` of silence between. */
  uartFragment(opts: FaultArgs<'uartFragment'>): Promise<string> {
    return this.apply({ kind: 'uartFragment', ...opts });
  }

  /** For `forNs` every reply of the broker enters the model `delay` after it arrived. */
  brokerSlow(delay: Ns, forNs: Ns): Promise<string> {
    return this.apply({ kind: 'brokerSlow', delay, for: forNs });
  }

  /**
   * Arm `fault` to apply on the trigger's `nth` match (default 1, counted from now): the host
   * completing a command line (`{command: '+MPUB'}`: the line has queued, so a powerLoss or
   * freeze meets it running), the module emitting a URC (`{urc: 'CONNACK OK'}`: the URC has
   * queued for the host, or is held behind a running command), or a state record
   * (`{state: 'mqtt-link', to: 'session'}`). It applies at that instant, in a kernel event
   * right after the one that matched; a broker fault holds model time there until the broker
   * has acted. Resolves with the description once applied; returns at once with `disarm`.
   * Throws FaultSpecError for a trigger that does not parse.
   */
  on(trigger: FaultTrigger, fault: Fault): { fired: Promise<string>; disarm(): void } {
    const spec = parseTrigger(trigger, 'faults.on');
    let settle: Settle = { resolve: () => undefined, reject: () => undefined };
    const fired = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
    // nobody need wait for it: an unheard rejection is not a crash
    fired.catch(() => undefined);
    const disarm = this.triggers.arm(spec, () => this.fire(fault, settle));
    return { fired, disarm };
  }

  /** Faults armed and not fired yet. */
  get armedCount(): number {
    return this.triggers.count;
  }

  private fire(fault: Fault, settle: Settle): void {
    // a broker fault acts on real sockets after awaits: model time must not run on meanwhile,
    // or the drop would enter wherever the clock got to
    const hold = isBrokerFault(fault) ? this.target.kernel.hold(`fault:${fault.kind}`, TRIGGERED_BROKER_HOLD_MS) : undefined;
    this.apply(fault)
      .then(
        (t) => settle.resolve(t),
        (err: unknown) => {
          this.target.trace.record({ t: this.target.kernel.now, ev: 'fault', what: 'trigger-failed', detail: { fault: describeFault(fault), error: String(err) } });
          settle.reject(err);
        },
      )
      .finally(() => hold?.release());
  }

  /** While a freeze runs: the firmware takes no input (the engine's gate asks). */
  get frozen(): boolean {
    return this.freezing.running;
  }

  /** The broker cuts the module's TCP link: `CLOSED`. Default id: `mqtt.clientId`. */
  tcpDrop(clientId?: string): Promise<string> {
    return this.apply(clientId === undefined ? { kind: 'tcpDrop' } : { kind: 'tcpDrop', clientId });
  }

  /** The broker stops listening and cuts every connection. */
  brokerDown(): Promise<string> {
    return this.apply({ kind: 'brokerDown' });
  }

  /** The broker listens again on the same ports. */
  brokerUp(): Promise<string> {
    return this.apply({ kind: 'brokerUp' });
  }

  /**
   * Apply one fault; resolves with its description (`signal (rssi: 5)`) once applied. Rejects
   * with FaultError when it cannot apply (no such context, no broker to act on …).
   */
  async apply(f: Fault): Promise<string> {
    const text = describeFault(f);
    if (!isBrokerFault(f)) {
      await this.enter(`fault:${f.kind}`, () => {
        this.record(f);
        return this.act(f);
      });
      return text;
    }
    const broker = this.broker;
    if (broker === undefined) throw new FaultError(`expected the embedded broker for ${f.kind}, got an external one`);
    switch (f.kind) {
      case 'tcpDrop':
        return `${text}: broker drops client ${await this.drop(broker, f.clientId)}`;
      case 'brokerDown':
        await this.down(broker);
        return text;
      case 'brokerUp':
        await this.up();
        return text;
    }
  }

  /** A broker left down (a failed scenario, a closing control endpoint) is brought back. */
  async restoreBroker(): Promise<void> {
    const paused = this.paused;
    if (paused === undefined) return;
    this.paused = undefined;
    await paused.resume();
  }

  private async drop(broker: FaultBroker, clientId: string | undefined): Promise<string> {
    const id = clientId ?? this.read(() => this.target.mqtt.clientId);
    await this.stamp({ kind: 'tcpDrop' }, { clientId: id });
    const noticed = watchKernelWake(this.target.kernel, DROP_NOTICE_WALL_MS);
    if (!broker.disconnectClient(id)) {
      noticed.cancel();
      throw new FaultError(`expected a client "${id}" connected to the broker, got none`);
    }
    await noticed.done;
    return id;
  }

  private async down(broker: FaultBroker): Promise<void> {
    if (this.paused !== undefined) throw new FaultError('expected the broker up before brokerDown, got it down already');
    await this.stamp({ kind: 'brokerDown' });
    const phase = this.read(() => this.target.mqtt.link.phase);
    const linked = phase === 'open' || phase === 'handshake' || phase === 'session';
    const noticed = linked ? watchKernelWake(this.target.kernel, DROP_NOTICE_WALL_MS) : NOTHING_TO_WATCH;
    // taken before the await: a second brokerDown meanwhile finds the broker down
    this.paused = broker;
    try {
      await broker.pause();
    } catch (err) {
      this.paused = undefined;
      noticed.cancel();
      throw err;
    }
    await noticed.done;
  }

  private async up(): Promise<void> {
    const paused = this.paused;
    if (paused === undefined) throw new FaultError('expected the broker down before brokerUp, got it up');
    await this.stamp({ kind: 'brokerUp' });
    await paused.resume();
    this.paused = undefined;
  }

  /** Reads of the model outside an event that may throw (a modem without that group). */
  private read<T>(get: () => T): T {
    try {
      return get();
    } catch (err) {
      throw new FaultError(err instanceof Error ? err.message : String(err));
    }
  }

  private record(f: Fault, extra: Record<string, unknown> = {}): void {
    this.target.trace.record({ t: this.target.kernel.now, ev: 'fault', what: f.kind, detail: { ...faultDetail(f), ...extra } });
  }

  /**
   * The fault record of a broker fault. Virtual time stands at the fault's instant, so it is
   * written there and then; a real-time kernel may lag the wall, so it is written from an event.
   */
  private async stamp(f: Fault, extra: Record<string, unknown> = {}): Promise<void> {
    if (this.target.clock.kind === 'virtual') this.record(f, extra);
    else {
      await this.enter(`fault:${f.kind}`, () => {
        this.record(f, extra);
        return undefined;
      });
    }
  }

  /**
   * Run `fn` as a kernel event at the current instant and wait until it ran. Virtual time then
   * runs everything else due at this instant, as a scenario step expects; real time runs it at
   * the clock's next tick. `fn` returns (or throws) the reason the fault cannot apply.
   */
  private async enter(label: string, fn: () => string | undefined): Promise<void> {
    const { clock } = this.target;
    // A real-time inject runs due events at once; called from inside an event, that would run
    // events within an event. After this await the event (and its catch-up loop) is over.
    if (clock.kind === 'realtime') await Promise.resolve();
    const outcome: { ran: boolean; problem?: string } = { ran: false };
    clock.inject(label, () => {
      outcome.ran = true;
      try {
        outcome.problem = fn();
      } catch (err) {
        outcome.problem = err instanceof Error ? err.message : String(err);
      }
    });
    if (clock.kind === 'virtual') await clock.advance(0);
    else await clock.waitUntil(() => outcome.ran, REALTIME_ENTRY_LIMIT);
    if (!outcome.ran) throw new FaultError('expected a running modem, got it closed');
    if (outcome.problem !== undefined) throw new FaultError(outcome.problem);
  }

  /** Returns a problem, or undefined when applied. */
  private act(f: NetworkFault): string | undefined {
    const m = this.target;
    switch (f.kind) {
      case 'pdpDeact':
        return m.pdp.networkDeactivate(f.cid) ? undefined : `expected an active PDP context${f.cid !== undefined ? ` ${f.cid}` : ''}, got none`;
      case 'detach':
        return m.pdp.networkDetach() ? undefined : 'expected the module attached, got detached';
      case 'deregister':
        m.network.deregister(f.stat !== undefined ? { stat: f.stat } : {});
        return undefined;
      case 'register': {
        const { kind: _kind, ...change } = f;
        m.network.register(change);
        return undefined;
      }
      case 'signal': {
        const { kind: _kind, ...change } = f;
        m.network.setSignal(change);
        return undefined;
      }
      case 'reboot':
        m.reboot();
        return undefined;
      case 'freeze':
        this.freezing.start(f.for);
        return undefined;
      case 'noise':
        injectNoise(m, f, this.noiseRxFromTrace);
        if (f.rate !== undefined && f.for !== undefined) {
          corruptLine(m, m.uart, f.rate, f.corrupt ?? 'both', this.noiseRxFromTrace);
          this.noisy.open(f.for);
        }
        return undefined;
      case 'slow':
        m.engine.latencyFactor = f.factor;
        this.slowing.open(f.for);
        return undefined;
      case 'uartFragment':
        // a fresh count: the first burst starts with the next byte
        m.uart.txSpacing = new TxBursts(f.chunk, f.gap).spacing;
        this.fragmenting.open(f.for);
        return undefined;
      case 'brokerSlow':
        // first, so a modem without MQTT refuses before a window opens
        m.mqtt.link.replyDelay = f.delay;
        this.brokerSlowing.open(f.for);
        return undefined;
      case 'powerLoss':
        // a hung firmware does not outlive its power: it boots afresh
        this.freezing.end();
        m.powerLoss();
        return undefined;
    }
  }
}
