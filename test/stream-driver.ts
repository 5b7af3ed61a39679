/**
 * A small AT driver of the kind users write against `@serialport/stream`: it opens the port,
 * reads with a `data` listener, writes lines and waits for texts. It knows nothing of modemsim
 * but the binding it is given; the tests of the binding, the lines and the fault timeline use it.
 */
import { SerialPortStream } from '@serialport/stream';
import type { ModemRegistry } from '../sim/binding/binding.js';

export const FINAL = /\r\n(OK|ERROR|SHUT OK|\+CME ERROR: \d+)\r\n/;

export class StreamDriver {
  readonly port: SerialPortStream<ModemRegistry>;
  /** Everything received since open. */
  all = '';
  private pending = '';
  private waiters: Array<{ re: RegExp; resolve: (text: string) => void }> = [];

  constructor(binding: ModemRegistry, path: string, opts: { baudRate?: number; rtscts?: boolean; hupcl?: boolean } = {}) {
    this.port = new SerialPortStream({ binding, path, baudRate: opts.baudRate ?? 115200, rtscts: opts.rtscts ?? false, hupcl: opts.hupcl ?? true });
    this.port.on('data', (d: Buffer) => {
      const s = d.toString('latin1');
      this.all += s;
      this.pending += s;
      this.check();
    });
  }

  opened(): Promise<void> {
    if (this.port.isOpen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.port.once('open', () => resolve());
      this.port.once('error', reject);
    });
  }

  /** Resolves with everything up to and including the first match received from now on or pending. */
  until(pattern: string | RegExp): Promise<string> {
    const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    return new Promise((resolve) => {
      this.waiters.push({ re, resolve });
      this.check();
    });
  }

  /** Write a line; resolves with the echo and everything through the final result code. */
  command(line: string): Promise<string> {
    this.write(line + '\r');
    return this.until(FINAL);
  }

  write(data: string): void {
    this.port.write(Buffer.from(data, 'latin1'));
  }

  set(flags: { dtr?: boolean; rts?: boolean; brk?: boolean }): Promise<void> {
    return new Promise((resolve, reject) => this.port.set(flags, (err) => (err ? reject(err) : resolve())));
  }

  get(): Promise<{ cts: boolean; dsr: boolean; dcd: boolean }> {
    return new Promise((resolve, reject) =>
      this.port.get((err, status) => {
        if (err || status === undefined) reject(err ?? new Error('no status'));
        else resolve(status);
      }),
    );
  }

  update(baudRate: number): Promise<void> {
    return new Promise((resolve, reject) => this.port.update({ baudRate }, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve, reject) => this.port.close((err) => (err ? reject(err) : resolve())));
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      const m = w.re.exec(this.pending);
      if (m === null) continue;
      const end = m.index + m[0].length;
      const text = this.pending.slice(0, end);
      this.pending = this.pending.slice(end);
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(text);
    }
  }
}
