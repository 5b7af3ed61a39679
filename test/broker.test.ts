/**
 * The embedded broker on real sockets, seen from a real `mqtt` client and from raw net/tls
 * sockets. Waiting on socket events here is fine: the broker is the outside world, on wall time.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { generate } from 'mqtt-packet';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../sim/broker/index.js';
import { LeafSigner, ensureCertificates } from '../sim/broker/realtime-certs.js';
import { cleanupsAfterEach } from './helpers.js';

const cleanups = cleanupsAfterEach();

// one CA for the tests that do not study certificates: RSA keygen is the slow part of a start
const sharedDataDir = mkdtempSync(join(tmpdir(), 'broker-test-shared-'));
afterAll(() => rmSync(sharedDataDir, { recursive: true, force: true }));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'broker-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function broker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const b = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: sharedDataDir, ...opts });
  cleanups.push(() => b.close());
  return b;
}

async function client(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }, false);
  cleanups.push(() => c.endAsync(true));
  return c;
}

function closeOf(c: MqttClient): Promise<void> {
  return new Promise((resolve) => c.once('close', () => resolve()));
}

function nextMessage(c: MqttClient): Promise<{ topic: string; payload: string }> {
  return new Promise((resolve) => c.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })));
}

async function roundTrip(sub: MqttClient, pub: MqttClient, topic: string, payload: string): Promise<void> {
  await sub.subscribeAsync(topic, { qos: 1 });
  const got = nextMessage(sub);
  await pub.publishAsync(topic, payload, { qos: 1 });
  expect(await got).toEqual({ topic, payload });
}

function tlsHandshake(b: EmbeddedBroker, opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: b.tlsPort, ...opts });
    cleanups.push(() => void socket.destroy());
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** An MQTT 3.1.1 CONNECT with username and password, on a raw socket to see the broker's raw answer. */
function connectPacket(clientId: string, username: string, password: string): Buffer {
  return generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    clientId,
    username,
    password: Buffer.from(password),
  });
}

async function rawSocket(port: number): Promise<Socket> {
  const socket = netConnect({ host: '127.0.0.1', port });
  cleanups.push(() => void socket.destroy());
  await once(socket, 'connect');
  return socket;
}

describe('embedded broker: plain listener', () => {
  it('carries pub/sub between two clients and reports its URLs', async () => {
    const b = await broker();
    expect(b.url).toBe(`mqtt://127.0.0.1:${b.port}`);
    expect(b.tlsUrl).toBe(`mqtts://127.0.0.1:${b.tlsPort}`);
    expect(b.port).toBeGreaterThan(0);
    expect(b.tlsPort).toBeGreaterThan(0);
    expect(b.tlsPort).not.toBe(b.port);
    const sub = await client(b.url);
    const pub = await client(b.url);
    await roundTrip(sub, pub, 'mqtt/topic', 'SSSSddddd');
  });

  it('fails with a clear message when a port is taken, and leaves nothing listening', async () => {
    const a = await broker();
    const servers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    await expect(startEmbeddedBroker({ port: a.port, tlsPort: 0, dataDir: sharedDataDir })).rejects.toThrow(
      `embedded broker: cannot listen on 127.0.0.1:${a.port} (plain listener): port ${a.port} is already in use`,
    );
    // here the plain listener was up already when the TLS one failed: it must be closed again
    await expect(startEmbeddedBroker({ port: 0, tlsPort: a.tlsPort, dataDir: sharedDataDir })).rejects.toThrow(
      `embedded broker: cannot listen on 127.0.0.1:${a.tlsPort} (TLS listener): port ${a.tlsPort} is already in use`,
    );
    expect(servers()).toBe(before);
    await roundTrip(await client(a.url), await client(a.url), 't', 'still here');
  });
});

describe('embedded broker: TLS listener', () => {
  it('signs a leaf for the SNI name the client asks for, verifiable with the CA', async () => {
    const b = await broker();
    const socket = await tlsHandshake(b, { servername: 'broker.emqx.io', ca: b.caPem });
    expect(socket.authorized).toBe(true);
    const peer = socket.getPeerCertificate();
    expect(peer.subjectaltname).toBe('DNS:broker.emqx.io');
    expect(peer.subject.CN).toBe('broker.emqx.io');
    expect(peer.issuer.CN).toBe('modemsim local CA');
  });

  // Node 20 still sends an IP literal as SNI (with warning DEP0123), and so may other stacks
  it('puts an IP literal from SNI in an IP SAN', async () => {
    const b = await broker();
    const socket = await tlsHandshake(b, { servername: '10.20.30.40', ca: b.caPem });
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subjectaltname).toBe('IP Address:10.20.30.40');
  });

  it('serves the loopback leaf when the client sends no SNI', async () => {
    const b = await broker();
    const socket = await tlsHandshake(b, { ca: b.caPem });
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subjectaltname).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });

  it('is not trusted by a client that holds another CA', async () => {
    const b = await broker();
    const other = await broker({ dataDir: tempDir() });
    expect(other.caPem).not.toBe(b.caPem);
    await expect(tlsHandshake(b, { servername: 'broker.emqx.io', ca: other.caPem })).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('carries MQTT over TLS with the SNI leaf verified', async () => {
    const b = await broker();
    const opts = { ca: b.caPem, servername: 'broker.emqx.io' };
    const sub = await client(b.tlsUrl, opts);
    const pub = await client(b.tlsUrl, opts);
    await roundTrip(sub, pub, 'tls/topic', 'over tls');
  });

  it('signs a leaf for a new name well under a second, and only once per name', () => {
    const certs = ensureCertificates(join(tempDir(), 'certs'));
    const signer = new LeafSigner(certs);
    const first = signer.leafFor('Broker.EMQX.io');
    expect(signer.leafFor('broker.emqx.io')).toBe(first);
    expect(signer.signingMs.size).toBe(1);
    const ms = signer.signingMs.get('broker.emqx.io') ?? Infinity;
    expect(ms).toBeLessThan(500);
    expect(new X509Certificate(first.cert).verify(new X509Certificate(readFileSync(certs.ca)).publicKey)).toBe(true);
  });
});

describe('embedded broker: mutual TLS', () => {
  it('refuses a client without a certificate and accepts the ready-made client identity', async () => {
    const b = await broker({ mtls: true });
    const base = { ca: b.caPem, servername: 'broker.emqx.io' };
    await expect(client(b.tlsUrl, base)).rejects.toThrow(/alert certificate required/);
    const withCert = {
      ...base,
      cert: readFileSync(b.certs.clientCert, 'utf8'),
      key: readFileSync(b.certs.clientKey, 'utf8'),
    };
    const sub = await client(b.tlsUrl, withCert);
    const pub = await client(b.tlsUrl, { ...withCert, servername: '192.0.2.7' });
    await roundTrip(sub, pub, 'mtls/topic', 'mutual');
  });
});

describe('embedded broker: credentials', () => {
  it('answers bad credentials with CONNACK 4 and closes, accepts good ones', async () => {
    const b = await broker({ auth: { username: 'user', password: 'pass' } });
    const socket = await rawSocket(b.port);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.write(connectPacket('modem', 'user', 'wrong'));
    await once(socket, 'close');
    expect(Buffer.concat(chunks).toString('hex')).toBe('20020004');

    await expect(client(b.url, { username: 'other', password: 'pass' })).rejects.toMatchObject({ code: 4 });
    await expect(client(b.url, {})).rejects.toMatchObject({ code: 4 });
    const good = await client(b.url, { username: 'user', password: 'pass' });
    expect(good.connected).toBe(true);
  });
});

describe('embedded broker: connect window', () => {
  it('closes a socket that sends no CONNECT in time, keeps one that did', async () => {
    const b = await broker({ connectTimeoutMs: 300 });
    const connected = await client(b.url, { keepalive: 60 });
    const started = performance.now();
    const silent = await rawSocket(b.port);
    const stalledTls = await rawSocket(b.tlsPort);
    await Promise.all([once(silent, 'close'), once(stalledTls, 'close')]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    // connected before the silent sockets opened, so its own window would have run out too
    expect(connected.connected).toBe(true);
    await roundTrip(connected, connected, 'still/open', 'yes');
  });
});

describe('embedded broker: faults', () => {
  it('drops one client by id like a TCP drop (its will is published)', async () => {
    const b = await broker();
    const watcher = await client(b.url);
    await watcher.subscribeAsync('will/modem', { qos: 0 });
    const will = nextMessage(watcher);
    const modem = await client(b.url, { clientId: 'modem-1', will: { topic: 'will/modem', payload: Buffer.from('gone'), qos: 0, retain: false } });
    const closed = closeOf(modem);
    expect(b.disconnectClient('nobody')).toBe(false);
    expect(b.disconnectClient('modem-1')).toBe(true);
    expect(b.disconnectClient('modem-1')).toBe(false);
    await closed;
    expect(await will).toEqual({ topic: 'will/modem', payload: 'gone' });
    expect(watcher.connected).toBe(true);
  });

  it('pause cuts every connection and refuses new ones; resume listens on the same ports', async () => {
    const b = await broker();
    const plain = await client(b.url);
    const tls = await client(b.tlsUrl, { ca: b.caPem });
    const closed = Promise.all([closeOf(plain), closeOf(tls)]);
    await b.pause();
    await closed;
    await expect(client(b.url)).rejects.toThrow(/ECONNREFUSED|Couldn't connect/);
    await b.resume();
    const again = await client(b.url);
    const againTls = await client(b.tlsUrl, { ca: b.caPem, servername: 'broker.emqx.io' });
    await roundTrip(again, againTls, 'after/outage', 'back');
  });

  it('close() closes client sockets, half-open sockets and both listeners', async () => {
    const b = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: sharedDataDir });
    const c = await client(b.url);
    const silent = await rawSocket(b.port);
    const closed = Promise.all([closeOf(c), once(silent, 'close')]);
    await b.close();
    await closed;
    await b.close(); // idempotent
    await expect(client(b.url)).rejects.toThrow(/ECONNREFUSED|Couldn't connect/);
    await expect(rawSocket(b.tlsPort)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('embedded broker: certificates', () => {
  it('keeps its CA across starts with the same data dir, keys private', async () => {
    const dataDir = tempDir();
    const first = await broker({ dataDir });
    const ca1 = new X509Certificate(readFileSync(first.certs.ca));
    const client1 = readFileSync(first.certs.clientCert, 'utf8');
    await first.close();
    const second = await broker({ dataDir });
    expect(second.certs.dir).toBe(join(dataDir, 'certs'));
    expect(new X509Certificate(second.caPem).fingerprint256).toBe(ca1.fingerprint256);
    expect(readFileSync(second.certs.clientCert, 'utf8')).toBe(client1);
    for (const key of [second.certs.caKey, second.certs.clientKey, join(second.certs.dir, 'server.key')]) {
      expect(statSync(key).mode & 0o777).toBe(0o600);
    }
    const clientCert = new X509Certificate(client1);
    expect(clientCert.subject).toContain('CN=modemsim-client');
    expect(clientCert.verify(ca1.publicKey)).toBe(true);
    expect(ca1.ca).toBe(true);
  });

  it('replaces a damaged CA and re-issues the client identity under it', () => {
    const dir = join(tempDir(), 'certs');
    const before = ensureCertificates(dir);
    const oldCa = new X509Certificate(readFileSync(before.ca)).fingerprint256;
    const oldClient = readFileSync(before.clientCert, 'utf8');
    writeFileSync(before.ca, 'not a certificate');
    const after = ensureCertificates(dir);
    const newCa = new X509Certificate(readFileSync(after.ca));
    expect(newCa.fingerprint256).not.toBe(oldCa);
    expect(readFileSync(after.clientCert, 'utf8')).not.toBe(oldClient);
    expect(new X509Certificate(readFileSync(after.clientCert)).verify(newCa.publicKey)).toBe(true);
  });

  it('re-issues a client identity whose key does not match, keeping the CA', () => {
    const dir = join(tempDir(), 'certs');
    const before = ensureCertificates(dir);
    const ca = readFileSync(before.ca, 'utf8');
    writeFileSync(before.clientKey, readFileSync(before.caKey));
    const after = ensureCertificates(dir);
    expect(readFileSync(after.ca, 'utf8')).toBe(ca);
    const cert = new X509Certificate(readFileSync(after.clientCert));
    expect(cert.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(after.clientKey, 'utf8')))).toBe(true);
  });
});
