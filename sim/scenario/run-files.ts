/**
 * `modemsim run`: play scenario files one after another against one embedded broker (a
 * scenario with broker options gets its own), print one line per scenario, and write the
 * traces and the transcript when asked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../broker/index.js';
import type { Logger } from '../log.js';
import { loadScenarioFile, ScenarioError } from './load.js';
import { runScenario, RunOptions, ScenarioResult } from './runner.js';
import { traceLines } from './trace.js';
import { prepareViewDir, writeScenarioView } from '../view/command.js';

export interface RunFlags {
  profile?: string;
  seed?: number;
  trace?: string;
  transcript?: string;
  /** Directory for a timeline page per scenario. */
  view?: string;
}

/** The line `modemsim run` prints for a scenario. */
export function verdictLine(r: ScenarioResult): string {
  if (!r.ok) return `FAIL ${r.name}: ${r.failure ?? 'failed'}`;
  return `PASS ${r.name} (${r.steps.length} steps, model time ${(r.modelTimeNs / 1e9).toFixed(3)} s, wall ${Math.round(r.wallMs)} ms)`;
}

/** Returns the exit code: 0 when every scenario passed, 1 otherwise. */
export async function runScenarioFiles(files: readonly string[], flags: RunFlags, log: Logger, print: (line: string) => void): Promise<number> {
  if (flags.view !== undefined) prepareViewDir(flags.view);
  const certs = mkdtempSync(join(tmpdir(), 'modemsim-run-'));
  let broker: EmbeddedBroker | undefined;
  let failed = 0;
  const traces: string[] = [];
  const sections: string[] = ['# modemsim scenario transcript', ''];
  try {
    broker = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: certs, log });
    const opts: RunOptions = { broker, brokerDataDir: certs, log };
    if (flags.profile !== undefined) opts.profile = flags.profile;
    if (flags.seed !== undefined) opts.seed = flags.seed;
    for (const file of files) {
      let result: ScenarioResult;
      try {
        result = await runScenario(loadScenarioFile(file), opts);
      } catch (err) {
        failed++;
        const msg = err instanceof Error ? err.message : String(err);
        print(err instanceof ScenarioError ? `FAIL ${msg}` : `FAIL ${file}: ${msg}`);
        sections.push(`## ${file}`, '', `**FAIL** — ${msg}`, '');
        continue;
      }
      if (!result.ok) failed++;
      print(verdictLine(result));
      traces.push(JSON.stringify({ ev: 'scenario', name: result.name, file, profile: result.profile, seed: result.seed }) + '\n' + traceLines(result.trace));
      sections.push(result.transcript);
      if (flags.view !== undefined) writeScenarioView(flags.view, result);
    }
  } finally {
    await broker?.close();
    rmSync(certs, { recursive: true, force: true });
  }
  if (flags.trace !== undefined) writeFileSync(flags.trace, traces.join(''));
  if (flags.transcript !== undefined) writeFileSync(flags.transcript, sections.join('\n'));
  return failed === 0 ? 0 : 1;
}
