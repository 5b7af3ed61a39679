/**
 * Acceptance of the package as a user gets it: `npm pack` (prepare builds dist/), install the
 * tarball in a fresh temporary project with `@serialport/stream` and vitest from the registry,
 * and run that project's own vitest on a tiny driver that uses only `SerialPortStream` and the
 * exported binding: the seed's plain flow (MIPSTART, MCONNECT, MSUB, MPUB, the +MSUB echo) in
 * virtual time, with no call into modemsim internals and no clock driving.
 *
 * About 25 s idle, 50 s loaded (pack 8–35 s with tsc, install 7–10 s from a warm npm cache, the
 * user's vitest 2–3 s), so it runs by default; MODEMSIM_PACK_TEST=0 skips it outside CI (an offline machine), saying so.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { underCi } from './system-tools.js';

const execFileAsync = promisify(execFile);

/** A command's output; a failure says what it printed (tsc under `prepare` prints to stdout). */
async function run(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string }> {
  try {
    return await execFileAsync(file, args, { ...opts, maxBuffer: 64 << 20 });
  } catch (err) {
    const out = (key: string): string => (typeof err === 'object' && err !== null && key in err ? String(Object.getOwnPropertyDescriptor(err, key)?.value) : '');
    throw new Error(`${[file, ...args].join(' ')} failed in ${opts.cwd}:\n${out('stdout')}\n${out('stderr')}`);
  }
}
const ROOT = join(import.meta.dirname, '..');
const enabled = underCi() || process.env['MODEMSIM_PACK_TEST'] !== '0';
if (!enabled) process.stderr.write('SKIPPED: test/pack.test.ts (npm pack + install in a fresh project) because MODEMSIM_PACK_TEST=0\n');

/** The temp project's vitest must not take the outer run's worker settings for its own. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('TINYPOOL') && k !== 'NODE_ENV' && k !== 'FORCE_COLOR'));
  // plain text: the summary line is matched below
  return { ...env, NO_COLOR: '1' };
}

const USER_TEST = String.raw`
import { afterEach, expect, it } from 'vitest';
import { SerialPortStream } from '@serialport/stream';
import { ModemBinding, startTestModem, type TestModem } from 'modemsim';

/** The driver: a port, one command at a time, the answer up to its final result code. */
class TinyDriver {
  readonly port: SerialPortStream;
  text = '';
  private waiters: Array<() => boolean> = [];
  constructor(path: string) {
    this.port = new SerialPortStream({ binding: ModemBinding, path, baudRate: 115200 });
    this.port.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
      for (const w of [...this.waiters]) w();
    });
  }
  until(pattern: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ' + JSON.stringify(pattern) + ' in 10 s, got ' + JSON.stringify(this.text))), 10_000);
      const check = () => {
        const i = this.text.indexOf(pattern);
        if (i < 0) return false;
        clearTimeout(timer);
        const got = this.text.slice(0, i + pattern.length);
        this.text = this.text.slice(i + pattern.length);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(got);
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
  }
  command(line: string, final = '\r\nOK\r\n'): Promise<string> {
    this.port.write(line + '\r');
    return this.until(final);
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}

let tm: TestModem | undefined;
afterEach(() => tm?.dispose());

it('runs the seed plain flow through SerialPortStream and the exported binding in virtual time', async () => {
  // powers on here: the driver opens its port at once, so it reads the boot lines
  const sim = (tm = await startTestModem({ far: false }));
  const d = new TinyDriver(sim.path);
  await d.until('SMS READY\r\n');
  let attached = '';
  while (!attached.includes('+CGATT: 1')) attached = await d.command('AT+CGATT?');
  expect(attached).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
  expect(await d.command('AT+MCONFIG="packed","",""')).toBe('AT+MCONFIG="packed","",""\r\r\nOK\r\n');
  expect(await d.command('AT+MIPSTART="mqtt.example.com","1883"')).toBe('AT+MIPSTART="mqtt.example.com","1883"\r\r\nOK\r\n');
  expect(await d.until('CONNECT OK\r\n')).toBe('\r\nCONNECT OK\r\n');
  expect(await d.command('AT+MCONNECT=1,60')).toBe('AT+MCONNECT=1,60\r\r\nOK\r\n');
  expect(await d.until('CONNACK OK\r\n')).toBe('\r\nCONNACK OK\r\n');
  expect(await d.command('AT+MSUB="mqtt/topic",0')).toBe('AT+MSUB="mqtt/topic",0\r\r\nOK\r\n');
  expect(await d.until('SUBACK\r\n')).toBe('\r\nSUBACK\r\n');
  expect(await d.command('AT+MPUB="mqtt/topic",0,0,"SSSSddddd"')).toBe('AT+MPUB="mqtt/topic",0,0,"SSSSddddd"\r\r\nOK\r\n');
  expect(await d.until('SSSSddddd\r\n')).toBe('\r\n+MSUB: "mqtt/topic",9 byte,SSSSddddd\r\n');
  expect(sim.now()).toBeGreaterThan(4e9);
  await d.close();
}, 30_000);
`;

describe.skipIf(!enabled)('the packed package in a fresh project', () => {
  it(
    'installs from the npm pack tarball with @serialport/stream and vitest, and its vitest passes the seed plain flow on the exported binding',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'modemsim-pack-'));
      const t0 = performance.now();
      try {
        await run('npm', ['pack', '--pack-destination', dir], { cwd: ROOT });
        const tarball = readdirSync(dir).find((f) => /^modemsim-.*\.tgz$/.test(f));
        expect(tarball).toBeDefined();
        const packedMs = performance.now() - t0;
        const project = join(dir, 'project');
        mkdirSync(project);
        writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-modemsim', private: true, type: 'module' }, null, 2));
        await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball!), '@serialport/stream@^13', 'vitest@^4'], {
          cwd: project,
          env: cleanEnv(),
        });
        const installedMs = performance.now() - t0;
        writeFileSync(join(project, 'driver.test.ts'), USER_TEST);
        const out = await run(join(project, 'node_modules', '.bin', 'vitest'), ['run', '--reporter=verbose'], { cwd: project, env: cleanEnv() });
        const doneMs = performance.now() - t0;
        process.stdout.write(`pack test: pack ${(packedMs / 1000).toFixed(1)} s, install ${((installedMs - packedMs) / 1000).toFixed(1)} s, user's vitest ${((doneMs - installedMs) / 1000).toFixed(1)} s\n`);
        expect(out.stdout).toContain('runs the seed plain flow through SerialPortStream and the exported binding in virtual time');
        expect(out.stdout).toMatch(/Tests\s+1 passed/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    600_000,
  );
});
