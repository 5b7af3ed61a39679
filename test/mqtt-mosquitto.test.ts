/**
 * The seed's plain flow against a real mosquitto (`--broker mqtt://…`): the bridge is not tied
 * to aedes. Skipped, with a notice, where mosquitto is not installed, except under CI (.ci/run
 * installs it); see system-tools.ts.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sec } from '../sim/kernel.js';
import type { Modem } from '../sim/modem.js';
import { externalBroker } from '../sim/mqtt/options.js';
import { dataReadyModem, freePort } from './helpers.js';
import { exact, FarSide, nextUrc, openSeedSession } from './mqtt-helpers.js';
import { requireTool, skipWithout } from './system-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'mqtt-mosquitto-'));
let proc: ChildProcess | undefined;
let port = 0;
let m: Modem | undefined;
let far: FarSide | undefined;

/** mosquitto is outside the model: wait (wall time) until it accepts connections. */
async function listening(p: number, wallMs = 5000): Promise<void> {
  const deadline = Date.now() + wallMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(p, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${p}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  if (skipWithout('mosquitto')) return;
  port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  proc = spawn(requireTool('mosquitto'), ['-c', conf], { stdio: 'ignore' });
  await listening(port);
});
afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc?.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await m?.close();
  await far?.close();
  m = undefined;
  far = undefined;
});

describe.skipIf(skipWithout('mosquitto'))('against mosquitto', () => {
  it('runs the seed plain flow', async () => {
    const url = `mqtt://127.0.0.1:${port}`;
    m = await dataReadyModem({ mqtt: { broker: externalBroker([url]) } });
    far = await FarSide.connect(url);
    await far.subscribe('mqtt/topic', 1);
    await exact(m, 'AT+MCONFIG=modemsim-mosq,"",""', '\r\nOK\r\n');
    await openSeedSession(m, 'broker.emqx.io', '1883');
    await exact(m, 'AT+MPUB="mqtt/topic",0,0,"SSSSddddd"', '\r\nOK\r\n');
    await nextUrc(m, '+MSUB: "mqtt/topic",9 byte,SSSSddddd');
    await exact(m, 'AT+MQTTMODE=1', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGSET=1', '\r\nOK\r\n');
    await exact(m, 'AT+MPUB="mqtt/topic",1,0,"313233"', '\r\nOK\r\n');
    // PUBACK and the echo of our own message race at the broker; both must come
    const urcs = await m.host.expect(/PUBACK\r\n[\s\S]*\+MSUB: 0\r\n|\+MSUB: 0\r\n[\s\S]*PUBACK\r\n/);
    expect(urcs.text.split('\r\n').filter(Boolean).sort()).toEqual(['+MSUB: 0', 'PUBACK']);
    await exact(m, 'AT+MQTTMSGGET?', '\r\n+MQTTMSGGET: 0,VALID\r\n\r\n+MQTTMSGGET: 1,INVALID\r\n\r\n+MQTTMSGGET: 2,INVALID\r\n\r\n+MQTTMSGGET: 3,INVALID\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGGET', '\r\n+MSUB: mqtt/topic,3 byte,123\r\n\r\nOK\r\n');
    const got = await far.waitFor('mqtt/topic', 2);
    expect(got.map(String)).toEqual(['SSSSddddd', '123']);
    await exact(m, 'AT+MDISCONNECT', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await m.host.advance(sec(3));
    expect(m.host.take()).toBe('');
    await exact(m, 'AT+MIPCLOSE', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  });
});
