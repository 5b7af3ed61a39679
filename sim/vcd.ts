/**
 * The UART lines as a waveform: a VCD file (IEEE 1364 value change dump, 1 ns timescale) of the
 * module's TXD (modem → host) and RXD (host → modem), bit by bit, for GTKWave and friends.
 * Built from the trace's byte records, which carry the instant a byte's stop bit ends.
 *
 * Beside them, string tracks (`$var string`, GTKWave's extension: `s<text> <id>`, the text
 * escaped as GTKWave's own writer does) say what the bits mean: `RXD_line` the host's command
 * or data, `TXD_line` the module's line, `TXD_kind` what that line is (echo, response, URC,
 * prompt). Each holds the text from the start bit of the line's first byte to the stop bit of
 * its last, and is empty between lines.
 */
import type { Ns } from './kernel.js';
import type { Trace, TraceRecord } from './trace.js';
import { StreamedFile } from './trace-writer.js';
import type { Uart } from './uart.js';

const LINES = { tx: '!', rx: '"' } as const;
type Line = keyof typeof LINES;
const TEXT = { rx: '#', tx: '$', kind: '%' } as const;
type TextTrack = keyof typeof TEXT;

type Change = { t: Ns; line: Line; v: 0 | 1 } | { t: Ns; track: TextTrack; s: string };

/** Held changes past which the waveform is written even with a line still open (its text then comes late). */
const MAX_HELD = 50_000;

const KIND_NAME: Readonly<Record<string, string>> = { echo: 'echo', response: 'response', urc: 'URC', prompt: 'prompt', command: 'command', data: 'data' };

/** As GTKWave's fstUtilityBinToEsc: no white space in a value, C escapes, octal for the rest. */
export function vcdEscape(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) out += '\\\\';
    else if (c > 0x20 && c <= 0x7e) out += text[i];
    else if (c === 13) out += '\\r';
    else if (c === 10) out += '\\n';
    else if (c === 9) out += '\\t';
    else out += '\\' + (c & 0xff).toString(8).padStart(3, '0');
  }
  return out;
}

export class VcdWriter {
  private readonly out: StreamedFile;
  private pending: Change[] = [];
  private readonly level: Record<Line, 0 | 1> = { tx: 1, rx: 1 };
  private written: Ns = -1;
  /** Everything up to here has been written (a flush that gets no further has nothing to do). */
  private flushedTo: Ns = -1;
  /** The open line (by its first byte's time) the waveform stopped holding back for. */
  private readonly givenUp: Record<Line, Ns | undefined> = { tx: undefined, rx: undefined };
  private failed = false;
  private readonly off: () => void;

  constructor(
    private readonly uart: Uart,
    private readonly trace: Trace,
    file: string,
    /** Writing the file failed (a full disk): told once; the waveform stops there. */
    onWriteError?: (err: Error) => void,
  ) {
    this.out = new StreamedFile(file, (err) => {
      // a full disk: stop the waveform, keep simulating
      this.failed = true;
      this.off();
      onWriteError?.(err);
    });
    this.out.write(
      [
        '$version modemsim $end',
        '$timescale 1ns $end',
        '$scope module uart $end',
        `$var wire 1 ${LINES.tx} TXD $end`,
        `$var wire 1 ${LINES.rx} RXD $end`,
        `$var string 1 ${TEXT.rx} RXD_line $end`,
        `$var string 1 ${TEXT.tx} TXD_line $end`,
        `$var string 1 ${TEXT.kind} TXD_kind $end`,
        '$upscope $end',
        '$enddefinitions $end',
        '#0',
        '$dumpvars',
        `1${LINES.tx}`,
        `1${LINES.rx}`,
        `s ${TEXT.rx}`,
        `s ${TEXT.tx}`,
        `s ${TEXT.kind}`,
        '$end',
        '',
      ].join('\n'),
    );
    this.off = trace.onRecord((r) => this.onRecord(r));
  }

  private onRecord(r: TraceRecord): void {
    if (r.ev === 'line') return this.onLine(r.dir, r.kind, r.text, r.t0, r.t1);
    if (r.ev !== 'tx' && r.ev !== 'rx') return;
    const bits = this.uart.bitsPerByte;
    const bt = this.uart.byteTime;
    const start = r.t - bt;
    const at = (k: number): Ns => start + Math.round((k * bt) / bits);
    this.set(r.ev, at(0), 0);
    for (let i = 0; i < this.uart.dataBits; i++) this.set(r.ev, at(1 + i), ((r.b >> i) & 1) as 0 | 1);
    // parity bits are not modelled in content: 8N1 is the module's framing
    this.set(r.ev, at(1 + this.uart.dataBits), 1);
    // a later byte's bits can start no earlier than one byte time before its record, and a
    // line still open will put its text at its first byte's start bit
    let upTo = r.t - bt;
    for (const dir of ['rx', 'tx'] as const) {
      const open = this.trace.lineOpenSince(dir);
      if (open === undefined || open === this.givenUp[dir]) continue;
      // an endless line (a 10 KB one, a host that never sends CR) is not waited for: its text comes late
      if (this.pending.length > MAX_HELD) this.givenUp[dir] = open;
      else upTo = Math.min(upTo, open - bt - 1);
    }
    this.flush(upTo);
  }

  private onLine(dir: 'rx' | 'tx', kind: string, text: string, t0: Ns, t1: Ns): void {
    const from = Math.max(t0 - this.uart.byteTime, this.written);
    const track: TextTrack = dir;
    this.pending.push({ t: from, track, s: text }, { t: Math.max(t1, from), track, s: '' });
    if (dir === 'tx') this.pending.push({ t: from, track: 'kind', s: KIND_NAME[kind] ?? kind }, { t: Math.max(t1, from), track: 'kind', s: '' });
  }

  private set(line: Line, t: Ns, v: 0 | 1): void {
    if (this.level[line] === v) return;
    this.level[line] = v;
    this.pending.push({ t, line, v });
  }

  private flush(upTo: Ns): void {
    if (this.failed) this.pending = [];
    if (this.pending.length === 0 || upTo <= this.flushedTo) return;
    this.flushedTo = upTo;
    this.pending.sort((a, b) => a.t - b.t);
    let i = 0;
    const lines: string[] = [];
    for (; i < this.pending.length && this.pending[i]!.t <= upTo; i++) {
      const c = this.pending[i]!;
      if (c.t !== this.written) {
        lines.push(`#${c.t}`);
        this.written = c.t;
      }
      lines.push('line' in c ? `${c.v}${LINES[c.line]}` : `s${vcdEscape(c.s)} ${TEXT[c.track]}`);
    }
    this.pending = this.pending.slice(i);
    if (lines.length) this.out.write(lines.join('\n') + '\n');
  }

  close(): Promise<void> {
    this.off();
    this.flush(Number.MAX_SAFE_INTEGER);
    return this.out.close();
  }
}
