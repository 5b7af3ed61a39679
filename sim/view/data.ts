/**
 * What the timeline page shows, built from a trace: per session the lanes (host → module,
 * module → host, modem state, network and broker, faults and guards, steps) as compact arrays
 * the page draws from. A trace without line records (bytes only) gets them derived here.
 */
import type { Ns } from '../kernel.js';
import type { StoredRecord, TraceSession } from '../replay/read.js';
import type { ScenarioResult } from '../scenario/runner.js';
import { LineAssembler, type LineRecord } from '../trace-lines.js';

/** A line: first and last byte time, kind letter, text (latin1). */
export type ViewLine = [t0: Ns, t1: Ns, kind: string, text: string];
/** An instant: time, label, detail (JSON text, may be empty). */
export type ViewMark = [t: Ns, label: string, detail: string];

export interface ViewStateRow {
  /** What changes (`network.stat`) and how the page names it. */
  what: string;
  label: string;
  /** Each value from its instant on; the first is the value at the session's start. */
  segs: Array<[t: Ns, value: string]>;
}

export interface ViewSession {
  name: string;
  info: string;
  start: Ns;
  end: Ns;
  records: number;
  rx: ViewLine[];
  tx: ViewLine[];
  state: ViewStateRow[];
  net: ViewMark[];
  faults: ViewMark[];
  steps: ViewMark[];
}

export interface ViewData {
  title: string;
  sessions: ViewSession[];
}

const KIND_LETTER: Readonly<Record<string, string>> = { command: 'c', data: 'd', echo: 'e', response: 'r', urc: 'u', prompt: 'p' };

const STATE_NAMES: Readonly<Record<string, string>> = {
  'network.cfun': 'radio (CFUN)',
  'network.sim': 'SIM',
  'network.stat': 'registration',
  'pdp.attached': 'packet attach',
  'pdp.tcpip': 'TCPIP state',
  'mqtt-link': 'MQTT link',
};

const REG_STAT: Readonly<Record<string, string>> = { '0': '0 idle', '1': '1 home', '2': '2 searching', '3': '3 denied', '4': '4 unknown', '5': '5 roaming' };

function stateLabel(what: string): string {
  const named = STATE_NAMES[what];
  if (named !== undefined) return named;
  const cid = /^pdp\.context\.(\d+)$/.exec(what);
  return cid ? `PDP context ${cid[1]}` : what;
}

function valueText(what: string, v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
  return what === 'network.stat' ? (REG_STAT[s] ?? s) : s;
}

const detailText = (v: unknown): string => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function lineOf(r: StoredRecord | LineRecord): ViewLine | undefined {
  const { t0, t1, kind, text, dir } = r;
  if (typeof t0 !== 'number' || typeof t1 !== 'number' || typeof kind !== 'string' || typeof text !== 'string' || (dir !== 'rx' && dir !== 'tx')) return undefined;
  return [t0, t1, KIND_LETTER[kind] ?? 'r', text];
}

/** The lanes of one run: the modem's records and, for a scenario, its step markers. */
export function viewSession(
  name: string,
  info: string,
  records: readonly StoredRecord[],
  steps: ReadonlyArray<{ t: Ns; step: number; kind: string }> = [],
): ViewSession {
  const s: ViewSession = { name, info, start: 0, end: 0, records: records.length, rx: [], tx: [], state: [], net: [], faults: [], steps: [] };
  const hasLines = records.some((r) => r.ev === 'line');
  const derive = hasLines ? undefined : new LineAssembler();
  const rows = new Map<string, ViewStateRow>();
  const addLine = (r: StoredRecord | LineRecord): void => {
    const l = lineOf(r);
    if (l === undefined) return;
    (r.dir === 'rx' ? s.rx : s.tx).push(l);
  };
  let end = 0;
  for (const r of records) {
    end = Math.max(end, r.t);
    switch (r.ev) {
      case 'line':
        addLine(r);
        break;
      case 'rx':
      case 'tx':
      case 'urc':
        if (derive) {
          const b = r['b'];
          const text = r['text'];
          for (const l of derive.push({ t: r.t, ev: r.ev, ...(typeof b === 'number' && { b }), ...(typeof text === 'string' && { text }) })) addLine(l);
        }
        break;
      case 'state': {
        const what = String(r['what']);
        let row = rows.get(what);
        if (row === undefined) {
          row = { what, label: stateLabel(what), segs: [[0, valueText(what, r['from'])]] };
          rows.set(what, row);
        }
        row.segs.push([r.t, valueText(what, r['to'])]);
        break;
      }
      case 'net':
        s.net.push([r.t, String(r['what']), detailText(r['detail'])]);
        break;
      case 'io':
        // a served session's broker reply entering the model (what a replay pins)
        s.net.push([r.t, `in ${String(r['what'])}`, '']);
        break;
      case 'far': {
        const data = r['data'];
        const bytes = typeof data === 'string' ? Buffer.from(data, 'base64').length : 0;
        s.net.push([r.t, `far publish ${String(r['topic'])}`, `${bytes} bytes, qos ${String(r['qos'])}`]);
        break;
      }
      case 'fault':
        s.faults.push([r.t, String(r['what']), detailText(r['detail'])]);
        break;
      case 'guard':
        s.faults.push([r.t, `guard ${String(r['what'])}`, detailText(r['detail'])]);
        break;
      case 'boot':
        s.steps.push([r.t, `boot ${String(r['generation'])}`, '']);
        break;
    }
  }
  if (derive) for (const l of derive.flush(end)) addLine(l);
  for (const st of steps) s.steps.push([st.t, `step ${st.step} ${st.kind}`, '']);
  const byT0 = (a: ViewLine, b: ViewLine): number => a[0] - b[0];
  s.rx.sort(byT0);
  s.tx.sort(byT0);
  s.steps.sort((a, b) => a[0] - b[0]);
  s.state = [...rows.values()].sort((a, b) => order(a.what) - order(b.what) || (a.what < b.what ? -1 : 1));
  for (const l of s.tx) end = Math.max(end, l[1]);
  for (const l of s.rx) end = Math.max(end, l[1]);
  s.end = end;
  return s;
}

/** Registration first, then the packet domain, then MQTT: the order things come up in. */
function order(what: string): number {
  if (what.startsWith('network.')) return 0;
  if (what.startsWith('pdp.')) return 1;
  if (what.startsWith('mqtt')) return 2;
  return 3;
}

export function headerInfo(s: TraceSession): string {
  const h = s.header;
  return `profile ${h.profile} · seed ${h.seed} · ${h.clock} clock · level ${h.level}${h.baud > 0 ? ` · ${h.baud} baud` : ''}`;
}

export function viewOfTrace(title: string, sessions: readonly TraceSession[]): ViewData {
  return { title, sessions: sessions.map((s) => viewSession(s.name, headerInfo(s), s.records, s.steps)) };
}

/** A scenario result's trace (memory records and step markers) as a page of its own. */
export function viewOfScenario(r: ScenarioResult): ViewData {
  const records: StoredRecord[] = [];
  const steps: Array<{ t: Ns; step: number; kind: string }> = [];
  for (const x of r.trace) {
    if (x.ev === 'step') steps.push({ t: x.t, step: x.step, kind: x.kind });
    else records.push({ ...x });
  }
  const info = `scenario ${r.name} · profile ${r.profile} · seed ${r.seed} · virtual clock · ${r.ok ? 'PASS' : `FAIL: ${r.failure ?? ''}`}`;
  return { title: `modemsim — ${r.name}`, sessions: [viewSession(r.name, info, records, steps)] };
}
