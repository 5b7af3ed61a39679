/**
 * Faults as methods of the model: `modem.faults.pdpDeact()`, `.tcpDrop()`, `.apply(fault)` …
 * Each brings itself into model time, so a test may call it from anywhere — between host
 * exchanges, from a socket callback, from inside a kernel event — and the scenario player and
 * the control endpoint are thin callers of the same code.
 *
 * Network-side faults run as a kernel event injected at the current instant, traced there as a
 * `fault` record. Broker-side ones act on real sockets: the call waits, with model time standing
 * still, until the modem's side of the socket has noticed (bounded by wall time), so the drop
 * enters the model at the fault's instant on every run.
 */
import type { ClockDriver } from '../clock.js';
import { type Kernel, type Ns, type TimerHandle, sec } from '../kernel.js';
import type { LinkPhase } from '../mqtt/link.js';
import type { CellChange, NoServiceStat } from '../network/cell.js';
import type { SignalChange } from '../network/signal.js';
import type { Trace } from '../trace.js';
import { describeFault, Fault, faultDetail, FaultKind, type FaultTrigger, lineMatches } from './spec.js';
import { NOTHING_TO_WATCH, watchKernelWake } from './wall.js';

export { describeFault, FAULT_KINDS, faultDetail, FaultSpecError, lineMatches, parseFault, parseTrigger } from './spec.js';
export type { Fault, FaultKind, FaultTrigger } from './spec.js';

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
  readonly link: { readonly phase: LinkPhase };
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
}

/** The parts of a modem faults act on (a Modem is one). */
export interface FaultTarget {
  readonly clock: ClockDriver;
  readonly kernel: Pick<Kernel, 'now' | 'onWake' | 'after' | 'prng'>;
  readonly uart: FaultUart;
  /** The AT engine's latency scale (1: as the profile says). */
  readonly engine: { latencyFactor: number; onLine: ((text: string) => void) | undefined };
  readonly trace: Pick<Trace, 'record'>;
  readonly network: RadioNetworkEvents;
  readonly pdp: PacketNetworkEvents;
  readonly mqtt: MqttFaultView;
  /** As by AT+RESET: after the current output has left. */
  reboot(): void;
  /** At once: queued output gone, RAM state lost, boots again after the reset delay. */
  powerLoss(): void;
}

/** A fault waiting for its command; `settle` ends the promise `on` returned. */
interface Armed {
  trigger: FaultTrigger;
  fault: Fault;
  left: number;
  settle: { resolve(text: string): void; reject(err: unknown): void };
}

type BrokerFault = Extract<Fault, { kind: 'tcpDrop' | 'brokerDown' | 'brokerUp' }>;
type NetworkFault = Exclude<Fault, BrokerFault>;
/** The arguments of one kind of fault. */
export type FaultArgs<K extends FaultKind> = Omit<Extract<Fault, { kind: K }>, 'kind'>;

const isBrokerFault = (f: Fault): f is BrokerFault => f.kind === 'tcpDrop' || f.kind === 'brokerDown' || f.kind === 'brokerUp';

/** Wall time a dropped socket is given to be noticed by the modem's side. */
const DROP_NOTICE_WALL_MS = 2000;
/** Real time: how long an injected fault may wait for the clock's next tick (it takes ~0). */
const REALTIME_ENTRY_LIMIT = sec(10);

export class ModemFaults {
  private broker: FaultBroker | undefined;
  /** The broker brokerDown paused, until brokerUp (or restoreBroker) resumes it. */
  private paused: FaultBroker | undefined;
  /** A freeze in progress: its end, the timer that ends it, and the output hold it found. */
  private freezing: { until: Ns; timer: TimerHandle; wasPaused: boolean } | undefined;
  /** A slow window in progress: the timer that ends it. */
  private slowing: TimerHandle | undefined;
  /**
   * A replay sets this: the RX bytes of noise faults come back as the trace's `rx` records, so
   * the fault only records itself and sends its toHost bytes.
   */
  noiseRxFromTrace = false;
  /** Faults armed to fire on a host command, each with the matching lines still to come. */
  private armed: Armed[] = [];

  constructor(
    private readonly target: FaultTarget,
    /** Absent when the modem talks to an external broker: broker faults then cannot apply. */
    broker?: FaultBroker,
  ) {
    this.broker = broker;
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

  /**
   * Arm `fault` to apply when the host completes the trigger's command line for the `nth` time
   * (counted from now), at that instant: the command has queued, so a powerLoss or freeze meets
   * it running. Resolves with the description once applied; returns at once with `disarm`.
   */
  on(trigger: FaultTrigger, fault: Fault): { fired: Promise<string>; disarm(): void } {
    let settle: Armed['settle'] = { resolve: () => undefined, reject: () => undefined };
    const fired = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
    // nobody need wait for it: an unheard rejection is not a crash
    fired.catch(() => undefined);
    const entry: Armed = { trigger, fault, left: trigger.nth, settle };
    this.armed.push(entry);
    this.target.engine.onLine ??= (text) => this.sawLine(text);
    return { fired, disarm: () => (this.armed = this.armed.filter((a) => a !== entry)) };
  }

  private sawLine(text: string): void {
    for (const a of [...this.armed]) {
      if (!lineMatches(a.trigger, text) || --a.left > 0) continue;
      this.armed = this.armed.filter((x) => x !== a);
      const { settle } = a;
      this.apply(a.fault).then(
        (t) => settle.resolve(t),
        (err: unknown) => {
          this.target.trace.record({ t: this.target.kernel.now, ev: 'fault', what: 'trigger-failed', detail: { fault: describeFault(a.fault), error: String(err) } });
          settle.reject(err);
        },
      );
    }
  }

  /** While a freeze runs: the firmware takes no input (the engine's gate asks). */
  get frozen(): boolean {
    return this.freezing !== undefined;
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
        this.startFreeze(f.for);
        return undefined;
      case 'noise':
        this.inject(f);
        return undefined;
      case 'slow':
        this.slowing?.cancel();
        m.engine.latencyFactor = f.factor;
        this.slowing = m.kernel.after(
          f.for,
          () => {
            this.slowing = undefined;
            m.engine.latencyFactor = 1;
          },
          'fault:slow-over',
        );
        return undefined;
      case 'powerLoss':
        // a hung firmware does not outlive its power: it boots afresh
        this.endFreeze();
        m.powerLoss();
        return undefined;
    }
  }

  private startFreeze(forNs: Ns): void {
    const m = this.target;
    const until = m.kernel.now + forNs;
    const running = this.freezing;
    // overlapping freezes: the module resumes when the later one ends
    if (running !== undefined && running.until >= until) return;
    running?.timer.cancel();
    const wasPaused = running?.wasPaused ?? m.uart.txPaused;
    m.uart.txPaused = true;
    this.freezing = { until, wasPaused, timer: m.kernel.after(forNs, () => this.endFreeze(), 'fault:freeze-over') };
  }

  private endFreeze(): void {
    const running = this.freezing;
    if (running === undefined) return;
    this.freezing = undefined;
    running.timer.cancel();
    const m = this.target;
    m.trace.record({ t: m.kernel.now, ev: 'fault', what: 'freeze-over', detail: {} });
    // what flow control held before the freeze stays held
    m.uart.txPaused = running.wasPaused;
  }

  /** Seeded streams of their own, so a replay that feeds the RX part from the trace draws the same toHost bytes. */
  private inject(f: Extract<Fault, { kind: 'noise' }>): void {
    const m = this.target;
    const rx: number[] = [];
    if (f.burst !== undefined) for (let i = 0; i < f.burst.length; i += 2) rx.push(parseInt(f.burst.slice(i, i + 2), 16));
    if (f.bytes !== undefined) {
      const s = m.kernel.prng.stream('fault:noise:rx');
      for (let i = 0; i < f.bytes; i++) rx.push(s.int(0, 255));
    }
    if (rx.length > 0 && !this.noiseRxFromTrace) m.uart.receive(Uint8Array.from(rx));
    if (f.toHost !== undefined) {
      const s = m.kernel.prng.stream('fault:noise:host');
      const out = new Uint8Array(f.toHost);
      for (let i = 0; i < out.length; i++) out[i] = s.int(0, 255);
      m.uart.send(out);
    }
  }
}
