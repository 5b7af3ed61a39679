/**
 * One open port of the serialport binding: the host's UART and modem-control side of an
 * in-process modem, as `@serialport/stream` (and so `SerialPortStream`) drives it.
 *
 * - Bytes both ways run at the rates of each side: the host's from open/update, the module's
 *   UART (AT+IPR). Equal rates pass bytes through as they are, at their instants; different
 *   rates resample the 8N1 line (resample.ts) in both directions, so a host at the wrong baud
 *   gets garbage and the module gets garbage from it, as on hardware; every framing error is a
 *   trace record (`fault`, `uart-framing-error`) and the byte is dropped.
 * - read() is answered by the module's output as it arrives, never by polling (the resampler's
 *   late sample points are model events); writes, set() and flush() enter model time through
 *   the modem's clock and resolve once applied.
 * - DTR/RTS/break go to `modem.lines`; get() reads CTS/DSR/DCD there, getLines() also RI.
 *   With `rtscts` the host's UART honours CTS (writes wait while it is off) and drops RTS while
 *   more than HOST_RX_HIGH bytes wait unread, as a Linux tty with CRTSCTS does.
 */
// the package's ESM entry has no typings of its own; its CommonJS one has them all
import type { BindingPortInterface, BindingsErrorInterface, OpenOptions, PortStatus, SetOptions, UpdateOptions } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { byteTimeNs } from '../uart.js';
import { Priority, type Ns, type TimerHandle } from '../kernel.js';
import { VirtualClock } from '../clock.js';
import type { Modem } from '../modem.js';
import type { LineName, LineStatus } from '../modem-lines.js';
import { UartReceiver, type Sampled } from './resample.js';

/** Unread bytes past which a host with rtscts drops RTS, and the level at which it raises it again. */
export const HOST_RX_HIGH = 4096;
export const HOST_RX_LOW = 1024;
/** Unread bytes the host side keeps before it overruns (what a tty buffer would lose). */
export const HOST_RX_LIMIT = 1 << 20;

/** A binding error; `canceled` marks reads and writes ended by close(), as the interface asks. */
export class ModemPortError extends Error implements BindingsErrorInterface {
  constructor(
    message: string,
    readonly canceled?: boolean,
  ) {
    super(message);
  }
}

type PendingRead = { buffer: Buffer; offset: number; length: number; resolve: (r: { buffer: Buffer; bytesRead: number }) => void; reject: (e: Error) => void };
type PendingWrite = { bytes: Uint8Array; sent: number; resolve: () => void; reject: (e: Error) => void };

export const OPEN_DEFAULTS: Omit<Required<OpenOptions>, 'path' | 'baudRate'> = {
  dataBits: 8,
  lock: true,
  stopBits: 1,
  parity: 'none',
  rtscts: false,
  xon: false,
  xoff: false,
  xany: false,
  hupcl: true,
};

export class ModemBindingPort implements BindingPortInterface {
  readonly openOptions: Required<OpenOptions>;
  isOpen = true;
  private baud: number;
  /** Unread bytes the host's UART took: a ring of rxBuffered bytes from rxHead. */
  private rx = new Uint8Array(256);
  private rxHead = 0;
  private rxBuffered = 0;
  private reading: PendingRead | undefined;
  private readonly writes: PendingWrite[] = [];
  private pumping = false;
  /** Host UART receiving the module's line, and the module's UART receiving the host's. */
  private readonly hostRx: UartReceiver;
  private readonly modemRx: UartReceiver;
  /** The host's transmitter is busy until then (resampled path only: equal rates pace in the UART). */
  private hostTxBusy: Ns = 0;
  private hostRxCheck: TimerHandle | undefined;
  private modemRxCheck: TimerHandle | undefined;
  private userRts = true;
  private autoRtsLow = false;
  private readonly stops: Array<() => void> = [];
  private readonly wasRecording: boolean;

  constructor(
    readonly modem: Modem,
    options: OpenOptions,
    /** The registry's bookkeeping once this port is closed. */
    private readonly onClosed: (port: ModemBindingPort) => Promise<void>,
  ) {
    this.openOptions = { ...OPEN_DEFAULTS, ...definedOnly(options), path: options.path, baudRate: options.baudRate };
    this.baud = options.baudRate;
    this.hostRx = new UartReceiver(this.baud);
    this.modemRx = new UartReceiver(modem.uart.baud);
    this.wasRecording = modem.host.recording;
    // the port is the host now; the in-process host port would only pile up what it sends
    modem.host.recording = false;
    this.stops.push(modem.tapHostBytes((b, t) => this.fromModem(b, t)));
    this.stops.push(modem.lines.attach());
    this.stops.push(modem.lines.onChange((line, on) => this.lineChanged(line, on)));
  }

  /** Raise DTR and RTS, as opening a tty does (called by the registry once). */
  async start(): Promise<void> {
    await this.inModel('host-open', () => this.modem.lines.setHost({ dtr: true, rts: true, brk: false }));
  }

  // ---- BindingPortInterface ----

  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!this.isOpen) return Promise.reject(new ModemPortError('Port is not open', true));
    if (this.reading) return Promise.reject(new ModemPortError('a read is already in progress'));
    if (length <= 0) return Promise.resolve({ buffer, bytesRead: 0 });
    if (this.rxBuffered > 0) return Promise.resolve({ buffer, bytesRead: this.take(buffer, offset, length) });
    return new Promise((resolve, reject) => (this.reading = { buffer, offset, length, resolve, reject }));
  }

  write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) return Promise.reject(new ModemPortError('Port is not open', true));
    if (this.modem.isClosed) return Promise.reject(new ModemPortError('the modem behind this port is closed'));
    if (buffer.length === 0) return Promise.resolve();
    const bytes = Uint8Array.from(buffer);
    return new Promise((resolve, reject) => {
      this.writes.push({ bytes, sent: 0, resolve, reject });
      this.schedulePump();
    });
  }

  async update(options: UpdateOptions): Promise<void> {
    if (!this.isOpen) throw new ModemPortError('Port is not open');
    const rate = options.baudRate;
    if (!Number.isFinite(rate) || rate <= 0) throw new ModemPortError(`expected a positive baud rate, got ${String(rate)}`);
    await this.inModel('host-baud', () => {
      // a frame half-sampled at the old rate is lost, as in a real UART reprogrammed mid-byte
      this.baud = rate;
      this.hostRx.baud = rate;
      this.hostRx.reset(this.modem.kernel.now);
      this.openOptions.baudRate = rate;
    });
  }

  async set(options: SetOptions): Promise<void> {
    if (!this.isOpen) throw new ModemPortError('Port is not open');
    if (options.rts !== undefined) this.userRts = options.rts;
    const change = {
      ...(options.dtr !== undefined && { dtr: options.dtr }),
      ...(options.rts !== undefined && { rts: this.userRts && !this.autoRtsLow }),
      ...(options.brk !== undefined && { brk: options.brk }),
    };
    await this.inModel('host-lines', () => this.modem.lines.setHost(change));
  }

  async get(): Promise<PortStatus> {
    if (!this.isOpen) throw new ModemPortError('Port is not open');
    const s = this.modem.lines.status();
    return { cts: s.cts, dsr: s.dsr, dcd: s.dcd };
  }

  /** get() and RI (which the binding interface leaves out). */
  async getLines(): Promise<LineStatus> {
    if (!this.isOpen) throw new ModemPortError('Port is not open');
    return this.modem.lines.status();
  }

  async getBaudRate(): Promise<{ baudRate: number }> {
    if (!this.isOpen) throw new ModemPortError('Port is not open');
    return { baudRate: this.baud };
  }

  async flush(): Promise<void> {
    if (!this.isOpen) throw new ModemPortError('Port is not open');
    await this.inModel('host-flush', () => {
      this.rxHead = 0;
      this.rxBuffered = 0;
      this.hostRx.reset(this.modem.kernel.now);
      // written but not yet sent: the host's queue, and what the module's FIFO has not taken in
      for (const w of this.writes.splice(0)) w.resolve();
      this.modem.uart.discardInput();
      this.releaseAutoRts();
    });
  }

  async drain(): Promise<void> {
    if (!this.isOpen) throw new ModemPortError('Port is not open');
    const { uart, kernel, clock } = this.modem;
    const sent = (): boolean => !this.isOpen || (this.writes.length === 0 && uart.rxBacklog === 0 && this.hostTxBusy <= kernel.now);
    while (!sent()) {
      // bounded by what is left to send, so a finished wait leaves no far-off deadline behind
      const left = this.writes.reduce((n, w) => n + w.bytes.length - w.sent, 0) + uart.rxBacklog + 2;
      await clock.waitUntil(sent, left * Math.max(uart.byteTime, byteTimeNs(this.baud)) + Math.max(0, this.hostTxBusy - kernel.now));
      if (this.modem.isClosed) break;
    }
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    const canceled = (): ModemPortError => new ModemPortError('Port is closed', true);
    this.reading?.reject(canceled());
    this.reading = undefined;
    for (const w of this.writes.splice(0)) w.reject(canceled());
    this.hostRxCheck?.cancel();
    this.modemRxCheck?.cancel();
    // HUPCL: closing the tty drops DTR and RTS (AT&D2 then hangs up)
    if (this.openOptions.hupcl) await this.inModel('host-close', () => this.modem.lines.setHost({ dtr: false, rts: false, brk: false }));
    for (const stop of this.stops.splice(0)) stop();
    this.modem.host.recording = this.wasRecording;
    await this.onClosed(this);
  }

  // ---- host → module ----

  private schedulePump(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.modem.clock.inject('host-tx', () => {
      this.pumping = false;
      this.pump();
    });
  }

  /** Hand queued writes to the line, as far as CTS lets a flow-controlled host (in model time). */
  private pump(): void {
    const { uart } = this.modem;
    const flow = this.openOptions.rtscts;
    while (this.writes.length > 0 && this.isOpen) {
      if (flow && !this.modem.lines.status().cts) return;
      const w = this.writes[0]!;
      // a CTS-honouring host stops where the module's CTS will drop
      const room = flow ? Math.max(1, uart.rxHighWater - uart.rxBacklog) : w.bytes.length;
      const n = Math.min(room, w.bytes.length - w.sent);
      this.transmit(w.bytes.subarray(w.sent, w.sent + n));
      w.sent += n;
      if (w.sent === w.bytes.length) {
        this.writes.shift();
        w.resolve();
      }
    }
  }

  private transmit(bytes: Uint8Array): void {
    const { uart, kernel } = this.modem;
    const now = kernel.now;
    if (!uart.pacing || (this.baud === uart.baud && !this.modemRx.inFrame && this.hostTxBusy <= now)) {
      uart.receive(bytes);
      return;
    }
    this.modemRx.baud = uart.baud;
    const byteNs = byteTimeNs(this.baud);
    for (let i = 0; i < bytes.length; i++) {
      const start = Math.max(now, this.hostTxBusy);
      this.hostTxBusy = start + byteNs;
      this.toModem(this.modemRx.push({ byte: bytes[i]!, start, baud: this.baud }));
    }
    this.armModemRxCheck();
  }

  /** What the module's UART made of the host's line: each byte enters it where its frame began. */
  private toModem(got: readonly Sampled[]): void {
    const { uart, kernel } = this.modem;
    for (const s of got) {
      if (s.kind === 'byte') {
        const b = Uint8Array.of(s.byte);
        kernel.at(s.start, () => uart.receive(b), 'uart-rx-resampled', Priority.io);
      } else {
        kernel.at(s.at, () => this.framingError('module', s), 'uart-rx-framing', Priority.io);
      }
    }
  }

  /** A frame running past the host's last byte finishes once the line has stayed idle that long. */
  private armModemRxCheck(): void {
    const w = this.modemRx.waitingFor;
    if (w === undefined || (this.modemRxCheck !== undefined && this.modemRxCheck.time === w + 1)) return;
    this.modemRxCheck?.cancel();
    this.modemRxCheck = this.modem.kernel.at(
      w + 1,
      () => {
        this.modemRxCheck = undefined;
        this.toModem(this.modemRx.idleUntil(this.modem.kernel.now));
        this.armModemRxCheck();
      },
      'uart-rx-sample',
      Priority.late,
    );
  }

  // ---- module → host ----

  /** A byte left the module's UART at `t` (its stop bit ends then). */
  private fromModem(b: number, t: Ns): void {
    if (!this.isOpen) return;
    const { uart } = this.modem;
    if (!uart.pacing || (this.baud === uart.baud && !this.hostRx.inFrame)) {
      this.received(b);
      return;
    }
    this.hostRx.baud = this.baud;
    this.fromLine(this.hostRx.push({ byte: b, start: t - uart.byteTime, baud: uart.baud }));
  }

  private fromLine(got: readonly Sampled[]): void {
    for (const s of got) {
      if (s.kind === 'byte') this.received(s.byte);
      else this.framingError('host', s);
    }
    this.armHostRxCheck();
  }

  /** Finish a frame once the module's line is known idle past its next sample point. */
  private armHostRxCheck(): void {
    const w = this.hostRx.waitingFor;
    if (w === undefined || (this.hostRxCheck !== undefined && this.hostRxCheck.time === w + 1)) return;
    this.hostRxCheck?.cancel();
    this.hostRxCheck = this.modem.kernel.at(
      w + 1,
      () => {
        this.hostRxCheck = undefined;
        // an empty (or held) FIFO means mark since the last byte; a byte on the wire now tells
        // the rest when it ends (fromModem)
        const { uart } = this.modem;
        if (uart.txBacklog === 0 || uart.txPaused) this.fromLine(this.hostRx.idleUntil(this.modem.kernel.now));
      },
      'host-rx-sample',
      Priority.late,
    );
  }

  private framingError(side: 'host' | 'module', s: Extract<Sampled, { kind: 'framing-error' }>): void {
    const { trace, kernel, uart } = this.modem;
    if (!trace.enabled) return;
    trace.record({
      t: kernel.now,
      ev: 'fault',
      what: 'uart-framing-error',
      detail: { receiver: side, hostBaud: this.baud, moduleBaud: uart.baud, bits: s.bits, frameStart: s.start },
    });
  }

  /** A byte the host's UART took: to a waiting read, else into the buffer. */
  private received(b: number): void {
    const r = this.reading;
    if (r !== undefined) {
      this.reading = undefined;
      r.buffer[r.offset] = b;
      r.resolve({ buffer: r.buffer, bytesRead: 1 });
      return;
    }
    if (this.rxBuffered >= HOST_RX_LIMIT) {
      const { trace, kernel } = this.modem;
      if (trace.enabled) trace.record({ t: kernel.now, ev: 'fault', what: 'host-rx-overrun', detail: { unread: this.rxBuffered } });
      return;
    }
    if (this.rxBuffered === this.rx.length) {
      const grown = new Uint8Array(this.rx.length * 2);
      for (let i = 0; i < this.rxBuffered; i++) grown[i] = this.rx[(this.rxHead + i) % this.rx.length]!;
      this.rx = grown;
      this.rxHead = 0;
    }
    this.rx[(this.rxHead + this.rxBuffered) % this.rx.length] = b;
    this.rxBuffered++;
    if (this.openOptions.rtscts && !this.autoRtsLow && this.rxBuffered > HOST_RX_HIGH) {
      this.autoRtsLow = true;
      this.modem.lines.setHost({ rts: false });
    }
  }

  private take(buffer: Buffer, offset: number, length: number): number {
    const n = Math.min(length, this.rxBuffered);
    for (let i = 0; i < n; i++) buffer[offset + i] = this.rx[(this.rxHead + i) % this.rx.length]!;
    this.rxHead = (this.rxHead + n) % this.rx.length;
    this.rxBuffered -= n;
    if (this.autoRtsLow && this.rxBuffered <= HOST_RX_LOW) this.modem.clock.inject('host-rts', () => this.releaseAutoRts());
    return n;
  }

  private releaseAutoRts(): void {
    if (!this.autoRtsLow) return;
    this.autoRtsLow = false;
    if (this.userRts && this.isOpen) this.modem.lines.setHost({ rts: true });
  }

  private lineChanged(line: LineName, on: boolean): void {
    // CTS back on: a flow-controlled host sends what it held
    if (line === 'cts' && on && this.writes.length > 0) this.schedulePump();
  }

  /** Run `fn` at the current model instant; resolves once it ran (or the modem is closed). */
  private inModel(label: string, fn: () => void): Promise<void> {
    const { clock } = this.modem;
    if (this.modem.isClosed) return Promise.resolve();
    const ran = new Promise<void>((resolve) => {
      clock.inject(label, () => {
        fn();
        resolve();
      });
    });
    // a plain virtual clock moves only when someone runs it: this instant, so open/set/close
    // return even while the test is not driving it (it waits its turn behind a run in progress)
    if (clock instanceof VirtualClock) void clock.advance(0);
    return ran;
  }
}

/** Options the caller left undefined keep the defaults. */
function definedOnly(o: OpenOptions): Partial<OpenOptions> {
  const out: Partial<OpenOptions> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) Object.assign(out, { [k]: v });
  return out;
}
