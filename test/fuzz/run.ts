/**
 * `npm run fuzz`: the long fuzz campaign (not part of `npm test`; test/fuzz-slice.test.ts runs
 * a seeded slice of it there). Exit 0 only when every input passed every invariant and the heap
 * stayed flat.
 *
 *   node --import tsx test/fuzz/run.ts [--inputs 1000000] [--seed 1] [--workers 2]
 *        [--batch-runs 200] [--max-steps 100] [--no-pacing] [--strict] [--path P]
 *
 * `--workers N` splits the inputs over N processes (one per core), worker k on seeds from
 * seed + k·1,000,000, each with its own broker. A failure prints fast-check's report: the
 * failing batch's seed, the replay path and the shrunk run; replay it with
 * `--workers 1 --seed <seed> --path <path>` (same --batch-runs and --max-steps).
 * FUZZ_DEBUG=1 adds the model's last trace records to a failure (and logs slow steps);
 * `--strict` drops the harness's work-around for the reported fault-API race.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { countersFromJson, countersToJson, formatReport, runFuzz, type FuzzOptions, type FuzzReport, type FuzzReportJson } from './fuzz.js';
import { FuzzCounters } from './harness.js';

/** Heap drift over the run the campaign tolerates (after GC, from the warm baseline): ±10 %. */
const HEAP_GROWTH_FRACTION = 0.1;
/** Seeds of worker k start at seed + k · this. */
const WORKER_SEED_STRIDE = 1_000_000;
const REPORT_PREFIX = 'FUZZ-REPORT ';

interface Cli {
  o: FuzzOptions;
  workers: number;
  /** This process is worker k of a campaign (prints its report as JSON). */
  worker: number | undefined;
  /** The arguments to hand on to workers. */
  pass: string[];
}

function parse(argv: readonly string[]): Cli {
  const o: FuzzOptions = { seed: 1, inputs: 1_000_000, heap: true, progress: (l) => console.log(l) };
  const cli: Cli = { o, workers: 2, worker: undefined, pass: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = next();
      const n = Number(v.replace(/_/g, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${a} wants a whole number, got ${JSON.stringify(v)}`);
      return n;
    };
    switch (a) {
      case '--inputs':
        o.inputs = int();
        break;
      case '--seed':
        o.seed = int();
        break;
      case '--workers':
        cli.workers = Math.max(1, int());
        break;
      case '--worker':
        cli.worker = int();
        break;
      case '--batch-runs':
        o.batchRuns = int();
        cli.pass.push(a, String(o.batchRuns));
        break;
      case '--max-steps':
        o.maxSteps = int();
        cli.pass.push(a, String(o.maxSteps));
        break;
      case '--no-pacing':
        o.pacing = false;
        cli.pass.push(a);
        break;
      case '--strict':
        // no work-around for the reported fault-API race (test/fuzz/repro-own-echo.ts)
        process.env.FUZZ_STRICT = '1';
        cli.pass.push(a);
        break;
      case '--path':
        o.path = next();
        break;
      default:
        throw new Error(`unknown option ${a} (see the header of test/fuzz/run.ts)`);
    }
  }
  if (o.path !== undefined) cli.workers = 1;
  return cli;
}

/** Errors outside any step (a socket error, a rejected promise) are crashes of the simulator too. */
function trapStrays(): string[] {
  const stray: string[] = [];
  process.on('unhandledRejection', (e) => stray.push(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  process.on('uncaughtException', (e) => stray.push(`uncaught exception: ${e.stack ?? e.message}`));
  return stray;
}

function heapFlat(startMb: number, endMb: number): { flat: boolean; allowed: number } {
  const allowed = startMb * HEAP_GROWTH_FRACTION;
  return { flat: Math.abs(endMb - startMb) <= allowed, allowed };
}

/** One process runs the whole campaign (or its share of it, as worker k). */
async function single(cli: Cli): Promise<number> {
  const stray = trapStrays();
  const r = await runFuzz(cli.o);
  if (stray.length > 0) {
    r.ok = false;
    r.failure = `${r.failure ?? ''}\n${stray.length} errors outside any step:\n${stray.slice(0, 5).join('\n')}`;
  }
  if (cli.worker !== undefined) {
    console.log(formatReport(r));
    const json: FuzzReportJson = { ...r, counters: countersToJson(r.counters) };
    console.log(REPORT_PREFIX + JSON.stringify(json));
    return r.ok ? 0 : 1;
  }
  console.log(formatReport(r));
  let ok = r.ok;
  if (r.heapStartMb !== undefined && r.heapEndMb !== undefined) {
    const h = heapFlat(r.heapStartMb, r.heapEndMb);
    console.log(`  heap flat (within ±${h.allowed.toFixed(1)} MB, 10 %): ${h.flat ? 'yes' : 'NO'}`);
    ok &&= h.flat;
  }
  return ok ? 0 : 1;
}

/** The campaign split over worker processes; their reports are added up. */
async function parallel(cli: Cli): Promise<number> {
  const wall0 = performance.now();
  const self = fileURLToPath(import.meta.url);
  const share = Math.ceil(cli.o.inputs / cli.workers);
  const runs = Array.from({ length: cli.workers }, (_, k) => {
    const args = [...process.execArgv, self, '--worker', String(k), '--inputs', String(share), '--seed', String(cli.o.seed + k * WORKER_SEED_STRIDE), ...cli.pass];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let report: FuzzReportJson | undefined;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith(REPORT_PREFIX)) report = JSON.parse(line.slice(REPORT_PREFIX.length)) as FuzzReportJson;
      else console.log(`[w${k}] ${line}`);
    });
    return new Promise<{ k: number; code: number; report: FuzzReportJson | undefined }>((resolve) => child.on('close', (code) => resolve({ k, code: code ?? 1, report })));
  });
  const done = await Promise.all(runs);
  const total = new FuzzCounters();
  let ok = true;
  const heaps: string[] = [];
  let batches = 0;
  for (const d of done) {
    if (!d.report) {
      console.log(`worker ${d.k}: no report (exit ${d.code})`);
      ok = false;
      continue;
    }
    countersFromJson(d.report.counters, total);
    batches += d.report.batches;
    ok &&= d.report.ok && d.code === 0;
    if (d.report.heapStartMb !== undefined && d.report.heapEndMb !== undefined) {
      const h = heapFlat(d.report.heapStartMb, d.report.heapEndMb);
      const samples = d.report.heapSamplesMb?.length ? `, every fifth batch ${d.report.heapSamplesMb.map((x) => x.toFixed(1)).join(' ')}` : '';
      heaps.push(`worker ${d.k} ${d.report.heapStartMb.toFixed(1)} → ${d.report.heapEndMb.toFixed(1)} MB (${h.flat ? 'flat' : 'NOT flat'}, ±10 % = ${h.allowed.toFixed(1)} MB${samples})`);
      ok &&= h.flat;
    }
  }
  const wallMs = performance.now() - wall0;
  const sum: FuzzReport = { ok, counters: total, batches, wallMs, inputsPerSecond: (total.inputs / wallMs) * 1000 };
  console.log(`\nall ${cli.workers} workers:`);
  console.log(formatReport(sum));
  console.log(`  heap after GC, after 3 warm-up batches → at the end: ${heaps.join('; ')}`);
  return ok ? 0 : 1;
}

async function main(): Promise<number> {
  let cli: Cli;
  try {
    cli = parse(process.argv.slice(2));
  } catch (err) {
    console.error(`fuzz: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (cli.worker === undefined) {
    console.log(`fuzz: ${cli.o.inputs.toLocaleString('en')} inputs, seed ${cli.o.seed}, ${cli.workers} worker${cli.workers === 1 ? '' : 's'}, UART pacing ${cli.o.pacing === false ? 'off' : 'on'} (virtual time)`);
  }
  return cli.worker === undefined && cli.workers > 1 ? parallel(cli) : single(cli);
}

process.exitCode = await main();
