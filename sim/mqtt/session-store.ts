/**
 * The outgoing store of a persistent MQTT session (MCONNECT clean=0): the unacknowledged QoS 1/2
 * PUBLISHes, handed from one connection's client to the next. mqtt.js re-sends what its store
 * holds on connect but leaves the DUP flag as it was; MQTT 3.1.1 §3.3.1.1 wants it set on a
 * re-delivery, so the store sets it when a new connection takes the session over.
 */
import { Store } from 'mqtt';
import type { IPublishPacket, Packet } from 'mqtt-packet';

type DoneCallback = (error?: Error) => void;
type PacketCallback = (error?: Error, packet?: Packet) => void;

export class SessionStore extends Store {
  private readonly publishes = new Map<number, IPublishPacket>();

  override put(packet: Packet, cb: DoneCallback): this {
    if (packet.cmd === 'publish' && packet.messageId !== undefined) this.publishes.set(packet.messageId, packet);
    return super.put(packet, cb);
  }

  override del(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): this {
    if (packet.messageId !== undefined) this.publishes.delete(packet.messageId);
    return super.del(packet, cb);
  }

  /** A new connection resumes the session: what it re-sends goes out as a re-delivery. */
  markResent(): void {
    for (const p of this.publishes.values()) p.dup = true;
  }
}
