/**
 * The test helpers (sim/testing.ts, `startTestModem`): a modem on the free clock in the binding,
 * an embedded broker and a far-side client; states awaited, faults injected, the trace read,
 * and nothing left behind by dispose().
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createModemBinding, sec, startTestModem } from '../../sim/index.js';
import { StreamDriver } from '../stream-driver.js';
import { ExampleDriver } from './driver.js';

/** Handle kinds by count; Timeout/Immediate included, so a timer left armed shows. */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** Kinds of which there are more now than in `before`. */
function grown(before: Map<string, number>): string[] {
  return [...resources()].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k, n]) => `${k} ×${n - (before.get(k) ?? 0)}`);
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('startTestModem', () => {
  it('awaits registered and dataReady in model time, and a driver on its path gets exact answers', async () => {
    const binding = createModemBinding();
    const tm = await startTestModem({ binding, broker: false });
    try {
      expect(tm.path).toMatch(/^modemsim:\/\/test-\d+-\d+$/);
      const d = new StreamDriver(binding, tm.path);
      await d.until('SMS READY\r\n');
      await tm.until('registered');
      await tm.until('dataReady');
      expect(tm.now()).toBeGreaterThan(sec(4));
      expect(await d.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
      expect(tm.output().startsWith('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY\r\n')).toBe(true);
      await d.close();
    } finally {
      await tm.dispose();
    }
  });

  it('rejects until() naming the state when it does not come within the model time given', async () => {
    const tm = await startTestModem({ broker: false });
    try {
      await expect(tm.until({ mqttStatus: 1 }, sec(3))).rejects.toThrow('expected +MQTTSTATU :1 within 3 s of model time, got it not');
    } finally {
      await tm.dispose();
    }
  });

  it('injects pdpDeact through faults: the host reads \\r\\n+PDP DEACT\\r\\n and the trace has the fault record', async () => {
    const binding = createModemBinding();
    const tm = await startTestModem({ binding, broker: false });
    try {
      const d = new StreamDriver(binding, tm.path);
      await tm.until('dataReady');
      expect(await tm.faults.pdpDeact()).toBe('pdpDeact');
      expect(await d.until('+PDP DEACT\r\n')).toMatch(/\r\n\+PDP DEACT\r\n$/);
      expect(tm.trace().filter((r) => r.ev === 'fault' && r.what === 'pdpDeact')).toHaveLength(1);
      expect(await d.command('AT+CIPSHUT')).toBe('AT+CIPSHUT\r\r\nSHUT OK\r\n');
      await d.close();
    } finally {
      await tm.dispose();
    }
  });

  it('reaches MQTT status 1 with the far side hearing the modem and the modem printing the far side’s +MSUB', async () => {
    const binding = createModemBinding();
    const tm = await startTestModem({ binding, far: { subscribe: ['helpers/t'] } });
    try {
      const d = new StreamDriver(binding, tm.path);
      await d.until('SMS READY\r\n');
      await tm.until('dataReady');
      expect(await d.command('AT+MCONFIG="helpers","",""')).toBe('AT+MCONFIG="helpers","",""\r\r\nOK\r\n');
      expect(await d.command('AT+MIPSTART="mqtt.example.com","1883"')).toBe('AT+MIPSTART="mqtt.example.com","1883"\r\r\nOK\r\n');
      expect(await d.until('CONNECT OK\r\n')).toBe('\r\nCONNECT OK\r\n');
      await tm.until({ mqttStatus: 2 });
      expect(await d.command('AT+MCONNECT=1,60')).toBe('AT+MCONNECT=1,60\r\r\nOK\r\n');
      await tm.until({ mqttStatus: 1 });
      expect(await d.until('CONNACK OK\r\n')).toBe('\r\nCONNACK OK\r\n');
      expect(await d.command('AT+MSUB="helpers/in",0')).toBe('AT+MSUB="helpers/in",0\r\r\nOK\r\n');
      expect(await d.until('SUBACK\r\n')).toBe('\r\nSUBACK\r\n');
      expect(await d.command('AT+MPUB="helpers/t",0,0,"hi"')).toBe('AT+MPUB="helpers/t",0,0,"hi"\r\r\nOK\r\n');
      expect((await tm.far!.waitFor('helpers/t')).map((m) => m.payload.toString())).toEqual(['hi']);
      await tm.far!.publish('helpers/in', 'back');
      expect(await d.until('byte,back\r\n')).toBe('\r\n+MSUB: "helpers/in",4 byte,back\r\n');
      await d.close();
    } finally {
      await tm.dispose();
    }
  });

  it('the README example: a driver publishes its reading after a tcpDrop took the status to 0 and it reconnected to 1', async () => {
    const tm = await startTestModem({ far: { subscribe: ['dev/reading'] } });
    const driver = new ExampleDriver(tm.path, { clientId: 'readme', topic: 'dev/reading', sleep: tm.sleep });
    try {
      await driver.start();
      await tm.until({ mqttStatus: 1 });
      await tm.faults.tcpDrop();
      await tm.until({ mqttStatus: 0 });
      await tm.until({ mqttStatus: 1 });
      await driver.settled();
      expect(driver.recoveries).toEqual(['CLOSED']);
      expect(await driver.publish('21.5')).toBe(true);
      expect((await tm.far!.waitFor('dev/reading'))[0]!.payload.toString()).toBe('21.5');
    } finally {
      await driver.close();
      await tm.dispose();
    }
  });

  it('leaves no handle (socket, server, timer, pty) and no temporary directory behind after dispose()', async () => {
    await turns(3);
    const before = resources();
    const binding = createModemBinding();
    const tm = await startTestModem({ binding, far: { subscribe: ['gone/t'] } });
    const d = new StreamDriver(binding, tm.path);
    await d.until('SMS READY\r\n');
    await tm.until('dataReady');
    expect(await d.command('AT+MIPSTART="mqtt.example.com","1883"')).toBe('AT+MIPSTART="mqtt.example.com","1883"\r\r\nOK\r\n');
    await d.until('CONNECT OK\r\n');
    expect(await d.command('AT+MCONNECT=1,60')).toBe('AT+MCONNECT=1,60\r\r\nOK\r\n');
    await d.until('CONNACK OK\r\n');
    await tm.faults.tcpDrop();
    await d.until('CLOSED\r\n');
    const dir = tm.broker!.certs.ca;
    expect(existsSync(dir)).toBe(true);
    expect(grown(before).length).toBeGreaterThan(0);
    // the port is still open: dispose() closes it too
    await tm.dispose();
    await turns(3);
    expect(grown(before)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(binding.modem(tm.name)).toBeUndefined();
  });
});
