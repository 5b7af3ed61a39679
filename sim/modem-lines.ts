/**
 * The modem's side of the RS-232 control circuits: DTR, RTS (and a break) from the host; CTS,
 * DSR, DCD and RI to it. The modem owns one (`modem.lines`); the serialport binding drives it.
 *
 * - DTR off (from on) does what AT&D says: nothing, or the MQTT link closes silently as by
 *   AT+MIPCLOSE (`lines.dtrDrop` at power-on).
 * - With AT+IFC=2,x, RTS off holds the module's output: the byte on the wire finishes, the rest
 *   waits in the TX FIFO, in order, until RTS is back on.
 * - With AT+IFC=x,2, CTS goes off while the module's receive buffer is past its high-water mark
 *   and back on at its low-water mark (the UART's own thresholds).
 * - DSR is on once the module is up (after RDY); DCD per AT&C: always, or while the data bearer
 *   is up. Both are read when asked, not traced.
 * - RI is asserted for `lines.riPulse` on each URC the profile names (a URC during a pulse
 *   extends it). Only while a host with lines is attached: the pty and TCP links carry no
 *   lines, and a modem without such a host keeps its trace and event queue as before.
 *
 * Host-driven changes must be applied inside model time (the binding injects them through the
 * clock), so every change has a model instant; each one that changes a level is traced as
 * `{ev: 'state', what: 'line.<name>', from, to}`.
 */
import { Priority, type Kernel, type TimerHandle } from './kernel.js';
import type { Profile } from './profile.js';
import type { HostOutput } from './service.js';
import { circuitDefaults, type CircuitSettings, type CircuitSettingsSource } from './services/lines.js';
import type { Trace } from './trace.js';

/** Levels the module drives, as the host reads them (true = on / asserted). */
export interface LineStatus {
  cts: boolean;
  dsr: boolean;
  dcd: boolean;
  ri: boolean;
}

/** Levels the host drives. */
export interface HostLines {
  dtr: boolean;
  rts: boolean;
  brk: boolean;
}

export type LineName = keyof LineStatus | keyof HostLines;

/** The UART hooks flow control needs (sim/uart.ts has them). */
export interface FlowControlUart {
  /** No new byte for the host starts while true; the one on the wire finishes. */
  txPaused: boolean;
  /** Host input crossed the high-water mark (true) or drained to the low-water mark (false). */
  onRxPressure: ((high: boolean) => void) | undefined;
}

/** What the lines read and act on; the modem wires these. */
export interface LinesWiring {
  readonly kernel: Kernel;
  readonly trace: Pick<Trace, 'record' | 'enabled'>;
  readonly profile: Profile;
  readonly uart: FlowControlUart;
  /** AT&D, AT&C, AT+IFC (the lines group); absent: the profile's power-on values, for good. */
  readonly settings: CircuitSettingsSource | undefined;
  /** The module is up (DSR). */
  ready(): boolean;
  /** The data bearer is up (DCD under AT&C1). */
  carrier(): boolean;
  /** DTR drop under AT&D2: close the data link without a URC; what was closed, if anything. */
  hangUp(): string | undefined;
}

export class ModemLines {
  /** Undriven lines read as on, so a host without lines (pty, TCP, `modem.host`) is never held. */
  private readonly host: HostLines = { dtr: true, rts: true, brk: false };
  private rxFull = false;
  private cts = true;
  private held = false;
  private ri = false;
  private riEnd: TimerHandle | undefined;
  private attached = 0;
  private listeners: Array<(line: LineName, on: boolean) => void> = [];
  private readonly defaults: CircuitSettings;

  constructor(private readonly w: LinesWiring) {
    this.defaults = circuitDefaults(w.profile);
    // a link that also watches the pressure keeps being told
    const before = w.uart.onRxPressure;
    w.uart.onRxPressure = (high) => {
      before?.(high);
      this.rxFull = high;
      this.apply();
    };
    w.settings?.onCircuitsChanged(() => this.apply());
    this.apply();
  }

  get circuits(): Readonly<CircuitSettings> {
    return this.w.settings?.circuits ?? this.defaults;
  }

  /** What the host reads now. */
  status(): LineStatus {
    return { cts: this.cts, dsr: this.w.ready(), dcd: this.circuits.dcd === 0 || this.w.carrier(), ri: this.ri };
  }

  /** What the host drives now. */
  hostLines(): Readonly<HostLines> {
    return this.host;
  }

  /** True while RTS off holds the module's output. */
  get outputHeld(): boolean {
    return this.held;
  }

  /** Told of every level change (module and host lines); returns how to stop. */
  onChange(fn: (line: LineName, on: boolean) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  /** A host with modem lines is connected; RI is modelled while one is. Returns the detach. */
  attach(): () => void {
    this.attached++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.attached > 0) return;
      this.riEnd?.cancel();
      this.riEnd = undefined;
      this.setRi(false);
    };
  }

  /** The host sets its lines (call inside model time: a kernel event). */
  setHost(change: Partial<HostLines>): void {
    const wasDtr = this.host.dtr;
    for (const line of ['dtr', 'rts', 'brk'] as const) {
      const v = change[line];
      if (v === undefined || v === this.host[line]) continue;
      this.host[line] = v;
      this.changed(line, !v, v);
    }
    if (wasDtr && !this.host.dtr && this.circuits.dtrDrop === 'hangup') {
      const closed = this.w.hangUp();
      if (this.w.trace.enabled) this.w.trace.record({ t: this.w.kernel.now, ev: 'state', what: 'line.dtr-hangup', to: closed ?? 'nothing open' });
    }
    this.apply();
  }

  /** A URC was raised (the modem taps the host output): RI pulses if the profile says so. */
  urc(text: string): void {
    const { riPulse, riUrcs } = this.w.profile.lines;
    if (this.attached === 0 || riPulse <= 0) return;
    if (riUrcs !== 'all' && !riUrcs.some((p) => text.startsWith(p))) return;
    this.riEnd?.cancel();
    this.setRi(true);
    this.riEnd = this.w.kernel.after(
      riPulse,
      () => {
        this.riEnd = undefined;
        this.setRi(false);
      },
      'ri-pulse-end',
      Priority.late,
    );
  }

  private setRi(on: boolean): void {
    if (this.ri === on) return;
    this.ri = on;
    this.changed('ri', !on, on);
  }

  /** Derived levels follow the settings, the host's RTS and the receive buffer. */
  private apply(): void {
    const c = this.circuits;
    const cts = !c.ctsFollowsRx || !this.rxFull;
    if (cts !== this.cts) {
      this.cts = cts;
      this.changed('cts', !cts, cts);
    }
    const held = c.rtsHoldsOutput && !this.host.rts;
    if (held !== this.held) {
      this.held = held;
      this.w.uart.txPaused = held;
      if (this.w.trace.enabled) this.w.trace.record({ t: this.w.kernel.now, ev: 'state', what: 'uart.tx', from: held ? 'flowing' : 'held', to: held ? 'held' : 'flowing' });
    }
  }

  private changed(line: LineName, from: boolean, to: boolean): void {
    if (this.w.trace.enabled) this.w.trace.record({ t: this.w.kernel.now, ev: 'state', what: `line.${line}`, from, to });
    for (const f of [...this.listeners]) f(line, to);
  }
}

/** The host output of the services, with every URC also told to `onUrc` (RI). */
export function tapUrcs(out: HostOutput, onUrc: (text: string) => void): HostOutput {
  return {
    urc(text) {
      onUrc(text);
      out.urc(text);
    },
    urcWithPayload(head, payload) {
      onUrc(head);
      out.urcWithPayload(head, payload);
    },
    sendRaw: (bytes) => out.sendRaw(bytes),
    afterLine: (fn) => out.afterLine(fn),
    get outputBacklog() {
      return out.outputBacklog;
    },
    get heldUrcCount() {
      return out.heldUrcCount;
    },
  };
}
