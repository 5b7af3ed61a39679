/**
 * Reading a trace file back: a served or in-process modem's trace (a header line, then its
 * records), or what `modemsim run --trace` writes (per scenario a `scenario` line, then the
 * modem's records with `step` markers). A last line cut by a crash is left out.
 */
import { readFileSync } from 'node:fs';
import type { Ns } from '../kernel.js';
import { TRACE_LEVELS, TRACE_VERSION, type TraceHeader, type TraceLevel } from '../trace.js';

/** A record as read back: the fields every kind has, the rest as written. */
export type StoredRecord = { t: Ns; ev: string } & Record<string, unknown>;

/** One modem's run within a trace file. */
export interface TraceSession {
  /** `scenario NAME`, or the file's name for a modem trace. */
  name: string;
  header: TraceHeader;
  /** The modem's records, in file order (no header, no markers). */
  records: StoredRecord[];
  /** Scenario traces: step markers, each before the record of this index. */
  steps: Array<{ at: number; t: Ns; step: number; kind: string }>;
  /** Scenario traces: the scenario file the run played. */
  scenarioFile?: string;
  /** The 1-based line of the file each record came from (for messages). */
  lines: number[];
}

/** A trace that cannot be read; the message says what was expected and what was found. */
export class TraceReadError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isLevel = (v: unknown): v is TraceLevel => typeof v === 'string' && (TRACE_LEVELS as readonly string[]).includes(v);
const RECORD_EVENTS = new Set(['rx', 'tx', 'cmd', 'state', 'fault', 'urc', 'net', 'io', 'far', 'guard', 'boot', 'line', 'rxrun']);

/** A parsed line as a record, when it has the fields every kind has. */
function asRecord(o: Obj): StoredRecord | undefined {
  const t = o['t'];
  const ev = o['ev'];
  if (typeof t !== 'number' || typeof ev !== 'string' || !RECORD_EVENTS.has(ev)) return undefined;
  return { ...o, t, ev };
}

function headerOf(o: Obj, where: string): TraceHeader {
  if (o['format'] !== 'modemsim-trace') throw new TraceReadError(`${where}: expected a modemsim trace header, got format ${JSON.stringify(o['format'])}`);
  if (o['version'] !== TRACE_VERSION) throw new TraceReadError(`${where}: expected trace version ${TRACE_VERSION}, got ${JSON.stringify(o['version'])}; replay it with the modemsim that wrote it`);
  const profile = o['profile'];
  const seed = o['seed'];
  const baud = o['baud'];
  const level = o['level'];
  if (typeof profile !== 'string' || typeof seed !== 'number' || typeof baud !== 'number' || !isLevel(level) || typeof o['clock'] !== 'string') {
    throw new TraceReadError(`${where}: expected profile, seed, clock, level and baud in the header, got ${JSON.stringify(o)}`);
  }
  const h: TraceHeader = { format: 'modemsim-trace', version: TRACE_VERSION, profile, seed, clock: o['clock'], level, baud, saved: isObj(o['saved']) ? o['saved'] : {} };
  if (o['overrides'] !== undefined) h.overrides = o['overrides'];
  if (o['pacing'] === false) h.pacing = false;
  if (Array.isArray(o['groups'])) h.groups = o['groups'].filter((g): g is string => typeof g === 'string');
  if (o['dataDir'] === true) h.dataDir = true;
  if (o['fleet'] === true) h.fleet = true;
  return h;
}

/** The header a scenario run's modem had (runner.ts: virtual time, the embedded broker). */
function scenarioHeader(o: Obj, where: string): TraceHeader {
  const profile = o['profile'];
  const seed = o['seed'];
  if (typeof profile !== 'string' || typeof seed !== 'number') throw new TraceReadError(`${where}: expected profile and seed in the scenario line, got ${JSON.stringify(o)}`);
  return { format: 'modemsim-trace', version: TRACE_VERSION, profile, seed, clock: 'virtual', level: 'bytes', baud: 0, saved: {} };
}

export function readTrace(file: string): TraceSession[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = isObj(err) && typeof err['code'] === 'string' ? err['code'] : String(err);
    throw new TraceReadError(`${file}: cannot read it (${code})`);
  }
  return parseTrace(text, file);
}

export function parseTrace(text: string, file: string): TraceSession[] {
  const lines = text.split('\n');
  // a line cut by a kill has no newline after it
  if (!text.endsWith('\n')) lines.pop();
  const sessions: TraceSession[] = [];
  let cur: TraceSession | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new TraceReadError(`${where}: expected a JSON record, got ${JSON.stringify(line.slice(0, 60))}`);
    }
    if (!isObj(v)) throw new TraceReadError(`${where}: expected a JSON object, got ${JSON.stringify(line.slice(0, 60))}`);
    if (v['ev'] === 'header') {
      cur = { name: file, header: headerOf(v, where), records: [], steps: [], lines: [] };
      sessions.push(cur);
      continue;
    }
    if (v['ev'] === 'scenario') {
      cur = { name: `scenario ${String(v['name'])}`, header: scenarioHeader(v, where), records: [], steps: [], lines: [] };
      if (typeof v['file'] === 'string') cur.scenarioFile = v['file'];
      sessions.push(cur);
      continue;
    }
    if (!cur) throw new TraceReadError(`${where}: expected a header record first (a trace written by this modemsim), got ${JSON.stringify(line.slice(0, 60))}`);
    if (v['ev'] === 'step') {
      if (typeof v['t'] === 'number' && typeof v['step'] === 'number' && typeof v['kind'] === 'string') cur.steps.push({ at: cur.records.length, t: v['t'], step: v['step'], kind: v['kind'] });
      continue;
    }
    const r = asRecord(v);
    if (!r) throw new TraceReadError(`${where}: expected a trace record ({t, ev, …}), got ${JSON.stringify(line.slice(0, 60))}`);
    cur.records.push(r);
    cur.lines.push(i + 1);
  }
  if (sessions.length === 0) throw new TraceReadError(`${file}: expected a header record first (a trace written by this modemsim), got an empty file`);
  return sessions;
}
