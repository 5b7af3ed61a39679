/**
 * One SSL context of AT+SSLCFG (ids 0..5 TCP, 34 FTP, 88 MQTT, 153 HTTP): the tags of the
 * manual's table, each with its value check, default and query spelling.
 */
import { parseFlashPath } from '../../fs-model/flash.js';

export const SSL_CONTEXT_IDS: readonly number[] = [0, 1, 2, 3, 4, 5, 34, 88, 153];

/** The manual's cipher-suite codes. */
export const CIPHER_SUITES = ['0X0035', '0X002F', '0X0005', '0X0004', '0X000A', '0X003D', '0XFFFF'] as const;
export type CipherSuite = (typeof CIPHER_SUITES)[number];

export interface SslSettings {
  /** 0 SSL3.0, 1 TLS1.0, 2 TLS1.1, 3 TLS1.2, 4 all. */
  sslversion: number;
  ciphersuite: CipherSuite;
  cacert?: string;
  clientcert?: string;
  clientkey?: string;
  /** 0 none, 1 verify the server, 2 also present the client certificate. */
  seclevel: number;
  hostname?: string;
  /** 1: accept certificates outside their validity window. */
  ignorelocaltime: number;
  /** Seconds, 10..300. */
  negotiatetimeout: number;
  clientrandom?: string;
  premaster?: string;
  /** 0 root-certificate verification, 1 other (stored; the model verifies against the CA file either way). */
  verifymode: number;
}

export type SslTag = keyof SslSettings;

export const DEFAULT_SSL_SETTINGS: Readonly<SslSettings> = {
  sslversion: 4,
  ciphersuite: '0XFFFF',
  seclevel: 0,
  ignorelocaltime: 0,
  negotiatetimeout: 300,
  verifymode: 0,
};

type TagRule =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'cipher' }
  | { kind: 'file' }
  | { kind: 'text'; pattern: RegExp };

const RULES: Readonly<Record<SslTag, TagRule>> = {
  sslversion: { kind: 'int', min: 0, max: 4 },
  ciphersuite: { kind: 'cipher' },
  cacert: { kind: 'file' },
  clientcert: { kind: 'file' },
  clientkey: { kind: 'file' },
  seclevel: { kind: 'int', min: 0, max: 2 },
  // a DNS name or an address: printable, no blanks or quotes
  hostname: { kind: 'text', pattern: /^[\x21\x23-\x7e]{1,255}$/ },
  ignorelocaltime: { kind: 'int', min: 0, max: 1 },
  negotiatetimeout: { kind: 'int', min: 10, max: 300 },
  clientrandom: { kind: 'text', pattern: /^(?:[0-9A-Fa-f]{56}|[0-9A-Fa-f]{64})$/ },
  premaster: { kind: 'text', pattern: /^[0-9A-Fa-f]{2,256}$/ },
  verifymode: { kind: 'int', min: 0, max: 1 },
};

export function sslTagOf(text: string): SslTag | undefined {
  const t = text.toLowerCase();
  return Object.prototype.hasOwnProperty.call(RULES, t) ? (t as SslTag) : undefined;
}

export class SslContext {
  private values: SslSettings = { ...DEFAULT_SSL_SETTINGS };

  constructor(readonly id: number) {}

  get settings(): Readonly<SslSettings> {
    return this.values;
  }

  /** Set a tag from its AT text; false when the value is not one the tag takes. */
  set(tag: SslTag, text: string, nameMax: number): boolean {
    const rule = RULES[tag];
    const v = this.values as unknown as Record<SslTag, number | string | undefined>;
    switch (rule.kind) {
      case 'int': {
        if (!/^\d{1,10}$/.test(text)) return false;
        const n = Number(text);
        if (n < rule.min || n > rule.max) return false;
        v[tag] = n;
        return true;
      }
      case 'cipher': {
        const c = text.toUpperCase();
        if (!(CIPHER_SUITES as readonly string[]).includes(c)) return false;
        v[tag] = c;
        return true;
      }
      case 'file':
        if (!parseFlashPath(text, nameMax)) return false;
        v[tag] = text;
        return true;
      case 'text':
        if (!rule.pattern.test(text)) return false;
        v[tag] = text;
        return true;
    }
  }

  /** `AT+SSLCFG="<tag>",<n>,`: back to the default (strings: unset). */
  erase(tag: SslTag): void {
    const v = this.values as unknown as Record<SslTag, number | string | undefined>;
    const d = (DEFAULT_SSL_SETTINGS as unknown as Record<SslTag, number | string | undefined>)[tag];
    if (d === undefined) delete v[tag];
    else v[tag] = d;
  }

  /**
   * The value as the query prints it: numbers and cipher codes bare, strings (file names, host
   * name, hex strings) in double quotes, an unset string as `""`.
   */
  format(tag: SslTag): string {
    const value = (this.values as unknown as Record<SslTag, number | string | undefined>)[tag];
    const rule = RULES[tag];
    if (rule.kind === 'int' || rule.kind === 'cipher') return String(value);
    return `"${value ?? ''}"`;
  }
}
