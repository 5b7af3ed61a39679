/**
 * The far side of the fuzzer: one real `mqtt` client on the embedded broker that publishes the
 * messages a fuzz step sends in, and follows the broker's own `$SYS/…/new/clients` and
 * `…/disconnect/clients` announcements, so "+MQTTSTATU :1 only with a live session" is checked
 * against what the broker says, not what the model believes.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { EmbeddedBroker } from '../../sim/broker/index.js';

let watchers = 0;

export class BrokerWatch {
  /** Connections minus disconnections the broker announced, per client id. */
  private readonly live = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private client: MqttClient;
  readonly id: string;

  private constructor(
    private readonly broker: EmbeddedBroker,
    client: MqttClient,
    id: string,
  ) {
    this.client = client;
    this.id = id;
    this.hook(client);
  }

  static async start(broker: EmbeddedBroker): Promise<BrokerWatch> {
    const id = `fuzz-watch-${process.pid}-${++watchers}`;
    const w = new BrokerWatch(broker, await BrokerWatch.open(broker, id), id);
    await w.subscribe();
    return w;
  }

  private static open(broker: EmbeddedBroker, id: string): Promise<MqttClient> {
    return mqtt.connectAsync(broker.url, { clientId: id, reconnectPeriod: 0, connectTimeout: 5000 });
  }

  private hook(client: MqttClient): void {
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => {
      const who = payload.toString('utf8');
      if (topic.endsWith('/new/clients')) this.live.set(who, (this.live.get(who) ?? 0) + 1);
      else if (topic.endsWith('/disconnect/clients')) {
        const n = (this.live.get(who) ?? 0) - 1;
        if (n <= 0) this.live.delete(who);
        else this.live.set(who, n);
      }
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    });
  }

  private async subscribe(): Promise<void> {
    await this.client.subscribeAsync(['$SYS/+/new/clients', '$SYS/+/disconnect/clients'], { qos: 0 });
  }

  /** The broker has announced `clientId` connected and not since disconnected. */
  connected(clientId: string): boolean {
    return (this.live.get(clientId) ?? 0) > 0;
  }

  /** Wait (wall time, the broker is outside the model) until the broker announces `clientId`. */
  waitConnected(clientId: string, wallMs: number): Promise<boolean> {
    if (this.connected(clientId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(false);
      }, wallMs);
      const check = (): void => {
        if (!this.connected(clientId)) {
          this.waiters.push(check);
          return;
        }
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(check);
    });
  }

  /** Fire and forget: a message in for whoever subscribed (the modem, if it did). */
  publish(topic: string, payload: Buffer, qos: 0 | 1): void {
    if (!this.client.connected) return;
    this.client.publish(topic, payload, { qos }, () => undefined);
  }

  /**
   * After a broker outage: connect afresh (whether or not this client has noticed the outage
   * yet; the announcements of the outage are lost with it).
   */
  async revive(): Promise<void> {
    await this.client.endAsync(true);
    this.live.clear();
    this.client = await BrokerWatch.open(this.broker, this.id);
    this.hook(this.client);
    await this.subscribe();
  }

  /** Listeners on the client (the soak counts them). */
  listenerCount(): number {
    return this.client.eventNames().reduce((n, e) => n + this.client.listenerCount(e), 0);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
