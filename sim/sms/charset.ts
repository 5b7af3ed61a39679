/**
 * The TE character sets of AT+CSCS (27.007 §5.5) the module supports: "GSM" (the 7-bit default
 * alphabet of 23.038, one byte per code, extension characters behind 0x1B), "IRA" (T.50, i.e.
 * ASCII) and "UCS2" (each UTF-16 code unit as four hex digits). Text mode SMS, the phonebook,
 * USSD and CSCA carry their strings in it. Strings here are latin1 byte strings, as the engine
 * puts them on the wire.
 */
import { utils } from 'node-pdu';
import type { Cscs } from '../profile.js';

export const CHARSETS: readonly Cscs[] = ['GSM', 'IRA', 'UCS2'];

const UNKNOWN = '?';
const ESCAPE = 0x1b;

/** A text as the TE sees it in `cs`; what the set cannot show becomes `?`. */
export function toTe(text: string, cs: Cscs): string {
  if (cs === 'UCS2') return ucs2Hex(text);
  if (cs === 'IRA') return [...text].map((ch) => (ch.charCodeAt(0) < 0x80 && ch.length === 1 ? ch : UNKNOWN)).join('');
  const { ALPHABET_7BIT, EXTENDED_TABLE } = utils.Helper;
  let out = '';
  for (const ch of text) {
    const basic = ALPHABET_7BIT.indexOf(ch);
    if (basic >= 0) {
      out += String.fromCharCode(basic);
      continue;
    }
    const ext = ch === '`' ? -1 : EXTENDED_TABLE.indexOf(ch);
    out += ext >= 0 ? String.fromCharCode(ESCAPE, ext) : UNKNOWN;
  }
  return out;
}

/** A string the TE sent in `cs`, as text; undefined when it is not valid in that set. */
export function fromTe(s: string, cs: Cscs): string | undefined {
  if (cs === 'UCS2') return fromUcs2Hex(s);
  if (cs === 'IRA') return /^[\x00-\x7f]*$/.test(s) ? s : undefined;
  const { ALPHABET_7BIT, EXTENDED_TABLE } = utils.Helper;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return undefined;
    if (c === ESCAPE && i + 1 < s.length) {
      const e = EXTENDED_TABLE.charAt(s.charCodeAt(++i));
      out += e === '`' || e === '' ? UNKNOWN : e;
      continue;
    }
    out += ALPHABET_7BIT.charAt(c);
  }
  return out;
}

export function ucs2Hex(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += text.charCodeAt(i).toString(16).padStart(4, '0');
  return out.toUpperCase();
}

export function fromUcs2Hex(s: string): string | undefined {
  if (!/^(?:[0-9A-Fa-f]{4})*$/.test(s)) return undefined;
  let out = '';
  for (let i = 0; i < s.length; i += 4) out += String.fromCharCode(parseInt(s.slice(i, i + 4), 16));
  return out;
}

/** Hex octets (27.005 text mode for 8-bit and UCS2 user data); undefined when not hex. */
export function hexOctets(s: string): Buffer | undefined {
  return /^(?:[0-9A-Fa-f]{2})*$/.test(s) ? Buffer.from(s, 'hex') : undefined;
}
