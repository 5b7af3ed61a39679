/**
 * The trace: every byte on the UART, every command, state change and fault, stamped with the
 * model time in ns. Written as JSON lines; the same seed and input give the same file.
 */
import { createWriteStream, openSync, WriteStream } from 'node:fs';
import { Ns } from './kernel.js';

export type TraceRecord =
  | { t: Ns; ev: 'rx' | 'tx'; b: number }
  | { t: Ns; ev: 'cmd'; line: string }
  | { t: Ns; ev: 'state'; what: string; from?: unknown; to: unknown }
  | { t: Ns; ev: 'fault'; what: string; detail?: unknown }
  | { t: Ns; ev: 'urc'; text: string }
  | { t: Ns; ev: 'net'; what: string; detail?: unknown }
  /** A wall-clock guard ran out: model time went on without the reply it held for. */
  | { t: Ns; ev: 'guard'; what: 'expired'; detail: { label: string; wallGuardMs: number } }
  | { t: Ns; ev: 'boot'; generation: number };

export interface TraceOptions {
  /** Write JSON lines to this file. */
  file?: string;
  /** Keep records in memory (tests, scenario runner). Bounded by `memoryLimit`. */
  memory?: boolean;
  memoryLimit?: number;
  /** Writing the file failed (a full disk): told once; the trace file stops there. */
  onWriteError?: (err: Error) => void;
}

export class Trace {
  readonly records: TraceRecord[] = [];
  private readonly out: WriteStream | undefined;
  private readonly memory: boolean;
  private readonly limit: number;
  private pending: string[] = [];
  /** Records dropped from memory once the limit was reached (the file still has them). */
  droppedFromMemory = 0;
  private listeners: Array<(r: TraceRecord) => void> = [];
  /** Set when writing the trace file failed; the file is incomplete from there on. */
  writeError: Error | undefined;

  constructor(opts: TraceOptions = {}) {
    // opened synchronously so a bad path fails here, with its message, not later as a crash
    this.out = opts.file ? createWriteStream('', { fd: openSync(opts.file, 'w') }) : undefined;
    this.out?.on('error', (err) => {
      // a full disk mid-run: stop writing, keep simulating
      this.writeError = err;
      opts.onWriteError?.(err);
    });
    this.memory = opts.memory ?? false;
    this.limit = opts.memoryLimit ?? 1_000_000;
  }

  get enabled(): boolean {
    return this.out !== undefined || this.memory || this.listeners.length > 0;
  }

  record(r: TraceRecord): void {
    if (this.memory) {
      if (this.records.length < this.limit) this.records.push(r);
      else this.droppedFromMemory++;
    }
    if (this.out) {
      this.pending.push(JSON.stringify(r));
      if (this.pending.length >= 512) this.flush();
    }
    for (const l of this.listeners) l(r);
  }

  onRecord(fn: (r: TraceRecord) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  private flush(): void {
    if (!this.out || this.pending.length === 0 || this.writeError) return;
    this.out.write(this.pending.join('\n') + '\n');
    this.pending = [];
  }

  close(): Promise<void> {
    this.flush();
    return this.out ? endStream(this.out) : Promise.resolve();
  }
}

/**
 * End a file stream and resolve once it is closed: 'close' comes after the outcome of the last
 * write, so a failing final flush is reported (onWriteError) before the owner moves on.
 */
export function endStream(out: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (out.closed) return resolve();
    out.once('close', () => resolve());
    out.end();
  });
}
