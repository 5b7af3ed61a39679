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
import type { Profile } from './profile.js';
import { profiles } from './profiles/index.js';

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

/** When each spelling is printed, in the order of the table. */
const SPELLING_ROWS: ReadonlyArray<[keyof Profile['spellings'], string]> = [
  ['registered', 'registration completes'],
  ['deregistered', 'registration is lost'],
  ['nitz', 'network time, after registration'],
  ['pdpAct', 'the module activates a context'],
  ['pdpDeact', 'the network deactivates a context'],
  ['mePdpDeact', 'AT+CGACT=0 deactivates a context'],
  ['nwDetach', 'the network detaches the module'],
  ['shutOk', 'final result of AT+CIPSHUT'],
  ['mqttConnectFailState', 'line before CONNECT FAIL'],
  ['mqttClosedAfterDisconnect', 'CLOSED after MDISCONNECT'],
  ['mqttAckLost', 'an OK\'d ack will not come (session ended)'],
  ['cmeeRead', 'AT+CMEE? prefix'],
  ['cgdcontFields', 'fields of an AT+CGDCONT? line'],
];

/** URCs whose spelling no profile changes. */
const FIXED_URCS: ReadonlyArray<[string, string]> = [
  ['+CREG: <stat>[,"<lac>","<ci>",<act>]', 'registration status changes with AT+CREG=1 (2: also the cell); CGREG and CEREG alike'],
  ['STATE: <state>', 'after the OK of AT+CIPSTATUS'],
  ['CONNECT OK', 'MIPSTART / SSLMIPSTART reached the broker'],
  ['ALREADY CONNECT', 'MIPSTART while a link is up'],
  ['CONNECT FAIL', 'MIPSTART could not connect (after the `STATE:` line)'],
  ['CONNACK OK', 'the broker accepted MCONNECT'],
  ['ERROR', 'the broker refused MCONNECT, or a filter of MSUB'],
  ['SUBACK', 'MSUB acknowledged'],
  ['UNSUBACK', 'MUNSUB acknowledged'],
  ['PUBACK', 'a QoS 1 MPUB acknowledged'],
  ['PUBREC', 'a QoS 2 MPUB received by the broker'],
  ['PUBCOMP', 'a QoS 2 MPUB completed'],
  ['+MSUB: "<topic>",<len> byte,<payload>', 'a message arrived (AT+MQTTMSGSET=0)'],
  ['+MSUB: <slot>', 'a message was cached (AT+MQTTMSGSET=1)'],
  ['CLOSED', 'the broker or the network closed the link'],
];

const cell = (v: unknown): string => {
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.map((x) => `\`${String(x)}\``).join(' then ');
  return typeof v === 'string' ? `\`${v}\`` : String(v);
};

/** Every URC and result spelling per profile: boot lines first, then the `spellings` table. */
export function renderSpellings(ps: Readonly<Record<string, Profile>> = profiles): string {
  const list = Object.values(ps);
  const head = `| printed when | profile value | ${list.map((p) => p.name).join(' | ')} |`;
  const rule = `|---|---|${list.map(() => '---').join('|')}|`;
  const boot = `| boot (ms after power-on) | \`boot.urcs\` | ${list.map((p) => esc(p.boot.urcs.map((u) => `\`${u.text}\` ${u.at / 1e6}`).join(', '))).join(' | ')} |`;
  const rows = SPELLING_ROWS.map(
    ([key, when]) => `| ${esc(when)} | \`spellings.${key}\` | ${list.map((p) => esc(cell(p.spellings[key]))).join(' | ')} |`,
  );
  const fixed = FIXED_URCS.map(([text, when]) => `| \`${esc(text)}\` | ${esc(when)} |`);
  return [
    head,
    rule,
    boot,
    ...rows,
    '',
    '`{cid}` stands for the context id. Override any of them with `profileOverrides`.',
    '',
    'The same on every profile (spelled in the code, from the manual and the seed flows):',
    '',
    '| URC | printed when |',
    '|---|---|',
    ...fixed,
    '',
  ].join('\n');
}

export function replaceSection(doc: string, marker: string, body: string): string {
  const begin = `<!-- ${marker}:begin -->`;
  const end = `<!-- ${marker}:end -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`no ${marker} markers in the document`);
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

/** docs/behaviour.md with its generated spellings table. */
export function renderBehaviour(doc: string): string {
  return replaceSection(doc, 'spellings', renderSpellings());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const docs: Array<[string, (text: string) => Promise<string> | string]> = [
    ['../README.md', (t) => renderReadme(t)],
    ['../docs/behaviour.md', renderBehaviour],
  ];
  for (const [rel, render] of docs) {
    const path = new URL(rel, import.meta.url);
    const before = readFileSync(path, 'utf8');
    const after = await render(before);
    if (after !== before) writeFileSync(path, after);
    process.stdout.write(`${rel.slice(3)} ${after === before ? 'is up to date' : 'updated'}\n`);
  }
}
