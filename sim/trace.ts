/**
 * The trace: every byte on the UART, every command, state change and fault, stamped with the
 * model time in ns. Written as JSON lines; the same seed and input give the same file. The
 * file is streamed (see StreamedFile): each record reaches it within ~50 ms of wall time.
 * Line records (trace-lines.ts) follow the byte that completes each line; at level `lines`
 * the module's byte records are left out of the file and of memory (listeners still get them).
 */
import { Ns } from './kernel.js';
import { LineAssembler, type LineRecord } from './trace-lines.js';
import { RxRunPacker, type RxRunRecord } from './trace-runs.js';
import { StreamedFile } from './trace-writer.js';

export type { LineKind, LineRecord } from './trace-lines.js';
export type { RxRunRecord } from './trace-runs.js';

export type TraceRecord =
  | { t: Ns; ev: 'rx' | 'tx'; b: number }
  | { t: Ns; ev: 'cmd'; line: string }
  | { t: Ns; ev: 'state'; what: string; from?: unknown; to: unknown }
  | { t: Ns; ev: 'fault'; what: string; detail?: unknown }
  | { t: Ns; ev: 'urc'; text: string }
  | { t: Ns; ev: 'net'; what: string; detail?: unknown }
  /** Real time: a network input (a broker reply, a socket close) entered the model here; a replay enters it here again. */
  | { t: Ns; ev: 'io'; what: string }
  /** A message another client published on the embedded broker (serve): a replay publishes it again here. */
  | { t: Ns; ev: 'far'; what: 'publish'; topic: string; data: string; qos: 0 | 1 | 2; retain: boolean }
  /** An SMS the SMSC was given for the module (serve's control endpoint): a replay gives it again here. */
  | { t: Ns; ev: 'far'; what: 'sms'; sms: { from: string; text: string; time: string } | { pdu: string } }
  /** The SMSC was told deliveries to `to` end in TP-ST `status` (0: delivered again). */
  | { t: Ns; ev: 'far'; what: 'smsRule'; to: string; status: number }
  /** A wall-clock guard ran out: model time went on without the reply it held for. */
  | { t: Ns; ev: 'guard'; what: 'expired'; detail: { label: string; wallGuardMs: number } }
  | { t: Ns; ev: 'boot'; generation: number }
  | LineRecord
  | RxRunRecord;

/**
 * `bytes`: every UART byte as a record, and the lines. `lines`: the lines, no byte records; the
 * host's bytes, which a replay feeds back, as `rxrun` records (runs of evenly spaced bytes).
 */
export type TraceLevel = 'bytes' | 'lines';
export const TRACE_LEVELS: readonly TraceLevel[] = ['bytes', 'lines'];

/**
 * The first line of a trace file: what a replay needs to build the same modem (sim/replay).
 * Not kept in memory (in-process users know their options).
 */
export interface TraceHeader {
  format: 'modemsim-trace';
  version: typeof TRACE_VERSION;
  profile: string;
  seed: number;
  /** How model time ran: `realtime`, `virtual` or `free`. */
  clock: string;
  level: TraceLevel;
  /** The UART rate at power-on (a rate saved with AT&W included). */
  baud: number;
  /** The AT&W settings the module powered on with. */
  saved: Record<string, unknown>;
  /** createModem's profileOverrides (serve --baud), when given. */
  overrides?: unknown;
  /** Present (false) when the UART was unpaced. */
  pacing?: false;
  /** Command groups, when not the default ones. */
  groups?: string[];
  /** The session had a data directory (its flash files are not in the trace). */
  dataDir?: true;
  /** The modem ran on a timeline shared with others (createFleet): its draws are the fleet's. */
  fleet?: true;
}

export const TRACE_VERSION = 1;
export type TraceHeaderRecord = { t: Ns; ev: 'header' } & TraceHeader;

export interface TraceOptions {
  /** Write JSON lines to this file. */
  file?: string;
  /** Keep records in memory (tests, scenario runner). Bounded by `memoryLimit`. */
  memory?: boolean;
  memoryLimit?: number;
  /** Writing the file failed (a full disk): told once; the trace file stops there. */
  onWriteError?: (err: Error) => void;
  /** Default `bytes`. */
  level?: TraceLevel;
}

export class Trace {
  readonly records: TraceRecord[] = [];
  private readonly out: StreamedFile | undefined;
  private readonly memory: boolean;
  private readonly limit: number;
  /** Records dropped from memory once the limit was reached (the file still has them). */
  droppedFromMemory = 0;
  private listeners: Array<(r: TraceRecord) => void> = [];
  readonly level: TraceLevel;
  private readonly lines = new LineAssembler();
  private readonly runs = new RxRunPacker();
  /** Model time of the last record (where lines still open at close are cut). */
  private last: Ns = 0;

  constructor(opts: TraceOptions = {}) {
    // a full disk mid-run: stop writing, keep simulating
    this.out = opts.file ? new StreamedFile(opts.file, opts.onWriteError) : undefined;
    this.memory = opts.memory ?? false;
    this.limit = opts.memoryLimit ?? 1_000_000;
    this.level = opts.level ?? 'bytes';
  }

  get enabled(): boolean {
    return this.out !== undefined || this.memory || this.listeners.length > 0;
  }

  record(r: TraceRecord): void {
    this.last = r.t;
    if (this.level === 'bytes' || (r.ev !== 'tx' && r.ev !== 'rx')) this.keep(r);
    else if (r.ev === 'rx') for (const run of this.runs.push(r.b, r.t)) this.emit(run);
    for (const l of this.listeners) l(r);
    if (r.ev === 'rx' || r.ev === 'tx' || r.ev === 'urc') {
      for (const line of this.lines.push(r)) {
        this.emit(line);
        // the module answered a prompt: the data the host sent is complete (it has no CR to end it)
        if (this.level === 'lines' && line.ev === 'line' && line.dir === 'rx' && line.kind === 'data') for (const run of this.runs.flush(r.t)) this.emit(run);
      }
    }
  }

  /** Write the header line (only to the file): call before any record. */
  header(t: Ns, h: TraceHeader): void {
    const r: TraceHeaderRecord = { t, ev: 'header', ...h };
    this.out?.write(JSON.stringify(r) + '\n');
  }

  /** Model time since which a line of this direction has been open (the VCD holds its text back). */
  lineOpenSince(dir: 'rx' | 'tx'): Ns | undefined {
    return this.lines.openSince(dir);
  }

  private emit(r: TraceRecord): void {
    this.keep(r);
    for (const l of this.listeners) l(r);
  }

  private keep(r: TraceRecord): void {
    if (this.memory) {
      if (this.records.length < this.limit) this.records.push(r);
      else this.droppedFromMemory++;
    }
    this.out?.write(JSON.stringify(r) + '\n');
  }

  onRecord(fn: (r: TraceRecord) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  /** Set when writing the trace file failed; the file is incomplete from there on. */
  get writeError(): Error | undefined {
    return this.out?.error;
  }

  /** Lines still open are written, marked `cut`; then the file is closed. */
  close(): Promise<void> {
    for (const run of this.runs.flush(this.last)) this.emit(run);
    for (const line of this.lines.flush(this.last)) this.emit(line);
    return this.out ? this.out.close() : Promise.resolve();
  }
}
