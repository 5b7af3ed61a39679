/**
 * From an SSL context and the flash image to Node TLS client options: what the module's TLS
 * stack would do with the configured version, cipher suite, security level and certificate
 * files. Files are read when the connection starts (as the module does at SSLMIPSTART), so a
 * file written after AT+SSLCFG counts; a missing or unusable file refuses the connection.
 *
 * PEM framing is decoded with node-forge; certificates and keys are then parsed by node:crypto,
 * i.e. by the OpenSSL that does the handshake, so RSA and EC material is accepted exactly when
 * the TLS stack can use it (forge's X.509 reader handles RSA keys only).
 */
import { KeyObject, X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { ConnectionOptions, PeerCertificate, DetailedPeerCertificate, TLSSocket, checkServerIdentity } from 'node:tls';
import forge from 'node-forge';
import type { SslSettings } from './context.js';

export type TlsParams =
  | {
      ok: true;
      options: ConnectionOptions;
      description: string;
      /**
       * Must be called on `secureConnect` when present (only with ignorelocaltime=1): Node's
       * verification cannot skip the validity window, so the options accept any chain and this
       * check redoes it without the dates. A returned error means: close, CONNECT FAIL.
       */
      verifyPeer?: (socket: TLSSocket) => Error | undefined;
      /** `negotiatetimeout`: handshake budget in seconds. */
      negotiateTimeoutS: number;
    }
  | { ok: false; reason: string };

/** Reads a file of the flash image; throws when it is missing. */
export type FlashReader = (name: string) => Uint8Array;

const VERSIONS: Readonly<Record<number, { min: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2'; max: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2'; label: string }>> = {
  1: { min: 'TLSv1', max: 'TLSv1', label: 'TLS1.0' },
  2: { min: 'TLSv1.1', max: 'TLSv1.1', label: 'TLS1.1' },
  3: { min: 'TLSv1.2', max: 'TLSv1.2', label: 'TLS1.2' },
  // "all above" tops out at TLS 1.2; 1.0/1.1 are left out because OpenSSL 3 only speaks them at
  // security level 0, which would weaken every default connection
  4: { min: 'TLSv1.2', max: 'TLSv1.2', label: 'TLS1.2' },
};

/** OpenSSL names of the manual's suites; RC4 and 3DES are not in Node's OpenSSL 3. */
const CIPHERS: Readonly<Record<string, string | undefined>> = {
  '0X0035': 'AES256-SHA',
  '0X002F': 'AES128-SHA',
  '0X003D': 'AES256-SHA256',
  '0XFFFF': undefined,
};

const TIME_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'CRL_NOT_YET_VALID']);

type Loaded<T> = { ok: true; value: T } | { ok: false; reason: string };

function pemBlocks(bytes: Uint8Array, what: string): Loaded<forge.pem.ObjectPEM[]> {
  let blocks: forge.pem.ObjectPEM[];
  try {
    blocks = forge.pem.decode(Buffer.from(bytes).toString('latin1'));
  } catch (err) {
    return { ok: false, reason: `${what}: not a PEM file (${(err as Error).message})` };
  }
  if (blocks.length === 0) return { ok: false, reason: `${what}: no PEM block` };
  return { ok: true, value: blocks };
}

function loadCertificates(read: FlashReader, name: string, what: string): Loaded<X509Certificate[]> {
  let bytes: Uint8Array;
  try {
    bytes = read(name);
  } catch (err) {
    return { ok: false, reason: `${what} ${name}: ${(err as Error).message}` };
  }
  const blocks = pemBlocks(bytes, `${what} ${name}`);
  if (!blocks.ok) return blocks;
  const certs: X509Certificate[] = [];
  for (const b of blocks.value) {
    if (b.type !== 'CERTIFICATE' && b.type !== 'X509 CERTIFICATE' && b.type !== 'TRUSTED CERTIFICATE') continue;
    try {
      certs.push(new X509Certificate(Buffer.from(b.body, 'binary')));
    } catch (err) {
      return { ok: false, reason: `${what} ${name}: unparsable certificate (${(err as Error).message})` };
    }
  }
  if (certs.length === 0) return { ok: false, reason: `${what} ${name}: no certificate in the file` };
  return { ok: true, value: certs };
}

function loadKey(read: FlashReader, name: string): Loaded<KeyObject> {
  let bytes: Uint8Array;
  try {
    bytes = read(name);
  } catch (err) {
    return { ok: false, reason: `clientkey ${name}: ${(err as Error).message}` };
  }
  const blocks = pemBlocks(bytes, `clientkey ${name}`);
  if (!blocks.ok) return blocks;
  const block = blocks.value.find((b) => /PRIVATE KEY$/.test(b.type));
  if (!block) return { ok: false, reason: `clientkey ${name}: no private key in the file` };
  // the module has no passphrase setting
  if (block.type === 'ENCRYPTED PRIVATE KEY' || block.procType?.type === 'ENCRYPTED') {
    return { ok: false, reason: `clientkey ${name}: encrypted key` };
  }
  try {
    return { ok: true, value: createPrivateKey({ key: forge.pem.encode(block), format: 'pem' }) };
  } catch (err) {
    return { ok: false, reason: `clientkey ${name}: unparsable key (${(err as Error).message})` };
  }
}

/** The server chain (leaf first) as Node saw it. */
function peerChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c?.raw && !seen.has(c.fingerprint256) && out.length < 10) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

const signedBy = (cert: X509Certificate, issuer: X509Certificate): boolean =>
  cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/** Chain verification without validity dates: some link must be signed by a configured CA. */
function verifyIgnoringTime(chain: X509Certificate[], cas: X509Certificate[]): boolean {
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    if (cas.some((ca) => ca.fingerprint256 === cert.fingerprint256 || signedBy(cert, ca))) return true;
    const next = chain[i + 1];
    if (!next || !signedBy(cert, next)) return false;
  }
  return false;
}

export function buildTlsParams(s: Readonly<SslSettings>, servername: string, read: FlashReader): TlsParams {
  if (s.sslversion === 0) return { ok: false, reason: 'sslversion 0 (SSL 3.0) is not available in Node TLS' };
  const version = VERSIONS[s.sslversion] ?? VERSIONS[4]!;
  if (!(s.ciphersuite in CIPHERS)) return { ok: false, reason: `ciphersuite ${s.ciphersuite} is not available in Node's OpenSSL` };
  let ciphers = CIPHERS[s.ciphersuite];
  if (version.min !== 'TLSv1.2') ciphers = `${ciphers ?? 'DEFAULT'}:@SECLEVEL=0`;

  const name = s.hostname ?? servername;
  const options: ConnectionOptions = { minVersion: version.min, maxVersion: version.max };
  if (ciphers !== undefined) options.ciphers = ciphers;
  // RFC 6066: SNI carries DNS names only
  if (isIP(name) === 0 && name !== '') options.servername = name;
  const base = `ctx ${version.label}${ciphers ? ` ${s.ciphersuite}` : ''}, seclevel ${s.seclevel}`;
  const negotiateTimeoutS = s.negotiatetimeout;

  if (s.seclevel === 0) {
    options.rejectUnauthorized = false;
    return { ok: true, options, description: `${base}, no verification`, negotiateTimeoutS };
  }

  if (s.cacert === undefined) return { ok: false, reason: 'seclevel ≥ 1 without cacert' };
  const cas = loadCertificates(read, s.cacert, 'cacert');
  if (!cas.ok) return cas;
  options.ca = cas.value.map((c) => c.toString());
  // the identity is checked against the configured hostname, whatever host the socket dials
  options.checkServerIdentity = (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert);
  let description = `${base}, server verified against ${s.cacert} as ${name}`;

  if (s.seclevel === 2) {
    if (s.clientcert === undefined || s.clientkey === undefined) return { ok: false, reason: 'seclevel 2 without clientcert/clientkey' };
    const chain = loadCertificates(read, s.clientcert, 'clientcert');
    if (!chain.ok) return chain;
    const key = loadKey(read, s.clientkey);
    if (!key.ok) return key;
    if (!chain.value[0]!.checkPrivateKey(key.value)) {
      return { ok: false, reason: `clientkey ${s.clientkey} does not match clientcert ${s.clientcert}` };
    }
    options.cert = chain.value.map((c) => c.toString()).join('');
    options.key = key.value.export({ type: 'pkcs8', format: 'pem' }).toString();
    description += `, presents ${s.clientcert}`;
  }

  if (s.ignorelocaltime !== 1) {
    options.rejectUnauthorized = true;
    return { ok: true, options, description, negotiateTimeoutS };
  }

  options.rejectUnauthorized = false;
  const trusted = cas.value;
  const verifyPeer = (socket: TLSSocket): Error | undefined => {
    if (socket.authorized) return undefined;
    const why = String(socket.authorizationError ?? 'unverified');
    if (!TIME_ERRORS.has(why)) return new Error(why);
    // OpenSSL reports the last error it met, so a date error may hide an untrusted chain
    if (!verifyIgnoringTime(peerChain(socket), trusted)) return new Error('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const identity = checkServerIdentity(name, socket.getPeerCertificate());
    return identity ?? undefined;
  };
  return { ok: true, options, description: `${description}, dates ignored`, verifyPeer, negotiateTimeoutS };
}
