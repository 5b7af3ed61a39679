/**
 * The UART as the model's edge: every byte costs its bit-times at the current rate, in both
 * directions. Frames handed to `send` are queued whole (a TX FIFO), so an unsolicited result
 * code can never cut into a response.
 *
 * Rounding: a byte's duration is round((1 + dataBits + parityBits + stopBits) * 1e9 / baud) ns,
 * the same for every byte at a given rate: 86,806 ns at 115200 8N1, 1,041,667 ns at 9600.
 * Back-to-back bytes are spaced by exactly that; the error against the ideal rate is below
 * 6 ppm, far inside any real UART's clock tolerance.
 */
import { Kernel, Ns, Priority } from './kernel.js';
import { Trace } from './trace.js';

export interface UartFraming {
  dataBits: 7 | 8;
  parityBits: 0 | 1;
  stopBits: 1 | 2;
}

export const FRAMING_8N1: UartFraming = { dataBits: 8, parityBits: 0, stopBits: 1 };

export function byteTimeNs(baud: number, f: UartFraming = FRAMING_8N1): Ns {
  return Math.round(((1 + f.dataBits + f.parityBits + f.stopBits) * 1e9) / baud);
}

export class Uart {
  private baudRate: number;
  private byteNs: Ns;
  private readonly rx: ByteLane;
  private readonly tx: ByteLane;
  /** Deliver a byte to the host side of the link (at the end of its stop bit). */
  toHost: (bytes: Uint8Array) => void = () => undefined;
  /** Deliver a received byte to the modem (at the end of its stop bit). */
  toModem: (byte: number) => void = () => undefined;
  /** Off: bytes move instantly (benchmarks measuring everything but the line). */
  pacing = true;
  private txDrainWaiters: Array<() => void> = [];

  constructor(
    private readonly kernel: Kernel,
    private readonly trace: Trace,
    baud: number,
    private readonly framing: UartFraming = FRAMING_8N1,
  ) {
    this.baudRate = baud;
    this.byteNs = byteTimeNs(baud, framing);
    const byteNs = (): Ns => this.byteNs;
    this.rx = new ByteLane(kernel, 'uart-rx', byteNs, (b) => this.rxByte(b), () => undefined);
    this.tx = new ByteLane(kernel, 'uart-tx', byteNs, (b) => this.txByte(b), () => this.drained());
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

  /** Host → modem: bytes that arrived on the link now. */
  receive(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (!this.pacing) {
      // unpaced (benchmarks): the whole chunk arrives in one event, in order
      const chunk = Uint8Array.from(bytes);
      this.kernel.at(this.kernel.now, () => chunk.forEach((b) => this.rxByte(b)), 'uart-rx', Priority.wire);
      return;
    }
    this.rx.push(bytes);
  }

  /** Modem → host: queue a whole frame behind whatever is already queued. */
  send(frame: Uint8Array): void {
    if (frame.length === 0) return;
    if (!this.pacing) {
      if (this.trace.enabled) for (const b of frame) this.trace.record({ t: this.kernel.now, ev: 'tx', b });
      this.toHost(frame);
      return;
    }
    this.tx.push(frame);
  }

  private rxByte(b: number): void {
    if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'rx', b });
    this.toModem(b);
  }

  private txByte(b: number): void {
    if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'tx', b });
    this.toHost(Uint8Array.of(b));
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
 * One direction of the line: a FIFO of bytes with a single kernel event in flight, for the byte
 * now on the wire. A 20 KB burst costs one queued chunk, not 20,000 scheduled events; the
 * timing is the same as scheduling every byte up front (each ends one byte time after the
 * previous one, or after its own arrival when the line was idle).
 */
class ByteLane {
  private chunks: Uint8Array[] = [];
  private offset = 0;
  private busyUntil: Ns = 0;
  private inFlight = false;
  queued = 0;

  constructor(
    private readonly kernel: Kernel,
    private readonly label: string,
    private readonly byteNs: () => Ns,
    private readonly deliver: (b: number) => void,
    private readonly onDrained: () => void,
  ) {}

  push(bytes: Uint8Array): void {
    this.chunks.push(Uint8Array.from(bytes));
    this.queued += bytes.length;
    if (!this.inFlight) this.scheduleNext();
  }

  private scheduleNext(): void {
    this.inFlight = true;
    this.busyUntil = Math.max(this.kernel.now, this.busyUntil) + this.byteNs();
    this.kernel.at(this.busyUntil, () => this.fire(), this.label, Priority.wire);
  }

  private fire(): void {
    const chunk = this.chunks[0]!;
    const b = chunk[this.offset++]!;
    if (this.offset >= chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
    this.queued--;
    if (this.queued > 0) this.scheduleNext();
    else this.inFlight = false;
    this.deliver(b);
    if (this.queued === 0 && !this.inFlight) this.onDrained();
  }
}
