/**
 * The in-process host side of the UART: what a test or an embedded fixture uses instead of a
 * serial port. It records every received byte with its model time and waits for patterns by
 * letting the clock run (instantly in virtual time).
 */
import { Duplex } from 'node:stream';
import type { ClockDriver } from './clock.js';
import { Ns, sec } from './kernel.js';
import { FINAL_OR_PROMPT, FINAL_RESULT } from '../protocol/results.js';

export interface Match {
  /** Everything received up to and including the match (consumed). */
  text: string;
  /** The matched part. */
  match: string;
  groups: string[];
  /** Model time at which the match's last byte arrived. */
  at: Ns;
}

export class ExpectTimeout extends Error {
  constructor(
    readonly pattern: string,
    readonly pending: string,
  ) {
    super(`expected ${pattern}, got ${JSON.stringify(pending)}`);
  }
}

export { FINAL_RESULT } from '../protocol/results.js';

const LF = 0x0a;
const GT = 0x3e;

const byteSet = (bytes: readonly number[]): Uint8Array => {
  const t = new Uint8Array(256);
  for (const b of bytes) t[b] = 1;
  return t;
};

/**
 * The bytes a match of these patterns must end with: the clock asks after every received byte
 * whether a wait is over, and a new match can only end at such a byte.
 */
const LAST_BYTES = new Map<RegExp, Uint8Array>([
  [FINAL_RESULT, byteSet([LF])],
  [FINAL_OR_PROMPT, byteSet([LF, GT])],
]);

interface Found {
  /** Offset of the match from the first unconsumed byte. */
  index: number;
  match: string;
  groups: string[];
}

export class HostPort {
  /** Received bytes [start, end) are unconsumed; times[i] is when bytes[i] arrived. */
  private bytes = Buffer.alloc(64);
  private times = new Float64Array(64);
  private start = 0;
  private end = 0;
  private text: string | undefined;
  /** Bumped whenever bytes move or are consumed: a search in progress starts over. */
  private epoch = 0;
  /** Every byte ever received, with times (for timing assertions). */
  readonly log: Array<{ t: Ns; b: number }> = [];
  keepLog = true;
  /**
   * Keep received bytes for expect/take/log. Off while a serial link is the host (`serve`):
   * nobody consumes this port then, and it would hold every byte of a long session.
   * Streams (`stream()`) are fed either way.
   */
  recording = true;
  private streams: Duplex[] = [];

  constructor(
    private readonly clock: ClockDriver,
    /** Bytes into the module's UART (at the current model instant). */
    private readonly receive: (bytes: Uint8Array) => void,
  ) {}

  /** Bytes the host sends now (UART-paced towards the modem). */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.clock.inject('host-rx', () => this.receive(bytes));
  }

  /** Called by the modem for bytes leaving the UART, all at instant `t`. */
  deliver(bytes: Uint8Array, t: Ns): void {
    for (let i = 0; i < bytes.length; i++) this.deliverByte(bytes[i]!, t);
  }

  /** Called by the modem for every byte leaving the UART, at the instant its stop bit ends. */
  deliverByte(b: number, t: Ns): void {
    if (this.recording) {
      if (this.end === this.bytes.length) this.makeRoom();
      this.bytes[this.end] = b;
      this.times[this.end] = t;
      this.end++;
      this.text = undefined;
      if (this.keepLog) this.log.push({ t, b });
    }
    for (const s of this.streams) s.push(Buffer.of(b));
  }

  private makeRoom(): void {
    const n = this.end - this.start;
    if (this.start > 0 && n <= this.bytes.length >> 1) {
      this.bytes.copyWithin(0, this.start, this.end);
      this.times.copyWithin(0, this.start, this.end);
    } else {
      const bytes = Buffer.alloc(this.bytes.length * 2);
      const times = new Float64Array(this.bytes.length * 2);
      bytes.set(this.bytes.subarray(this.start, this.end));
      times.set(this.times.subarray(this.start, this.end));
      this.bytes = bytes;
      this.times = times;
    }
    this.start = 0;
    this.end = n;
    this.epoch++;
  }

  /** Received and not yet consumed. */
  get pending(): string {
    this.text ??= this.decode(this.start, this.end);
    return this.text;
  }

  private decode(from: number, to: number): string {
    return this.bytes.toString('latin1', from, to);
  }

  /** Consume and return everything received so far. */
  take(): string {
    const s = this.pending;
    this.consume(this.end);
    return s;
  }

  private consume(to: number): void {
    this.start = to;
    if (this.start === this.end) this.start = this.end = 0;
    this.text = undefined;
    this.epoch++;
  }

  /** Wait (model time) until `pattern` has been received; consume through the match. */
  async expect(pattern: string | RegExp, timeout: Ns = sec(10)): Promise<Match> {
    const find = typeof pattern === 'string' ? this.stringFinder(pattern) : this.regexFinder(pattern);
    let m = find();
    if (!m) {
      await this.clock.waitUntil(() => (m = find()) !== null, timeout);
    }
    if (!m) throw new ExpectTimeout(String(pattern), this.pending);
    const found: Found = m;
    const matchEnd = this.start + found.index + found.match.length;
    // the regex search decoded the unconsumed text already: its head is the answer
    const text = this.text !== undefined ? this.text.slice(0, matchEnd - this.start) : this.decode(this.start, matchEnd);
    const at = matchEnd - 1 >= this.start ? this.times[matchEnd - 1]! : this.clock.kernel.now;
    this.consume(matchEnd);
    return { text, match: found.match, groups: found.groups, at };
  }

  /**
   * A search for a fixed string that looks at each received byte once: a match not found
   * before can only end at a byte that came since.
   */
  private stringFinder(pattern: string): () => Found | null {
    const pat = Buffer.from(pattern, 'latin1');
    // a character past U+00FF is never in the latin1 text of received bytes
    const impossible = pat.toString('latin1') !== pattern;
    const p = pat.length;
    let searched = this.start;
    let epoch = this.epoch;
    let found: Found | null = null;
    return () => {
      if (impossible) return null;
      if (p === 0) return { index: 0, match: pattern, groups: [] };
      if (epoch !== this.epoch) {
        epoch = this.epoch;
        searched = this.start;
        found = null;
      }
      // asked again (the clock re-checks what stopped a run): the same answer
      if (found !== null) return found;
      const bytes = this.bytes;
      const from = Math.max(this.start, searched - p + 1);
      const last = this.end - p;
      searched = this.end;
      for (let i = from; i <= last; i++) {
        let k = 0;
        while (k < p && bytes[i + k] === pat[k]) k++;
        if (k === p) return (found = { index: i - this.start, match: pattern, groups: [] });
      }
      return null;
    };
  }

  /** A regular expression over the unconsumed text; re-run only when a byte that can end a match came. */
  private regexFinder(pattern: RegExp): () => Found | null {
    const lastBytes = LAST_BYTES.get(pattern);
    let checked = -1;
    let epoch = this.epoch;
    let found: Found | null = null;
    return () => {
      if (found !== null && epoch === this.epoch && checked === this.end) return found;
      if (lastBytes !== undefined && checked >= 0 && epoch === this.epoch) {
        let fresh = false;
        for (let i = checked; i < this.end && !fresh; i++) fresh = lastBytes[this.bytes[i]!] === 1;
        checked = this.end;
        if (!fresh) return null;
      }
      checked = this.end;
      epoch = this.epoch;
      const r = pattern.exec(this.pending);
      if (r === null) return (found = null);
      return (found = { index: r.index, match: r[0], groups: r.slice(1).map((g) => g ?? '') });
    };
  }

  /**
   * Send a command line and return what came back through its final result code
   * (`OK`, `ERROR`, `+CME ERROR: …`, `SHUT OK`, `TimeOut`), echo included.
   */
  async command(line: string, timeout: Ns = sec(10)): Promise<string> {
    this.write(line.endsWith('\r') ? line : line + '\r');
    return (await this.expect(FINAL_RESULT, timeout)).text;
  }

  /** Let model time pass (instant in virtual time). */
  async advance(ns: Ns): Promise<void> {
    await this.clock.advance(ns);
  }

  /** A byte stream view of this port, for code written against a serial port stream. */
  stream(): Duplex {
    const d = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, cb) => {
        this.write(new Uint8Array(chunk));
        cb();
      },
    });
    this.streams.push(d);
    d.on('close', () => (this.streams = this.streams.filter((s) => s !== d)));
    return d;
  }
}
