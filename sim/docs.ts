/**
 * The command reference and the manual-coverage list, generated from the command tables so the
 * README can never drift from the code. `npm run docs` rewrites the marked README sections;
 * a test fails when they are stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CommandGroup, CommandSpec } from './commands.js';
import type { IntSpec, ParamSpec } from '../protocol/params.js';
import { createModem } from './modem.js';

/** Commands of the manual's chapters this simulator covers (at-commands.md). */
export const MANUAL_COMMANDS: Readonly<Record<CommandGroup, readonly string[]>> = {
  system: ['E', 'V', 'Q', 'I', 'Z', '&F', '&W', 'S3', 'S4', 'S5', '+CMEE', '+IPR', '+RESET', '+RSTSET', '+CGMI', '+CGMM', '+CGMR', '+CGSN', '+CIMI', '+ICCID', '+CSDT'],
  network: ['+CFUN', '+CPIN', '+CSQ', '+CREG', '+CGREG', '+CEREG', '+COPS'],
  pdp: ['+CGATT', '+CGDCONT', '+CGACT', '+CGPADDR', '+CIPSHUT', '+CIPSTATUS', '+CSTT', '+CIICR', '+CIFSR', '+CIPMUX'],
  mqtt: ['+MCONFIG', '+MIPSTART', '+SSLMIPSTART', '+MCONNECT', '+MPUB', '+MPUBEX', '+MSUB', '+MUNSUB', '+MQTTMODE', '+MQTTMSGSET', '+MQTTMSGGET', '+MDISCONNECT', '+MIPCLOSE', '+MQTTSTATU'],
  ssl: ['+SSLCFG'],
  fs: ['+FSCREATE', '+FSWRITE', '+FSREAD', '+FSREADHEAD', '+FSDEL', '+FSLS', '+FSFLSIZE', '+FSMEM', '+FSDRIVE', '+FSMKDIR', '+FSRMDIR'],
};

const GROUP_ORDER: CommandGroup[] = ['system', 'network', 'pdp', 'mqtt', 'ssl', 'fs'];

const atName = (s: CommandSpec): string => `AT${s.name}`;

function paramText(p: ParamSpec): string {
  const inner =
    p.type === 'int'
      ? `${p.name} ${(p as IntSpec).values ? `(${(p as IntSpec).values!.join(',')})` : `${p.min}..${p.max}`}`
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

export function renderCommandReference(specs: readonly CommandSpec[]): string {
  const out: string[] = [];
  for (const g of GROUP_ORDER) {
    const inGroup = specs.filter((s) => s.group === g);
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

export function renderCoverage(specs: readonly CommandSpec[]): string {
  const have = new Set(specs.map((s) => s.name));
  const lines: string[] = [];
  let done = 0;
  let total = 0;
  for (const g of GROUP_ORDER) {
    const names = MANUAL_COMMANDS[g];
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

export async function renderReadme(readme: string): Promise<string> {
  const m = createModem();
  const specs = m.engine.table.all();
  await m.close();
  let doc = replaceSection(readme, 'commands', renderCommandReference(specs));
  doc = replaceSection(doc, 'coverage', renderCoverage(specs));
  return doc;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = new URL('../README.md', import.meta.url);
  const before = readFileSync(path, 'utf8');
  const after = await renderReadme(before);
  if (after !== before) writeFileSync(path, after);
  process.stdout.write(after === before ? 'README.md is up to date\n' : 'README.md updated\n');
}
