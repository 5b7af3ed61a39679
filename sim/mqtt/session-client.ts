/**
 * AT+MCONNECT's MQTT session: the `mqtt` package's client run over the socket MIPSTART already
 * opened (a stream builder that hands it that socket), MQTT 3.1.1, no automatic reconnect —
 * the module never reconnects on its own; the host does, from MIPSTART — and its keepalive
 * timer on the kernel clock.
 */
import { IClientOptions, MqttClient, type IStore } from 'mqtt';
import type { BridgeSocket } from '../bridge/dial.js';
import { ms, type Ns } from '../kernel.js';
import type { KernelTimer } from './kernel-timer.js';

/** What AT+MCONFIG and AT+MCONNECT set. */
export interface SessionConfig {
  clientId: string;
  username?: string;
  password?: Buffer;
  will?: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean };
  clean: boolean;
  /** Seconds, 1..65535. */
  keepalive: number;
}

/** Wall time the library waits for CONNACK before it gives up (the kernel hold guard matches). */
export const CONNACK_WALL_TIMEOUT_MS = 20_000;
/**
 * MCONNECT's wait for CONNACK in model time, the same 20 s: what gives up a CONNACK that the
 * brokerSlow fault delays (the wall timer never sees it late: it arrived on time).
 */
export const CONNACK_WAIT: Ns = ms(CONNACK_WALL_TIMEOUT_MS);

/**
 * `outgoing` is the session's store of unacknowledged QoS 1/2 PUBLISHes: handed from one
 * connection's client to the next while the session persists (clean=0), so the library re-sends
 * them on connect (MQTT 3.1.1 §4.4).
 */
export function createBridgeClient(socket: BridgeSocket, cfg: SessionConfig, timer: KernelTimer, outgoing?: IStore): MqttClient {
  const opts: IClientOptions = {
    manualConnect: true,
    reconnectPeriod: 0,
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: cfg.clean,
    keepalive: cfg.keepalive,
    clientId: cfg.clientId,
    timerVariant: timer,
    connectTimeout: CONNACK_WALL_TIMEOUT_MS,
    // the model refuses MPUB while offline (767) instead of queueing behind the host's back
    queueQoSZero: false,
    resubscribe: false,
    // the library's `debug` tracing costs an allocation per call even when off; model logs are ours
    log: () => undefined,
  };
  if (outgoing) opts.outgoingStore = outgoing;
  if (cfg.username !== undefined) {
    opts.username = cfg.username;
    if (cfg.password !== undefined) opts.password = cfg.password;
  }
  if (cfg.will) opts.will = { topic: cfg.will.topic, payload: cfg.will.payload, qos: cfg.will.qos, retain: cfg.will.retain };
  return new MqttClient(() => socket, opts);
}
