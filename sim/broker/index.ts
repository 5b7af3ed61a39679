/**
 * The embedded MQTT broker: aedes on loopback with a plain and a TLS listener.
 *
 * It stands for the outside world (a public broker), not for the module: it runs on real
 * sockets and wall time. Its only timers are aedes' own (connect window via `connectTimeout`,
 * keepalive 1.5×) and Node's TLS `handshakeTimeout`; this file starts none itself.
 */
import type { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, createServer as createTlsServer, type SecureContext, type TLSSocket } from 'node:tls';
import { Aedes, type AedesOptions, type AuthenticateError, type AuthErrorCode, type Client } from 'aedes';
import type { Logger } from 'pino';
import { silentLogger } from '../log.js';
import { Listener } from './listener.js';
import { ensureCertificates, LeafSigner, type BrokerCerts } from './realtime-certs.js';

export { ensureCertificates, type BrokerCerts } from './realtime-certs.js';

export interface EmbeddedBrokerOptions {
  host?: string; // default '127.0.0.1' (loopback by default)
  port?: number; // plain listener, default 1883, 0 = ephemeral
  tlsPort?: number; // TLS listener, default 8883, 0 = ephemeral
  dataDir?: string; // certs kept in <dataDir>/certs; absent = a fresh temp dir
  mtls?: boolean; // TLS listener requires client certs signed by the CA
  connectTimeoutMs?: number; // default 15000: a socket that sends no CONNECT in this time is closed (behaviour §13)
  auth?: { username: string; password: string }; // when set, CONNECT with other credentials is refused (CONNACK 4)
  log?: Logger;
}

export interface EmbeddedBroker {
  readonly url: string; // mqtt://127.0.0.1:<port>
  readonly tlsUrl: string; // mqtts://127.0.0.1:<tlsPort>
  readonly port: number;
  readonly tlsPort: number;
  readonly host: string;
  readonly certs: BrokerCerts;
  readonly caPem: string;
  /** Drop the connected client with this client id (fault injection: TCP drop → modem prints CLOSED). Returns true if one was dropped. */
  disconnectClient(clientId: string): boolean;
  /**
   * Told of each message a client publishes (not the broker's own `$SYS` ones), as the broker
   * takes it; returns the unsubscribe.
   */
  onPublish(listener: (m: ClientPublish) => void): () => void;
  /** Stop accepting and close every connection (broker outage); `resume()` listens again on the same ports. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** A message a client published, as the broker took it. */
export interface ClientPublish {
  clientId: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export { BrokerListenError } from './listener.js';

export const DEFAULT_BROKER_HOST = '127.0.0.1';
export const DEFAULT_BROKER_PORT = 1883;
export const DEFAULT_BROKER_TLS_PORT = 8883;
/**
 * EMQX (which runs the public broker.emqx.io of the manual's examples) closes a CONNECT-less
 * link after `mqtt.idle_timeout`, 15 s by default in 4.x and 5.x; mosquitto 2.0 after 1.5 × its
 * 60 s default keepalive. The shorter, 15 s, so a driver that would fail on EMQX fails here too.
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** CONNACK return code 4 (MQTT 3.1.1 §3.2.2.3): bad user name or password. */
const BAD_USERNAME_OR_PASSWORD = 4 as AuthErrorCode;

type Authenticate = NonNullable<AedesOptions['authenticate']>;

function credentialCheck(auth: { username: string; password: string }): Authenticate {
  return (_client, username, password, done) => {
    if (username === auth.username && password !== undefined && password.toString('utf8') === auth.password) {
      done(null, true);
      return;
    }
    const refusal: AuthenticateError = Object.assign(new Error('bad user name or password'), {
      returnCode: BAD_USERNAME_OR_PASSWORD,
    });
    done(refusal, false);
  };
}

/** Listening on every interface still means the broker is reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? DEFAULT_BROKER_HOST;
  const log = (opts.log ?? silentLogger()).child({ component: 'broker' });
  const tempDir = opts.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'modemsim-broker-')) : null;
  const removeTempDir = (): void => {
    if (tempDir !== null) rmSync(tempDir, { recursive: true, force: true });
  };
  let certs: BrokerCerts;
  let signer: LeafSigner;
  try {
    certs = ensureCertificates(join(opts.dataDir ?? tempDir ?? '.', 'certs'), log);
    signer = new LeafSigner(certs, log);
  } catch (err) {
    removeTempDir();
    throw err;
  }
  const caPem = signer.caPem;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;

  const publishListeners = new Set<(m: ClientPublish) => void>();
  const aedes = await Aedes.createBroker({
    connectTimeout: connectTimeoutMs,
    // the earliest point a client's publish is seen, before it is forwarded: a recording's
    // `far` record then comes before the subscriber's copy enters the model
    authorizePublish: (client, packet, done) => {
      // as aedes's own check: the $SYS tree is the broker's
      if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topic is reserved'));
      if (client !== null && publishListeners.size > 0) {
        const payload = Buffer.from(packet.payload);
        const m: ClientPublish = { clientId: client.id, topic: packet.topic, payload, qos: packet.qos, retain: packet.retain };
        for (const f of publishListeners) f(m);
      }
      done(null);
    },
    ...(opts.auth ? { authenticate: credentialCheck(opts.auth) } : {}),
  });
  const clients = new Map<string, Client>();
  aedes.on('client', (client) => {
    clients.set(client.id, client);
  });
  aedes.on('clientReady', (client) => log.debug({ clientId: client.id }, 'client connected'));
  aedes.on('clientDisconnect', (client) => {
    if (clients.get(client.id) === client) clients.delete(client.id);
    log.debug({ clientId: client.id }, 'client disconnected');
  });
  aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection closed before CONNECT'));
  // aedes emits 'error' for persistence failures; unhandled it would kill the process
  const emitter: EventEmitter = aedes; // its typings omit the 'error' event
  emitter.on('error', (err: Error) => log.error({ err: err.message }, 'aedes error'));

  const plainServer = createNetServer((socket: Socket) => aedes.handle(socket));
  const contexts = new Map<string, SecureContext>();
  const mtls = opts.mtls === true;
  const contextFor = (name: string): SecureContext => {
    const key = name.toLowerCase();
    let context = contexts.get(key);
    if (!context) {
      // the CA goes into each SNI context too: client certificates are verified against the
      // store of the context the SNI callback picked, not the server's default one
      context = createSecureContext({ ...signer.leafFor(key), ca: caPem });
      contexts.set(key, context);
    }
    return context;
  };
  const tlsServer = createTlsServer(
    {
      ...signer.defaultLeaf(),
      ca: caPem,
      requestCert: mtls,
      rejectUnauthorized: mtls,
      // a socket that stalls in the handshake counts against the same connect window
      handshakeTimeout: connectTimeoutMs,
      SNICallback: (name, cb) => {
        try {
          cb(null, contextFor(name));
        } catch (err) {
          cb(err instanceof Error ? err : new Error(String(err)));
        }
      },
    },
    (socket: TLSSocket) => aedes.handle(socket),
  );
  // with a listener attached Node leaves the socket open (a handshake timeout included): end it here
  tlsServer.on('tlsClientError', (err, socket) => {
    log.debug({ err: err.message }, 'TLS handshake failed');
    socket.destroy();
  });
  for (const server of [plainServer, tlsServer]) {
    server.on('error', (err) => log.error({ err: err.message }, 'listener error'));
  }

  const plain = new Listener(plainServer, host, opts.port ?? DEFAULT_BROKER_PORT, 'plain');
  const secure = new Listener(tlsServer, host, opts.tlsPort ?? DEFAULT_BROKER_TLS_PORT, 'TLS');
  const closeAedes = (): Promise<void> => new Promise((resolve) => aedes.close(() => resolve()));
  try {
    await plain.listen();
    await secure.listen();
  } catch (err) {
    await Promise.all([plain.stop(), secure.stop()]);
    await closeAedes();
    removeTempDir();
    throw err;
  }

  const hostInUrl = urlHost(host);
  const url = `mqtt://${hostInUrl}:${plain.port}`;
  const tlsUrl = `mqtts://${hostInUrl}:${secure.port}`;
  log.info({ url, tlsUrl, mtls, auth: opts.auth !== undefined, connectTimeoutMs, certs: certs.dir }, 'broker listening');

  let closed = false;
  return {
    url,
    tlsUrl,
    port: plain.port,
    tlsPort: secure.port,
    host,
    certs,
    caPem,
    disconnectClient(clientId: string): boolean {
      const client = clients.get(clientId);
      if (!client || client.closed || client.conn.destroyed) return false;
      log.debug({ clientId }, 'dropping client (fault)');
      // a TCP drop, not an MQTT goodbye: the peer sees the link die and a will is published
      client.conn.destroy();
      return true;
    },
    onPublish(listener: (m: ClientPublish) => void): () => void {
      publishListeners.add(listener);
      return () => publishListeners.delete(listener);
    },
    async pause(): Promise<void> {
      await Promise.all([plain.stop(), secure.stop()]);
      log.info('broker paused (outage)');
    },
    async resume(): Promise<void> {
      if (closed) throw new Error('embedded broker: resume() after close()');
      await plain.listen();
      await secure.listen();
      log.info('broker resumed');
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([plain.stop(), secure.stop()]);
      await closeAedes();
      removeTempDir();
      log.info('broker closed');
    },
  };
}
