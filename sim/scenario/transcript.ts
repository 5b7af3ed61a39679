/**
 * The Markdown transcript of a run, in the manual's →/← table form (seeds/000: `→` a command,
 * `←` its answer, `←(URC)` unsolicited lines), with the model time of each row.
 */
import type { Ns } from '../kernel.js';
import { printable } from './bytes.js';
import { formatModelTime } from './duration.js';

export type Direction = '→' | '←' | '←(URC)' | '→(data)' | 'fault' | 'wait' | 'far →' | 'far ←' | 'note' | '✗';

export interface TranscriptRow {
  t: Ns;
  dir: Direction;
  /** Lines of the cell (joined with <br>). */
  lines: string[];
  step?: number;
}

/** Output text → its lines, framing dropped (`\r\nOK\r\n` → `OK`; the prompt stays `>`). */
export function outputLines(text: string): string[] {
  return text
    .split('\r\n')
    .filter((l) => l !== '')
    .map(printable);
}

function cell(lines: string[]): string {
  return lines
    .map((l) => l.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|'))
    .join('<br>');
}

export class Transcript {
  readonly rows: TranscriptRow[] = [];

  add(t: Ns, dir: Direction, lines: string[], step?: number): void {
    if (lines.length === 0) return;
    const row: TranscriptRow = { t, dir, lines };
    if (step !== undefined) row.step = step;
    this.rows.push(row);
  }

  /** A `## name` section: description, the table, the verdict. */
  render(title: string, description: string | undefined, verdict: string): string {
    const out = [`## ${title}`, ''];
    if (description) out.push(description.trim(), '');
    out.push('| model time | step | | |', '|---:|---:|---|---|');
    for (const r of this.rows) out.push(`| ${formatModelTime(r.t)} | ${r.step ?? ''} | ${r.dir} | ${cell(r.lines)} |`);
    out.push('', verdict, '');
    return out.join('\n');
  }
}
