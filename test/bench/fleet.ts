/**
 * The fleet rows, in a process of their own (run.ts starts it with --expose-gc) so the memory
 * figure is this fleet's alone: N modems on one timeline boot, each opens an MQTT session
 * (keepalive 60 s) to one embedded broker, and the fleet runs one simulated hour. Prints one
 * JSON line: added RSS, per modem, wall times, events.
 *
 * `node --expose-gc dist-bench/test/bench/fleet.js [N] [separate]` — with `separate`, the same N
 * modems each on a kernel and clock of its own (driven one after the other), for comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmbeddedBroker } from '../../sim/broker/index.js';
import { createFleet, fleetIdentity } from '../../sim/fleet.js';
import { Kernel, sec, type Ns } from '../../sim/kernel.js';
import { createModem, type Modem } from '../../sim/modem.js';
import { resolveProfile } from '../../sim/profiles/index.js';
import { mqttOptionsFromBroker } from '../../sim/mqtt/options.js';
import { settledRss } from './common.js';

export interface FleetFigures {
  count: number;
  separate: boolean;
  baseRss: number;
  addedRss: number;
  afterHourRss: number;
  bootConnectWallMs: number;
  hourWallMs: number;
  hourEvents: number;
  sessionsUp: number;
  sessionsAfterHour: number;
}

const count = Number(process.argv[2] ?? 1000);
const separate = process.argv[3] === "separate";

/** What the rows need of a fleet. */
interface Many {
  readonly modems: readonly Modem[];
  readonly size: number;
  readonly kernel: Kernel;
  waitAll(cond: (m: Modem, i: number) => boolean, timeout: Ns): Promise<boolean>;
  advance(delta: Ns): Promise<void>;
  close(): Promise<void>;
  eventsRun(): number;
}

function many(n: number): Many {
  const mqtt = mqttOptionsFromBroker(broker);
  if (!separate) {
    const f = createFleet({ count: n, mqtt, broker });
    return Object.assign(f, { eventsRun: () => f.kernel.eventsRun });
  }
  const base = resolveProfile().identity;
  const modems = Array.from({ length: n }, (_, i) => {
    const m = createModem({ seed: 1 + i, mqtt, broker, profileOverrides: { identity: fleetIdentity(base, i) } });
    m.host.keepLog = false;
    return m;
  });
  return {
    modems,
    size: n,
    kernel: new Kernel(),
    async waitAll(cond, timeout) {
      let ok = true;
      for (let i = 0; i < n; i++) ok = (await modems[i]!.clock.waitUntil(() => cond(modems[i]!, i), timeout)) && ok;
      return ok;
    },
    async advance(delta) {
      for (const m of modems) await m.clock.advance(delta);
    },
    async close() {
      for (const m of modems) await m.close();
    },
    eventsRun: () => modems.reduce((a, m) => a + m.kernel.eventsRun, 0),
  };
}
const dataDir = mkdtempSync(join(tmpdir(), 'modemsim-bench-fleet-'));
const broker = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir });

/** Every modem: the lines, then run until each shows `want` (checked once per modem). */
async function everyone(fleet: Many, line: (m: Modem, i: number) => string, want: string): Promise<void> {
  fleet.modems.forEach((m, i) => m.host.write(line(m, i) + '\r'));
  if (!(await fleet.waitAll((m) => m.host.pending.includes(want), sec(120)))) {
    const late = fleet.modems.filter((m) => !m.host.pending.includes(want)).length;
    throw new Error(`${late} of ${fleet.size} modems never showed ${JSON.stringify(want)}`);
  }
  for (const m of fleet.modems) m.host.take();
}

async function sessions(n: number): Promise<{ fleet: Many; wallMs: number }> {
  const t0 = performance.now();
  const fleet = many(n);
  if (!(await fleet.waitAll((m) => m.pdp.dataReady, sec(60)))) throw new Error('not every modem got a data bearer');
  await fleet.advance(sec(1));
  for (const m of fleet.modems) m.host.take();
  await everyone(fleet, () => 'ATE0', 'OK');
  // the client id is each modem's own IMEI
  await everyone(fleet, () => `AT+MIPSTART="127.0.0.1",${broker.port}`, 'CONNECT OK');
  await everyone(fleet, () => 'AT+MCONNECT=1,60', 'CONNACK OK');
  return { fleet, wallMs: performance.now() - t0 };
}

const up = (fleet: Many): number => fleet.modems.filter((m) => m.mqtt.link.phase === 'session').length;

try {
  // warm-up: code loaded and compiled, the broker's pools primed, then all of it closed
  const warm = await sessions(Math.min(20, count));
  await warm.fleet.close();
  await new Promise((r) => setTimeout(r, 200));
  const baseRss = settledRss();
  const { fleet, wallMs } = await sessions(count);
  const sessionsUp = up(fleet);
  const addedRss = settledRss() - baseRss;
  const e0 = fleet.eventsRun();
  const t1 = performance.now();
  await fleet.advance(sec(3600));
  const hourWallMs = performance.now() - t1;
  const figures: FleetFigures = {
    count,
    separate,
    baseRss,
    addedRss,
    afterHourRss: settledRss() - baseRss,
    bootConnectWallMs: wallMs,
    hourWallMs,
    hourEvents: fleet.eventsRun() - e0,
    sessionsUp,
    sessionsAfterHour: up(fleet),
  };
  await fleet.close();
  console.log(JSON.stringify(figures));
} finally {
  await broker.close();
  rmSync(dataDir, { recursive: true, force: true });
}
