/**
 * Recorded against replayed records. Three streams are compared on their own: the module's
 * bytes (`tx`), the host's (`rx`), and every other record; within a stream, records of one
 * instant are taken in a fixed order (by their JSON), since which of two things at the same
 * nanosecond the kernel ran first is not behaviour. Network records name broker ports, which
 * differ between the recording's broker and the replay's: they compare as `<port>`.
 */
import type { Ns } from '../kernel.js';
import type { StoredRecord, TraceSession } from './read.js';

export interface Difference {
  /** Model time of the first difference. */
  t: Ns;
  stream: 'tx' | 'rx' | 'records';
  /** Absent: the replay made a record the recording does not have. */
  recorded?: StoredRecord;
  /** Absent: the replay never made this recorded record. */
  replayed?: StoredRecord;
  /** The trace file's line of the recorded record. */
  line?: number;
}

interface Entry {
  r: StoredRecord;
  key: string;
  line?: number;
}

const streamOf = (r: StoredRecord): Difference['stream'] | undefined => {
  // a guard expiry is the wall clock's; a cut line is where the recording stopped
  if (r.ev === 'guard' || r.ev === 'header' || r['cut'] === true) return undefined;
  if (r.ev === 'tx' || r.ev === 'rx') return r.ev;
  return 'records';
};

function portless(v: unknown, ports: readonly number[], key?: string): unknown {
  if (key === 'port' || key === 'tlsPort') return '<port>';
  if (typeof v === 'number') return ports.includes(v) ? '<port>' : v;
  if (typeof v === 'string') return v.replace(/:(\d{2,5}|<broker>|<broker-tls>)(?![\d>])/g, ':<port>');
  if (Array.isArray(v)) return v.map((x) => portless(x, ports));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = portless(x, ports, k);
    return out;
  }
  return v;
}

function keyOf(r: StoredRecord, ports: readonly number[]): string {
  if (r.ev !== 'net' || r['detail'] === undefined) return JSON.stringify(r);
  return JSON.stringify({ ...r, detail: portless(r['detail'], ports) });
}

function streams(records: readonly StoredRecord[], ports: readonly number[], lines?: readonly number[]): Map<Difference['stream'], Entry[]> {
  const out = new Map<Difference['stream'], Entry[]>([
    ['tx', []],
    ['rx', []],
    ['records', []],
  ]);
  records.forEach((r, i) => {
    const s = streamOf(r);
    if (s === undefined) return;
    const e: Entry = { r, key: keyOf(r, ports) };
    const line = lines?.[i];
    if (line !== undefined) e.line = line;
    out.get(s)!.push(e);
  });
  for (const list of out.values()) list.sort((a, b) => a.r.t - b.r.t || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}

/**
 * The earliest difference, or undefined when the replay made every recorded record. Replayed
 * records at or after `end` (the last recorded instant) that the recording lacks are what came
 * after the recording stopped, not a difference.
 */
export function compareRecords(s: TraceSession, replayed: readonly StoredRecord[], end: Ns, replayPorts: readonly number[]): Difference | undefined {
  const want = streams(s.records, [], s.lines);
  const got = streams(replayed, replayPorts);
  let first: Difference | undefined;
  for (const [stream, a] of want) {
    const b = got.get(stream)!;
    for (let i = 0; ; i++) {
      const x = a[i];
      const y = b[i];
      if (x === undefined) {
        if (y !== undefined && y.r.t < end) first = earlier(first, { t: y.r.t, stream, replayed: y.r });
        break;
      }
      if (y === undefined || x.key !== y.key) {
        const d: Difference = { t: Math.min(x.r.t, y?.r.t ?? x.r.t), stream, recorded: x.r };
        if (y !== undefined) d.replayed = y.r;
        if (x.line !== undefined) d.line = x.line;
        first = earlier(first, d);
        break;
      }
    }
  }
  return first;
}

const earlier = (a: Difference | undefined, b: Difference): Difference => (a === undefined || b.t < a.t ? b : a);
