/**
 * `modemsim replay TRACE`: one line per recorded modem session — MATCH, DIFFERS (the first
 * differing record, recorded and replayed) or CANNOT REPLAY (why) — and exit 0 only when every
 * session matched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { readTrace, TraceReadError, type TraceSession } from './read.js';
import { replaySession, type ReplayOutcome } from './replay.js';
import type { StoredRecord } from './read.js';

const fmt = (t: number): string => `${(t / 1e9).toFixed(9)} s`;
const shown = (r: StoredRecord | undefined): string => (r === undefined ? 'nothing' : JSON.stringify(r));

/** The verdict line of one session. */
export function outcomeLine(o: ReplayOutcome): string {
  switch (o.kind) {
    case 'match':
      return `MATCH ${o.session}: ${o.compared} records through model time ${fmt(o.modelTimeNs)}`;
    case 'refused':
      return `CANNOT REPLAY ${o.session}: ${o.reason}`;
    case 'differs': {
      const d = o.difference;
      const where = d.line !== undefined ? `trace line ${d.line}, ` : '';
      return `DIFFERS ${o.session}: first difference at model time ${fmt(d.t)} (${where}${d.stream}): recorded ${shown(d.recorded)}, replayed ${shown(d.replayed)}`;
    }
  }
}

/** Returns the exit code; `print` gets the verdict lines, `fail` a one-line error. */
export async function runReplay(file: string, log: Logger, print: (line: string) => void, fail: (line: string) => void): Promise<number> {
  let sessions: TraceSession[];
  try {
    sessions = readTrace(file);
  } catch (err) {
    if (!(err instanceof TraceReadError)) throw err;
    fail(`replay ${err.message}; pass a trace written by serve --trace, createModem({traceFile}) or run --trace`);
    return 1;
  }
  let ok = true;
  // one CA for every session's broker: keys are made once
  const brokerDataDir = mkdtempSync(join(tmpdir(), 'modemsim-replay-broker-'));
  try {
    for (const s of sessions) {
      const o = await replaySession(s, { log, brokerDataDir });
      if (o.kind !== 'match') ok = false;
      print(outcomeLine(o));
    }
  } finally {
    rmSync(brokerDataDir, { recursive: true, force: true });
  }
  return ok ? 0 : 1;
}

/** The CLI action: verdicts on stdout, a read error as one line on stderr; sets the exit code. */
export async function replayCli(file: string, log: Logger): Promise<void> {
  const code = await runReplay(
    file,
    log,
    (line) => process.stdout.write(line + '\n'),
    (line) => process.stderr.write(`modemsim: ${line}\n`),
  );
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  process.exitCode = code;
}
