/** `--serial` values: `pty:PATH`, `tcp:HOST:PORT` (or `tcp:PORT`), `stdio`. */
import type { Logger } from 'pino';
import type { Link } from './link.js';
import { PtyLink } from './pty.js';
import { TcpLink } from './tcp.js';
import { StdioLink } from './stdio.js';

export type SerialSpec =
  | { kind: 'pty'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'stdio' };

export class SerialSpecError extends Error {
  constructor(spec: string, why: string) {
    super(`--serial ${JSON.stringify(spec)}: ${why}; expected pty:PATH, tcp:HOST:PORT or stdio (tcp:PORT = loopback)`);
    this.name = 'SerialSpecError';
  }
}

export function parseSerialSpec(spec: string): SerialSpec {
  if (spec === 'stdio') return { kind: 'stdio' };
  if (spec.startsWith('pty:')) {
    const path = spec.slice(4);
    if (!path) throw new SerialSpecError(spec, 'empty path');
    return { kind: 'pty', path };
  }
  if (spec.startsWith('tcp:')) {
    const rest = spec.slice(4);
    const colon = rest.lastIndexOf(':');
    let host = colon < 0 ? '127.0.0.1' : rest.slice(0, colon);
    const portText = colon < 0 ? rest : rest.slice(colon + 1);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (!host) throw new SerialSpecError(spec, 'empty host');
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
      throw new SerialSpecError(spec, `port ${JSON.stringify(portText)} is not 0..65535`);
    }
    return { kind: 'tcp', host, port: Number(portText) };
  }
  throw new SerialSpecError(spec, 'unknown kind');
}

export interface LinkOptions {
  log?: Logger;
  /** The link died on its own (socat exited): a failure. */
  onLost?: (reason: string) => void;
  /** The host ended the session in order (stdin reached EOF). */
  onEnd?: () => void;
}

export function createLink(spec: SerialSpec | string, opts: LinkOptions = {}): Link {
  const s = typeof spec === 'string' ? parseSerialSpec(spec) : spec;
  switch (s.kind) {
    case 'pty':
      return new PtyLink(s.path, { log: opts.log, onLost: opts.onLost });
    case 'tcp':
      return new TcpLink(s.host, s.port, { log: opts.log });
    case 'stdio':
      return new StdioLink({ onEnd: () => opts.onEnd?.() });
  }
}
