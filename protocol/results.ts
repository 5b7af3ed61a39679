/**
 * The one list of what ends a command's answer on this module: final result codes (V.250 §5.7,
 * 27.007 +CME, 27.005 +CMS, and the module's own spellings) and the raw-data prompts. The engine
 * formats from it; the in-process host, the scenario runner and tests match with the patterns
 * derived here, so a new final (`SEND OK`, `CONNECT`) is added once.
 */

/** Final result codes spelled as a fixed word, with their V0 numeric code where V.250 has one. */
export const FINAL_WORDS = {
  OK: '0',
  CONNECT: '1',
  ERROR: '4',
  'NO CARRIER': '3',
  'SHUT OK': undefined,
  'SEND OK': undefined,
  'SEND FAIL': undefined,
  'CLOSE OK': undefined,
  TimeOut: undefined,
} as const satisfies Record<string, string | undefined>;

export type FinalWord = keyof typeof FINAL_WORDS;

/** Final result codes that carry an error number or text. */
export const FINAL_PREFIXES = ['+CME ERROR: ', '+CMS ERROR: '] as const;

/**
 * AT+CIFSR's answer, SIMCom's quirk the Luat TCP flow keeps: the module's IPv4 address alone
 * is the whole answer, no OK after it. No other answer is a bare address.
 */
const ADDRESS_FINAL = '\\d{1,3}(?:\\.\\d{1,3}){3}';
const ADDRESS_LINE = new RegExp(`^${ADDRESS_FINAL}$`);

/** Whether a line's text is AT+CIFSR's final: an IPv4 address alone. */
export function isAddressFinal(text: string): boolean {
  return ADDRESS_LINE.test(text);
}

/** Prompts after which the module takes raw data (FSWRITE, MPUBEX, CMGS): `\r\n>` and `\r\n> `. */
export const PROMPT = '>';

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Words a command answer may end with. CONNECT is left out: in this module it only starts data. */
const ENDING_WORDS: readonly FinalWord[] = ['OK', 'ERROR', 'SHUT OK', 'SEND OK', 'SEND FAIL', 'CLOSE OK', 'TimeOut', 'NO CARRIER'];

const finalAlternatives = [...ENDING_WORDS.map(escapeRe), ...FINAL_PREFIXES.map((p) => `${escapeRe(p)}[^\\r]*`), ADDRESS_FINAL].join('|');

/** A final result code as the module frames it (ATV1): what ends a command's answer. */
export const FINAL_RESULT = new RegExp(`\\r\\n(${finalAlternatives})\\r\\n`);

/** A final result code, or the raw-data prompt that answers a command that takes data. */
export const FINAL_OR_PROMPT = new RegExp(`${FINAL_RESULT.source}|\\r\\n${escapeRe(PROMPT)}`);

const NUMERIC = new Map<string, string>();
for (const [word, code] of Object.entries(FINAL_WORDS)) if (code !== undefined) NUMERIC.set(word, code);

/** The V0 (numeric) form of a final word, or undefined when it has none and stays verbose. */
export function numericFinal(text: string): string | undefined {
  return NUMERIC.get(text);
}
