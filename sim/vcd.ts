/**
 * The UART lines as a waveform: a VCD file (IEEE 1364 value change dump, 1 ns timescale) of the
 * module's TXD (modem → host) and RXD (host → modem), bit by bit, for GTKWave and friends.
 * Built from the trace's byte records, which carry the instant a byte's stop bit ends.
 */
import { createWriteStream, openSync, WriteStream } from 'node:fs';
import type { Ns } from './kernel.js';
import { endStream, type Trace, type TraceRecord } from './trace.js';
import type { Uart } from './uart.js';

const LINES = { tx: '!', rx: '"' } as const;
type Line = keyof typeof LINES;

interface Change {
  t: Ns;
  line: Line;
  v: 0 | 1;
}

export class VcdWriter {
  private readonly out: WriteStream;
  private pending: Change[] = [];
  private readonly level: Record<Line, 0 | 1> = { tx: 1, rx: 1 };
  private written: Ns = -1;
  private failed = false;
  private readonly off: () => void;

  constructor(
    private readonly uart: Uart,
    trace: Trace,
    file: string,
    /** Writing the file failed (a full disk): told once; the waveform stops there. */
    onWriteError?: (err: Error) => void,
  ) {
    this.out = createWriteStream('', { fd: openSync(file, 'w') });
    this.out.on('error', (err) => {
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
        '$upscope $end',
        '$enddefinitions $end',
        '#0',
        '$dumpvars',
        `1${LINES.tx}`,
        `1${LINES.rx}`,
        '$end',
        '',
      ].join('\n'),
    );
    this.off = trace.onRecord((r) => this.onRecord(r));
  }

  private onRecord(r: TraceRecord): void {
    if (r.ev !== 'tx' && r.ev !== 'rx') return;
    const bits = this.uart.bitsPerByte;
    const bt = this.uart.byteTime;
    const start = r.t - bt;
    const at = (k: number): Ns => start + Math.round((k * bt) / bits);
    this.set(r.ev, at(0), 0);
    for (let i = 0; i < this.uart.dataBits; i++) this.set(r.ev, at(1 + i), ((r.b >> i) & 1) as 0 | 1);
    // parity bits are not modelled in content: 8N1 is the module's framing
    this.set(r.ev, at(1 + this.uart.dataBits), 1);
    // a later byte's bits can start no earlier than one byte time before its record
    this.flush(r.t - bt);
  }

  private set(line: Line, t: Ns, v: 0 | 1): void {
    if (this.level[line] === v) return;
    this.level[line] = v;
    this.pending.push({ t, line, v });
  }

  private flush(upTo: Ns): void {
    if (this.failed) this.pending = [];
    if (this.pending.length === 0) return;
    this.pending.sort((a, b) => a.t - b.t);
    let i = 0;
    const lines: string[] = [];
    for (; i < this.pending.length && this.pending[i]!.t <= upTo; i++) {
      const c = this.pending[i]!;
      if (c.t !== this.written) {
        lines.push(`#${c.t}`);
        this.written = c.t;
      }
      lines.push(`${c.v}${LINES[c.line]}`);
    }
    this.pending = this.pending.slice(i);
    if (lines.length) this.out.write(lines.join('\n') + '\n');
  }

  close(): Promise<void> {
    this.off();
    this.flush(Number.MAX_SAFE_INTEGER);
    return endStream(this.out);
  }
}
