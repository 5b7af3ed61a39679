/**
 * tlsOptionsFor against a real TLS server on 127.0.0.1: certificates written to flash through
 * the serial line as the seed does (FSCREATE/FSWRITE), contexts set with AT+SSLCFG.
 *
 * Certificates are made here with node:crypto keys and node-forge certificates; their validity
 * windows use the real date because the TLS stacks check the real date.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { Server, TLSSocket, connect, createServer } from 'node:tls';
import forge from 'node-forge';
import { Modem } from '../sim/modem.js';
import type { TlsParams } from '../sim/services/ssl.js';
import { bootedModem } from './helpers.js';

interface Pem {
  cert: string;
  key: string;
}

interface Issuer {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

const DAY = 86_400_000;

function rsaKey(): { key: string; publicKey: string } {
  const k = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { key: k.privateKey, publicKey: k.publicKey };
}

let serial = 1;
function makeCert(
  cn: string,
  keys: { key: string; publicKey: string },
  opts: { issuer?: Issuer; ca?: boolean; dns?: string[]; client?: boolean; from?: number; to?: number },
): Pem & { issuer: Issuer } {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  const now = Date.now();
  cert.validity.notBefore = new Date(now + (opts.from ?? -DAY));
  cert.validity.notAfter = new Date(now + (opts.to ?? 30 * DAY));
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer(opts.issuer ? opts.issuer.cert.subject.attributes : [{ name: 'commonName', value: cn }]);
  const ext: object[] = [{ name: 'basicConstraints', cA: opts.ca === true, critical: true }];
  if (opts.ca) ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true });
  else ext.push({ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true });
  if (opts.dns) ext.push({ name: 'subjectAltName', altNames: opts.dns.map((value) => ({ type: 2, value })) });
  if (!opts.ca) ext.push({ name: 'extKeyUsage', serverAuth: !opts.client, clientAuth: opts.client === true });
  cert.setExtensions(ext);
  const self = forge.pki.privateKeyFromPem(keys.key) as forge.pki.rsa.PrivateKey;
  cert.sign(opts.issuer?.key ?? self, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.key, issuer: { cert, key: self } };
}

let pki: {
  caA: Pem;
  caB: Pem;
  server: Pem;
  expired: Pem;
  client: Pem;
  otherKey: string;
};

beforeAll(() => {
  const caKeyA = rsaKey();
  const caKeyB = rsaKey();
  const leafKey = rsaKey();
  const clientKey = rsaKey();
  const caA = makeCert('test CA A', caKeyA, { ca: true, to: 365 * DAY });
  const caB = makeCert('test CA B', caKeyB, { ca: true, to: 365 * DAY });
  pki = {
    caA,
    caB,
    server: makeCert('broker.test', leafKey, { issuer: caA.issuer, dns: ['broker.test'] }),
    expired: makeCert('broker.test', leafKey, { issuer: caA.issuer, dns: ['broker.test'], from: -60 * DAY, to: -30 * DAY }),
    client: makeCert('modemsim-client', clientKey, { issuer: caA.issuer, client: true }),
    otherKey: rsaKey().key,
  };
}, 30_000);

interface Seen {
  clientCn?: string;
  clientAuthorized: boolean;
}

/** A TLS server that records the client certificate of each connection. */
async function server(leaf: Pem): Promise<{ port: number; seen: Seen[]; srv: Server }> {
  const seen: Seen[] = [];
  const srv = createServer(
    { cert: leaf.cert, key: leaf.key, ca: [pki.caA.cert], requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    (s: TLSSocket) => {
      const peer = s.getPeerCertificate();
      const cn: string | string[] | undefined = peer.subject?.CN;
      seen.push({ clientCn: Array.isArray(cn) ? cn.join(',') : cn, clientAuthorized: s.authorized });
      s.end('hello');
    },
  );
  srv.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, seen, srv };
}

type Outcome = { connected: true; authorized: boolean; cipher: string } | { connected: false; error: string };

/** Dial as the bridge does: the options, the real address, then verifyPeer if present. */
function dial(p: TlsParams, port: number): Promise<Outcome> {
  if (!p.ok) throw new Error(`no TLS options: ${p.reason}`);
  return new Promise((resolve) => {
    const s = connect({ ...p.options, host: '127.0.0.1', port });
    s.once('secureConnect', () => {
      const err = p.verifyPeer?.(s);
      const out: Outcome = err ? { connected: false, error: err.message } : { connected: true, authorized: s.authorized, cipher: s.getCipher().name };
      s.destroy();
      resolve(out);
    });
    s.once('error', (e) => resolve({ connected: false, error: e.message }));
  });
}

let m: Modem | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await m?.close();
  m = undefined;
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(leaf: Pem): Promise<{ port: number; seen: Seen[] }> {
  const s = await server(leaf);
  servers.push(s.srv);
  return s;
}

/** A booted modem with files written over the serial line as in the seed's SSL flows. */
async function modemWithFiles(files: Record<string, string>): Promise<Modem> {
  const mm = await bootedModem();
  m = mm;
  await mm.host.command('ATE0');
  for (const [name, text] of Object.entries(files)) {
    expect(await mm.host.command(`AT+FSCREATE="${name}"`)).toBe('\r\nOK\r\n');
    const data = Buffer.from(text, 'latin1');
    mm.host.write(`AT+FSWRITE="${name}",0,${data.length},15\r`);
    await mm.host.expect('\r\n>');
    mm.host.write(data);
    expect((await mm.host.expect(/\r\n(OK|TimeOut|\+CME ERROR: \d+)\r\n/)).text).toBe('\r\nOK\r\n');
  }
  return mm;
}

async function sslcfg(mm: Modem, ...lines: string[]): Promise<void> {
  for (const l of lines) expect(await mm.host.command(`AT+SSLCFG=${l}`), l).toBe('\r\nOK\r\n');
}

describe('tlsOptionsFor with a real TLS server', () => {
  it('seclevel 0 (nothing configured) connects without verification', async () => {
    const mm = await modemWithFiles({});
    const { port, seen } = await listen(pki.server);
    const p = mm.ssl.tlsOptionsFor(88, 'broker.test');
    expect(p.ok && p.options.rejectUnauthorized).toBe(false);
    // the server chain is not trusted by anything configured, and that is fine at level 0
    expect(await dial(p, port)).toMatchObject({ connected: true, authorized: false });
    expect(seen[0]?.clientCn).toBeUndefined();
  });

  it('seclevel 1 verifies against the right CA and fails against a wrong one', async () => {
    const mm = await modemWithFiles({ 'ca.crt': pki.caA.cert, 'wrong.crt': pki.caB.cert });
    const { port, seen } = await listen(pki.server);
    await sslcfg(mm, '"cacert",88,"ca.crt"', '"seclevel",88,1');
    const good = mm.ssl.tlsOptionsFor(88, 'broker.test');
    expect(good.ok && good.options.rejectUnauthorized).toBe(true);
    expect(await dial(good, port)).toMatchObject({ connected: true, authorized: true });
    expect(seen[0]).toEqual({ clientCn: undefined, clientAuthorized: false });
    await sslcfg(mm, '"cacert",88,"wrong.crt"');
    const bad = await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port);
    expect(bad.connected).toBe(false);
    expect(bad.connected === false && bad.error).toMatch(/certificate/i);
  });

  it('checks the identity against the hostname tag, else the name the driver asked for', async () => {
    const mm = await modemWithFiles({ 'ca.crt': pki.caA.cert });
    const { port } = await listen(pki.server);
    await sslcfg(mm, '"cacert",88,"ca.crt"', '"seclevel",88,1');
    const byIp = await dial(mm.ssl.tlsOptionsFor(88, '127.0.0.1'), port);
    expect(byIp.connected === false && byIp.error).toMatch(/127\.0\.0\.1/);
    await sslcfg(mm, '"hostname",88,"broker.test"');
    expect(await dial(mm.ssl.tlsOptionsFor(88, '127.0.0.1'), port)).toMatchObject({ connected: true, authorized: true });
    await sslcfg(mm, '"hostname",88,"other.test"');
    expect((await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port)).connected).toBe(false);
  });

  it('seclevel 2 presents the client certificate', async () => {
    const mm = await modemWithFiles({ 'ca.crt': pki.caA.cert, 'client.crt': pki.client.cert, 'client.key': pki.client.key });
    const { port, seen } = await listen(pki.server);
    await sslcfg(mm, '"cacert",88,"ca.crt"', '"clientcert",88,"client.crt"', '"clientkey",88,"client.key"', '"seclevel",88,2');
    expect(await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port)).toMatchObject({ connected: true, authorized: true });
    expect(seen).toEqual([{ clientCn: 'modemsim-client', clientAuthorized: true }]);
  });

  it('refuses missing, unparsable and mismatched files before any connection', async () => {
    const mm = await modemWithFiles({
      'ca.crt': pki.caA.cert,
      'junk.crt': '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
      'plain.txt': 'hello',
      'client.crt': pki.client.cert,
      'other.key': pki.otherKey,
    });
    const reason = (): string => {
      const p = mm.ssl.tlsOptionsFor(88, 'broker.test');
      return p.ok ? 'ok' : p.reason;
    };
    await sslcfg(mm, '"seclevel",88,1');
    expect(reason()).toMatch(/without cacert/);
    await sslcfg(mm, '"cacert",88,"missing.crt"');
    expect(reason()).toMatch(/missing\.crt/);
    await sslcfg(mm, '"cacert",88,"junk.crt"');
    expect(reason()).toMatch(/unparsable certificate/);
    await sslcfg(mm, '"cacert",88,"plain.txt"');
    expect(reason()).toMatch(/not a PEM file/);
    await sslcfg(mm, '"cacert",88,"ca.crt"', '"seclevel",88,2');
    expect(reason()).toMatch(/without clientcert/);
    await sslcfg(mm, '"clientcert",88,"client.crt"', '"clientkey",88,"ca.crt"');
    expect(reason()).toMatch(/no private key/);
    await sslcfg(mm, '"clientkey",88,"other.key"');
    expect(reason()).toMatch(/does not match/);
    await sslcfg(mm, '"seclevel",88,1');
    expect(reason()).toBe('ok');
  });

  it('ignorelocaltime=1 accepts an expired server certificate, still only from the configured CA', async () => {
    const mm = await modemWithFiles({ 'ca.crt': pki.caA.cert, 'wrong.crt': pki.caB.cert });
    const { port } = await listen(pki.expired);
    await sslcfg(mm, '"cacert",88,"ca.crt"', '"seclevel",88,1');
    const strict = await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port);
    expect(strict.connected === false && strict.error).toMatch(/expired/);
    await sslcfg(mm, '"ignorelocaltime",88,1');
    const lenient = mm.ssl.tlsOptionsFor(88, 'broker.test');
    expect(lenient.ok && typeof lenient.verifyPeer).toBe('function');
    expect(await dial(lenient, port)).toMatchObject({ connected: true });
    await sslcfg(mm, '"cacert",88,"wrong.crt"');
    expect((await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port)).connected).toBe(false);
    await sslcfg(mm, '"cacert",88,"ca.crt"', '"hostname",88,"other.test"');
    expect((await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port)).connected).toBe(false);
  });

  it('maps sslversion and ciphersuite onto Node TLS, refusing what Node cannot speak', async () => {
    const mm = await modemWithFiles({});
    const { port } = await listen(pki.server);
    await sslcfg(mm, '"ciphersuite",88,0X002F', '"sslversion",88,3');
    expect(await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port)).toMatchObject({ connected: true, cipher: 'AES128-SHA' });
    await sslcfg(mm, '"ciphersuite",88,0X0005');
    expect(mm.ssl.tlsOptionsFor(88, 'broker.test')).toMatchObject({ ok: false });
    await sslcfg(mm, '"ciphersuite",88,0XFFFF', '"sslversion",88,0');
    expect(mm.ssl.tlsOptionsFor(88, 'broker.test')).toMatchObject({ ok: false });
    // a TLS 1.0-only client against a TLS ≥ 1.2 server: the handshake fails (CONNECT FAIL)
    await sslcfg(mm, '"sslversion",88,1');
    expect((await dial(mm.ssl.tlsOptionsFor(88, 'broker.test'), port)).connected).toBe(false);
  });
});
