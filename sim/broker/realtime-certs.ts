/**
 * The embedded broker's local CA, its ready-made client identity and the per-name server leafs.
 *
 * This file reads the wall clock on purpose (hence its name): certificates are checked by real
 * TLS stacks against real time, so their validity windows and the reuse check use the real date,
 * never the simulator's clock. The broker is the outside world, not part of the model.
 *
 * node-forge builds the certificates (node:crypto cannot), but keys come from node:crypto and
 * the TBS bytes are signed by node:crypto too: forge's pure-JS RSA keygen takes seconds and its
 * signing tens of milliseconds, native signing takes about one.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';
import type { Logger } from 'pino';
import { atomicWriteFileSync } from '../../fs-model/atomic.js';
import { makeDirs } from '../instance/dirs.js';

/** File paths (PEM) of the local CA and of the client identity for mutual TLS. */
export interface BrokerCerts {
  dir: string;
  ca: string;
  caKey: string;
  clientCert: string;
  clientKey: string;
}

/** A certificate and its private key, both PEM. */
export interface PemPair {
  cert: string;
  key: string;
}

export const CLIENT_COMMON_NAME = 'modemsim-client';
const CA_COMMON_NAME = 'modemsim local CA';
const DAY_MS = 86_400_000;
const CA_LIFETIME_DAYS = 3650;
const CLIENT_LIFETIME_DAYS = 825;
const LEAF_LIFETIME_DAYS = 30;
/** A certificate that expires sooner than this is replaced rather than reused. */
const RENEW_MARGIN_MS = 7 * DAY_MS;
/** Server leafs share one key, kept next to the CA so that a restart does not pay an RSA keygen. */
const SERVER_KEY_FILE = 'server.key';

function certPaths(dir: string): BrokerCerts {
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

function newRsaKey(): { privatePem: string; publicPem: string } {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privatePem: pair.privateKey, publicPem: pair.publicKey };
}

function publicPemOf(privatePem: string): string {
  return createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'pem' }).toString();
}

/** A positive serial of 16 random bytes (the top bit cleared keeps the DER INTEGER positive). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01;
  return bytes.toString('hex');
}

interface CertSpec {
  subjectCn: string;
  publicPem: string;
  lifetimeDays: number;
  extensions: object[];
}

interface Issuer {
  cert: forge.pki.Certificate | null; // null: self-signed
  keyPem: string;
}

function buildCert(spec: CertSpec, issuer: Issuer): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spec.publicPem);
  cert.serialNumber = randomSerial();
  const now = Date.now();
  // backdated an hour so that a peer whose clock lags a little still accepts it
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + spec.lifetimeDays * DAY_MS);
  const subject = [{ name: 'commonName', value: spec.subjectCn }, { name: 'organizationName', value: 'modemsim' }];
  cert.setSubject(subject);
  cert.setIssuer(issuer.cert ? issuer.cert.subject.attributes : subject);
  const authorityKeyId = (issuer.cert ?? cert).generateSubjectKeyIdentifier().getBytes();
  cert.setExtensions([
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId },
  ]);
  return signNatively(cert, issuer.keyPem);
}

/** Does what forge's `cert.sign(key, sha256)` does, with node:crypto doing the RSA. */
function signNatively(cert: forge.pki.Certificate, issuerKeyPem: string): string {
  const oid = forge.pki.oids['sha256WithRSAEncryption'];
  if (oid === undefined) throw new Error('node-forge lacks the sha256WithRSAEncryption OID');
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  cert.signature = '';
  // certificateToAsn1 builds the TBSCertificate as its first element
  const draft = forge.pki.certificateToAsn1(cert).value;
  const tbs = Array.isArray(draft) ? draft[0] : undefined;
  if (tbs === undefined) throw new Error('node-forge produced no TBSCertificate');
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.tbsCertificate = tbs;
  cert.signature = sign('sha256', tbsDer, issuerKeyPem).toString('binary');
  return forge.pki.certificateToPem(cert);
}

function isCurrent(cert: X509Certificate): boolean {
  const now = Date.now();
  return Date.parse(cert.validFrom) <= now && Date.parse(cert.validTo) - RENEW_MARGIN_MS > now;
}

function readIfExists(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

/** The CA pair on disk if both files parse, match, and the CA is current. */
function loadCa(paths: BrokerCerts): PemPair | null {
  const cert = readIfExists(paths.ca);
  const key = readIfExists(paths.caKey);
  if (cert === null || key === null) return null;
  try {
    const x = new X509Certificate(cert);
    if (!x.ca || !isCurrent(x) || !x.checkPrivateKey(createPrivateKey(key))) return null;
    return { cert, key };
  } catch {
    return null;
  }
}

function clientIsValid(paths: BrokerCerts, ca: X509Certificate): boolean {
  const cert = readIfExists(paths.clientCert);
  const key = readIfExists(paths.clientKey);
  if (cert === null || key === null) return false;
  try {
    const x = new X509Certificate(cert);
    return x.verify(ca.publicKey) && isCurrent(x) && x.checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

function writeKey(path: string, pem: string): void {
  atomicWriteFileSync(path, pem); // created 0600 by atomicWriteFileSync
}

function writeCert(path: string, pem: string): void {
  atomicWriteFileSync(path, pem);
}

function createCa(paths: BrokerCerts): PemPair {
  const key = newRsaKey();
  const cert = buildCert(
    {
      subjectCn: CA_COMMON_NAME,
      publicPem: key.publicPem,
      lifetimeDays: CA_LIFETIME_DAYS,
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
    { cert: null, keyPem: key.privatePem },
  );
  // key first: a crash in between leaves a key without a cert, which the next start replaces
  writeKey(paths.caKey, key.privatePem);
  writeCert(paths.ca, cert);
  return { cert, key: key.privatePem };
}

function createClient(paths: BrokerCerts, ca: PemPair): void {
  const key = newRsaKey();
  const cert = buildCert(
    {
      subjectCn: CLIENT_COMMON_NAME,
      publicPem: key.publicPem,
      lifetimeDays: CLIENT_LIFETIME_DAYS,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    },
    { cert: forge.pki.certificateFromPem(ca.cert), keyPem: ca.key },
  );
  writeKey(paths.clientKey, key.privatePem);
  writeCert(paths.clientCert, cert);
}

/**
 * The CA and client identity in `dir` (the certs directory itself), created on first use and
 * reused while they are present, consistent and not near expiry. A new CA re-issues the client.
 */
export function ensureCertificates(dir: string, log?: Logger): BrokerCerts {
  const started = performance.now();
  // not mkdirSync({ recursive }): under /proc it never returns (see makeDirs)
  makeDirs(dir, 0o700);
  const paths = certPaths(dir);
  let ca = loadCa(paths);
  const made: string[] = [];
  if (ca === null) {
    ca = createCa(paths);
    made.push('ca');
  }
  if (made.length > 0 || !clientIsValid(paths, new X509Certificate(ca.cert))) {
    createClient(paths, ca);
    made.push('client');
  }
  const ms = performance.now() - started;
  if (made.length > 0) log?.info({ dir, made, ms: Math.round(ms) }, 'broker certificates created');
  else log?.debug({ dir, ms: Math.round(ms) }, 'broker certificates reused');
  return paths;
}

/** The one RSA key behind every server leaf: reused from disk, or made once. */
function loadServerKey(dir: string): string {
  const path = join(dir, SERVER_KEY_FILE);
  const existing = readIfExists(path);
  if (existing !== null) {
    try {
      createPrivateKey(existing);
      return existing;
    } catch {
      // unreadable: replace it below
    }
  }
  const key = newRsaKey().privatePem;
  writeKey(path, key);
  return key;
}

/** The SAN entry that makes a leaf verify for `name`: IP SAN for an IP literal, else DNS SAN. */
function altNameFor(name: string): { type: number; value?: string; ip?: string } {
  return isIP(name) ? { type: 7, ip: name } : { type: 2, value: name };
}

/**
 * Signs server leafs under the local CA, one per name, cached: the TLS listener asks for the
 * name a client put in its SNI, so any name the modem dials verifies against the same CA.
 */
export class LeafSigner {
  readonly caPem: string;
  private readonly caCert: forge.pki.Certificate;
  private readonly caKeyPem: string;
  private readonly keyPem: string;
  private readonly publicPem: string;
  private readonly cache = new Map<string, PemPair>();
  /** Milliseconds spent signing each name's leaf (measurement for logs and reports). */
  readonly signingMs = new Map<string, number>();

  constructor(certs: BrokerCerts, private readonly log?: Logger) {
    this.caPem = readFileSync(certs.ca, 'utf8');
    this.caCert = forge.pki.certificateFromPem(this.caPem);
    this.caKeyPem = readFileSync(certs.caKey, 'utf8');
    this.keyPem = loadServerKey(certs.dir);
    this.publicPem = publicPemOf(this.keyPem);
  }

  /** The leaf for the loopback names, served to clients that send no SNI. */
  defaultLeaf(): PemPair {
    return this.leaf('localhost', ['localhost', '127.0.0.1', '::1']);
  }

  /** The leaf for one name (DNS name or IP literal), signed on first request. */
  leafFor(name: string): PemPair {
    return this.leaf(name.toLowerCase(), [name.toLowerCase()]);
  }

  private leaf(cacheKey: string, names: string[]): PemPair {
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const started = performance.now();
    const cn = names[0] ?? cacheKey;
    const cert = buildCert(
      {
        subjectCn: cn.length <= 64 ? cn : cn.slice(0, 64), // X.520 caps CN at 64; the SAN carries the full name
        publicPem: this.publicPem,
        lifetimeDays: LEAF_LIFETIME_DAYS,
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names.map(altNameFor) },
        ],
      },
      { cert: this.caCert, keyPem: this.caKeyPem },
    );
    const pair = { cert, key: this.keyPem };
    this.cache.set(cacheKey, pair);
    const ms = performance.now() - started;
    this.signingMs.set(cacheKey, ms);
    this.log?.debug({ name: cacheKey, ms: Math.round(ms * 10) / 10 }, 'broker leaf signed');
    return pair;
  }
}
