import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { createModem } from '../sim/modem.js';
import { COMMAND_GROUPS } from '../sim/groups.js';
import { renderCommandReference, renderCoverage } from '../sim/docs.js';
import { xtestGroup } from './fixtures/xtest-group.js';
import { bootedModem } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...tsFiles(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Relative imports of a file (value and type imports, re-exports), as repo paths. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((n) => n.startsWith('.'))
    .map((n) => relative(root, resolve(root, dirname(file), n)).replace(/\.js$/, '.ts'));
}

function cycles(files: readonly string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => files.includes(i))]));
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') found.push(stack.slice(stack.indexOf(g)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('the shape of the code', () => {
  const product = [...tsFiles('sim'), ...tsFiles('protocol'), ...tsFiles('fs-model')];

  it('has no import cycle in sim/, protocol/ and fs-model/ (type imports included)', () => {
    expect(cycles(product)).toEqual([]);
  });

  it('no service, bridge, network, ssl or fault file imports sim/modem.ts', () => {
    const inner = product.filter((f) => /^sim\/(services|bridge|mqtt|network|ssl|faults)\//.test(f));
    expect(inner.length).toBeGreaterThan(10);
    expect(inner.filter((f) => importsOf(f).includes('sim/modem.ts'))).toEqual([]);
  });

  it('protocol/ imports nothing from sim/ or fs-model/', () => {
    const protocol = product.filter((f) => f.startsWith('protocol/'));
    expect(protocol.flatMap((f) => importsOf(f).filter((i) => !i.startsWith('protocol/')))).toEqual([]);
  });

  it('the bridge does not depend on the MQTT session', () => {
    const bridge = product.filter((f) => f.startsWith('sim/bridge/'));
    expect(bridge.flatMap((f) => importsOf(f).filter((i) => i.startsWith('sim/mqtt/') || i.startsWith('sim/services/')))).toEqual([]);
  });

  it('command handlers cast no parameter values (no `as` but `as const` in the groups)', () => {
    const groups = product.filter((f) => f.startsWith('sim/services/'));
    const casts = groups.flatMap((f) =>
      readFileSync(join(root, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ line, at: `${f}:${i + 1}` }))
        .filter(({ line }) => !/^\s*(\*|\/\*|\/\/)/.test(line))
        .filter(({ line }) => / as (?!const\b)[A-Za-z{(]/.test(line.replace(/\/\/.*$|'[^']*'|`[^`]*`/g, '')))
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(casts).toEqual([]);
  });

  it('the product never points outside the repo (no shared/ in README, sim, protocol, fs-model, docs)', () => {
    const files = [...product, 'README.md', ...readdirSync(join(root, 'docs')).map((n) => join('docs', n))];
    expect(files.filter((f) => readFileSync(join(root, f), 'utf8').includes('shared/'))).toEqual([]);
  });
});

describe('a command group of its own file', () => {
  it('is answered through the serial endpoint, reads its port, and prints its URC after the OK', async () => {
    const m = await bootedModem({ groups: [...COMMAND_GROUPS, xtestGroup] });
    expect(await m.host.command('AT+XTEST=?')).toBe('AT+XTEST=?\r\r\n+XTEST: <word>[,(0,1)]\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+XTEST=hello,1')).toBe('AT+XTEST=hello,1\r\r\nOK\r\n');
    expect((await m.host.expect('\r\n+XTEST: HELLO\r\n')).match).toBe('\r\n+XTEST: HELLO\r\n');
    expect(await m.host.command('AT+XTEST?')).toBe('AT+XTEST?\r\r\n+XTEST: "HELLO",1\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+XTEST=hello,2')).toBe('AT+XTEST=hello,2\r\r\n+CME ERROR: 765\r\n');
    await m.close();
  });

  it('is listed in the generated reference and counted in the coverage', async () => {
    const groups = [...COMMAND_GROUPS, xtestGroup];
    const m = createModem({ groups });
    const reference = renderCommandReference(m.engine.table.entries(), groups);
    const coverage = renderCoverage(m.engine.table.all(), groups);
    await m.close();
    expect(reference).toContain('#### xtest');
    expect(reference).toContain('| `AT+XTEST` | `=?` `?` `=<word>,[loud (0,1)]` | Echo a word back, with the radio state |');
    expect(coverage).toContain('- **xtest** 1/2 — not yet: `AT+XMISSING`');
  });

  it('fails the build when it needs a port no earlier group offers', () => {
    expect(() => createModem({ groups: [xtestGroup] })).toThrow('group xtest needs port radio, which no group before it offers');
  });

  it('every registered group has a section in the README command reference', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(COMMAND_GROUPS.filter((g) => !readme.includes(`#### ${g.name}\n`)).map((g) => g.name)).toEqual([]);
  });
});

describe('latency keys', () => {
  it('an override naming a latency key no step has fails when the modem is built, naming the key', () => {
    expect(() => createModem({ profileOverrides: { latency: JSON.parse('{"mqtt.conack": {"base": 1, "jitter": 0}}') } })).toThrow(
      /unknown latency key mqtt\.conack/,
    );
  });

  it('every latency key of LATENCY_KEYS is in every shipped profile', async () => {
    const { LATENCY_KEYS } = await import('../sim/profile.js');
    const { profiles } = await import('../sim/profiles/index.js');
    for (const p of Object.values(profiles)) expect(LATENCY_KEYS.filter((k) => p.latency[k] === undefined)).toEqual([]);
  });
});
