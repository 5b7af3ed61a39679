/**
 * The host's bytes at trace level `lines`: not a record per byte but one `rxrun` record per run
 * of evenly spaced bytes (a chunk a program wrote goes back-to-back, a person's typing makes
 * short runs), from which every byte's time comes back exactly: byte k of a run ended at
 * t0 + k · dt. A replay feeds them back as it does `rx` records.
 */
import type { Ns } from './kernel.js';

export interface RxRunRecord {
  /** When the record was made: the instant of the byte that ended the run, or what cut it. */
  t: Ns;
  ev: 'rxrun';
  /** End of the first byte's stop bit, and the spacing of the rest (0 for a single byte). */
  t0: Ns;
  dt: Ns;
  /** The bytes as latin1 text. */
  data: string;
}

const CR = 13;
/** A long upload is cut into records of this many bytes (each one is out as soon as it is full). */
const MAX_RUN = 1024;

export class RxRunPacker {
  private data = '';
  private t0: Ns = 0;
  private last: Ns = 0;
  private dt: Ns = 0;

  /** The run this host byte completes or breaks, if any (at most two records). */
  push(b: number, t: Ns): RxRunRecord[] {
    const out: RxRunRecord[] = [];
    const n = this.data.length;
    if (n === 1) this.dt = t - this.last;
    else if (n > 1 && t - this.last !== this.dt) out.push(...this.flush(this.last));
    if (this.data.length === 0) {
      this.t0 = t;
      this.dt = 0;
    }
    this.data += String.fromCharCode(b);
    this.last = t;
    // a line's end, or a full run: out now, so a crash loses little and tail -f sees it
    if (b === CR || this.data.length >= MAX_RUN) out.push(...this.flush(t));
    return out;
  }

  /** The open run as a record (none when empty). */
  flush(t: Ns): RxRunRecord[] {
    if (this.data.length === 0) return [];
    const r: RxRunRecord = { t, ev: 'rxrun', t0: this.t0, dt: this.data.length > 1 ? this.dt : 0, data: this.data };
    this.data = '';
    return [r];
  }
}
