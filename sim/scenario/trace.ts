/**
 * A scenario's trace: the modem's own records with a marker where each step began. The broker
 * listens on ephemeral ports, different on every run, so where a record names them they are
 * written as `<broker>` / `<broker-tls>`: the same seed and scenario then give the same lines.
 */
import type { Ns } from '../kernel.js';
import type { TraceRecord } from '../trace.js';

export type ScenarioTraceRecord = TraceRecord | { t: Ns; ev: 'step'; step: number; kind: string };

export interface BrokerPorts {
  port: number;
  tlsPort: number;
}

function canonicalValue(v: unknown, ports: BrokerPorts): unknown {
  if (typeof v === 'number') {
    if (v === ports.port) return '<broker>';
    if (v === ports.tlsPort) return '<broker-tls>';
    return v;
  }
  if (typeof v === 'string') {
    return v.replace(/:(\d+)(?!\d)/g, (all, p: string) =>
      Number(p) === ports.port ? ':<broker>' : Number(p) === ports.tlsPort ? ':<broker-tls>' : all,
    );
  }
  if (Array.isArray(v)) return v.map((x) => canonicalValue(x, ports));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = canonicalValue(x, ports);
    return out;
  }
  return v;
}

/** Only network records carry addresses; bytes, commands and URCs are left as they are. */
export function canonicalRecord(r: TraceRecord, ports: BrokerPorts): TraceRecord {
  if (r.ev !== 'net' || r.detail === undefined) return r;
  return { ...r, detail: canonicalValue(r.detail, ports) };
}

/** JSON lines, one record each. */
export function traceLines(records: readonly ScenarioTraceRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}
