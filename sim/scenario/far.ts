/**
 * The far side of a scenario: a plain `mqtt` client on the same broker, standing for the
 * server application the device talks to. It lives outside the model (real sockets, wall
 * time); what it receives is queued per topic and taken in arrival order by `far: expect`.
 */
import mqtt, { MqttClient } from 'mqtt';
import type { FarSubscription } from './types.js';

export interface FarMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

let farCount = 0;

async function open(url: string, subscriptions: readonly FarSubscription[], onMessage: (m: FarMessage) => void): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, clientId: `modemsim-far-${process.pid}-${++farCount}`, connectTimeout: 5000 });
  client.on('message', (topic, payload, packet) => onMessage({ topic, payload: Buffer.from(payload), qos: packet.qos, retain: packet.retain }));
  // a broker outage cuts this client too; it comes back with `revive`
  client.on('error', () => undefined);
  for (const s of subscriptions) await client.subscribeAsync(s.topic, { qos: s.qos });
  return client;
}

export class FarClient {
  private readonly inbox: FarMessage[] = [];
  private listeners: Array<() => void> = [];

  private constructor(
    private client: MqttClient,
    private readonly url: string,
    private readonly subscriptions: readonly FarSubscription[],
  ) {}

  static async connect(url: string, subscriptions: readonly FarSubscription[]): Promise<FarClient> {
    let far: FarClient | undefined;
    const client = await open(url, subscriptions, (m) => far?.arrived(m));
    far = new FarClient(client, url, subscriptions);
    return far;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** After a broker outage: connect and subscribe again if the link was lost. */
  async revive(): Promise<void> {
    if (this.client.connected) return;
    await this.client.endAsync(true);
    this.client = await open(this.url, this.subscriptions, (m) => this.arrived(m));
  }

  /** Take the oldest message on `topic` not taken yet. */
  take(topic: string): FarMessage | undefined {
    const i = this.inbox.findIndex((m) => m.topic === topic);
    return i < 0 ? undefined : this.inbox.splice(i, 1)[0];
  }

  has(topic: string): boolean {
    return this.inbox.some((m) => m.topic === topic);
  }

  /** Called on every arrival; returns how to stop. */
  onMessage(fn: () => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  async publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos, retain });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  private arrived(m: FarMessage): void {
    this.inbox.push(m);
    for (const l of [...this.listeners]) l();
  }
}
