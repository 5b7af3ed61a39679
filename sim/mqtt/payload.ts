/**
 * How AT+MPUB's <message> text becomes payload bytes (behaviour §14), and how bytes go back out
 * on the UART. Command lines reach services as latin1 strings (one char per received byte), so
 * `latin1` conversions here are exact byte copies, never a character-set guess.
 */

export type PayloadResult = { ok: true; bytes: Buffer } | { ok: false; reason: string };

/** The four escapes the manual documents; any other backslash is an ordinary byte. */
const ESCAPES: Readonly<Record<string, number>> = { '22': 0x22, '0D': 0x0d, '0A': 0x0a, '5C': 0x5c };

/** ASCII mode (AT+MQTTMODE=0): the text as sent, with `\22 \0D \0A \5C` decoded. */
export function decodeAsciiMessage(text: string): Buffer {
  if (!text.includes('\\')) return Buffer.from(text, 'latin1');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c && i + 2 < text.length) {
      const code = ESCAPES[text.slice(i + 1, i + 3).toUpperCase()];
      if (code !== undefined) {
        out.push(code);
        i += 2;
        continue;
      }
    }
    out.push(c & 0xff);
  }
  return Buffer.from(out);
}

/** HEX mode (AT+MQTTMODE=1): digit pairs only; odd length or a non-hex digit is refused. */
export function decodeHexMessage(text: string): PayloadResult {
  if (text.length % 2 !== 0) return { ok: false, reason: 'odd number of hex digits' };
  if (!/^[0-9A-Fa-f]*$/.test(text)) return { ok: false, reason: 'non-hex digit' };
  return { ok: true, bytes: Buffer.from(text, 'hex') };
}

export function decodeMessage(text: string, mode: 0 | 1): PayloadResult {
  return mode === 1 ? decodeHexMessage(text) : { ok: true, bytes: decodeAsciiMessage(text) };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes received on the UART (latin1 text) to the UTF-8 string MQTT carries; undefined if invalid. */
export function utf8FromWire(text: string): string | undefined {
  // plain ASCII (nearly every topic) needs no decoding
  if (/^[\x00-\x7f]*$/.test(text)) return text;
  try {
    return strictUtf8.decode(Buffer.from(text, 'latin1'));
  } catch {
    return undefined;
  }
}

/** An MQTT string to the latin1 text whose bytes are its UTF-8 encoding (for ctx.info/urc). */
export function wireFromUtf8(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Topic name check for PUBLISH (MQTT 3.1.1 §4.7): non-empty, no wildcards, no NUL. */
export function validPublishTopic(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic);
}

/** Topic filter check for SUBSCRIBE/UNSUBSCRIBE (§4.7.1): `+` and `#` only as whole levels, `#` last. */
export function validTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return false;
    if (l.includes('+') && l !== '+') return false;
  }
  return true;
}

/** Whether a PUBLISH topic matches a (valid) subscription filter (§4.7; `$` topics need a `$` filter). */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') !== filter.startsWith('$')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
