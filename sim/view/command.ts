/**
 * `modemsim view TRACE -o session.html` and `modemsim run --view DIR`: the timeline page of a
 * trace, or one per scenario.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { checkOutputFile } from '../instance/output-file.js';
import { EnvironmentError, errnoCode, flagValue } from '../instance/errors.js';
import { readTrace, TraceReadError } from '../replay/read.js';
import type { ScenarioResult } from '../scenario/runner.js';
import { viewOfScenario, viewOfTrace } from './data.js';
import { renderPage } from './page.js';

/** Write the page of `trace` to `out`; returns the exit code (a read or write failure: 1, with one line). */
export function writeTraceView(trace: string, out: string, fail: (line: string) => void): number {
  try {
    const target = checkOutputFile('-o', out);
    const sessions = readTrace(trace);
    writeFileSync(target, renderPage(viewOfTrace(`modemsim — ${basename(trace)}`, sessions)));
    return 0;
  } catch (err) {
    if (err instanceof TraceReadError) fail(`view ${err.message}; pass a trace written by serve --trace, createModem({traceFile}) or run --trace`);
    else if (err instanceof EnvironmentError) fail(err.message);
    else throw err;
    return 1;
  }
}

/** A file name for a scenario's page: its name with anything but [A-Za-z0-9._-] as `_`. */
export const viewFileName = (name: string): string => `${name.replace(/[^A-Za-z0-9._-]/g, '_') || 'scenario'}.html`;

/** `run --view DIR`: the directory is made (or found) before anything runs; else one line naming the flag. */
export function prepareViewDir(dir: string): void {
  const what = flagValue('--view', dir);
  try {
    if (statSync(dir).isDirectory()) return;
    throw new EnvironmentError(`${what}: is a file; pass a directory`);
  } catch (err) {
    if (err instanceof EnvironmentError) throw err;
    if (errnoCode(err) !== 'ENOENT') throw new EnvironmentError(`${what}: cannot look it up (${errnoCode(err) ?? String(err)}); pass a directory you can write`, { cause: err });
  }
  // one level only: a recursive mkdir under /proc never returns
  try {
    mkdirSync(dir);
  } catch (err) {
    const code = errnoCode(err);
    const parent = dirname(resolve(dir));
    const fix = code === 'ENOENT' && !existsSync(parent) ? `its parent ${parent} does not exist; create it first` : 'pass a directory you can write';
    throw new EnvironmentError(`${what}: cannot create the directory (${code ?? String(err)}); ${fix}`, { cause: err });
  }
}

/** `run --view DIR`: the page of one scenario's run, in `dir` (see prepareViewDir). */
export function writeScenarioView(dir: string, result: ScenarioResult): string {
  const file = join(dir, viewFileName(result.name));
  writeFileSync(file, renderPage(viewOfScenario(result)));
  return file;
}

/** The CLI action of `view`. */
export async function viewCli(trace: string, out: string, log: Logger): Promise<void> {
  const code = writeTraceView(trace, out, (line) => process.stderr.write(`modemsim: ${line}\n`));
  if (code === 0) log.info({ trace, out }, 'timeline written');
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  process.exitCode = code;
}
