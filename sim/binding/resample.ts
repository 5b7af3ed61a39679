/**
 * A UART receiver sampling a line driven by a transmitter at another rate: what a host at the
 * wrong baud really gets. The line is the transmitter's 8N1 frames (start bit 0, eight data bits
 * LSB first, stop bit 1) and mark (1) between them. The receiver waits for a falling edge, takes
 * it as a start bit, samples the middle of each of its own bit times, and:
 * - a start bit that samples 1 was a glitch: it hunts again from there;
 * - a stop bit that samples 0 is a framing error: the byte is dropped (the caller traces it);
 * - after the stop-bit sample it hunts for the next falling edge.
 *
 * Pure and streaming: frames come in as the transmitter finishes them, in order; a sample is
 * only taken where the line is known, so a frame that runs past the last known instant waits
 * for the next frame, or for `idleUntil` (nothing was sent meanwhile). All times are integer ns;
 * bit edges and sample points are rounded from the exact rate the same way byteTimeNs is, so a
 * receiver at the transmitter's rate takes every byte back unchanged.
 */
import type { Ns } from '../kernel.js';

/** One 8N1 frame the transmitter put on the line. */
export interface LineFrame {
  byte: number;
  /** Falling edge of its start bit. */
  start: Ns;
  baud: number;
}

export type Sampled =
  /** A byte, complete at its stop-bit sample `at`. */
  | { kind: 'byte'; byte: number; start: Ns; at: Ns }
  /** The stop bit sampled 0: the receiver drops the byte (`bits`: the data bits it had). */
  | { kind: 'framing-error'; bits: number; start: Ns; at: Ns };

const BITS_PER_FRAME = 10;

/** Offset of bit edge `i` (0 = start bit, 10 = the end of the stop bit) from the frame's start. */
export const bitEdge = (baud: number, i: number): Ns => Math.round((i * 1e9) / baud);
/** Offset of the middle of bit `k` from the frame's start. */
export const bitMiddle = (baud: number, k: number): Ns => Math.round(((k + 0.5) * 1e9) / baud);

/** Level of bit `i` of a frame: start 0, data LSB first, stop 1. */
function bitOf(byte: number, i: number): 0 | 1 {
  if (i === 0) return 0;
  if (i === BITS_PER_FRAME - 1) return 1;
  return (byte >> (i - 1)) & 1 ? 1 : 0;
}

const frameEnd = (f: LineFrame): Ns => f.start + bitEdge(f.baud, BITS_PER_FRAME);

export class UartReceiver {
  private frames: LineFrame[] = [];
  /** The line's level is known for every instant before this. */
  private known: Ns = 0;
  private sampling = false;
  /** Hunting: falling edges strictly after this instant count. */
  private huntAfter: Ns = -1;
  /** In a frame: its start, the rate it is sampled at, the next sample and the data so far. */
  private start: Ns = 0;
  private frameBaud: number;
  private k = 0;
  private data = 0;

  constructor(
    /** The receiver's rate; a change applies from the next start bit. */
    public baud: number,
  ) {
    this.frameBaud = baud;
  }

  /** Where the receiver must know the line next to finish its frame; undefined while hunting. */
  get waitingFor(): Ns | undefined {
    return this.sampling ? this.start + bitMiddle(this.frameBaud, this.k) : undefined;
  }

  /** Between a start bit and its stop-bit sample. */
  get inFrame(): boolean {
    return this.sampling;
  }

  /** A frame the transmitter finished (or will have, when its times are known ahead). */
  push(frame: LineFrame): Sampled[] {
    // frames never overlap: a transmitter starts a byte after the previous one ends
    const start = Math.max(frame.start, this.frames.length > 0 ? frameEnd(this.frames[this.frames.length - 1]!) : this.known);
    const f: LineFrame = start === frame.start ? frame : { ...frame, start };
    this.frames.push(f);
    this.known = Math.max(this.known, frameEnd(f));
    return this.run();
  }

  /** Nothing was sent before `t`: the line was at mark from the last frame's end until then. */
  idleUntil(t: Ns): Sampled[] {
    if (t > this.known) this.known = t;
    return this.run();
  }

  /** Forget the line and any frame in progress (a rate change on the other side, a flush). */
  reset(at: Ns): void {
    this.frames = [];
    this.sampling = false;
    this.known = Math.max(this.known, at);
    this.huntAfter = at;
  }

  private run(): Sampled[] {
    const out: Sampled[] = [];
    for (;;) {
      if (!this.sampling) {
        const edge = this.fallingEdgeAfter(this.huntAfter);
        if (edge === undefined) break;
        this.sampling = true;
        this.start = edge;
        this.frameBaud = this.baud;
        this.k = 0;
        this.data = 0;
      }
      if (!this.sampleFrame(out)) break;
    }
    this.prune();
    return out;
  }

  /** Sample the frame in progress as far as the line is known; false when it must wait. */
  private sampleFrame(out: Sampled[]): boolean {
    while (this.k < BITS_PER_FRAME) {
      const at = this.start + bitMiddle(this.frameBaud, this.k);
      if (at >= this.known) return false;
      const v = this.levelAt(at);
      if (this.k === 0) {
        if (v === 1) {
          this.sampling = false;
          this.huntAfter = at;
          return true;
        }
      } else if (this.k < BITS_PER_FRAME - 1) {
        this.data |= v << (this.k - 1);
      } else {
        out.push(v === 1 ? { kind: 'byte', byte: this.data, start: this.start, at } : { kind: 'framing-error', bits: this.data, start: this.start, at });
        this.sampling = false;
        this.huntAfter = at;
        return true;
      }
      this.k++;
    }
    return true;
  }

  private levelAt(t: Ns): 0 | 1 {
    for (const f of this.frames) {
      if (t < f.start) return 1;
      if (t >= frameEnd(f)) continue;
      let i = BITS_PER_FRAME - 1;
      while (i > 0 && f.start + bitEdge(f.baud, i) > t) i--;
      return bitOf(f.byte, i);
    }
    return 1;
  }

  /** The first 1 → 0 transition after `after` where the line is known; the mark before a start bit is 1. */
  private fallingEdgeAfter(after: Ns): Ns | undefined {
    for (const f of this.frames) {
      if (frameEnd(f) <= after) continue;
      for (let i = 0; i < BITS_PER_FRAME; i++) {
        const t = f.start + bitEdge(f.baud, i);
        if (t <= after) continue;
        if (t >= this.known) return undefined;
        const before = i === 0 ? 1 : bitOf(f.byte, i - 1);
        if (before === 1 && bitOf(f.byte, i) === 0) return t;
      }
    }
    return undefined;
  }

  /** Frames wholly before what the receiver can still look at are dropped. */
  private prune(): void {
    const keepFrom = this.sampling ? this.start : this.huntAfter;
    let n = 0;
    while (n < this.frames.length && frameEnd(this.frames[n]!) <= keepFrom) n++;
    if (n > 0) this.frames.splice(0, n);
  }
}
