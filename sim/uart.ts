/**
 * The UART as the model's edge: every byte costs its bit-times at the current rate, in both
 * directions. Frames handed to `send` are queued whole (a TX FIFO), so an unsolicited result
 * code can never cut into a response.
 *
 * Rounding: a byte's duration is round((1 + dataBits + parityBits + stopBits) * 1e9 / baud) ns,
 * the same for every byte at a given rate: 86,806 ns at 115200 8N1, 1,041,667 ns at 9600.
 * Back-to-back bytes are spaced by exactly that; the error against the ideal rate is below
 * 6 ppm, far inside any real UART's clock tolerance.
 *
 * Runs, not bytes: a direction with bytes queued has one kernel event; when it fires, the byte
 * ends and, while nothing else in the model comes first, the next bytes end inline at
 * start + (i + 1) · byteTime, each at its own instant (trace, VCD and host see exactly that).
 * A run stops where the model must act between two bytes — another event is due, an I/O hold
 * opened, a host waiting on the clock saw what it waits for — and goes on as an event.
 */
import { Kernel, KernelEvent, Ns, Priority } from './kernel.js';
import { Trace } from './trace.js';

export interface UartFraming {
  dataBits: 7 | 8;
  parityBits: 0 | 1;
  stopBits: 1 | 2;
}

export const FRAMING_8N1: UartFraming = { dataBits: 8, parityBits: 0, stopBits: 1 };

/** See Uart.txSpacing: the instant a byte starts, never before `earliest`. */
export type TxSpacing = (earliest: Ns, lastEnd: Ns) => Ns;

export function byteTimeNs(baud: number, f: UartFraming = FRAMING_8N1): Ns {
  return Math.round(((1 + f.dataBits + f.parityBits + f.stopBits) * 1e9) / baud);
}

/**
 * Receive-side buffering: bytes a link handed over that are not yet on the wire. The module's
 * RX FIFO plus the host's own output buffer, in one bound: past it, input overruns and is lost.
 * It leaves room for a link that pauses at the high-water mark to deliver the chunk it already
 * read (a socket hands over up to 64 KiB at a time) without losing a byte.
 */
export const RX_FIFO_BYTES = 128 * 1024;
export const RX_HIGH_WATER = 32 * 1024;
export const RX_LOW_WATER = 8 * 1024;

export interface UartOptions {
  /** Bytes of host input held before overrun (default RX_FIFO_BYTES). */
  rxFifoBytes?: number;
  /** onRxPressure(true) at or above this backlog (default RX_HIGH_WATER). */
  rxHighWater?: number;
  /** onRxPressure(false) once the backlog is down to this (default RX_LOW_WATER). */
  rxLowWater?: number;
}

export class Uart {
  private baudRate: number;
  private byteNs: Ns;
  private readonly rx: ByteLane;
  private readonly tx: ByteLane;
  /**
   * Bytes that left for the host since the last call; the last of them ends now. The array is
   * lent for the call only (copy what you keep). Links take these; unset, no run is gathered.
   */
  toHost: ((bytes: Uint8Array) => void) | undefined;
  /** Each byte for the host, at the instant its stop bit ends (the in-process host port). */
  onTxByte: ((b: number, t: Ns) => void) | undefined;
  /** Deliver a received byte to the modem (at the end of its stop bit). */
  toModem: (byte: number) => void = () => undefined;
  /** Unpaced and untraced, a chunk arrives whole: the modem may take it in one call (else toModem per byte). */
  toModemRun: ((bytes: Uint8Array) => void) | undefined;
  /**
   * Host input crossed the high-water mark (true) or drained to the low-water mark (false): a
   * link that can stop reading its source (a socket, a pty) pauses on true and resumes on false,
   * so the host's writes block instead of overrunning the FIFO.
   */
  onRxPressure: ((high: boolean) => void) | undefined;
  /** Off: bytes move instantly (benchmarks measuring everything but the line). */
  pacing = true;
  /** Host bytes lost to overrun since creation. */
  rxDropped = 0;
  readonly rxFifoBytes: number;
  readonly rxHighWater: number;
  readonly rxLowWater: number;
  private rxPressured = false;
  private txDrainWaiters: Array<() => void> = [];
  private batch = new Uint8Array(64);
  private batchLen = 0;

  constructor(
    private readonly kernel: Kernel,
    private readonly trace: Trace,
    baud: number,
    private readonly framing: UartFraming = FRAMING_8N1,
    opts: UartOptions = {},
  ) {
    this.baudRate = baud;
    this.byteNs = byteTimeNs(baud, framing);
    this.rxFifoBytes = Math.max(1, opts.rxFifoBytes ?? RX_FIFO_BYTES);
    this.rxHighWater = Math.min(this.rxFifoBytes, opts.rxHighWater ?? RX_HIGH_WATER);
    this.rxLowWater = Math.min(this.rxHighWater, opts.rxLowWater ?? RX_LOW_WATER);
    const byteNs = (): Ns => this.byteNs;
    this.rx = new ByteLane(kernel, 'uart-rx', byteNs, (b) => this.rxByte(b), undefined, () => undefined, this.rxFifoBytes);
    this.tx = new ByteLane(
      kernel,
      'uart-tx',
      byteNs,
      (b) => this.txByte(b),
      () => this.flushBatch(),
      () => this.drained(),
      Number.MAX_SAFE_INTEGER,
    );
  }

  get baud(): number {
    return this.baudRate;
  }

  /** Bits on the wire per byte: start, data, parity, stop. */
  get bitsPerByte(): number {
    const f = this.framing;
    return 1 + f.dataBits + f.parityBits + f.stopBits;
  }

  get dataBits(): number {
    return this.framing.dataBits;
  }

  get byteTime(): Ns {
    return this.byteNs;
  }

  /** Bytes queued after this call run at the new rate; bytes already queued keep theirs. */
  setBaud(baud: number): void {
    this.baudRate = baud;
    this.byteNs = byteTimeNs(baud, this.framing);
  }

  /** Host → modem: bytes that arrived on the link now. Past the RX FIFO they overrun. */
  receive(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (!this.pacing) {
      // unpaced (benchmarks): the whole chunk arrives in one event, in order
      const chunk = Uint8Array.from(bytes);
      this.kernel.at(
        this.kernel.now,
        () => {
          // per byte when each one is a trace record of its own (rx, then its echo)
          if (this.toModemRun !== undefined && !this.trace.enabled) this.toModemRun(chunk);
          else for (let i = 0; i < chunk.length; i++) this.rxByte(chunk[i]!);
        },
        'uart-rx',
        Priority.wire,
      );
      return;
    }
    const taken = this.rx.push(bytes);
    if (taken < bytes.length) {
      const dropped = bytes.length - taken;
      this.rxDropped += dropped;
      // the FIFO is full: what a real UART loses to overrun, named in the trace
      this.trace.record({
        t: this.kernel.now,
        ev: 'fault',
        what: 'uart-rx-overrun',
        detail: { dropped, total: this.rxDropped, fifo: this.rxFifoBytes },
      });
    }
    if (!this.rxPressured && this.rx.queued >= this.rxHighWater) {
      this.rxPressured = true;
      this.onRxPressure?.(true);
    }
  }

  /** Host input not yet on the wire (what the RX FIFO holds). */
  get rxBacklog(): number {
    return this.rx.queued;
  }

  /**
   * Forget host input not yet received (the host was replaced: its successor must not see the
   * tail of the old one's bytes). Traced when anything was dropped.
   */
  discardInput(): void {
    const n = this.rx.discard();
    if (n > 0) this.trace.record({ t: this.kernel.now, ev: 'fault', what: 'uart-rx-discarded', detail: { bytes: n } });
    this.releasePressure();
  }

  /** Power loss: output not yet on the wire never leaves, and nobody waits for it to. */
  discardOutput(): number {
    this.txDrainWaiters = [];
    return this.tx.discard();
  }

  /** Modem → host: queue a whole frame behind whatever is already queued. */
  send(frame: Uint8Array): void {
    if (frame.length === 0) return;
    if (!this.pacing) {
      const now = this.kernel.now;
      for (let i = 0; i < frame.length; i++) {
        const b = frame[i]!;
        if (this.trace.enabled) this.trace.record({ t: now, ev: 'tx', b });
        this.onTxByte?.(b, now);
      }
      this.toHost?.(frame);
      return;
    }
    this.tx.push(frame);
  }

  /** Modem → host: one byte (the echo), without a frame around it. */
  sendByte(b: number): void {
    if (!this.pacing) {
      this.send(Uint8Array.of(b));
      return;
    }
    this.tx.pushByte(b);
  }

  private rxByte(b: number): void {
    if (this.rxCorrupt !== undefined) b = this.rxCorrupt(b);
    if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'rx', b });
    if (this.rxPressured && this.rx.queued <= this.rxLowWater) this.releasePressure();
    this.toModem(b);
  }

  private releasePressure(): void {
    if (!this.rxPressured) return;
    this.rxPressured = false;
    this.onRxPressure?.(false);
  }

  private txByte(b: number): void {
    if (this.txCorrupt !== undefined) b = this.txCorrupt(b);
    const now = this.kernel.now;
    if (this.trace.enabled) this.trace.record({ t: now, ev: 'tx', b });
    this.onTxByte?.(b, now);
    if (this.toHost === undefined) return;
    if (this.batchLen === this.batch.length) {
      const grown = new Uint8Array(this.batch.length * 2);
      grown.set(this.batch);
      this.batch = grown;
    }
    this.batch[this.batchLen++] = b;
  }

  private flushBatch(): void {
    const n = this.batchLen;
    if (n === 0) return;
    this.batchLen = 0;
    this.toHost?.(this.batch.subarray(0, n));
  }

  /**
   * Flow control (RTS off under AT+IFC=2, sim/modem-lines.ts): while true no new byte for the
   * host starts; the one on the wire finishes, the rest wait in order until it is false again.
   */
  get txPaused(): boolean {
    return this.tx.paused;
  }

  set txPaused(v: boolean) {
    this.tx.paused = v;
    if (!v) this.tx.resume();
  }

  /**
   * Line noise (the noise fault's `rate`, sim/faults/line.ts): each byte that crosses the line
   * paced, towards the module (`rx`) or the host (`tx`), as it arrives at the far end; the trace
   * records what arrived. Unset: bytes arrive as sent.
   */
  rxCorrupt: ((b: number) => number) | undefined;
  txCorrupt: ((b: number) => number) | undefined;

  /**
   * Where the next byte for the host starts, given the instant it could (`earliest`) and the
   * instant the previous one ended: later, to leave silence (the uartFragment fault's bursts,
   * sim/faults/bursts.ts). Unset: at `earliest`. Each byte asks once; an unpaced UART never asks.
   */
  get txSpacing(): TxSpacing | undefined {
    return this.tx.spacing;
  }

  set txSpacing(fn: TxSpacing | undefined) {
    this.tx.spacing = fn;
  }

  /** Bytes queued for the host and not yet on the wire. */
  get txBacklog(): number {
    return this.tx.queued;
  }

  /** Run `fn` once every queued TX byte has left (AT+IPR switches after its OK). */
  whenTxDrained(fn: () => void): void {
    if (this.tx.queued === 0) fn();
    else this.txDrainWaiters.push(fn);
  }

  private drained(): void {
    const w = this.txDrainWaiters;
    this.txDrainWaiters = [];
    for (const f of w) f();
  }
}

/**
 * One direction of the line: a ring buffer of bytes with a single kernel event, for the byte
 * now on the wire; the bytes behind it follow inline while the kernel allows (see the header).
 * Each byte ends one byte time after the previous one, or after its own arrival when the line
 * was idle, and its successor's place in the event order is taken before it is delivered,
 * exactly as if that successor had been queued as an event then.
 */
class ByteLane {
  private buf = new Uint8Array(256);
  private head = 0;
  private busyUntil: Ns = 0;
  private inFlight = false;
  private ev: KernelEvent;
  /** Bumped by discard(): a run in progress stops there. */
  private epoch = 0;
  queued = 0;
  /** No byte starts while set (flow control); see resume(). */
  paused = false;
  /** See Uart.txSpacing. */
  spacing: TxSpacing | undefined;

  constructor(
    private readonly kernel: Kernel,
    private readonly label: string,
    private readonly byteNs: () => Ns,
    private readonly deliver: (b: number) => void,
    /** After the last byte of a run was delivered (before the drain callback). */
    private readonly endRun: (() => void) | undefined,
    private readonly onDrained: () => void,
    private readonly capacity: number,
  ) {
    this.ev = kernel.event(label, () => this.fire());
  }

  /** Queue bytes; returns how many fit (all but what is past the capacity). */
  push(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.capacity - this.queued);
    if (n <= 0) return 0;
    this.reserve(n);
    const cap = this.buf.length;
    let tail = this.head + this.queued;
    if (tail >= cap) tail -= cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(first === bytes.length ? bytes : bytes.subarray(0, first), tail);
    if (first < n) this.buf.set(bytes.subarray(first, n), 0);
    this.queued += n;
    if (!this.inFlight && !this.paused) this.scheduleNext();
    return n;
  }

  pushByte(b: number): void {
    if (this.queued >= this.capacity) return;
    this.reserve(1);
    const cap = this.buf.length;
    let tail = this.head + this.queued;
    if (tail >= cap) tail -= cap;
    this.buf[tail] = b;
    this.queued++;
    if (!this.inFlight && !this.paused) this.scheduleNext();
  }

  /** After a pause: the waiting bytes start, from now. */
  resume(): void {
    if (this.queued > 0 && !this.inFlight && !this.paused) this.scheduleNext();
  }

  /** Drop every queued byte, the one on the wire included; returns how many. */
  discard(): number {
    const n = this.queued;
    this.queued = 0;
    this.head = 0;
    this.epoch++;
    if (this.inFlight) {
      this.inFlight = false;
      // the queued event may not be reused while it sits cancelled in the queue
      this.ev.cancel();
      this.ev = this.kernel.event(this.label, () => this.fire());
      this.busyUntil = this.kernel.now;
    }
    return n;
  }

  private reserve(extra: number): void {
    const need = this.queued + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(cap);
    const old = this.buf;
    const first = Math.min(this.queued, old.length - this.head);
    grown.set(old.subarray(this.head, this.head + first), 0);
    if (first < this.queued) grown.set(old.subarray(0, this.queued - first), first);
    this.buf = grown;
    this.head = 0;
  }

  private scheduleNext(): void {
    this.inFlight = true;
    this.busyUntil = this.startAt(Math.max(this.kernel.now, this.busyUntil)) + this.byteNs();
    this.kernel.schedule(this.ev, this.busyUntil, Priority.wire);
  }

  /** The next byte's start: `earliest`, or later where the spacing leaves silence. */
  private startAt(earliest: Ns): Ns {
    return this.spacing === undefined ? earliest : Math.max(earliest, this.spacing(earliest, this.busyUntil));
  }

  private fire(): void {
    const k = this.kernel;
    const epoch = this.epoch;
    for (;;) {
      const b = this.buf[this.head]!;
      if (++this.head === this.buf.length) this.head = 0;
      this.queued--;
      let nextAt = 0;
      let nextSeq = -1;
      /** Silence before the next byte: the run ends here, so a link gets each burst on its own. */
      let silence = false;
      if (this.queued > 0 && !this.paused) {
        // the next byte's place in the event order is taken now, before this one is delivered
        const earliest = Math.max(k.now, this.busyUntil);
        const start = this.startAt(earliest);
        silence = start > earliest;
        nextAt = start + this.byteNs();
        this.busyUntil = nextAt;
        nextSeq = k.reserveSeq();
      } else {
        this.inFlight = false;
      }
      try {
        this.deliver(b);
      } catch (err) {
        if (nextSeq >= 0 && epoch === this.epoch) k.schedule(this.ev, nextAt, Priority.wire, nextSeq);
        this.endRun?.();
        throw err;
      }
      if (epoch !== this.epoch) {
        this.endRun?.();
        return;
      }
      if (nextSeq < 0) {
        this.endRun?.();
        if (this.queued === 0 && !this.inFlight) this.onDrained();
        return;
      }
      if (silence || !k.continueAt(nextAt, Priority.wire, nextSeq)) {
        k.schedule(this.ev, nextAt, Priority.wire, nextSeq);
        this.endRun?.();
        return;
      }
    }
  }
}
