/**
 * The control endpoint of a served modem: newline-delimited JSON on a loopback TCP port, so a
 * test harness can inject network-side faults into a modem that a real driver is using over
 * the pty, and read its state — never in-band on the serial line.
 *
 *   → {"fault":"pdpDeact"}               ← {"ok":true,"applied":"pdpDeact"}
 *   → {"fault":{"signal":{"rssi":5}}}    ← {"ok":true,"applied":"signal (rssi: 5)"}
 *   → {"fault":"powerLoss","on":{"urc":"CONNACK OK"}}  ← {"ok":true,"armed":"powerLoss, on URC \"CONNACK OK\" #1"}
 *   → {"state":true}                     ← {"ok":true,"state":{…}}
 *   → {"sms":{"from":"+86139…","text":"hi"}}  ← {"ok":true,"sms":{"id":1,"parts":1}}  (or {"pdu":"…"})
 *   → {"smsSent":true}                   ← {"ok":true,"sent":[{"to":…,"text":…,"parts":1}]}
 *   → {"smsReports":{"to":"+86139…","status":70}}  ← {"ok":true,"smsReports":{…}}  (0: delivered again)
 *
 * Faults take the scenario format's names and arguments (scenarios/README.md) and are applied
 * by `modem.faults`, as in-process users and the scenario runner apply them. With `on` (the
 * scenario format's trigger: a command, a URC or a state change) the fault is armed and the
 * reply comes at once; it fires when the modem meets the trigger, traced as any fault, and a
 * fault armed here that has not fired when the endpoint closes is disarmed.
 *
 * A client that sends requests and never reads its replies is no longer read from while its
 * unread replies exceed OUTPUT_LIMIT (the idea of Redis's client output buffer limit, as
 * back-pressure rather than a disconnect): TCP then pushes back on it, and the server's memory
 * stays bounded whatever it sends.
 */
import { createServer, Server, Socket } from 'node:net';
import { describeArmed, parseFault, parseTrigger, type FaultBroker } from './faults/index.js';
import { VirtualClock } from './clock.js';
import { sec } from './kernel.js';
import type { Logger } from './log.js';
import type { Modem } from './modem.js';
import { smsGroup } from './services/sms.js';
import { deliverRequestOf, deliveryRuleOf, type SmsCenter } from './sms/center.js';

/** Real time: how long a request entering the model may wait for the clock's next tick (it takes ~0). */
const ENTRY_LIMIT = sec(10);

/** Faults the control endpoint keeps armed at once. */
const MAX_ARMED = 256;

export interface ControlServer {
  /** `host:port` actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

/** Longest request line kept; a longer one is answered with an error and dropped. */
const MAX_LINE = 64 * 1024;
/** Unread reply bytes of one client beyond which its requests are no longer read. */
const OUTPUT_LIMIT = 1024 * 1024;
/** Requests of one client queued and not yet answered: a flood cannot fill the shared queue. */
const MAX_IN_FLIGHT = 16;

type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: string };

export async function startControl(
  /** One modem, or a fleet's: a request names its modem with `"modem": <index>` (default 0). */
  served: Modem | readonly Modem[],
  /** The embedded broker, for the broker faults; undefined keeps what the modem was given. */
  broker: FaultBroker | undefined,
  host: string,
  port: number,
  log: Logger,
): Promise<ControlServer> {
  const modems: readonly Modem[] = isFleet(served) ? served : [served];
  if (broker !== undefined) for (const m of modems) m.faults.useBroker(broker);
  // one request at a time, in arrival order, whichever connection it came from
  let queue: Promise<void> = Promise.resolve();
  /** Faults armed through this endpoint and not fired: disarmed when it closes (at most MAX_ARMED). */
  const armed = new Set<() => void>();

  const handle = async (line: string): Promise<Reply> => {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'not JSON' };
    }
    if (typeof req !== 'object' || req === null) return { ok: false, error: 'expected an object' };
    const r = req as Record<string, unknown>;
    const index = r['modem'] ?? 0;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= modems.length) {
      return { ok: false, error: `modem: expected an index in 0..${modems.length - 1}` };
    }
    const modem = modems[index]!;
    const { faults } = modem;
    if ('state' in r) return { ok: true, state: stateOf(modem) };
    if ('fault' in r) {
      try {
        const fault = parseFault(r['fault'], 'control');
        if (r['on'] === undefined) return { ok: true, applied: await faults.apply(fault) };
        const trigger = parseTrigger(r['on'], 'control');
        // a client that arms and arms must not grow the model without bound
        if (armed.size >= MAX_ARMED) return { ok: false, error: `on: ${MAX_ARMED} faults are armed and not fired; let some fire first` };
        const { fired, disarm } = faults.on(trigger, fault);
        armed.add(disarm);
        // fired or failed (traced as trigger-failed either way): nothing left to disarm
        void fired.then(
          () => armed.delete(disarm),
          () => armed.delete(disarm),
        );
        return { ok: true, armed: describeArmed(trigger, fault) };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    if ('sms' in r) {
      const sms = smsCenterOf(modem);
      if (!sms) return { ok: false, error: 'this modem has no sms group' };
      const req = deliverRequestOf(r['sms']);
      if ('error' in req) return { ok: false, error: `sms: ${req.error}` };
      try {
        const m = sms.deliver(req);
        return { ok: true, sms: { id: m.id, parts: m.parts.length } };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    if ('smsReports' in r) {
      const sms = smsCenterOf(modem);
      if (!sms) return { ok: false, error: 'this modem has no sms group' };
      const rule = deliveryRuleOf(r['smsReports']);
      if ('error' in rule) return { ok: false, error: `smsReports: ${rule.error}` };
      // set in a model event: the submits after this instant meet it, in a replay too
      await enterModel(modem, 'far-sms-rule', () => sms.failDeliveries(rule.to, rule.status));
      return { ok: true, smsReports: rule };
    }
    if ('smsSent' in r) {
      const sms = smsCenterOf(modem);
      if (!sms) return { ok: false, error: 'this modem has no sms group' };
      return { ok: true, sent: sms.sentMessages() };
    }
    if ('on' in r) return { ok: false, error: 'on: goes with "fault" (the fault it arms)' };
    return { ok: false, error: 'expected "fault", "state", "sms", "smsReports" or "smsSent"' };
  };

  const onConnection = (socket: Socket): void => {
    // one JSON line per request and reply: a delayed ACK would stall each by ~40 ms
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    let buf = '';
    let inFlight = 0;
    socket.on('error', () => undefined);
    // Lines are taken from `buf` only while the client keeps up; the socket is read only when
    // `buf` holds no whole line, so `buf` stays within MAX_LINE plus one chunk.
    const pump = (): void => {
      while (inFlight < MAX_IN_FLIGHT && socket.writableLength <= OUTPUT_LIMIT) {
        const i = buf.indexOf('\n');
        if (i < 0) break;
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line === '') continue;
        inFlight++;
        queue = queue.then(async () => {
          const reply = await handle(line);
          log.debug({ request: line, reply }, 'control');
          if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
          inFlight--;
          pump();
        });
      }
      const keepsUp = !buf.includes('\n') && inFlight < MAX_IN_FLIGHT && socket.writableLength <= OUTPUT_LIMIT;
      if (keepsUp) socket.resume();
      else socket.pause();
    };
    // write() said false past its high-water mark, so 'drain' comes once the replies are read
    socket.on('drain', pump);
    socket.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        buf = '';
        socket.write(JSON.stringify({ ok: false, error: 'request line too long' }) + '\n');
        return;
      }
      pump();
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
      for (const disarm of armed) disarm();
      armed.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const m of modems) await m.faults.restoreBroker();
    },
  };
}

function isFleet(served: Modem | readonly Modem[]): served is readonly Modem[] {
  return Array.isArray(served);
}

/** The simulated SMSC of a modem built with the sms group. */
/** Run `fn` as a model event at the current instant; resolves once it ran (or the modem closed). */
async function enterModel(modem: Modem, label: string, fn: () => void): Promise<void> {
  let ran = false;
  modem.clock.inject(label, () => {
    ran = true;
    fn();
  });
  // a virtual clock nobody runs moves for this instant; a running one gets to it
  if (modem.clock instanceof VirtualClock) await modem.clock.advance(0);
  else await modem.clock.waitUntil(() => ran, ENTRY_LIMIT);
}

function smsCenterOf(modem: Modem): SmsCenter | undefined {
  return modem.hasGroup(smsGroup) ? modem.service(smsGroup).center : undefined;
}

function stateOf(modem: Modem): Record<string, unknown> {
  return {
    modelTimeNs: modem.kernel.now,
    network: modem.snapshot(),
    mqtt: { status: modem.mqtt.link.status, phase: modem.mqtt.link.phase },
    baud: modem.uart.baud,
  };
}
