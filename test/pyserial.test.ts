/**
 * A stranger's driver, unchanged, passes: test/fixtures/air724_mqtt.py, a Python 3 host driver
 * written with pyserial as it would be for a module on /dev/ttyUSB0 (the Luat manual's MQTT flow,
 * its CLOSED recovery), run by the system's python3 against `modemsim serve` on a real socat pty
 * in real time, with a real `mqtt` client as the far side; the served trace then replays.
 */
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { silentLogger } from '../sim/log.js';
import { runReplay } from '../sim/replay/command.js';
import { cleanupsAfterEach, tempDir, WallWaits } from './helpers.js';
import { requireTool, skipWithout } from './system-tools.js';
import { ServedChild, type ReadyRecord } from './trace-child.js';

const SCRIPT = join(import.meta.dirname, 'fixtures', 'air724_mqtt.py');
/** What the driver is told to run for at most (its --duration), and the wall kill after it. */
const DRIVER_DURATION_S = 60;
const DRIVER_KILL_MS = 90_000;
const WAIT_MS = 60_000;

const cleanups = cleanupsAfterEach();

interface DriverEvent {
  event: string;
  [k: string]: unknown;
}

/** The Python driver as a child process: its stdout read as one JSON event per line. */
class PythonDriver {
  readonly child: ChildProcess;
  readonly events: DriverEvent[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private stdout = '';
  private readonly waits = new WallWaits();
  private gone = false;

  constructor(tty: string, args: readonly string[]) {
    this.child = spawn(requireTool('pyserial'), ['-u', SCRIPT, tty, '--duration', String(DRIVER_DURATION_S), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (t: string) => {
      this.stdout += t;
      let nl: number;
      while ((nl = this.stdout.indexOf('\n')) >= 0) {
        const line = this.stdout.slice(0, nl);
        this.stdout = this.stdout.slice(nl + 1);
        if (line.trim() !== '') this.events.push(JSON.parse(line) as DriverEvent);
      }
      this.waits.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (t: string) => (this.stderr += t));
    const killer = setTimeout(() => this.child.kill('SIGKILL'), DRIVER_KILL_MS);
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code) => {
        clearTimeout(killer);
        this.gone = true;
        this.waits.notify();
        resolve(code);
      }),
    );
  }

  /** The first event matching `want` (an object of fields), waited for up to `ms`. */
  event(want: Partial<DriverEvent>, ms = WAIT_MS): Promise<DriverEvent> {
    const matches = (e: DriverEvent): boolean => Object.entries(want).every(([k, v]) => e[k] === v);
    return this.waits.until(
      () => {
        const e = this.events.find(matches);
        if (e !== undefined) return e;
        if (this.gone) throw new Error(`driver exited without ${JSON.stringify(want)}: ${this.describe()}`);
        return undefined;
      },
      ms,
      () => `no ${JSON.stringify(want)} from the driver in ${ms} ms: ${this.describe()}`,
    );
  }

  /** Its exit code, waited for up to `ms`. */
  async exit(ms = WAIT_MS): Promise<number | null> {
    await this.waits.until(() => (this.gone ? true : undefined), ms, () => `driver still running after ${ms} ms: ${this.describe()}`);
    return this.exited;
  }

  describe(): string {
    return `events ${JSON.stringify(this.events)}, stderr ${JSON.stringify(this.stderr)}`;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A real MQTT client on the embedded broker: the driver's back end. */
class FarSide {
  readonly got: Array<{ topic: string; payload: string }> = [];
  private readonly waits = new WallWaits();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      this.got.push({ topic, payload: payload.toString('utf8') });
      this.waits.notify();
    });
  }

  static async connect(ready: ReadyRecord, topic: string): Promise<FarSide> {
    const client = await mqtt.connectAsync(String(ready['broker']), { clientId: 'pyserial-far-side', reconnectPeriod: 0 });
    const far = new FarSide(client);
    await client.subscribeAsync(topic, { qos: 0 });
    return far;
  }

  /** Resolves once `n` messages have come in. */
  received(n: number, ms = WAIT_MS): Promise<Array<{ topic: string; payload: string }>> {
    return this.waits.until(() => (this.got.length >= n ? this.got.slice(0, n) : undefined), ms, () => `far side got ${JSON.stringify(this.got)}, waited for ${n}`);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** serve on a pty in real time (as a user runs it), tracing; cleaned up after the test. */
async function serve(opts: { control?: boolean } = {}): Promise<{ served: ServedChild; ready: ReadyRecord; tty: string; trace: string }> {
  const dir = tempDir('modemsim-pyserial-');
  cleanups.push(() => dir.remove());
  const tty = join(dir.path, 'ttyMODEM0');
  const trace = join(dir.path, 'served.jsonl');
  const served = new ServedChild(['--serial', `pty:${tty}`, '--data-dir', join(dir.path, 'data'), '--trace', trace], opts);
  cleanups.push(() => served.kill());
  return { served, ready: await served.ready(), tty, trace };
}

async function replay(file: string): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await runReplay(file, silentLogger(), (l) => out.push(l), (l) => out.push(l));
  return { code, out };
}

/** One JSON request on the control endpoint, its one-line reply. */
async function control(ready: ReadyRecord, request: object): Promise<unknown> {
  const [host, port] = String(ready['control']).split(':');
  const socket = netConnect({ host: host!, port: Number(port) });
  cleanups.push(() => void socket.destroy());
  socket.setEncoding('utf8');
  const waits = new WallWaits();
  let said = '';
  socket.on('data', (d: string) => {
    said += d;
    waits.notify();
  });
  socket.write(JSON.stringify(request) + '\n');
  const line = await waits.until(() => (said.includes('\n') ? said.slice(0, said.indexOf('\n')) : undefined), 5000, () => `no reply to ${JSON.stringify(request)}: ${said}`);
  socket.end();
  return JSON.parse(line);
}

// the device publishes its readings up and takes commands down, as such devices are set up
const UP = 'pyserial/dev-1/up';
const DOWN = 'pyserial/dev-1/down';
/** The flags of every run: the module is told the name of a public broker, serve routes it to its own. */
function driverArgs(clientId: string, message: string): string[] {
  // no AT+MQTTSTATU poll during the test: the events the tests check are the flow's
  return ['--client-id', clientId, '--topic', UP, '--sub-topic', DOWN, '--host', 'mqtt.example.com', '--port', '1883', '--message', message, '--messages', '1', '--poll', '600', '--verbose'];
}
// a JSON reading and a JSON command, as such drivers send and get: the quotes go out as the
// manual's \22 escapes and come back in +MSUB: as they are
const READING = '{"t":21.5,"unit":"°C"}';
const COMMAND = '{"cmd":"set","interval":30}';

/*
 * The far side publishes while the driver is idle (after its "status" or "published" event),
 * so which command a message interrupts does not vary from run to run. A message that comes in
 * while the host's bytes are on the line replays too (test/replay.test.ts, "network input while
 * the host's bytes are on the line").
 */

describe.skipIf(skipWithout('socat', 'pyserial'))('a pyserial driver (python3, unchanged) against modemsim serve on a real pty', () => {
  it('publishes a JSON reading the far side receives byte for byte, prints the far side’s JSON command exactly, exits 0; the served trace replays to exactly one MATCH', async () => {
    const { served, ready, tty, trace } = await serve();
    const far = await FarSide.connect(ready, UP);
    cleanups.push(() => far.close());

    const driver = new PythonDriver(tty, driverArgs('pyserial-dev-1', READING));
    cleanups.push(() => driver.kill());

    expect(await far.received(1)).toEqual([{ topic: UP, payload: READING }]);
    expect(await driver.event({ event: 'status' })).toEqual({ event: 'status', status: 1 });
    await far.client.publishAsync(DOWN, COMMAND, { qos: 0 });
    expect(await driver.event({ event: 'received' })).toEqual({ event: 'received', topic: DOWN, payload: COMMAND });
    expect(await driver.exit()).toBe(0);
    expect(driver.events.map((e) => e.event)).toEqual(['attached', 'connected', 'published', 'status', 'received', 'done']);
    expect(driver.events).toContainEqual({ event: 'published', topic: UP, payload: READING, n: 1 });
    expect(driver.stderr).toContain('-> AT+MPUB="pyserial/dev-1/up",0,0,"{\\22t\\22:21.5,\\22unit\\22:\\22°C\\22}"\n');
    expect(driver.stderr).toContain(`<- +MSUB: "${DOWN}",${Buffer.byteLength(COMMAND)} byte,${COMMAND}\n`);
    expect(far.got).toEqual([{ topic: UP, payload: READING }]);

    await far.close();
    await served.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    const records = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ev: string });
    // the far side's command is in the trace, for the replay's broker to give again
    expect(records.filter((r) => r.ev === 'far')).toEqual([expect.objectContaining({ what: 'publish', topic: DOWN, data: Buffer.from(COMMAND).toString('base64') })]);
    const r = await replay(trace);
    expect(r.out).toEqual([expect.stringMatching(/^MATCH /)]);
    expect(r.code).toBe(0);
  });

  it('recovers from a TCP drop sent through the control endpoint: prints CLOSED, reconnects with MIPSTART, publishes again, and the far side gets the second message; the trace replays to one MATCH', async () => {
    const { served, ready, tty, trace } = await serve({ control: true });
    const far = await FarSide.connect(ready, UP);
    cleanups.push(() => far.close());

    const driver = new PythonDriver(tty, driverArgs('pyserial-dev-2', 'online'));
    cleanups.push(() => driver.kill());

    expect(await far.received(1)).toEqual([{ topic: UP, payload: 'online' }]);
    // connected and idle when the link drops
    await driver.event({ event: 'status' });
    expect(await control(ready, { fault: 'tcpDrop' })).toMatchObject({ ok: true });
    expect(await driver.event({ event: 'closed' })).toEqual({ event: 'closed', urc: 'CLOSED' });
    expect(await driver.event({ event: 'reconnected' })).toEqual({ event: 'reconnected', why: 'CLOSED', attempt: 1 });
    expect(await far.received(2)).toEqual([
      { topic: UP, payload: 'online' },
      { topic: UP, payload: 'online' },
    ]);
    expect(await driver.event({ event: 'published', n: 2 })).toEqual({ event: 'published', topic: UP, payload: 'online', n: 2 });
    // subscribed again: a command from the back end still reaches it
    await far.client.publishAsync(DOWN, 'after the drop', { qos: 0 });
    expect(await driver.event({ event: 'received' })).toEqual({ event: 'received', topic: DOWN, payload: 'after the drop' });
    expect(await driver.exit()).toBe(0);
    expect(driver.events.map((e) => e.event)).toEqual(['attached', 'connected', 'published', 'status', 'closed', 'connected', 'reconnected', 'published', 'received', 'done']);
    expect(driver.events.at(-1)).toEqual({ event: 'done', published: 2, received: 1, reconnects: 1 });
    // the recovery on the wire, as the application note's "TCP passive disconnect" example
    const after = driver.stderr.slice(driver.stderr.indexOf('<- CLOSED\n'));
    const sent = after.split('\n').filter((l) => l.startsWith('-> ')).map((l) => l.slice(3));
    expect(sent).toEqual(['AT+MIPCLOSE', 'AT+MCONFIG="pyserial-dev-2","",""', 'AT+MIPSTART="mqtt.example.com",1883', 'AT+MCONNECT=1,60', `AT+MSUB="${DOWN}",0`, 'AT+MQTTSTATU', `AT+MPUB="${UP}",0,0,"online"`]);

    await far.close();
    await served.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    const r = await replay(trace);
    expect(r.out).toEqual([expect.stringMatching(/^MATCH /)]);
    expect(r.code).toBe(0);
  });
});
