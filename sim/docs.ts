/**
 * The command reference and the manual-coverage list, generated from the command tables so the
 * README can never drift from the code. `npm run docs` rewrites the marked README sections;
 * a test fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CommandSpec, TableEntry } from './commands.js';
import { COMMAND_GROUPS } from './groups.js';
import type { ParamSpec } from '../protocol/params.js';
import type { CommandGroup } from './service.js';
import { createModem } from './modem.js';

const atName = (s: CommandSpec): string => `AT${s.name}`;

function paramText(p: ParamSpec): string {
  const inner =
    p.type === 'int'
      ? `${p.name} ${p.values ? `(${p.values.join(',')})` : `${p.min}..${p.max}`}`
      : `${p.quotes === 'required' ? '"' + p.name + '"' : p.name}`;
  return p.optional ? `[${inner}]` : `<${inner}>`;
}

function forms(s: CommandSpec): string {
  const f: string[] = [];
  if (s.test) f.push('`=?`');
  if (s.read) f.push('`?`');
  if (s.set) f.push(s.params ? '`=' + s.params.map(paramText).join(',') + '`' : '`n`');
  if (s.exec) f.push('exec');
  return f.join(' ');
}

const esc = (t: string): string => t.replace(/\|/g, '\\|');

/** The reference, one table per group in registry order. */
export function renderCommandReference(entries: readonly TableEntry[], groups: readonly CommandGroup[] = COMMAND_GROUPS): string {
  const out: string[] = [];
  for (const { name: g } of groups) {
    const inGroup = entries.filter((e) => e.group === g).map((e) => e.spec);
    if (inGroup.length === 0) continue;
    out.push(`#### ${g}`, '', '| command | forms | what it does | source |', '|---|---|---|---|');
    for (const s of inGroup) {
      const extra = [s.needsRadio ? 'needs radio (797 when CFUN 0/4)' : '', s.latency ? `latency \`${s.latency}\`` : '']
        .filter(Boolean)
        .join('; ');
      out.push(`| \`${atName(s)}\` | ${esc(forms(s))} | ${esc(s.summary)}${extra ? ` (${extra})` : ''} | ${esc(s.source ?? '')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** How many of each group's manual commands the table answers. */
export function renderCoverage(specs: readonly CommandSpec[], groups: readonly CommandGroup[] = COMMAND_GROUPS): string {
  const have = new Set(specs.map((s) => s.name));
  const lines: string[] = [];
  let done = 0;
  let total = 0;
  for (const { name: g, manual: names } of groups) {
    const yes = names.filter((n) => have.has(n));
    const no = names.filter((n) => !have.has(n));
    done += yes.length;
    total += names.length;
    lines.push(`- **${g}** ${yes.length}/${names.length}${no.length ? ` — not yet: ${no.map((n) => `\`AT${n}\``).join(', ')}` : ''}`);
  }
  return [`Implemented ${done} of the ${total} manual commands in scope:`, '', ...lines, ''].join('\n');
}

export function replaceSection(doc: string, marker: string, body: string): string {
  const begin = `<!-- ${marker}:begin -->`;
  const end = `<!-- ${marker}:end -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README has no ${marker} markers`);
  return doc.slice(0, i + begin.length) + '\n' + body + doc.slice(j);
}

export async function renderReadme(readme: string, groups: readonly CommandGroup[] = COMMAND_GROUPS): Promise<string> {
  const m = createModem({ groups });
  const table = m.engine.table;
  await m.close();
  let doc = replaceSection(readme, 'commands', renderCommandReference(table.entries(), groups));
  doc = replaceSection(doc, 'coverage', renderCoverage(table.all(), groups));
  return doc;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = new URL('../README.md', import.meta.url);
  const before = readFileSync(path, 'utf8');
  const after = await renderReadme(before);
  if (after !== before) writeFileSync(path, after);
  process.stdout.write(after === before ? 'README.md is up to date\n' : 'README.md updated\n');
}
