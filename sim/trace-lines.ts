/**
 * Line records from the byte records: each command line, echo, response line, URC, prompt and
 * raw-data block as one record, with the times of its first and last byte. Derived from what
 * crossed the wire only (never from a kernel event), so a trace with lines runs the same model
 * as one without.
 *
 * How bytes are cut into lines:
 * - module → host (`tx`): a line ends at CR; the LF after it and the blank line of the
 *   `\r\n<text>\r\n` framing are dropped. A line that matches the command just received is its
 *   echo, one that matches a URC the engine printed is that URC (a URC whose payload holds CRs
 *   stays one record), `>` / `> ` is a prompt (cut when the host starts answering it).
 * - host → module (`rx`): a line ends at CR (a following LF is dropped). After a prompt, what
 *   the host sends is one `data` block, ended by the module's next output (a length-bounded
 *   upload may hold CR, Ctrl-Z and ESC as data).
 */
import type { Ns } from './kernel.js';

export type LineKind = 'command' | 'data' | 'echo' | 'response' | 'urc' | 'prompt';

export interface LineRecord {
  /** When the record was made: the instant of the byte that completed the line. */
  t: Ns;
  ev: 'line';
  /** As the byte records: `rx` host → module, `tx` module → host. */
  dir: 'rx' | 'tx';
  kind: LineKind;
  /** The bytes as latin1 text, terminator left out. */
  text: string;
  /** End of the first and of the last byte's stop bit (as their rx/tx records). */
  t0: Ns;
  t1: Ns;
  /** Present when the trace ended in the middle of the line. */
  cut?: true;
}

/** What the assembler reads: byte records and the engine's URC records. */
export type LineInput = { t: Ns; ev: string; b?: number; text?: string };

const CR = 13;
const LF = 10;
/** URCs printed and not yet seen whole on the wire (held ones, lost ones): bounded. */
const MAX_PENDING_URCS = 64;
/** Command lines whose echo may still come (echo off: they are never matched). */
const MAX_PENDING_ECHOES = 8;

class Open {
  text = '';
  t0: Ns = 0;
  t1: Ns = 0;

  get empty(): boolean {
    return this.text.length === 0;
  }

  add(b: number, t: Ns): void {
    if (this.text.length === 0) this.t0 = t;
    this.text += String.fromCharCode(b);
    this.t1 = t;
  }

  take(): { text: string; t0: Ns; t1: Ns } {
    const out = { text: this.text, t0: this.t0, t1: this.t1 };
    this.text = '';
    return out;
  }
}

const isPrompt = (text: string): boolean => text === '>' || text === '> ';

export class LineAssembler {
  private readonly tx = new Open();
  private readonly rx = new Open();
  private readonly data = new Open();
  /** The host is answering a prompt: its bytes are one data block. */
  private inData = false;
  private txAfterCr = false;
  private rxAfterCr = false;
  private urcs: string[] = [];
  private echoes: string[] = [];

  /** Model time since which a line of this direction has been open (undefined: none is). */
  openSince(dir: 'rx' | 'tx'): Ns | undefined {
    if (dir === 'tx') return this.tx.empty ? undefined : this.tx.t0;
    if (!this.data.empty) return this.data.t0;
    return this.rx.empty ? undefined : this.rx.t0;
  }

  /** The line records `r` completes (usually none). */
  push(r: LineInput): LineRecord[] {
    if (r.ev === 'urc' && r.text !== undefined) {
      this.urcs.push(r.text);
      if (this.urcs.length > MAX_PENDING_URCS) this.urcs.shift();
      return [];
    }
    if (r.b === undefined) return [];
    if (r.ev === 'tx') return this.txByte(r.b, r.t);
    if (r.ev === 'rx') return this.rxByte(r.b, r.t);
    return [];
  }

  /** Whatever is still open, as records marked `cut` (the trace is closing). */
  flush(t: Ns): LineRecord[] {
    const out: LineRecord[] = [];
    if (!this.tx.empty) out.push({ ...this.txLine(t), cut: true });
    if (!this.data.empty) out.push({ ...this.rec('rx', 'data', this.data.take(), t), cut: true });
    if (!this.rx.empty) out.push({ ...this.rec('rx', 'command', this.rx.take(), t), cut: true });
    return out;
  }

  private rec(dir: 'rx' | 'tx', kind: LineKind, l: { text: string; t0: Ns; t1: Ns }, t: Ns): LineRecord {
    return { t, ev: 'line', dir, kind, text: l.text, t0: l.t0, t1: l.t1 };
  }

  private txByte(b: number, t: Ns): LineRecord[] {
    const out: LineRecord[] = [];
    // the module answers: the data the host sent after a prompt is complete
    if (this.inData) {
      this.inData = false;
      if (!this.data.empty) out.push(this.rec('rx', 'data', this.data.take(), t));
    }
    if (this.txAfterCr) {
      this.txAfterCr = false;
      if (b === LF) return out;
    }
    if (b === CR && !this.urcContinues(this.tx.text)) {
      this.txAfterCr = true;
      if (!this.tx.empty) {
        this.tx.t1 = t;
        out.push(this.txLine(t));
      }
      return out;
    }
    this.tx.add(b, t);
    return out;
  }

  /** A URC printed with a raw payload may hold CRs: the line goes on while it still matches one. */
  private urcContinues(text: string): boolean {
    if (text.length === 0) return false;
    const withCr = text + '\r';
    return this.urcs.some((u) => u.length > text.length && u.startsWith(withCr));
  }

  private txLine(t: Ns): LineRecord {
    const l = this.tx.take();
    let kind: LineKind = 'response';
    if (isPrompt(l.text)) kind = 'prompt';
    else {
      const e = this.echoes.indexOf(l.text);
      if (e >= 0) {
        kind = 'echo';
        this.echoes.splice(0, e + 1);
      } else {
        const u = this.urcs.indexOf(l.text);
        if (u >= 0) {
          kind = 'urc';
          this.urcs.splice(u, 1);
        }
      }
    }
    return this.rec('tx', kind, l, t);
  }

  private rxByte(b: number, t: Ns): LineRecord[] {
    const out: LineRecord[] = [];
    if (isPrompt(this.tx.text)) {
      out.push(this.txLine(t));
      this.inData = true;
    }
    if (this.inData) {
      this.data.add(b, t);
      return out;
    }
    if (this.rxAfterCr) {
      this.rxAfterCr = false;
      if (b === LF) return out;
    }
    if (b === CR) {
      this.rxAfterCr = true;
      if (!this.rx.empty) {
        this.rx.t1 = t;
        const l = this.rx.take();
        this.echoes.push(l.text);
        if (this.echoes.length > MAX_PENDING_ECHOES) this.echoes.shift();
        out.push(this.rec('rx', 'command', l, t));
      }
      return out;
    }
    this.rx.add(b, t);
    return out;
  }
}
