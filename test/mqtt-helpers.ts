/**
 * Shared pieces of the MQTT tests: the embedded broker a test file shares, a far-side `mqtt`
 * client that records what the modem published, and exact-byte expectations on the UART.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import mqtt, { MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../sim/broker/index.js';
import type { Modem } from '../sim/modem.js';
import { Ns, sec } from '../sim/kernel.js';
import { WallWaits } from './helpers.js';

export interface SharedBroker {
  readonly broker: EmbeddedBroker;
  /** Where its CA lives; other brokers of the file may reuse it (no new keys to generate). */
  readonly dataDir: string;
}

/**
 * The embedded broker of one test file: ephemeral loopback ports, its CA in a temporary
 * directory; started before the file's first test, closed (directory removed) after its last.
 */
export function sharedBroker(prefix: string): SharedBroker {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  let broker: EmbeddedBroker | undefined;
  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir });
  });
  afterAll(async () => {
    await broker?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    get broker(): EmbeddedBroker {
      if (!broker) throw new Error('the shared broker starts in beforeAll');
      return broker;
    },
  };
}

/** CONNACK, session accepted (MQTT 3.1.1 §3.2). */
export const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/**
 * A hand-scripted MQTT peer on a loopback port, for behaviour no real broker shows (silence,
 * hanging up on a PUBLISH): `onData` sees every chunk a client sends. It and its sockets are
 * closed by `cleanups`. Returns the port.
 */
export async function scriptedPeer(cleanups: Array<() => Promise<void> | void>, onData: (socket: Socket, data: Buffer) => void): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    // the modem side may reset the connection when it closes: that is no test failure
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => onData(s, d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as { port: number }).port;
}

/** Send a command and require exactly `answer` (the echo is included: `line\r` + answer). */
export async function exact(m: Modem, line: string, answer: string): Promise<void> {
  expect(await m.host.command(line)).toBe(`${line}\r${answer}`);
}

/** The next bytes from the modem are exactly this one URC line. */
export async function nextUrc(m: Modem, text: string, timeout: Ns = sec(10)): Promise<Ns> {
  const line = `\r\n${text}\r\n`;
  const r = await m.host.expect(line, timeout);
  expect(r.text).toBe(line);
  return r.at;
}

/** MIPSTART + MCONNECT=1,<keepalive> with the exact seed answers. */
export async function connectSession(m: Modem, host = '127.0.0.1', port = '1883', keepalive = 60): Promise<void> {
  await exact(m, `AT+MIPSTART="${host}","${port}"`, '\r\nOK\r\n');
  await nextUrc(m, 'CONNECT OK');
  await exact(m, `AT+MCONNECT=1,${keepalive}`, '\r\nOK\r\n');
  await nextUrc(m, 'CONNACK OK');
}

/**
 * The seed's session opening, with `+MQTTSTATU` checked at each stage: MIPSTART → 2,
 * MCONNECT=1,60 → 1, then MSUB on `topic` → SUBACK.
 */
export async function openSeedSession(m: Modem, host: string, port: string, topic = 'mqtt/topic'): Promise<void> {
  await exact(m, `AT+MIPSTART="${host}","${port}"`, '\r\nOK\r\n');
  await nextUrc(m, 'CONNECT OK');
  await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :2\r\n\r\nOK\r\n');
  await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
  await nextUrc(m, 'CONNACK OK');
  await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :1\r\n\r\nOK\r\n');
  await exact(m, `AT+MSUB="${topic}",0`, '\r\nOK\r\n');
  await nextUrc(m, 'SUBACK');
}

/** The far side: a plain `mqtt` client on the broker, recording messages per topic. */
export class FarSide {
  readonly messages: Array<{ topic: string; payload: Buffer; qos: number; retain: boolean }> = [];
  /** Errors the client reported (a broker outage cuts it too); kept, not thrown. */
  readonly errors: Error[] = [];
  private readonly waits = new WallWaits();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, qos: packet.qos, retain: packet.retain });
      this.waits.notify();
    });
    client.on('error', (err) => this.errors.push(err));
  }

  static async connect(url: string, opts: mqtt.IClientOptions = {}): Promise<FarSide> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, clientId: `far-${Math.random().toString(16).slice(2, 10)}`, ...opts });
    return new FarSide(client);
  }

  async subscribe(topic: string, qos: 0 | 1 | 2 = 0): Promise<void> {
    await this.client.subscribeAsync(topic, { qos });
  }

  /** Resolves once `n` messages on `topic` have arrived (wall time; the far side is outside the model). */
  waitFor(topic: string, n = 1, wallMs = 5000): Promise<Buffer[]> {
    const got = (): Buffer[] => this.messages.filter((x) => x.topic === topic).map((x) => x.payload);
    return this.waits.until(
      () => {
        const g = got();
        return g.length >= n ? g : undefined;
      },
      wallMs,
      () => `far side: ${got().length}/${n} messages on ${topic}`,
    );
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
