/**
 * Result formatting (V.250 §5.7): what goes back on the wire for information text, final
 * result codes and unsolicited result codes, under ATV, ATQ, AT+CMEE and S3/S4.
 */
import { cmeText, cmsText } from './errors.js';
import { FinalWord, numericFinal } from './results.js';

export interface FormatSettings {
  /** ATV1 verbose (default) or ATV0 numeric. */
  verbose: boolean;
  /** ATQ1 suppresses final result codes. */
  quiet: boolean;
  /** AT+CMEE: 0 plain ERROR, 1 numeric, 2 verbose. */
  cmee: 0 | 1 | 2;
  s3: number;
  s4: number;
}

/** The V.250 line settings (ATE, ATV, ATQ, AT+CMEE, S3/S4/S5) the module keeps. */
export interface LineSettings extends FormatSettings {
  echo: boolean;
  s5: number;
}

export type Final =
  | { kind: 'ok' }
  | { kind: 'error' }
  | { kind: 'cme'; code: number }
  /**
   * 27.005 `+CMS ERROR: <n>` of the SMS commands. CMEE governs only +CME, so it prints under
   * CMEE=0 too, unless `cmee0` is 'error' (a profile's choice for a module that says ERROR).
   */
  | { kind: 'cms'; code: number; cmee0?: 'cms' | 'error' }
  /** A final result word of the module's own (`SHUT OK`, `TimeOut`; protocol/results.ts). */
  | { kind: 'text'; text: FinalWord }
  /** AT+CIFSR: the module's IPv4 address is the whole answer (protocol/results.ts). */
  | { kind: 'address'; ip: string };

export const OK: Final = { kind: 'ok' };
export const ERROR: Final = { kind: 'error' };
export const cme = (code: number): Final => ({ kind: 'cme', code });
export const cms = (code: number, cmee0: 'cms' | 'error' = 'cms'): Final => ({ kind: 'cms', code, cmee0 });

function crlf(s: FormatSettings): string {
  return String.fromCharCode(s.s3, s.s4);
}

/** Information text, and unsolicited result codes: `<CR><LF>text<CR><LF>` (V0: `text<CR><LF>`). */
export function formatInfo(text: string, s: FormatSettings): string {
  const nl = crlf(s);
  return s.verbose ? nl + text + nl : text + nl;
}

export function finalText(f: Final, cmee: 0 | 1 | 2): string {
  switch (f.kind) {
    case 'ok':
      return 'OK';
    case 'error':
      return 'ERROR';
    case 'text':
      return f.text;
    case 'address':
      return f.ip;
    case 'cme':
      if (cmee === 0) return 'ERROR';
      if (cmee === 1) return `+CME ERROR: ${f.code}`;
      return `+CME ERROR: ${cmeText[f.code] ?? String(f.code)}`;
    case 'cms':
      if (cmee === 0 && f.cmee0 === 'error') return 'ERROR';
      if (cmee === 2) return `+CMS ERROR: ${cmsText[f.code] ?? String(f.code)}`;
      return `+CMS ERROR: ${f.code}`;
  }
}

/** The final result code of a command line; empty under ATQ1. */
export function formatFinal(f: Final, s: FormatSettings): string {
  if (s.quiet) return '';
  const text = finalText(f, s.cmee);
  if (!s.verbose) {
    const num = numericFinal(text);
    if (num !== undefined) return num + String.fromCharCode(s.s3);
  }
  return formatInfo(text, s);
}
