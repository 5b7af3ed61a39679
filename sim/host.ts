/**
 * The in-process host side of the UART: what a test or an embedded fixture uses instead of a
 * serial port. It records every received byte with its model time and waits for patterns by
 * letting the clock run (instantly in virtual time).
 */
import { Duplex } from 'node:stream';
import type { ClockDriver } from './clock.js';
import { Ns, sec } from './kernel.js';
import { FINAL_RESULT } from '../protocol/results.js';

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

export class HostPort {
  private buf = '';
  private times: Ns[] = [];
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

  /** Called by the modem for every byte leaving the UART. */
  deliver(bytes: Uint8Array, t: Ns): void {
    if (this.recording) {
      for (const b of bytes) {
        this.buf += String.fromCharCode(b);
        this.times.push(t);
        if (this.keepLog) this.log.push({ t, b });
      }
    }
    for (const s of this.streams) s.push(Buffer.from(bytes));
  }

  /** Received and not yet consumed. */
  get pending(): string {
    return this.buf;
  }

  /** Consume and return everything received so far. */
  take(): string {
    const s = this.buf;
    this.buf = '';
    this.times = [];
    return s;
  }

  /** Wait (model time) until `pattern` has been received; consume through the match. */
  async expect(pattern: string | RegExp, timeout: Ns = sec(10)): Promise<Match> {
    const find = (): RegExpExecArray | null => {
      if (typeof pattern === 'string') {
        const i = this.buf.indexOf(pattern);
        if (i < 0) return null;
        const m = [pattern] as unknown as RegExpExecArray;
        m.index = i;
        return m;
      }
      return pattern.exec(this.buf);
    };
    let m = find();
    if (!m) {
      await this.clock.waitUntil(() => (m = find()) !== null, timeout);
    }
    if (!m) throw new ExpectTimeout(String(pattern), this.buf);
    const found: RegExpExecArray = m;
    const end = found.index + found[0].length;
    const text = this.buf.slice(0, end);
    const at = this.times[end - 1] ?? this.clock.kernel.now;
    this.buf = this.buf.slice(end);
    this.times = this.times.slice(end);
    return { text, match: found[0], groups: found.slice(1).map((g) => g ?? ''), at };
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
