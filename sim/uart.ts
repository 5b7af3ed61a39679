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
  private txFreeAt: Ns = 0;
  private rxFreeAt: Ns = 0;
  /** Deliver a byte to the host side of the link (at the end of its stop bit). */
  toHost: (bytes: Uint8Array) => void = () => undefined;
  /** Deliver a received byte to the modem (at the end of its stop bit). */
  toModem: (byte: number) => void = () => undefined;
  /** Off: bytes move instantly (benchmarks measuring everything but the line). */
  pacing = true;
  /** Bytes sent but not yet on the wire. */
  private txQueued = 0;
  private txDrainWaiters: Array<() => void> = [];

  constructor(
    private readonly kernel: Kernel,
    private readonly trace: Trace,
    baud: number,
    private readonly framing: UartFraming = FRAMING_8N1,
  ) {
    this.baudRate = baud;
    this.byteNs = byteTimeNs(baud, framing);
  }

  get baud(): number {
    return this.baudRate;
  }

  get byteTime(): Ns {
    return this.byteNs;
  }

  /** Bytes queued after this call run at the new rate; bytes already queued keep theirs. */
  setBaud(baud: number): void {
    this.baudRate = baud;
    this.byteNs = byteTimeNs(baud, this.framing);
  }

  /** Model time at which the last queued TX byte leaves the line. */
  get txIdleAt(): Ns {
    return Math.max(this.txFreeAt, this.kernel.now);
  }

  /** Host → modem: bytes that arrived on the link now. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) {
      const end = this.pacing ? Math.max(this.kernel.now, this.rxFreeAt) + this.byteNs : this.kernel.now;
      this.rxFreeAt = end;
      this.kernel.at(
        end,
        () => {
          if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'rx', b });
          this.toModem(b);
        },
        'uart-rx',
        Priority.wire,
      );
    }
  }

  /** Modem → host: queue a whole frame behind whatever is already queued. */
  send(frame: Uint8Array): void {
    if (frame.length === 0) return;
    if (!this.pacing) {
      if (this.trace.enabled) for (const b of frame) this.trace.record({ t: this.kernel.now, ev: 'tx', b });
      this.toHost(frame);
      return;
    }
    this.txQueued += frame.length;
    let t = Math.max(this.kernel.now, this.txFreeAt);
    for (const b of frame) {
      t += this.byteNs;
      this.kernel.at(
        t,
        () => {
          if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'tx', b });
          this.txQueued--;
          this.toHost(Uint8Array.of(b));
          if (this.txQueued === 0) this.drained();
        },
        'uart-tx',
        Priority.wire,
      );
    }
    this.txFreeAt = t;
  }

  /** Run `fn` once every queued TX byte has left (AT+IPR switches after its OK). */
  whenTxDrained(fn: () => void): void {
    if (this.txQueued === 0) fn();
    else this.txDrainWaiters.push(fn);
  }

  private drained(): void {
    const w = this.txDrainWaiters;
    this.txDrainWaiters = [];
    for (const f of w) f();
  }
}
