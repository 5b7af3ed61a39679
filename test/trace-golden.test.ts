/**
 * The traces of the shipped scenarios and of the in-process UART flows are byte- and
 * timestamp-identical to those recorded while the UART still ran one kernel event per byte
 * (test/golden/flows.ts says what each flow drives; the digests are in
 * test/fixtures/trace-golden.json).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GOLDEN_FILE, mpubexDigests, scenarioDigests, shippedScenarios, unpacedDigests, uartMixDigests } from './golden/flows.js';
import { sharedBroker } from './mqtt-helpers.js';

const golden: Record<string, string> = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8'));
const shared = sharedBroker('golden-test-');

const pick = (prefix: string): Record<string, string> => Object.fromEntries(Object.entries(golden).filter(([k]) => k.startsWith(prefix)));

/** The scenarios shipped when the digests were recorded (a later one has no per-byte trace to match). */
const pinned = Object.keys(golden).flatMap((k) => {
  const m = /^scenario:(.+):trace$/.exec(k);
  return m ? [`${m[1]}.yaml`] : [];
});

describe('traces identical to the per-byte UART', () => {
  it('every pinned scenario is still shipped', () => {
    expect(pinned.length).toBeGreaterThanOrEqual(8);
    expect(shippedScenarios()).toEqual(expect.arrayContaining(pinned));
  });

  it.each(pinned)('%s', async (file) => {
    const name = file.replace(/\.yaml$/, '');
    expect(await scenarioDigests(file, shared.broker, shared.dataDir)).toEqual(pick(`scenario:${name}:`));
  });

  it('the UART corners in-process: trace file, VCD, host byte log', async () => {
    expect(await uartMixDigests()).toEqual(pick('uart-mix:'));
  });

  it('unpaced', async () => {
    expect(await unpacedDigests()).toEqual(pick('unpaced:'));
  });

  it('unpaced and untraced (chunks taken whole): the same host bytes at the same times', async () => {
    expect(await unpacedDigests(false)).toEqual({ 'unpaced:host-log': golden['unpaced:host-log'] });
  });

  it('MPUBEX by length, Ctrl-Z and ESC', async () => {
    expect(await mpubexDigests(shared.broker)).toEqual(pick('mpubex:'));
  });
});
