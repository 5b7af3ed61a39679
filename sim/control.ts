/**
 * The control endpoint of a served modem: newline-delimited JSON on a loopback TCP port, so a
 * test harness can inject network-side faults into a modem that a real driver is using over
 * the pty, and read its state — never in-band on the serial line.
 *
 *   → {"fault":"pdpDeact"}               ← {"ok":true,"applied":"pdpDeact"}
 *   → {"fault":{"signal":{"rssi":5}}}    ← {"ok":true,"applied":"signal (rssi: 5)"}
 *   → {"state":true}                     ← {"ok":true,"state":{…}}
 *
 * Faults take the scenario format's names and arguments (scenarios/README.md).
 */
import { createServer, Server, Socket } from 'node:net';
import type { EmbeddedBroker } from './broker/index.js';
import type { Logger } from './log.js';
import type { Modem } from './modem.js';
import { ClientIdTracker } from './scenario/client-id.js';
import { FaultPlayer } from './scenario/faults.js';
import { scenarioFromObject } from './scenario/load.js';

export interface ControlServer {
  /** `host:port` actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

/** Longest request line kept; a longer one is answered with an error and dropped. */
const MAX_LINE = 64 * 1024;

type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: string };

export async function startControl(
  modem: Modem,
  broker: EmbeddedBroker | undefined,
  host: string,
  port: number,
  log: Logger,
): Promise<ControlServer> {
  const faults = new FaultPlayer(modem, broker, new ClientIdTracker(modem), async () => undefined);
  // one request at a time, in arrival order, whichever connection it came from
  let queue: Promise<void> = Promise.resolve();

  const handle = async (line: string): Promise<Reply> => {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'not JSON' };
    }
    if (typeof req !== 'object' || req === null) return { ok: false, error: 'expected an object' };
    const r = req as Record<string, unknown>;
    if ('state' in r) return { ok: true, state: stateOf(modem) };
    if ('fault' in r) {
      try {
        const parsed = scenarioFromObject({ name: 'control', steps: [{ fault: r['fault'] }] }, { source: 'control' });
        const step = parsed.steps[0];
        if (step?.kind !== 'fault') return { ok: false, error: 'expected a fault' };
        return { ok: true, applied: await faults.play(step.fault) };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    return { ok: false, error: 'expected "fault" or "state"' };
  };

  const onConnection = (socket: Socket): void => {
    socket.setEncoding('utf8');
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        buf = '';
        socket.write(JSON.stringify({ ok: false, error: 'request line too long' }) + '\n');
        return;
      }
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line === '') continue;
        queue = queue.then(async () => {
          const reply = await handle(line);
          log.debug({ request: line, reply }, 'control');
          if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
        });
      }
    });
  };

  const server: Server = createServer(onConnection);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? `${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}` : `${host}:${port}`;
  return {
    address: bound,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await faults.restore();
    },
  };
}

function stateOf(modem: Modem): Record<string, unknown> {
  return {
    modelTimeNs: modem.kernel.now,
    network: modem.snapshot(),
    mqtt: { status: modem.mqtt.link.status, phase: modem.mqtt.link.phase },
    baud: modem.uart.baud,
  };
}
