/**
 * Nagle off on the sockets the simulator accepts. With Nagle on, a small write made while the
 * previous one is still unacknowledged waits for the peer's delayed ACK: about 40 ms on Linux
 * loopback, for the first messages after a SUBSCRIBE and for back-to-back serial chunks.
 * Each case takes the best of a few fresh connections, so a stalled event loop cannot fake a
 * pass or a failure; with Nagle on every one of them waits the ~40 ms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../sim/broker/index.js';
import { TcpLink } from '../sim/links/tcp.js';

/** Far below a delayed ACK (40 ms), far above a loopback hop. */
const NO_DELAYED_ACK_MS = 20;
const TRIES = 3;

/** mqtt.js leaves Nagle on: turn it off on our side, so only the broker's side is measured. */
function noDelay(client: MqttClient): void {
  const stream: unknown = client.stream;
  if (stream !== null && typeof stream === 'object' && 'setNoDelay' in stream && typeof stream.setNoDelay === 'function') {
    stream.setNoDelay(true);
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('embedded broker', () => {
  let broker: EmbeddedBroker;
  let publisher: MqttClient;
  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0, tlsPort: 0 });
    publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    noDelay(publisher);
  });
  afterAll(async () => {
    await publisher?.endAsync();
    await broker?.close();
  });

  /** Wall ms from the second of two publishes (2 ms apart) to its delivery to a fresh subscriber. */
  async function secondDelivery(url: string, topic: string): Promise<number> {
    const sub = await mqtt.connectAsync(url, { reconnectPeriod: 0, ca: broker.caPem, servername: 'localhost' });
    try {
      noDelay(sub);
      await sub.subscribeAsync(topic, { qos: 0 });
      let count = 0;
      let sentAt = 0;
      const second = new Promise<number>((resolve) =>
        sub.on('message', () => {
          if (++count === 2) resolve(performance.now() - sentAt);
        }),
      );
      publisher.publish(topic, 'a', { qos: 0 });
      await pause(2);
      sentAt = performance.now();
      publisher.publish(topic, 'b', { qos: 0 });
      return await second;
    } finally {
      await sub.endAsync();
    }
  }

  for (const kind of ['plain', 'TLS'] as const) {
    it(`${kind} listener: a message right behind another reaches a new subscriber without waiting for a delayed ACK`, async () => {
      const url = kind === 'plain' ? broker.url : broker.tlsUrl;
      const times: number[] = [];
      for (let i = 0; i < TRIES; i++) times.push(await secondDelivery(url, `nodelay/${kind}/${i}`));
      expect(Math.min(...times), `ms: ${times.map((t) => t.toFixed(1)).join(', ')}`).toBeLessThan(NO_DELAYED_ACK_MS);
    });
  }
});

describe('TCP serial link', () => {
  it('a chunk right behind another reaches the host without waiting for a delayed ACK', async () => {
    // a host line answered with a modem line: the traffic after which Linux delays its ACKs
    let answer: () => void = () => undefined;
    const link = new TcpLink('127.0.0.1', 0);
    await link.open(() => answer());
    try {
      const times: number[] = [];
      for (let i = 0; i < TRIES; i++) {
        const host: Socket = connect(link.boundTo, '127.0.0.1');
        await new Promise<void>((r) => host.once('connect', () => r()));
        await new Promise<void>((r) => {
          const wait = (): void => (link.connected ? r() : void setTimeout(wait, 1));
          wait();
        });
        let got = 0;
        let onData: (d: Buffer) => void = () => undefined;
        host.on('data', (d: Buffer) => onData(d));
        for (let j = 0; j < 4; j++) {
          const echoed = new Promise<void>((r) => (onData = () => r()));
          answer = () => link.write(Buffer.from('OK\r\n'));
          host.write('AT\r');
          await echoed;
        }
        let sentAt = 0;
        const second = new Promise<number>((resolve) => {
          onData = (d: Buffer) => {
            got += d.length;
            if (got >= 2) resolve(performance.now() - sentAt);
          };
        });
        link.write(Buffer.from('a'));
        await pause(2);
        sentAt = performance.now();
        link.write(Buffer.from('b'));
        times.push(await second);
        host.destroy();
        await pause(5);
      }
      expect(Math.min(...times), `ms: ${times.map((t) => t.toFixed(1)).join(', ')}`).toBeLessThan(NO_DELAYED_ACK_MS);
    } finally {
      await link.close();
    }
  });
});
