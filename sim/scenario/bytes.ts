/**
 * Bytes in scenarios. A YAML string is taken byte for byte (each character one byte, so
 * `"\x1a"` or `"\xff"` in a double-quoted string are single bytes); `{base64: …}` and
 * `{hex: …}` give any bytes. Messages and the transcript show bytes back in the same
 * double-quoted escape form.
 */

export class ByteError extends Error {}

/** A string whose characters are all bytes (U+0000..U+00FF) as a Buffer. */
export function latin1Bytes(s: string, what: string): Buffer {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) {
      const cp = s.codePointAt(i)!;
      throw new ByteError(`${what}: character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not a byte; write it as {hex: …} or {base64: …}`);
    }
  }
  return Buffer.from(s, 'latin1');
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string, `{base64: …}` or `{hex: …}`. */
export function bytesOf(v: unknown, what: string): Buffer {
  if (typeof v === 'string') return latin1Bytes(v, what);
  if (typeof v === 'number') return Buffer.from(String(v), 'latin1');
  if (isRecord(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.base64 === 'string') {
      const b64 = v.base64.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new ByteError(`${what}: not base64`);
      return Buffer.from(b64, 'base64');
    }
    if (keys.length === 1 && typeof v.hex === 'string') {
      const hex = v.hex.replace(/\s+/g, '');
      if (!/^([0-9A-Fa-f]{2})*$/.test(hex)) throw new ByteError(`${what}: hex wants pairs of hex digits`);
      return Buffer.from(hex, 'hex');
    }
  }
  throw new ByteError(`${what}: expected a string, {base64: …} or {hex: …}`);
}

/** Double-quoted, escaped: `"AT\r\r\nOK\r\n"`, `"\x00\xff"`. */
export function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ch = text[i]!;
    if (ch === '\r') out += '\\r';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c < 0x20 || (c >= 0x7f && c <= 0xff)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** One line of output for display: printable as is, control bytes escaped. */
export function printable(text: string): string {
  return quote(text).slice(1, -1).replace(/\\"/g, '"').replace(/\\\\/g, '\\');
}
