/**
 * Where a MIPSTART/SSLMIPSTART goes (behaviour §12). The host names a destination; by default
 * the configured broker serves every destination (plain listener for MIPSTART, TLS for
 * SSLMIPSTART); route rules and a pass-through mode send it elsewhere. The name the host asked
 * for is kept for the trace and used as the TLS server name (SNI), so the embedded broker's
 * per-name leaf certificate verifies.
 */
import { isIP } from 'node:net';

/** The broker that serves every destination no route claims. */
export interface BrokerEndpoint {
  /** Plain listener (`mqtt://host:port`); MIPSTART goes here. */
  url: string;
  /** TLS listener (`mqtts://host:port`); SSLMIPSTART goes here. */
  tlsUrl?: string;
  /** PEM CA: when given, TLS links verify the broker's chain against it. */
  ca?: string;
  /**
   * TLS server name: `asked` (default) sends the name the host asked for, which the embedded
   * broker signs on the fly; `target` sends the broker's own host name (external brokers).
   */
  sni?: 'asked' | 'target';
}

/** `from` is `host:port`, `host`, `*:port` or `*`; `to` is `host:port` or a URL (`mqtts://h:p`). */
export interface MqttRoute {
  from: string;
  to: string;
  /**
   * The peer answers every request (a request/response server, an echo): after a TCP send
   * (AT+CIPSEND) model time stands still until its first reply or close arrives, so the reply
   * enters at the same model instant on every run. Without it a peer's bytes enter whenever
   * they come (behaviour §33).
   */
  answers?: boolean;
}

export interface Endpoint {
  host: string;
  port: number;
  /** Set when a URL scheme decided it; otherwise the command's link type applies. */
  tls?: boolean;
}

export interface DialTarget {
  /** What the host asked for (kept in the trace). */
  asked: { host: string; port: number };
  host: string;
  port: number;
  tls: boolean;
  /** SNI; absent for IP addresses (TLS forbids them as server names). */
  servername?: string;
  /** CA to verify against; absent means no verification unless an SslContext says otherwise. */
  ca?: string;
  via: 'broker' | 'route' | 'pass-through';
  /** From the route: the peer answers every request (MqttRoute.answers). */
  answers?: true;
}

export type RouteResult = { ok: true; target: DialTarget } | { ok: false; reason: string };

const SCHEMES: Readonly<Record<string, boolean>> = {
  'mqtt:': false,
  'tcp:': false,
  'mqtts:': true,
  'ssl:': true,
  'tls:': true,
};

/** Parse `mqtt://h:p`, `mqtts://h:p`, `h:p`, `[v6]:p` or `h` (port from `defaultPort`). */
export function parseEndpoint(text: string, defaultPort?: number): Endpoint | undefined {
  const s = text.trim();
  if (/^[a-z]+:\/\//i.test(s)) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return undefined;
    }
    const tls = SCHEMES[u.protocol.toLowerCase()];
    if (tls === undefined || !u.hostname) return undefined;
    const port = u.port ? Number(u.port) : tls ? 8883 : 1883;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port, tls };
  }
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(s);
  if (!m) return undefined;
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = m[2] !== undefined ? Number(m[2]) : defaultPort;
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** `--route HOST:PORT=HOST:PORT` (either side may also be a bare host; the right side a URL). */
export function parseRouteSpec(spec: string): MqttRoute {
  const i = spec.indexOf('=');
  if (i <= 0 || i === spec.length - 1) throw new Error(`bad route ${JSON.stringify(spec)}: expected FROM=TO`);
  const from = spec.slice(0, i).trim();
  const to = spec.slice(i + 1).trim();
  if (!parseEndpoint(to, 1883)) throw new Error(`bad route target ${JSON.stringify(to)}`);
  return { from, to };
}

function matches(pattern: string, host: string, port: number): boolean {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(pattern.trim());
  if (!m) return false;
  const h = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
  const p = m[2];
  if (h !== '*' && h !== host.toLowerCase()) return false;
  return p === undefined || p === '*' || Number(p) === port;
}

export class RouteTable {
  constructor(
    private readonly broker: BrokerEndpoint | undefined,
    private readonly routes: readonly MqttRoute[] = [],
    private readonly passThrough = false,
  ) {}

  resolve(askedHost: string, askedPort: number, secure: boolean): RouteResult {
    const asked = { host: askedHost, port: askedPort };
    const sniAsked = isIP(askedHost) === 0 ? askedHost : undefined;
    for (const r of this.routes) {
      if (!matches(r.from, askedHost, askedPort)) continue;
      const to = parseEndpoint(r.to, askedPort);
      if (!to) return { ok: false, reason: `bad route target ${r.to}` };
      const tls = to.tls ?? secure;
      const target: DialTarget = { asked, host: to.host, port: to.port, tls, via: 'route', ...(r.answers === true && { answers: true }) };
      return { ok: true, target: withSni(target, sniAsked) };
    }
    if (this.passThrough) {
      return { ok: true, target: withSni({ asked, host: askedHost, port: askedPort, tls: secure, via: 'pass-through' }, sniAsked) };
    }
    const b = this.broker;
    if (!b) return { ok: false, reason: 'no broker configured and no route for this destination' };
    const url = secure ? (b.tlsUrl ?? b.url) : b.url;
    const ep = parseEndpoint(url);
    if (!ep) return { ok: false, reason: `bad broker url ${url}` };
    const tls = ep.tls ?? secure;
    const name = b.sni === 'target' ? (isIP(ep.host) === 0 ? ep.host : undefined) : sniAsked;
    const target: DialTarget = { asked, host: ep.host, port: ep.port, tls, via: 'broker' };
    if (b.ca !== undefined) target.ca = b.ca;
    return { ok: true, target: withSni(target, name) };
  }
}

function withSni(t: DialTarget, name: string | undefined): DialTarget {
  if (t.tls && name !== undefined) t.servername = name;
  return t;
}
