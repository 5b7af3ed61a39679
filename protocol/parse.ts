/**
 * Command line syntax (V.250 §5.3–5.4, plus the module's habits): `AT`, then basic commands
 * (`E0`, `V1`, `&W`, `S3=13`, `S3?`, `I`), then extended commands (`+NAME` with `=?`, `?`, `=...`
 * or nothing) separated by `;`. Pure: text in, parsed commands out.
 */

export type Form = 'test' | 'read' | 'set' | 'exec';

export interface ParsedCommand {
  /** Upper-cased name: `+CGREG`, `E`, `&W`, `S3`, `I`. */
  name: string;
  form: Form;
  /** The raw text after `=` (set form) or the digits of a basic command. */
  args: string;
  /** The command as the host typed it, for the trace. */
  source: string;
}

export type ParseResult = { ok: true; commands: ParsedCommand[] } | { ok: false; at: number; reason: string };

const EXT_NAME = /[A-Za-z0-9!%\-./:_]/;

/** Parse a line that starts with `AT` (any case). */
export function parseCommandLine(line: string): ParseResult {
  if (!/^at/i.test(line)) return { ok: false, at: 0, reason: 'no AT prefix' };
  const s = line.slice(2);
  const commands: ParsedCommand[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ') {
      i++;
      continue;
    }
    if (c === ';') {
      i++;
      continue;
    }
    const start = i;
    if (c === '+' || c === '^' || c === '$' || c === '*') {
      i++;
      let name = c;
      while (i < s.length && EXT_NAME.test(s[i]!)) name += s[i++]!;
      if (name.length === 1) return { ok: false, at: start, reason: 'empty extended name' };
      let form: Form = 'exec';
      let args = '';
      if (s.startsWith('=?', i)) {
        form = 'test';
        i += 2;
      } else if (s[i] === '?') {
        form = 'read';
        i++;
      } else if (s[i] === '=') {
        form = 'set';
        i++;
        const end = findCommandEnd(s, i);
        if (end < 0) return { ok: false, at: i, reason: 'unterminated string' };
        args = s.slice(i, end);
        i = end;
      }
      // anything else before the separator is a syntax error
      while (i < s.length && s[i] === ' ') i++;
      if (i < s.length && s[i] !== ';') return { ok: false, at: i, reason: 'junk after command' };
      commands.push({ name: name.toUpperCase(), form, args, source: s.slice(start, i) });
      continue;
    }
    if (c === '&') {
      const m = /^&([A-Za-z])(\d*)/.exec(s.slice(i));
      if (!m) return { ok: false, at: i, reason: 'bad & command' };
      i += m[0].length;
      commands.push({ name: '&' + m[1]!.toUpperCase(), form: 'set', args: m[2]!, source: m[0] });
      continue;
    }
    if (c === 'S' || c === 's') {
      const m = /^[Ss](\d+)(=\?|\?|=(\d*))?/.exec(s.slice(i));
      if (!m) return { ok: false, at: i, reason: 'bad S command' };
      i += m[0].length;
      const name = 'S' + String(Number(m[1]));
      if (m[2] === '=?') commands.push({ name, form: 'test', args: '', source: m[0] });
      else if (m[2] === '?') commands.push({ name, form: 'read', args: '', source: m[0] });
      else if (m[2] !== undefined) commands.push({ name, form: 'set', args: m[3] ?? '', source: m[0] });
      else return { ok: false, at: i, reason: 'S register needs ? or =' };
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      const m = /^([A-Za-z])(\d*)/.exec(s.slice(i))!;
      i += m[0].length;
      commands.push({ name: m[1]!.toUpperCase(), form: 'set', args: m[2]!, source: m[0] });
      continue;
    }
    return { ok: false, at: i, reason: `unexpected ${JSON.stringify(c)}` };
  }
  return { ok: true, commands };
}

/** End of an extended command's arguments: the first `;` outside double quotes. */
function findCommandEnd(s: string, from: number): number {
  let quoted = false;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '"') quoted = !quoted;
    else if (c === ';' && !quoted) return i;
  }
  return quoted ? -1 : s.length;
}

export interface RawParam {
  /** Text without the surrounding quotes. */
  text: string;
  quoted: boolean;
}

/**
 * Split set-form arguments at commas outside quotes. Surrounding blanks of unquoted values are
 * trimmed; an empty position yields `{text: '', quoted: false}` (as in `AT+SSLCFG="cacert",88,`).
 */
export function splitParams(args: string): RawParam[] | undefined {
  if (args.length === 0) return [];
  const out: RawParam[] = [];
  let i = 0;
  for (;;) {
    while (args[i] === ' ') i++;
    if (args[i] === '"') {
      const close = args.indexOf('"', i + 1);
      if (close < 0) return undefined;
      out.push({ text: args.slice(i + 1, close), quoted: true });
      i = close + 1;
      while (args[i] === ' ') i++;
      if (i >= args.length) return out;
      if (args[i] !== ',') return undefined;
      i++;
      if (i >= args.length) {
        out.push({ text: '', quoted: false });
        return out;
      }
      continue;
    }
    const comma = args.indexOf(',', i);
    const end = comma < 0 ? args.length : comma;
    const text = args.slice(i, end).trim();
    if (text.includes('"')) return undefined;
    out.push({ text, quoted: false });
    if (comma < 0) return out;
    i = comma + 1;
    if (i >= args.length) {
      out.push({ text: '', quoted: false });
      return out;
    }
  }
}
