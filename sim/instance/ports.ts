/**
 * The listening sockets of one serve (embedded broker plain and TLS, control endpoint, TCP
 * serial), checked together before any of them is opened: one line then names every flag whose
 * port is taken, instead of the first failure after half the services have started and logged.
 */
import { createServer } from 'node:net';
import { EnvironmentError, UsageError, errnoCode } from './errors.js';

export interface ListenWant {
  /** `--broker-port`, `--control`, …: the flag that asked for it. */
  flag: string;
  /** The flag's value as the user gave it (or its default), for the error line. */
  value: string;
  host: string;
  port: number;
}

export function describeWant(w: ListenWant): string {
  return `${w.flag} ${w.value}`;
}

/** Two flags asking for one fixed port can never both work (port 0 means "any": no clash). */
export function checkDistinctPorts(wants: readonly ListenWant[]): void {
  const byPort = new Map<number, ListenWant[]>();
  for (const w of wants) {
    if (w.port === 0) continue;
    byPort.set(w.port, [...(byPort.get(w.port) ?? []), w]);
  }
  const clashes = [...byPort.values()].filter((ws) => ws.length > 1);
  if (clashes.length === 0) return;
  const list = clashes.map((ws) => ws.map(describeWant).join(' and ')).join('; ');
  throw new UsageError(`${list} ask for the same port; give each its own (0 = any free port)`);
}

/** What went wrong binding one address, in words, and the kind of fix it needs. */
export function listenProblem(w: ListenWant, err: unknown): { text: string; kind: 'busy' | 'address' | 'privileged' | 'other' } {
  const code = errnoCode(err);
  switch (code) {
    case 'EADDRINUSE':
      return { text: `${describeWant(w)}: port ${w.port} is in use`, kind: 'busy' };
    case 'EADDRNOTAVAIL':
      return { text: `${describeWant(w)}: ${w.host} is not an address of this machine`, kind: 'address' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { text: `${describeWant(w)}: host ${w.host} does not resolve`, kind: 'address' };
    case 'EACCES':
    case 'EPERM':
      return { text: `${describeWant(w)}: port ${w.port} needs privileges`, kind: 'privileged' };
    default:
      return { text: `${describeWant(w)}: cannot listen on ${w.host}:${w.port} (${code ?? String(err)})`, kind: 'other' };
  }
}

/** The one line for a set of listen failures: every flag, then the fixes they call for. */
export function listenError(failures: ReadonlyArray<{ want: ListenWant; err: unknown }>): EnvironmentError {
  const problems = failures.map((f) => listenProblem(f.want, f.err));
  const kinds = new Set(problems.map((p) => p.kind));
  const fixes: string[] = [];
  if (kinds.has('busy')) fixes.push('stop what holds the port (another modemsim, mosquitto?) or pick another (0 = any free port)');
  if (kinds.has('address')) fixes.push('listen on an address of this machine, such as 127.0.0.1');
  if (kinds.has('privileged')) fixes.push('pick a port above 1023 (or 0 = any free port)');
  if (fixes.length === 0) fixes.push('pick another address or port');
  const first = failures[0];
  return new EnvironmentError(`${problems.map((p) => p.text).join('; ')}; ${fixes.join('; ')}`, first ? { cause: first.err } : undefined);
}

function probe(w: ListenWant): Promise<unknown> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err) => resolve(err));
    // exclusive: a cluster primary's shared handle must not make a taken port look free
    server.listen({ host: w.host, port: w.port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Binds and releases each address, all at once, and throws one EnvironmentError listing every
 * one that failed. A port can still be taken between this check and the real bind; that rarer
 * race is reported by the real bind, through listenError() too.
 */
export async function checkCanListen(wants: readonly ListenWant[]): Promise<void> {
  const results = await Promise.all(wants.map(async (want) => ({ want, err: await probe(want) })));
  const failures = results.filter((r) => r.err !== undefined);
  if (failures.length > 0) throw listenError(failures);
}
