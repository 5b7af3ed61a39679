/**
 * Shared pieces of the MQTT tests: a booted modem wired to a broker, a far-side `mqtt` client
 * that records what the modem published, and exact-byte expectations on the UART.
 */
import { expect } from 'vitest';
import mqtt, { MqttClient } from 'mqtt';
import { createModem, Modem, ModemOptions } from '../sim/modem.js';
import { Ns, sec } from '../sim/kernel.js';

/** A modem in virtual time, registered with its default PDP context up, boot lines consumed. */
export async function mqttModem(opts: ModemOptions = {}): Promise<Modem> {
  const m = createModem(opts);
  await m.host.expect('RDY', sec(30));
  const ready = await m.clock.waitUntil(() => m.pdp.dataReady, sec(60));
  if (!ready) throw new Error('modem never got a data bearer');
  await m.host.advance(sec(1));
  m.host.take();
  return m;
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

/** The far side: a plain `mqtt` client on the broker, recording messages per topic. */
export class FarSide {
  readonly messages: Array<{ topic: string; payload: Buffer; qos: number; retain: boolean }> = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, qos: packet.qos, retain: packet.retain });
      for (const w of [...this.waiters]) w();
    });
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
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const g = got();
        if (g.length < n) return;
        done();
        resolve(g);
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`far side: ${got().length}/${n} messages on ${topic}`));
      }, wallMs);
      const done = (): void => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
