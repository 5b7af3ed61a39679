/**
 * Many modems on one timeline: each keeps its own PRNG streams, so a modem's trace does not
 * depend on the fleet's size — modem 3 of 10 and of 20, and the same modem alone, write the
 * same trace byte for byte — while they share one kernel, one clock and one broker.
 */
import { describe, expect, it } from 'vitest';
import { createFleet, fleetIdentity, type Fleet } from '../sim/fleet.js';
import { sec } from '../sim/kernel.js';
import { createModem, type Modem } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import { canonicalRecord } from '../sim/scenario/trace.js';
import { resolveProfile } from '../sim/profiles/index.js';
import { cleanupsAfterEach } from './helpers.js';
import { sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('fleet-test-');
const cleanups = cleanupsAfterEach();

/**
 * A session per modem and some jittered commands. Every line goes to every modem at the same
 * fixed model instants (not "when all answered", which would tie one modem's input to the
 * slowest of the others).
 */
async function drive(modems: readonly Modem[], indexOf: (k: number) => number, advance: (ns: number) => Promise<void>, until: (cond: () => boolean) => Promise<boolean>): Promise<void> {
  const steps: Array<[(i: number) => string, string]> = [
    [() => 'AT+CSQ;+CGREG?', 'OK'],
    [() => 'AT+CSQ', 'OK'],
    [(i) => `AT+MCONFIG=fleet-test-${i},"",""`, 'OK'],
    [() => 'AT+MIPSTART="mqtt.example.com",1883', 'CONNECT OK'],
    [() => 'AT+MCONNECT=1,60', 'CONNACK OK'],
    [(i) => `AT+MSUB="fleet/${i}",0`, 'SUBACK'],
    [(i) => `AT+MPUB="fleet/${i}",0,0,"hello ${i}"`, '+MSUB:'],
    [() => 'AT+MQTTSTATU', '+MQTTSTATU :1'],
  ];
  expect(await until(() => modems.every((m) => m.pdp.dataReady))).toBe(true);
  // the first line at a fixed instant, whenever the slowest of them got its bearer
  await advance(sec(10) - modems[0]!.kernel.now);
  for (const [line, want] of steps) {
    modems.forEach((m, k) => m.host.write(line(indexOf(k)) + '\r'));
    await advance(sec(3));
    for (const m of modems) expect(m.host.take()).toContain(want);
  }
}

function traceOf(m: Modem): string {
  const ports = { port: shared.broker.port, tlsPort: shared.broker.tlsPort };
  return m.trace.records.map((r) => JSON.stringify(canonicalRecord(r, ports))).join('\n');
}

async function fleetTrace(count: number, index: number): Promise<{ trace: string; fleet: Fleet }> {
  const broker = shared.broker;
  const fleet = createFleet({ count, seedOf: (i) => 100 + i, traceMemory: true, mqtt: mqttOptionsFromBroker(broker), broker });
  cleanups.push(() => fleet.close());
  await drive(
    fleet.modems,
    (k) => k,
    (ns) => fleet.advance(ns),
    (cond) => fleet.clock.waitUntil(cond, sec(60)),
  );
  return { trace: traceOf(fleet.modem(index)), fleet };
}

describe('a fleet on one timeline', () => {
  it('modem 3 writes the same trace in a fleet of 10, of 20, and alone', async () => {
    const ten = await fleetTrace(10, 3);
    await ten.fleet.close();
    const twenty = await fleetTrace(20, 3);
    expect(twenty.fleet.kernel.timeline).toBe(twenty.fleet.modem(19).kernel.timeline);
    await twenty.fleet.close();
    expect(ten.trace.length).toBeGreaterThan(2000);
    expect(ten.trace).toContain('"ev":"urc","text":"+MSUB: \\"fleet/3\\"');
    expect(twenty.trace).toBe(ten.trace);

    const base = resolveProfile().identity;
    const alone = createModem({ seed: 103, traceMemory: true, mqtt: mqttOptionsFromBroker(shared.broker), profileOverrides: { identity: fleetIdentity(base, 3) } });
    cleanups.push(() => alone.close());
    // the same modem alone on its own kernel: same seed, same identity, same input
    await drive(
      [alone],
      () => 3,
      (ns) => alone.clock.advance(ns),
      (cond) => alone.clock.waitUntil(cond, sec(60)),
    );
    expect(traceOf(alone)).toBe(ten.trace);
  });

  it('gives every modem its own identity with valid check digits, and its own seed', () => {
    const fleet = createFleet({ count: 5, seed: 7 });
    cleanups.push(() => fleet.close());
    const imeis = fleet.modems.map((m) => m.profile.identity.imei);
    expect(new Set(imeis).size).toBe(5);
    expect(imeis[0]).toBe(resolveProfile().identity.imei);
    // modem 0 keeps the profile's own numbers; the others get valid check digits
    for (const m of fleet.modems.slice(1)) {
      expect(m.profile.identity.imei).toMatch(/^\d{15}$/);
      expect(luhnOk(m.profile.identity.imei)).toBe(true);
      expect(luhnOk(m.profile.identity.iccid)).toBe(true);
    }
    expect(fleet.modems.map((m) => m.kernel.prng.seed)).toEqual([7, 8, 9, 10, 11]);
  });

  it('closing one modem leaves the rest running on the shared clock', async () => {
    const fleet = createFleet({ count: 3 });
    cleanups.push(() => fleet.close());
    expect(await fleet.waitAll((m) => m.host.pending.includes('SMS READY'), sec(30))).toBe(true);
    await fleet.modem(1).close();
    fleet.modem(1).host.write('AT\r');
    fleet.modem(2).host.write('AT\r');
    expect(await fleet.modem(2).clock.waitUntil(() => fleet.modem(2).host.pending.endsWith('AT\r\r\nOK\r\n'), sec(5))).toBe(true);
    await fleet.advance(sec(1));
    expect(fleet.modem(1).host.pending).not.toContain('AT\r');
  });
});

function luhnOk(digits: string): boolean {
  let sum = 0;
  for (let k = 0; k < digits.length; k++) {
    let d = digits.charCodeAt(digits.length - 1 - k) - 48;
    if (k % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

describe('a fleet in real time', () => {
  it('boots every modem on the one wall-clock driver and answers each', async () => {
    const quick = { base: 20_000_000, jitter: 0 };
    const fleet = createFleet({
      count: 3,
      clock: 'realtime',
      profileOverrides: { boot: { urcs: [{ text: 'RDY', at: 20_000_000 }] }, network: { simReady: quick, register: quick, defaultPdp: quick } },
    });
    cleanups.push(() => fleet.close());
    expect(await fleet.waitAll((m) => m.host.pending.includes('RDY\r\n'), sec(5))).toBe(true);
    expect(fleet.clock.kind).toBe('realtime');
    for (const m of fleet.modems) m.host.take();
    expect(await fleet.modem(2).host.command('AT+CGSN')).toBe(`AT+CGSN\r\r\n${fleet.modem(2).profile.identity.imei}\r\n\r\nOK\r\n`);
  });
});
