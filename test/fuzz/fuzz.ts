/**
 * A fuzz campaign: batches of fast-check runs, each run a fresh modem driven through a
 * generated sequence of steps (steps.ts) with the invariants checked after every step
 * (harness.ts). Each batch has its own seed and its own embedded broker (so broker state —
 * retained messages, persistent sessions — stays bounded); a failure is shrunk by fast-check
 * and reported with the batch's seed, the replay path and the minimal run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { startEmbeddedBroker } from '../../sim/broker/index.js';
import { createModem } from '../../sim/modem.js';
import type { CommandGroup } from '../../sim/service.js';
import { BrokerWatch } from './broker-watch.js';
import { FuzzCounters, FuzzModem, type FuzzWorld } from './harness.js';
import { lateGuardExpiries } from './observer.js';
import { QUIET } from './quiet-log.js';
import { describeStep, runArb, type Run, type StepKind, type StepOptions, type StepWeights } from './steps.js';

export interface FuzzOptions {
  /** Seed of the first batch; batch k uses seed + k. */
  seed: number;
  /** Stop once this many inputs (command lines and bursts) have been sent. */
  inputs: number;
  /** fast-check runs per batch (one broker each). */
  batchRuns?: number;
  /** Longest step sequence of one run. */
  maxSteps?: number;
  /** UART pacing (virtual time either way). */
  pacing?: boolean;
  weights?: StepWeights;
  /** fast-check replay path of a failure (with the failing batch's seed). */
  path?: string;
  /** Progress lines (the CLI prints them). */
  progress?: (line: string) => void;
  /** Measure the heap (after a full GC) at the start and end. */
  heap?: boolean;
  /** Where the batches' brokers keep their CA (default: a temporary folder; reusing one saves keys). */
  brokerDataDir?: string;
  /** Command groups of the modems (default: the product's); tests add a broken one to see a check fail. */
  groups?: readonly CommandGroup[];
}

/** Batches run before the heap baseline is taken, and how often it is sampled after. */
const HEAP_WARMUP_BATCHES = 3;
const HEAP_SAMPLE_EVERY = 5;

export interface FuzzReport {
  ok: boolean;
  /** fast-check's report: seed, path, the shrunk run, the broken invariant. */
  failure?: string;
  failingSeed?: number;
  counters: FuzzCounters;
  batches: number;
  wallMs: number;
  inputsPerSecond: number;
  /** Heap in use after GC, MB: after the warm-up batches (the baseline) and at the end. */
  heapStartMb?: number;
  heapEndMb?: number;
  /** … and after every fifth batch between. */
  heapSamplesMb?: number[];
}

let gc: (() => void) | undefined;

/** Heap in use after a full collection, MB. */
export function heapAfterGcMb(): number {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** What the generators need to know of the modem: its command names, rates, whether CMGS exists. */
function stepOptions(weights: StepWeights | undefined, groups: readonly CommandGroup[] | undefined): StepOptions {
  const m = createModem(groups ? { idleGraceMs: 0, groups, log: QUIET } : { idleGraceMs: 0, log: QUIET });
  const o: StepOptions = {
    names: m.engine.table.all().map((s) => s.name),
    rates: m.profile.uart.rates,
    cmgs: m.engine.table.get('+CMGS') !== undefined,
  };
  if (weights) o.weights = weights;
  void m.close();
  return o;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const counters = new FuzzCounters();
  const wall0 = performance.now();
  const batchRuns = o.batchRuns ?? 200;
  const maxSteps = o.maxSteps ?? 150;
  const arb = runArb(stepOptions(o.weights, o.groups), maxSteps);
  const ownCerts = o.brokerDataDir === undefined;
  const certs = o.brokerDataDir ?? mkdtempSync(join(tmpdir(), 'modemsim-fuzz-'));
  const report: FuzzReport = { ok: true, counters, batches: 0, wallMs: 0, inputsPerSecond: 0 };
  let runId = 0;
  let lastProgress = performance.now();
  try {
    for (let batch = 0; counters.inputs < o.inputs; batch++) {
      const seed = o.seed + batch;
      const broker = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: certs, log: QUIET });
      const watch = await BrokerWatch.start(broker);
      const world: FuzzWorld = { broker, watch, pacing: o.pacing ?? true };
      if (o.groups) world.groups = o.groups;
      try {
        const property = fc.asyncProperty(arb, async (run: Run) => {
          // the campaign's target reached mid-batch: the rest of the batch passes at once
          if (counters.inputs >= o.inputs && o.path === undefined) return;
          counters.runs++;
          const f = await FuzzModem.start(world, counters, ++runId);
          try {
            if (run.session) await f.step({ kind: 'session', clean: 1, keepalive: 60, tls: false });
            for (let i = 0; i < run.steps.length; i++) {
              const s = run.steps[i]!;
              try {
                await f.step(s);
              } catch (err) {
                const msg = err instanceof Error ? err.message : String(err);
                throw new Error(`step ${i + 1} of ${run.steps.length} (${describeStep(s)}): ${msg}`, { cause: err });
              }
            }
          } finally {
            await f.close();
          }
          const now = performance.now();
          if (o.progress && now - lastProgress > 10_000) {
            lastProgress = now;
            o.progress(`  ${counters.inputs.toLocaleString('en')} inputs, ${counters.runs} runs, ${((counters.inputs / (now - wall0)) * 1000).toFixed(0)} inputs/s`);
          }
        });
        const params: fc.Parameters<[Run]> = { seed, numRuns: batchRuns, endOnFailure: false };
        if (o.path !== undefined) params.path = o.path;
        const details = await fc.check(property, params);
        report.batches++;
        if (details.failed) {
          report.ok = false;
          report.failingSeed = seed;
          report.failure = failureText(details, seed);
          return report;
        }
        if (lateGuardExpiries.length > 0) {
          report.ok = false;
          report.failingSeed = seed;
          report.failure = `batch seed ${seed}: ${lateGuardExpiries.splice(0).join('; ')}`;
          return report;
        }
        // the baseline after a warm-up (the first batches still grow the heap as code paths warm)
        if (batch === HEAP_WARMUP_BATCHES - 1 && o.heap) report.heapStartMb = heapAfterGcMb();
        if (batch >= HEAP_WARMUP_BATCHES && (batch + 1) % HEAP_SAMPLE_EVERY === 0 && o.heap) (report.heapSamplesMb ??= []).push(heapAfterGcMb());
        if (o.path !== undefined) break;
      } finally {
        await watch.close();
        await broker.close();
      }
    }
  } finally {
    if (ownCerts) rmSync(certs, { recursive: true, force: true });
    report.wallMs = performance.now() - wall0;
    report.inputsPerSecond = (counters.inputs / report.wallMs) * 1000;
    if (o.heap) report.heapEndMb = heapAfterGcMb();
  }
  return report;
}

/** The failing batch's seed and replay path, the shrunk run step by step, and what broke. */
function failureText(details: fc.RunDetails<[Run]>, seed: number): string {
  const run = details.counterexample?.[0];
  const err = details.errorInstance;
  const lines = [
    `failing batch: seed ${seed}, path "${details.counterexamplePath ?? ''}" (replay: --seed ${seed} --path "${details.counterexamplePath ?? ''}"), shrunk ${details.numShrinks} times`,
    'minimal run:',
    ...(run ? [`  session first: ${run.session}`, ...run.steps.map((s, i) => `  ${i + 1}. ${describeStep(s)}`)] : ['  (none)']),
    `what broke: ${err instanceof Error ? err.message : String(err)}`,
  ];
  return lines.join('\n');
}

/** FuzzCounters as JSON (worker processes hand their counts to the parent this way). */
export interface CountersJson {
  scalars: Record<string, number>;
  steps: Array<[string, number]>;
  wallMs: Array<[string, number]>;
  checks: Array<[string, number]>;
  faultRecords: Array<[string, number]>;
}

export type FuzzReportJson = Omit<FuzzReport, 'counters'> & { counters: CountersJson };

const SCALARS = ['runs', 'inputs', 'lines', 'bursts', 'promptsAnswered', 'faultsApplied', 'faultsRefused', 'faultsSkipped', 'baudChanges', 'reboots', 'recoveries', 'dropNoticedLate'] as const;

export function countersToJson(c: FuzzCounters): CountersJson {
  const scalars: Record<string, number> = {};
  for (const k of SCALARS) scalars[k] = c[k];
  return { scalars, steps: [...c.steps], wallMs: [...c.wallMs], checks: [...c.checks], faultRecords: [...c.faultRecords] };
}

/** Add counts from JSON into `into`. */
export function countersFromJson(j: CountersJson, into: FuzzCounters): void {
  for (const k of SCALARS) into[k] += j.scalars[k] ?? 0;
  const add = <K>(m: Map<K, number>, entries: Array<[K, number]>): void => {
    for (const [k, v] of entries) m.set(k, (m.get(k) ?? 0) + v);
  };
  add(into.steps, j.steps as Array<[StepKind, number]>);
  add(into.wallMs, j.wallMs as Array<[StepKind, number]>);
  add(into.checks, j.checks);
  add(into.faultRecords, j.faultRecords);
}

/** The report as the CLI prints it. */
export function formatReport(r: FuzzReport): string {
  const c = r.counters;
  const kinds = [...c.steps.entries()].map(([k, v]) => `${k} ${v.toLocaleString('en')} (${((c.wallMs.get(k) ?? 0) / 1000).toFixed(1)} s)`).join(', ');
  const checks = [...c.checks.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `    ${k}: ${v.toLocaleString('en')}`);
  const faults = [...c.faultRecords.entries()].map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    `${r.ok ? 'PASS' : 'FAIL'}: ${c.inputs.toLocaleString('en')} inputs (${c.lines.toLocaleString('en')} command lines, ${c.bursts.toLocaleString('en')} bursts) in ${c.runs.toLocaleString('en')} runs, ${r.batches} batches`,
    `  wall ${(r.wallMs / 1000).toFixed(1)} s, ${r.inputsPerSecond.toFixed(0)} inputs/s`,
    `  steps (wall time in them): ${kinds}`,
    `  prompts answered ${c.promptsAnswered}, faults applied ${c.faultsApplied} (refused as not applicable ${c.faultsRefused}, tcpDrop without a session skipped ${c.faultsSkipped}), baud changes ${c.baudChanges}, reboots ${c.reboots}, S3/S5 power cycles ${c.recoveries}, broker faults that returned before the modem saw the drop ${c.dropNoticedLate}`,
    `  invariants checked: ${c.checksTotal.toLocaleString('en')}`,
    ...checks,
    `  model fault records (said, not silent): ${faults || 'none'}`,
  ];
  if (r.heapStartMb !== undefined && r.heapEndMb !== undefined) {
    const samples = r.heapSamplesMb?.length ? ` (every fifth batch: ${r.heapSamplesMb.map((x) => x.toFixed(1)).join(', ')})` : '';
    lines.push(`  heap after GC: ${r.heapStartMb.toFixed(1)} MB after ${HEAP_WARMUP_BATCHES} warm-up batches → ${r.heapEndMb.toFixed(1)} MB at the end${samples}`);
  }
  if (r.failure) lines.push('', r.failure);
  return lines.join('\n');
}
