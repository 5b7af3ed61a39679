/**
 * Tests that need a tool from the system (socat for ptys, mosquitto for interop), guarded one
 * way everywhere:
 * - tool present: the tests run;
 * - tool missing, outside CI: they are skipped, with one loud notice per run naming the apt
 *   package, so a machine with only Node passes `npm test` and still says what it left out;
 * - tool missing under CI (CI set): they run, and fail, saying what to install. CI must never
 *   pass by skipping.
 *
 * Most tools are executables found on PATH; pyserial is a Python module, present when
 * `/usr/bin/python3 -c "import serial"` succeeds (asked once per process), and its "path" is
 * that interpreter.
 *
 * MODEMSIM_HIDE_TOOLS=socat,mosquitto makes tools count as missing here, to check the guard
 * on a machine that has them: outside CI the tests skip with the notice. (Code under test still
 * finds the real tool on PATH; to hide it from that too, run with a PATH without it.)
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export type SystemTool = 'socat' | 'mosquitto' | 'gammu' | 'gsmctl' | 'cc' | 'chromium' | 'pyserial';

/** The Debian/Ubuntu package that provides each tool. */
const APT_PACKAGE: Readonly<Record<SystemTool, string>> = {
  socat: 'socat',
  mosquitto: 'mosquitto',
  gammu: 'gammu',
  gsmctl: 'gsm-utils',
  cc: 'gcc',
  chromium: 'chromium',
  pyserial: 'python3-serial',
};

/** What the tests need each tool for, for the notice. */
const NEEDED_FOR: Readonly<Record<SystemTool, string>> = {
  socat: 'the pty (virtual COM port) tests',
  mosquitto: 'the tests against a real mosquitto broker',
  gammu: 'the gammu interop tests',
  gsmctl: 'the gsmlib (gsmctl, gsmsmsstore, gsmsendsms) interop tests',
  cc: 'the gsmlib interop tests (they build a DTR shim for the pty)',
  chromium: 'the timeline page tests in a headless browser',
  pyserial: 'the pyserial driver interop tests',
};

/** Daemons live in sbin, which is often not on a user's PATH. */
const EXTRA_DIRS: Readonly<Record<SystemTool, readonly string[]>> = {
  socat: [],
  mosquitto: ['/usr/sbin', '/usr/local/sbin'],
  gammu: [],
  gsmctl: [],
  cc: [],
  chromium: [],
  pyserial: [],
};

/** The interpreter the pyserial tests run (Debian's python3-serial installs for it). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Tools that are not an executable on PATH: found by a probe, its answer kept for the process. */
const PROBES: Partial<Record<SystemTool, () => string | undefined>> = {
  pyserial: () => {
    const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import serial'], { stdio: 'ignore', timeout: 10_000 });
    return r.status === 0 ? SYSTEM_PYTHON : undefined;
  },
};
const probed = new Map<SystemTool, string | undefined>();

export function underCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

function hidden(tool: SystemTool): boolean {
  return (process.env['MODEMSIM_HIDE_TOOLS'] ?? '').split(',').map((t) => t.trim()).includes(tool);
}

/** Absolute path of the tool (for pyserial: the interpreter that imports it), or undefined when it is missing (or hidden). */
export function toolPath(tool: SystemTool): string | undefined {
  if (hidden(tool)) return undefined;
  const probe = PROBES[tool];
  if (probe !== undefined) {
    if (!probed.has(tool)) probed.set(tool, probe());
    return probed.get(tool);
  }
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...EXTRA_DIRS[tool]];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, tool);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

const noticed = new Set<SystemTool>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'EPERM';
  }
}

/**
 * True for the first test file of this vitest run to ask (files run in separate worker
 * processes, children of one vitest process): a marker file per run and tool decides. Markers
 * of finished runs are swept on the way.
 */
function firstInRun(tool: SystemTool): boolean {
  const prefix = 'modemsim-tool-notice-';
  try {
    for (const name of readdirSync(tmpdir())) {
      const m = new RegExp(`^${prefix}(\\d+)-`).exec(name);
      if (!m || alive(Number(m[1]))) continue;
      try {
        unlinkSync(join(tmpdir(), name));
      } catch {
        /* another worker swept it */
      }
    }
    writeFileSync(join(tmpdir(), `${prefix}${process.ppid}-${tool}`), '', { flag: 'wx' });
    return true;
  } catch (err) {
    // EEXIST: another file of this run gave the notice; anything else: better twice than never
    return !(err instanceof Error && 'code' in err && err.code === 'EEXIST');
  }
}

/**
 * For `describe.skipIf(skipWithout('socat'))` / `it.skipIf(…)`: true when the tests needing
 * `tool` (and `more`) are to be skipped (one missing, not under CI); prints each missing one's
 * notice the first time.
 */
export function skipWithout(tool: SystemTool, ...more: SystemTool[]): boolean {
  // every missing tool is named, not only the first
  if (more.length > 0) return [tool, ...more].map((t) => skipWithout(t)).some((skip) => skip);
  if (toolPath(tool) !== undefined || underCi()) return false;
  if (!noticed.has(tool)) {
    noticed.add(tool);
    if (!firstInRun(tool)) return true;
    const bar = '!'.repeat(78);
    process.stderr.write(
      `\n${bar}\n!!! SKIPPED: ${NEEDED_FOR[tool]} — ${tool} is not installed.\n` +
        `!!! Install it to run them: apt-get install ${APT_PACKAGE[tool]}   (under CI they run and fail instead)\n${bar}\n\n`,
    );
  }
  return true;
}

/** The tool's path, or an error naming the package (what a CI run without the tool fails with). */
export function requireTool(tool: SystemTool): string {
  const p = toolPath(tool);
  if (p === undefined) throw new Error(`${tool} is not installed (apt-get install ${APT_PACKAGE[tool]}); ${NEEDED_FOR[tool]} need it`);
  return p;
}
