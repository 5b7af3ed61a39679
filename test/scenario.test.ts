/**
 * The scenario runner against real parts: every shipped scenario passes, a wrong expectation
 * fails with the step, what was expected and what came, the same seed replays the same trace,
 * an hour of model time takes a fraction of a second, and `modemsim run` as a child process.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, loadScenarioFile, runScenario, traceLines, type RunOptions, type ScenarioResult } from '../sim/scenario/index.js';
import { sharedBroker } from './mqtt-helpers.js';

const ROOT = join(import.meta.dirname, '..');
const SCENARIOS = join(ROOT, 'scenarios');
const shared = sharedBroker('scenario-test-');
const dataDir = shared.dataDir;
/** Every run shares the file's broker and its CA (a scenario with broker options starts its own). */
const opts = (): RunOptions => ({ broker: shared.broker, brokerDataDir: dataDir });

const shipped = readdirSync(SCENARIOS)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

const run = (text: string, extra: RunOptions = {}): Promise<ScenarioResult> => runScenario(loadScenario(text, 'test.yaml'), { ...opts(), ...extra });

describe('shipped scenarios', () => {
  it('include the seed flows and the fault recoveries', () => {
    for (const f of ['seed-plain-mqtt', 'tcp-drop-recovery', 'pdp-deact-recovery', 'broker-outage', 'reboot', 'keepalive-hour']) {
      expect(shipped).toContain(`${f}.yaml`);
    }
  });

  it.each(shipped)('%s passes', async (file) => {
    const scenario = loadScenarioFile(join(SCENARIOS, file));
    const r = await runScenario(scenario, opts());
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.name).toBe(file.replace(/\.yaml$/, ''));
    expect(r.steps).toHaveLength(scenario.steps.length);
    expect(r.steps.every((s) => s.ok)).toBe(true);
    expect(r.transcript).toContain(`## ${r.name}`);
    expect(r.transcript).toContain('**PASS**');
  });
});

describe('a wrong expectation', () => {
  it('fails at its step with what was expected and what came, and runs nothing after it', async () => {
    const r = await run(['name: wrong-attach', 'steps:', '  - send: AT', '    expect: OK', '  - send: AT+CGATT?', '    expect: ["+CGATT: 0", OK]', '  - send: AT+CSQ'].join('\n'));
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(
      /^step 2: expected "AT\+CGATT\?\\r\\r\\n\+CGATT: 0\\r\\n\\r\\nOK\\r\\n", got "AT\+CGATT\?\\r\\r\\n\+CGATT: 1\\r\\n\\r\\nOK\\r\\n" \(line 5, model time \d+\.\d{6} s\)$/,
    );
    expect(r.steps.map((s) => s.ok)).toEqual([true, false]);
    expect(r.steps[1]).toMatchObject({ index: 2, line: 5, kind: 'send' });
    expect(r.transcript).toContain('| ✗ | step 2: expected');
    expect(r.transcript).toContain('**FAIL** — step 2:');
  });

  it('a URC that differs fails at once, naming the line that came', async () => {
    const r = await run(['name: wrong-urc', 'steps:', '  - send: AT+MIPSTART="mqtt.example.com",1883', '    expect: OK', '  - expect: CONNECT FAIL', '    within: 30s'].join('\n'));
    expect(r.failure).toMatch(/^step 2: expected "\\r\\nCONNECT FAIL\\r\\n", got "\\r\\nCONNECT OK\\r\\n" \(line 5, /);
    // it did not sit out the 30 s bound
    expect(r.steps[1]!.endNs - r.steps[1]!.startNs).toBeLessThan(2e9);
  });

  it('a URC that never comes fails at the model-time bound', async () => {
    const r = await run(['name: no-urc', 'steps:', '  - expect: CLOSED', '    within: 2s'].join('\n'));
    expect(r.failure).toMatch(/^step 1: expected "\\r\\nCLOSED\\r\\n" within 2 s, got "" \(line 3, /);
    expect(r.steps[0]!.endNs - r.steps[0]!.startNs).toBe(2e9);
  });

  it('an unexpected URC in front of an answer fails the exact match', async () => {
    const r = await run(['name: stray', 'steps:', '  - send: AT+MIPSTART="mqtt.example.com",1883', '    expect: OK', '  - wait: 2s', '  - send: AT', '    expect: OK'].join('\n'));
    expect(r.failure).toMatch(/^step 3: expected "AT\\r\\r\\nOK\\r\\n", got "\\r\\nCONNECT OK\\r\\nAT\\r\\r\\nOK\\r\\n"/);
  });

  it('silence, state, regex, fault and far-side expectations say what they got', async () => {
    const silent = await run(['name: chatty', 'steps:', '  - send: AT+MIPSTART="mqtt.example.com",1883', '    expect: OK', '  - wait: 2s', '    silent: true'].join('\n'));
    expect(silent.failure).toMatch(/^step 2: expected nothing from the modem for 2 s, got "\\r\\nCONNECT OK\\r\\n"/);

    const until = await run(['name: never', 'steps:', '  - fault: deregister', '  - until: registered', '    within: 30s'].join('\n'));
    expect(until.failure).toMatch(/^step 2: expected registered within 30 s, got cfun=1 sim=ready registered=false attached=false dataReady=false/);

    const regex = await run(['name: rx', 'steps:', '  - send: AT+CSQ', '    expect: {regex: "\\\\+CSQ: 3\\\\d"}'].join('\n'));
    expect(regex.failure).toMatch(/^step 1: expected a match for \/\\\+CSQ: 3\\d\/, got "AT\+CSQ\\r\\r\\n\+CSQ: 24,99\\r\\n\\r\\nOK\\r\\n"/);

    const fault = await run(['name: no-cid', 'steps:', '  - fault: {pdpDeact: {cid: 5}}'].join('\n'));
    expect(fault.failure).toMatch(/^step 1: expected an active PDP context 5, got none/);

    const drop = await run(['name: no-link', 'steps:', '  - fault: tcpDrop'].join('\n'));
    expect(drop.failure).toMatch(/^step 1: expected a client "864713058376410" connected to the broker, got none/);

    const far = await run(
      [
        'name: far-wrong',
        'far: {subscribe: [far/t]}',
        'steps:',
        '  - send: AT+MIPSTART="mqtt.example.com",1883',
        '    expect: OK',
        '  - expect: CONNECT OK',
        '  - send: AT+MCONNECT=1,60',
        '    expect: OK',
        '  - expect: CONNACK OK',
        '  - send: AT+MPUB="far/t",0,0,"abc"',
        '    expect: OK',
        '  - far: {expect: {topic: far/t, payload: abd}}',
      ].join('\n'),
    );
    expect(far.failure).toMatch(/^step 6: expected payload "abd" on "far\/t", got "abc"/);
  });
});

describe('start', () => {
  it('power-on starts at t = 0 with the boot lines still to come; ready starts after them', async () => {
    const r = await run(
      [
        'name: cold',
        'start: power-on',
        'steps:',
        '  - expect: [RDY, "+CFUN: 1", "+CPIN: READY", SMS READY]',
        '    within: 5s',
        '  - until: dataReady',
        '  - send: AT+CGATT?',
        '    expect: ["+CGATT: 1", OK]',
      ].join('\n'),
    );
    expect(r.failure).toBeUndefined();
    expect(r.steps[0]).toMatchObject({ startNs: 0 });
    // SMS READY is printed 2.6 s after power-on (profile air724ug), its last byte a little later
    expect(r.steps[0]!.endNs).toBeGreaterThan(2.6e9);
    expect(r.steps[0]!.endNs).toBeLessThan(2.61e9);
    const warm = await run(['name: warm', 'steps:', '  - expect: RDY', '    within: 1s'].join('\n'));
    expect(warm.failure).toMatch(/^step 1: expected "\\r\\nRDY\\r\\n" within 1 s, got ""/);
    expect(warm.steps[0]!.startNs).toBeGreaterThan(3e9);
  });
});

describe('determinism', () => {
  it('the same scenario and seed give the same trace lines; another seed does not', async () => {
    // seed-plain-mqtt publishes to its own subscription: the echo through the broker is held
    for (const file of ['pdp-deact-recovery.yaml', 'keepalive-hour.yaml', 'seed-plain-mqtt.yaml']) {
      const scenario = loadScenarioFile(join(SCENARIOS, file));
      const a = await runScenario(scenario, opts());
      const b = await runScenario(scenario, opts());
      expect(a.ok && b.ok).toBe(true);
      const lines = traceLines(a.trace);
      expect(lines.split('\n').length).toBeGreaterThan(300);
      expect(traceLines(b.trace)).toBe(lines);
      expect(b.modelTimeNs).toBe(a.modelTimeNs);
      // the broker's ephemeral port never shows
      expect(lines).not.toContain(`:${shared.broker.port}`);
      expect(lines).toContain('"port":"<broker>"');
      const other = await runScenario(scenario, { ...opts(), seed: 99 });
      expect(other.ok).toBe(true);
      expect(traceLines(other.trace)).not.toBe(lines);
    }
  });

  it('a broker of its own (scenario broker options) gives the same trace as the shared one', async () => {
    const text = readFileSync(join(SCENARIOS, 'pdp-deact-recovery.yaml'), 'utf8');
    const shared = await run(text);
    const own = await run(text.replace(/^steps:/m, 'broker: {connectTimeout: 5s}\nsteps:'));
    expect(own.ok).toBe(true);
    expect(traceLines(own.trace)).toBe(traceLines(shared.trace));
  });
});

describe('model time', () => {
  it('an hour with the session up takes well under a second of wall time', async () => {
    const r = await runScenario(loadScenarioFile(join(SCENARIOS, 'keepalive-hour.yaml')), opts());
    expect(r.ok).toBe(true);
    expect(r.modelTimeNs).toBeGreaterThan(3600e9);
    const wait = r.steps.find((s) => s.kind === 'wait')!;
    expect(wait.endNs - wait.startNs).toBe(3600e9);
    // keepalive 60 s: about one PINGREQ a minute, each answered by the broker
    expect(r.stats.mqtt.pings).toBeGreaterThanOrEqual(58);
    expect(r.stats.mqtt.pings).toBeLessThanOrEqual(61);
    expect(r.stats.mqtt.closedByPeer).toBe(0);
    console.log(`keepalive-hour: model time ${(r.modelTimeNs / 1e9).toFixed(3)} s in ${r.wallMs.toFixed(0)} ms wall`);
    expect(r.wallMs).toBeLessThan(10_000);
  });
});

describe('modemsim run', () => {
  const cli = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'sim/cli.ts', 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      // 'close', not 'exit': the output is all read by then
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('plays the seed flow: exit 0, one PASS line, the trace and the →/← transcript', async () => {
    const trace = join(dataDir, 'seed.jsonl');
    const md = join(dataDir, 'seed.md');
    const r = await cli(['scenarios/seed-plain-mqtt.yaml', '--trace', trace, '--transcript', md]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASS seed-plain-mqtt \(38 steps, model time \d+\.\d{3} s, wall \d+ ms\)\n$/);
    const text = readFileSync(md, 'utf8');
    expect(text).toMatch(/\| \d+\.\d{6} s \| 2 \| → \| AT\+CGATT\? \|/);
    expect(text).toMatch(/\| \d+\.\d{6} s \| 2 \| ← \| \+CGATT: 1<br>OK \|/);
    expect(text).toMatch(/\| ←\(URC\) \| CONNECT OK \|/);
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ ev: 'scenario', name: 'seed-plain-mqtt', file: 'scenarios/seed-plain-mqtt.yaml', profile: 'air724ug', seed: 1 });
    expect(lines.some((l) => l.includes('"ev":"cmd","line":"AT+MCONFIG=modemsim-seed,XXXX,$$$$"'))).toBe(true);
  });

  it('exits 1 with a FAIL line for a failing or invalid scenario, and still runs the others', async () => {
    const bad = join(dataDir, 'bad.yaml');
    writeFileSync(bad, 'name: bad-seed\nsteps:\n  - send: AT+CGATT?\n    expect: ["+CGATT: 0", OK]\n');
    const broken = join(dataDir, 'broken.yaml');
    writeFileSync(broken, 'name: broken\nsteps:\n  - sned: AT\n');
    const r = await cli([bad, broken, 'scenarios/reboot.yaml', '--seed', '2']);
    expect(r.code).toBe(1);
    const out = r.stdout.trim().split('\n');
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^FAIL bad-seed: step 1: expected "AT\+CGATT\?\\r\\r\\n\+CGATT: 0\\r\\n\\r\\nOK\\r\\n", got "AT\+CGATT\?\\r\\r\\n\+CGATT: 1\\r\\n\\r\\nOK\\r\\n" \(line 3, /);
    expect(out[1]).toBe(`FAIL ${broken}: step 1 (line 3): no action: expected one of send, raw, expect, wait, until, fault, far, note`);
    expect(out[2]).toMatch(/^PASS reboot \(37 steps, /);
  });
});
