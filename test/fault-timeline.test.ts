/**
 * `driver: external` scenarios: a fault timeline with expectations, played by
 * runFaultTimeline() while a driver of the user's own is the host (here through the binding).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createModemBinding, type ModemRegistry } from '../sim/binding/index.js';
import { sec } from '../sim/kernel.js';
import type { Modem } from '../sim/modem.js';
import { loadFaultTimelineFile, loadScenario, playServedTimeline, runFaultTimeline, runScenario, ScenarioError } from '../sim/scenario/index.js';
import { Writable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { tempDir } from './helpers.js';
import { StreamDriver } from './stream-driver.js';

let binding: ModemRegistry = createModemBinding();
afterEach(async () => {
  await binding.closeAll();
});

const PDP_TIMELINE = `
name: pdp-deact-vs-my-driver
driver: external
steps:
  - until: dataReady
  - wait: 2s
  - fault: pdpDeact
  - expectOutput: "\\\\+PDP DEACT"
  - expectOutput: {regex: "SHUT OK"}
    within: 5s
  - note: recovered by the driver
`;

/**
 * A driver of the manual's kind: waits for SMS READY, polls AT+CGATT? every 5 s (on its own
 * model-time schedule: it awaits the modem's answers, never a wall timer), and on +PDP DEACT
 * shuts the TCPIP stack with AT+CIPSHUT, as the manual's recovery table says.
 */
async function recoveringDriver(m: Modem, d: StreamDriver, stop: { done: boolean }): Promise<string[]> {
  const seen: string[] = [];
  await d.until('SMS READY\r\n');
  let deact = false;
  void d.until('+PDP DEACT').then(() => (deact = true));
  while (!stop.done && !m.isClosed) {
    if (deact) {
      seen.push(await d.command('AT+CIPSHUT'));
      deact = false;
    } else {
      seen.push(await d.command('AT+CGATT?'));
    }
    // the driver's poll period, waited in model time
    await m.clock.advance(sec(5));
  }
  return seen;
}

async function playAgainstDriver(seed: number): Promise<{ result: Awaited<ReturnType<typeof runFaultTimeline>>; seen: string[]; faultAt: number }> {
  binding = createModemBinding();
  const m = binding.create('ft', { seed, traceMemory: true });
  // started at power-on, as the driver is: the waits count from t = 0
  const timeline = runFaultTimeline(m, loadScenario(PDP_TIMELINE, 'pdp.yaml'));
  const d = new StreamDriver(binding, 'modemsim://ft');
  const stop = { done: false };
  const driving = recoveringDriver(m, d, stop);
  const result = await timeline;
  stop.done = true;
  const seen = await driving;
  await d.close();
  const fault = m.trace.records.find((r) => r.ev === 'fault' && r.what === 'pdpDeact');
  return { result, seen, faultAt: fault?.t ?? -1 };
}

describe('runFaultTimeline against a driver on the binding', () => {
  it('injects pdpDeact 2 s after the data bearer came up, sees +PDP DEACT printed and the driver’s SHUT OK', async () => {
    const { result, seen } = await playAgainstDriver(1);
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => s.kind)).toEqual(['until', 'wait', 'fault', 'expectOutput', 'expectOutput', 'note']);
    const until = result.steps[0]!;
    const fault = result.steps[2]!;
    expect(fault.startNs - until.endNs).toBe(sec(2));
    expect(seen.some((s) => s.includes('SHUT OK'))).toBe(true);
    expect(result.transcript).toContain('| fault | pdpDeact |');
  });

  it('puts the fault at the same model instant and gets the same answers on two runs of the same driver and seed', async () => {
    const a = await playAgainstDriver(3);
    const b = await playAgainstDriver(3);
    expect(b.faultAt).toBe(a.faultAt);
    expect(b.seen).toEqual(a.seen);
    expect(b.result.steps.map((s) => [s.startNs, s.endNs])).toEqual(a.result.steps.map((s) => [s.startNs, s.endNs]));
  });

  it('fails naming the step, the pattern and what was printed when the output never comes', async () => {
    binding = createModemBinding();
    const m = binding.create('never');
    const d = new StreamDriver(binding, 'modemsim://never');
    const r = await runFaultTimeline(
      m,
      loadScenario('name: never\ndriver: external\nsteps:\n  - expectOutput: NEVER PRINTED\n    within: 4s\n', 'never.yaml'),
    );
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^step 1: expected output matching \/NEVER PRINTED\/ within 4 s, got ".*SMS READY.*" \(line 4, model time 4(\.0+)? s\)$/);
    await d.close();
  });

  it('needs a broker for far: steps and says so', async () => {
    binding = createModemBinding();
    const m = binding.create('far');
    const r = await runFaultTimeline(m, loadScenario('name: far\ndriver: external\nfar: {subscribe: [t/#]}\nsteps:\n  - wait: 1s\n', 'far.yaml'));
    expect(r.failure).toBe('step 0 (start): far.subscribe needs a broker: runFaultTimeline(modem, scenario, { broker })');
  });
});

describe('the driver: external scenario format', () => {
  it('starts at power-on by default and takes wait, until, fault, far, note and expectOutput', () => {
    const s = loadScenario(PDP_TIMELINE, 'pdp.yaml');
    expect(s.driver).toBe('external');
    expect(s.start).toBe('power-on');
    expect(s.steps[3]).toMatchObject({ kind: 'expectOutput', source: '\\+PDP DEACT', within: sec(10) });
    expect(s.steps[4]).toMatchObject({ kind: 'expectOutput', source: 'SHUT OK', within: sec(5) });
  });

  it('refuses host steps (send, raw, expect) in an external timeline, naming the step and line', () => {
    expect(() => loadScenario('name: x\ndriver: external\nsteps:\n  - wait: 1s\n  - send: AT\n', 'x.yaml')).toThrow(
      'x.yaml: step 2 (line 5): send is the host\'s, and with driver: external your driver is the host (use expectOutput for what the modem prints)',
    );
  });

  it('refuses expectOutput in a scripted scenario and an unknown driver kind', () => {
    expect(() => loadScenario('name: x\nsteps:\n  - expectOutput: OK\n', 'x.yaml')).toThrow('expectOutput is for driver: external timelines');
    expect(() => loadScenario('name: x\ndriver: mine\nsteps:\n  - wait: 1s\n', 'x.yaml')).toThrow('driver must be "script"');
  });

  it('runScenario refuses an external timeline (it has no host script to play)', async () => {
    await expect(runScenario(loadScenario(PDP_TIMELINE, 'pdp.yaml'))).rejects.toThrow(ScenarioError);
  });
});

describe('the serve --faults helpers', () => {
  it('refuse a scripted file before anything starts, and log the verdict of a played timeline as one "faults" record', async () => {
    const dir = tempDir('modemsim-faults-');
    try {
      writeFileSync(join(dir.path, 'script.yaml'), 'name: s\nsteps:\n  - send: AT\n');
      expect(() => loadFaultTimelineFile(join(dir.path, 'script.yaml'))).toThrow('--faults takes a driver: external timeline');
      writeFileSync(join(dir.path, 'ext.yaml'), 'name: ext\ndriver: external\nsteps:\n  - until: simReady\n  - expectOutput: SMS READY\n');
      const records: Array<Record<string, unknown>> = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          records.push(JSON.parse(chunk.toString('utf8')));
          cb();
        },
      });
      binding = createModemBinding();
      const m = binding.create('served');
      const r = await playServedTimeline(m, loadFaultTimelineFile(join(dir.path, 'ext.yaml')), { log: pino({ level: 'info' }, sink) });
      expect(r.ok).toBe(true);
      await new Promise((res) => setImmediate(res));
      expect(records.filter((x) => x.msg === 'faults')).toEqual([expect.objectContaining({ name: 'ext', ok: true, steps: 2 })]);
    } finally {
      dir.remove();
    }
  });
});
