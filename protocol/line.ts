/**
 * Byte-level V.250 line assembly: the part of the AT engine that sees single received bytes.
 * Pure: bytes in, events out. It knows S3 (terminator), S5 (backspace), the echo setting, the
 * bounded line buffer, and the raw-data mode a command enters after its `>` prompt.
 */

export interface LineSettings {
  /** S3: command line terminator (default 13, CR). */
  s3: number;
  /** S5: command line editing character (default 8, BS). */
  s5: number;
  /** ATE: echo received command characters. */
  echo: boolean;
  /** Longest command line kept; a longer one is discarded whole (behaviour §3). */
  maxLine: number;
}

export interface RawRequest {
  /** Exact count of bytes to take; when absent the data ends at Ctrl-Z. */
  length?: number;
  /** End on 0x1A (Ctrl-Z); the terminator is not part of the data. */
  ctrlZ?: boolean;
  /** Upper bound on bytes taken in Ctrl-Z mode. */
  maxLength: number;
}

export type LineEvent =
  | { kind: 'echo'; bytes: Uint8Array }
  | { kind: 'line'; text: string }
  | { kind: 'overflow'; length: number }
  | { kind: 'raw'; data: Uint8Array; end: 'length' | 'ctrl-z' | 'cancel' | 'overflow' };

const NUL = 0x00;
const CTRL_Z = 0x1a;
const ESC = 0x1b;

/** Shared empty result of push(); callers only iterate it. */
const NO_EVENTS: LineEvent[] = [];

export class LineAssembler {
  /** The line typed so far: bytes [0, len) of a buffer that grows up to the line limit. */
  private buf = Buffer.alloc(256);
  private len = 0;
  private discarded = 0;
  /** The last command line, for `A/` (V.250 §5.2.4: repeat the last command line). */
  private lastLine: string | undefined;
  private raw: RawRequest | undefined;
  private rawBuf: Uint8Array = new Uint8Array(0);
  private rawLen = 0;

  constructor(public settings: LineSettings) {}

  get inRawMode(): boolean {
    return this.raw !== undefined;
  }

  /** Bytes taken so far in raw mode. */
  get rawReceived(): number {
    return this.rawLen;
  }

  enterRaw(req: RawRequest): void {
    this.raw = req;
    this.rawBuf = new Uint8Array(req.length ?? req.maxLength);
    this.rawLen = 0;
  }

  /** Leave raw mode without completing it (timeout); returns what had arrived. */
  abortRaw(): Uint8Array {
    const data = this.rawBuf.slice(0, this.rawLen);
    this.raw = undefined;
    this.rawLen = 0;
    return data;
  }

  /** Forget a partly typed command line (reboot). */
  reset(): void {
    this.len = 0;
    this.discarded = 0;
    this.raw = undefined;
    this.rawLen = 0;
  }

  /**
   * Take an ordinary byte of a command line — not in raw mode, not NUL, S3, S5 or the `/` of
   * `A/`, inside the line limit — and return true; the caller echoes it when echo is on, as
   * push() would. False: the byte needs push(). The commonest byte then costs no event object.
   */
  takeOrdinary(byte: number): boolean {
    if (this.raw !== undefined || byte === NUL) return false;
    const s = this.settings;
    if (byte === s.s3 || byte === s.s5 || this.discarded !== 0 || this.len >= s.maxLine) return false;
    if (byte === 0x2f && isRepeatPrefix(this.buf, this.len)) return false;
    this.append(byte);
    return true;
  }

  /**
   * takeOrdinary over bytes[from, to), byte after byte, up to the first byte that needs push();
   * returns its index (or `to`).
   */
  takeOrdinaryRun(bytes: Uint8Array, from: number, to: number): number {
    if (this.raw !== undefined || this.discarded !== 0) return from;
    const s = this.settings;
    let i = from;
    for (; i < to; i++) {
      const b = bytes[i]!;
      if (b === NUL || b === s.s3 || b === s.s5 || this.len >= s.maxLine) break;
      if (b === 0x2f && isRepeatPrefix(this.buf, this.len)) break;
      this.append(b);
    }
    return i;
  }

  /** Feed one received byte; returns the events it causes (usually zero or one). */
  push(byte: number): LineEvent[] {
    if (this.raw) return this.pushRaw(byte, this.raw);
    // gsmlib formats integers with a trailing NUL (`AT+CMGR=1\0`); the module ignores it, unechoed
    if (byte === NUL) return NO_EVENTS;
    const s = this.settings;
    // an ordinary byte of a line with echo off, the bulk of all input, allocates nothing
    if (!s.echo && byte !== s.s3 && byte !== s.s5 && byte !== 0x2f && this.discarded === 0 && this.len < s.maxLine) {
      this.append(byte);
      return NO_EVENTS;
    }
    const out: LineEvent[] = [];
    if (s.echo) out.push({ kind: 'echo', bytes: Uint8Array.of(byte) });
    if (byte === s.s3) {
      if (this.discarded > 0) {
        out.push({ kind: 'overflow', length: this.discarded });
        this.discarded = 0;
        this.len = 0;
        return out;
      }
      const text = this.buf.toString('latin1', 0, this.len);
      this.len = 0;
      const line = commandLineOf(text);
      if (line !== undefined) {
        this.lastLine = line;
        out.push({ kind: 'line', text: line });
      }
      return out;
    }
    if (byte === 0x2f /* '/' */ && this.discarded === 0 && isRepeatPrefix(this.buf, this.len)) {
      this.len = 0;
      if (this.lastLine !== undefined) out.push({ kind: 'line', text: this.lastLine });
      return out;
    }
    if (byte === s.s5) {
      if (this.discarded === 0 && this.len > 0) this.len--;
      return out;
    }
    if (this.discarded > 0) {
      this.discarded++;
      return out;
    }
    if (this.len >= s.maxLine) {
      this.discarded = this.len + 1;
      this.len = 0;
      return out;
    }
    this.append(byte);
    return out;
  }

  private append(byte: number): void {
    if (this.len === this.buf.length) {
      const grown = Buffer.alloc(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    this.buf[this.len++] = byte;
  }

  private pushRaw(byte: number, req: RawRequest): LineEvent[] {
    if (req.length === undefined && req.ctrlZ) {
      if (byte === CTRL_Z) return [this.finishRaw('ctrl-z')];
      if (byte === ESC) return [this.finishRaw('cancel')];
      if (this.rawLen >= req.maxLength) return [this.finishRaw('overflow')];
    }
    this.rawBuf[this.rawLen++] = byte;
    if (req.length !== undefined && this.rawLen >= req.length) return [this.finishRaw('length')];
    return NO_EVENTS;
  }

  private finishRaw(end: 'length' | 'ctrl-z' | 'cancel' | 'overflow'): LineEvent {
    const data = this.rawBuf.slice(0, this.rawLen);
    this.raw = undefined;
    this.rawLen = 0;
    return { kind: 'raw', data, end };
  }
}

/** `A` or `a` alone (after noise-free start) makes `A/` a repeat request. */
function isRepeatPrefix(buf: Uint8Array, len: number): boolean {
  return len === 1 && (buf[0] === 0x41 || buf[0] === 0x61);
}

/**
 * A command line starts at the first `AT` (any case); V.250 ignores what comes before it and
 * ignores lines with no `AT` at all. LF left over from a CR LF terminator is such noise.
 * Returns the line from `AT` on, or undefined for a line to ignore.
 */
export function commandLineOf(text: string): string | undefined {
  const i = text.search(/at/i);
  if (i < 0) return undefined;
  return text.slice(i);
}
