/**
 * A seeded slice of the fuzz campaign (`npm run fuzz` runs a million inputs): generated and
 * mutated command lines, byte bursts, prompts, faults and baud changes through the full modem in
 * virtual time, every invariant checked after every step. And the checks themselves: a modem
 * with a deliberately broken command fails each of them, and a failing campaign reports the
 * seed and the shrunk run.
 */
import { describe, expect, it } from 'vitest';
import { sec } from '../sim/kernel.js';
import { COMMAND_GROUPS } from '../sim/groups.js';
import { TimerSet, type CommandGroup, type Service } from '../sim/service.js';
import { BrokerWatch } from './fuzz/broker-watch.js';
import { formatReport, runFuzz } from './fuzz/fuzz.js';
import { FuzzCounters, FuzzModem } from './fuzz/harness.js';
import { cleanupsAfterEach } from './helpers.js';
import { sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('fuzz-slice-');
const cleanups = cleanupsAfterEach();

/** Commands that break one invariant each, as a simulator bug would. */
const brokenGroup: CommandGroup = {
  name: 'xbroken',
  manual: [],
  create: ({ env }): Service => {
    const timers = new TimerSet(env.kernel);
    const frame = (s: string): Uint8Array => Buffer.from(s, 'latin1');
    return {
      name: 'xbroken',
      powerOn: () => undefined,
      powerOff: () => timers.cancelAll(),
      commands: [
        {
          name: '+XTWICE',
          summary: 'answers OK twice',
          exec: (ctx) => {
            env.host.sendRaw(frame('\r\nOK\r\n'));
            ctx.ok();
          },
        },
        {
          name: '+XJS',
          summary: 'prints a value that is not there',
          exec: (ctx) => {
            const missing: { n?: number } = {};
            ctx.info(`+XJS: ${String(missing.n)}`);
            ctx.ok();
          },
        },
        {
          name: '+XLEAK',
          summary: 'leaves a timer running for ever',
          exec: (ctx) => {
            const tick = (): void => void timers.after(sec(10), tick, 'x-leak');
            tick();
            ctx.ok();
          },
        },
        {
          name: '+XSTATU',
          summary: 'claims a session it does not have',
          exec: (ctx) => {
            ctx.info('+MQTTSTATU :1');
            ctx.ok();
          },
        },
      ],
    };
  },
};

describe('a seeded slice of the fuzz campaign', () => {
  it('2,500 generated inputs through the full modem: no crash, no hang, no JS text, one final per line, every idle state clean', async () => {
    const r = await runFuzz({ seed: 2024, inputs: 2500, batchRuns: 40, maxSteps: 60, brokerDataDir: shared.dataDir });
    console.log(formatReport(r));
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    const c = r.counters;
    expect(c.inputs).toBeGreaterThanOrEqual(2500);
    // every invariant was checked, not skipped
    for (const check of ['one-final-per-line', 'finals-within-terminators', 'js-text', 'idle-no-timers', 'cache-within-slots', 'flash-within-capacity', 'statu1-live-session', 'byte-time-at-new-rate']) {
      expect(c.checks.get(check) ?? 0, check).toBeGreaterThan(0);
    }
    // the mix reached prompts, faults and baud changes
    expect(c.promptsAnswered).toBeGreaterThan(0);
    expect(c.faultsApplied).toBeGreaterThan(0);
    expect(c.baudChanges).toBeGreaterThan(0);
    // room for fast-check to shrink a failure and print it
  }, 120_000);
});

describe('the fuzz checks fail on a broken modem', () => {
  async function broken(): Promise<FuzzModem> {
    const watch = await BrokerWatch.start(shared.broker);
    cleanups.push(() => watch.close());
    const f = await FuzzModem.start({ broker: shared.broker, watch, pacing: true, groups: [...COMMAND_GROUPS, brokenGroup] }, new FuzzCounters(), 1);
    cleanups.push(() => f.close());
    return f;
  }

  it('two final result codes for one line', async () => {
    const f = await broken();
    await expect(f.step({ kind: 'line', text: 'AT+XTWICE', data: '' })).rejects.toThrow('2 final result codes for "AT+XTWICE" (1 line for the assembler)');
  });

  it('JS text on the serial line', async () => {
    const f = await broken();
    await expect(f.step({ kind: 'line', text: 'AT+XJS', data: '' })).rejects.toThrow('JS text "undefined" on the serial line: "\\r\\n+XJS: undefined\\r\\n"');
  });

  it('a timer left running when the model should be idle', async () => {
    const f = await broken();
    await expect(f.step({ kind: 'line', text: 'AT+XLEAK', data: '' })).rejects.toThrow(/hang: not idle after 3600 s of model time: timers \[x-leak\]/);
  });

  it('+MQTTSTATU :1 without a live session', async () => {
    const f = await broken();
    await expect(f.step({ kind: 'line', text: 'AT+XSTATU', data: '' })).rejects.toThrow('+MQTTSTATU :1 printed with the link in phase offline');
  });

  it('a failing campaign prints its seed, the replay path and the shrunk run', async () => {
    const r = await runFuzz({ seed: 7, inputs: 4000, batchRuns: 40, maxSteps: 30, brokerDataDir: shared.dataDir, groups: [...COMMAND_GROUPS, brokenGroup] });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^failing batch: seed \d+, path "[\d:]+" \(replay: --seed \d+ --path "[\d:]+"\), shrunk \d+ times\nminimal run:\n/);
    // shrunk to a run of one or two steps that names the broken command
    const steps = r.failure!.split('\n').filter((l) => /^ {2}\d+\. /.test(l));
    expect(steps.length).toBeLessThanOrEqual(2);
    expect(r.failure).toMatch(/what broke: step \d+ of \d+ \(.*\+X(TWICE|JS|LEAK|STATU)/i);
  }, 60_000);
});
