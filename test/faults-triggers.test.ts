/**
 * Faults fired by a URC the module prints or a state record the model writes (beside the host's
 * command): the parser and its messages, where a trigger fires, and the bytes the host sees,
 * through the serial endpoint in virtual time.
 */
import { describe, expect, it } from 'vitest';
import { describeTrigger, FaultSpecError, parseTrigger, stateMatches, urcMatches } from '../sim/faults/index.js';
import { ms, sec } from '../sim/kernel.js';
import type { Modem, ModemOptions } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import { loadScenario } from '../sim/scenario/load.js';
import type { TraceRecord } from '../sim/trace.js';
import { cleanupsAfterEach, dataReadyModem } from './helpers.js';
import { exact, nextUrc, sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('faults-triggers-');
const cleanups = cleanupsAfterEach();

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await dataReadyModem({ traceMemory: true, ...opts });
  cleanups.push(() => m.close());
  return m;
}

type FaultRecord = Extract<TraceRecord, { ev: 'fault' }>;
const faultRecords = (m: Modem): FaultRecord[] => m.trace.records.filter((r): r is FaultRecord => r.ev === 'fault');
/** The last record that matches (the ones before arming are the boot's). */
const recordOf = (m: Modem, match: (r: TraceRecord) => boolean): TraceRecord | undefined => m.trace.records.filter(match).at(-1);

describe('parseTrigger for URCs and states', () => {
  it('parses {urc}, {state}, {state, to} with nth default 1; describeTrigger names each', () => {
    expect(parseTrigger({ urc: 'CONNACK OK' }, 'here')).toEqual({ urc: 'CONNACK OK', nth: 1 });
    expect(parseTrigger({ state: 'mqtt-link', to: 'session', nth: 2 }, 'here')).toEqual({ state: 'mqtt-link', to: 'session', nth: 2 });
    expect(parseTrigger({ state: 'pdp.attached', to: false }, 'here')).toEqual({ state: 'pdp.attached', to: false, nth: 1 });
    expect(describeTrigger({ urc: '+MSUB:', nth: 3 })).toBe('URC "+MSUB:" #3');
    expect(describeTrigger({ state: 'network.stat', to: 2 })).toBe('state network.stat → 2 #1');
    expect(describeTrigger({ command: '+MPUB', nth: 2 })).toBe('AT+MPUB #2');
  });

  it('refuses what cannot fire, naming the place and what it allows', () => {
    const bad: Array<[unknown, string]> = [
      ['CONNACK OK', 'here: on: on wants {command: "+MPUB"}, {urc: "CONNACK OK"} or {state: "mqtt-link", to: "session"}'],
      [{}, 'here: on: give one of command (e.g. "+MPUB"), urc (e.g. "CONNACK OK") or state (e.g. "mqtt-link"), got none'],
      [{ urc: 'SUBACK', command: '+MSUB' }, 'here: on: give one of command (e.g. "+MPUB"), urc (e.g. "CONNACK OK") or state (e.g. "mqtt-link"), got command and urc'],
      [{ urc: 'OK', to: 1 }, 'here: on: to goes with state'],
      [{ urc: '' }, 'here: on: urc must be the start of a URC line'],
      [{ urc: 'CONNACK OK\r\n' }, 'here: on: urc must be the start of a URC line'],
      [{ state: 'mqtt link' }, 'here: on: state must be the name of a state record, such as "mqtt-link"'],
      [{ state: 'mqtt-link', to: { phase: 'session' } }, 'here: on: to must be a string, a number or true/false'],
      [{ urc: 'RDY', nth: 0 }, 'here: on: nth must be an integer in 1..1000000'],
      [{ urc: 'RDY', after: '1s' }, 'here: on: unknown key "after" (expected "command", "urc", "state", "to", "nth")'],
    ];
    for (const [v, msg] of bad) {
      expect(() => parseTrigger(v, 'here')).toThrow(FaultSpecError);
      expect(() => parseTrigger(v, 'here')).toThrow(msg);
    }
  });

  it('a URC matches on its start, as printed (case counts); a state on its name, and `to` compared as text', () => {
    expect(urcMatches({ urc: '+MSUB:' }, '+MSUB: "t",1 byte,x')).toBe(true);
    expect(urcMatches({ urc: 'CONNACK OK' }, 'connack ok')).toBe(false);
    expect(urcMatches({ command: '+MSUB' }, '+MSUB: 0')).toBe(false);
    expect(stateMatches({ state: 'network.stat', to: 2 }, 'network.stat', 2)).toBe(true);
    expect(stateMatches({ state: 'network.stat', to: '2' }, 'network.stat', 2)).toBe(true);
    expect(stateMatches({ state: 'pdp.attached', to: false }, 'pdp.attached', false)).toBe(true);
    expect(stateMatches({ state: 'network.stat', to: 1 }, 'network.stat', 2)).toBe(false);
    expect(stateMatches({ state: 'network.stat' }, 'network.stat', 5)).toBe(true);
    expect(stateMatches({ state: 'network' }, 'network.stat', 5)).toBe(false);
  });

  it('modem.faults.on refuses a trigger that does not parse, as the scenario loader does', async () => {
    const m = await modem();
    expect(() => m.faults.on({ urc: '' }, { kind: 'reboot' })).toThrow('faults.on: on: urc must be the start of a URC line');
    expect(m.faults.armedCount).toBe(0);
  });
});

describe('a fault fired by a URC', () => {
  it('fires at the URC\'s instant, after its line has queued: noise to the host follows +PDP DEACT', async () => {
    const m = await modem();
    const armed = m.faults.on({ urc: '+PDP DEACT' }, { kind: 'noise', toHost: 3 });
    await m.faults.pdpDeact();
    expect(await armed.fired).toBe('noise (toHost: 3)');
    await m.host.advance(ms(5));
    const got = m.host.take();
    expect(got).toHaveLength(14 + 3);
    expect(got.slice(0, 14)).toBe('\r\n+PDP DEACT\r\n');
    const urc = recordOf(m, (r) => r.ev === 'urc' && r.text === '+PDP DEACT')!;
    expect(faultRecords(m).map((r) => [r.t, r.what])).toEqual([
      [urc.t, 'pdpDeact'],
      [urc.t, 'noise'],
    ]);
  });

  it('a URC held behind a running command fires when it is emitted, not when it prints', async () => {
    const m = await modem();
    m.faults.on({ urc: '+PDP DEACT' }, { kind: 'noise', toHost: 2 });
    m.host.write('AT+CGATT?\r');
    await m.host.expect('AT+CGATT?\r', ms(10));
    m.host.take();
    // the command is running: +PDP DEACT waits for its final result code, the noise does not
    await m.faults.pdpDeact();
    await m.host.advance(ms(50));
    const got = m.host.take();
    const rest = '\r\n+CGATT: 1\r\n\r\nOK\r\n\r\n+PDP DEACT\r\n';
    expect(got).toHaveLength(2 + rest.length);
    expect(got.slice(2)).toBe(rest);
  });

  it('counts from arming: nth 2 lets the first match pass; the listener on the trace goes with the last URC or state trigger', async () => {
    // no trace kept: the trace is on only while a URC or state trigger listens
    const m = await modem({ traceMemory: false });
    expect(m.trace.enabled).toBe(false);
    const second = m.faults.on({ urc: 'OK' }, { kind: 'reboot' });
    const off = m.faults.on({ state: 'network.stat' }, { kind: 'reboot' });
    expect(m.trace.enabled).toBe(true);
    off.disarm();
    second.disarm();
    expect(m.trace.enabled).toBe(false);
    const armed = m.faults.on({ urc: '+PDP DEACT', nth: 2 }, { kind: 'signal', rssi: 4 });
    await m.faults.pdpDeact();
    expect(m.faults.armedCount).toBe(1);
    await m.host.advance(ms(50));
    expect(m.host.take()).toBe('\r\n+PDP DEACT\r\n');
    await exact(m, 'AT+CGACT=1,1', '\r\nOK\r\n');
    await m.faults.pdpDeact();
    expect(await armed.fired).toBe('signal (rssi: 4)');
    expect(m.faults.armedCount).toBe(0);
    expect(m.trace.enabled).toBe(false);
  });

  it('a broker fault fired by CONNACK OK holds model time there: the drop enters at that very instant, CLOSED follows', async () => {
    const m = await modem({ mqtt: mqttOptionsFromBroker(shared.broker), broker: shared.broker, profileOverrides: { identity: { imei: `86${String(process.pid).padStart(13, '0')}`.slice(-15) } } });
    const armed = m.faults.on({ urc: 'CONNACK OK' }, { kind: 'tcpDrop' });
    await exact(m, 'AT+MIPSTART="mqtt.example.com","1883"', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
    expect((await m.host.expect('CLOSED\r\n', sec(5))).text).toBe('\r\nCONNACK OK\r\n\r\nCLOSED\r\n');
    expect(await armed.fired).toMatch(/^tcpDrop: broker drops client /);
    const connack = recordOf(m, (r) => r.ev === 'urc' && r.text === 'CONNACK OK')!;
    const dropped = recordOf(m, (r) => r.ev === 'net' && r.what === 'mqtt-closed-by-peer')!;
    expect(dropped.t).toBe(connack.t);
    expect(faultRecords(m).find((r) => r.what === 'tcpDrop')?.t).toBe(connack.t);
    expect(m.kernel.holdsOpen).toBe(0);
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  });
});

describe('a fault fired by a state record', () => {
  it('network.stat → 2 (coverage lost) fires register: AT+CGREG? reads registered again', async () => {
    const m = await modem();
    const armed = m.faults.on({ state: 'network.stat', to: 2 }, { kind: 'register' });
    await m.faults.deregister();
    expect(await armed.fired).toBe('register');
    const lost = recordOf(m, (r) => r.ev === 'state' && r.what === 'network.stat' && r.to === 2)!;
    expect(faultRecords(m).map((r) => [r.t, r.what])).toEqual([
      [lost.t, 'deregister'],
      [lost.t, 'register'],
    ]);
    // the module finds the cell again after its registration time
    await m.host.advance(sec(10));
    m.host.take();
    await exact(m, 'AT+CGREG?', '\r\n+CGREG: 0,1\r\n\r\nOK\r\n');
  });

  it('a `to` that does not come never fires; without `to` any change counts', async () => {
    const m = await modem();
    const never = m.faults.on({ state: 'network.stat', to: 5 }, { kind: 'reboot' });
    const anyTwo = m.faults.on({ state: 'network.stat', nth: 2 }, { kind: 'signal', rssi: 6 });
    await m.faults.deregister();
    expect(m.faults.armedCount).toBe(2);
    await m.faults.register();
    await m.host.advance(sec(10));
    expect(await anyTwo.fired).toBe('signal (rssi: 6)');
    expect(m.faults.armedCount).toBe(1);
    never.disarm();
    expect(faultRecords(m).map((r) => r.what)).toEqual(['deregister', 'register', 'signal']);
  });
});

describe('scenario steps', () => {
  it('a fault step takes on: {urc} and on: {state, to}; a bad one names the step', () => {
    const s = loadScenario(
      ['name: t', 'steps:', '  - fault: tcpDrop', '    on: {urc: SUBACK}', '  - fault: powerLoss', '    on: {state: mqtt-link, to: session, nth: 2}'].join('\n'),
      't.yaml',
    );
    expect(s.steps[0]).toMatchObject({ kind: 'fault', fault: { kind: 'tcpDrop' }, on: { urc: 'SUBACK', nth: 1 } });
    expect(s.steps[1]).toMatchObject({ kind: 'fault', fault: { kind: 'powerLoss' }, on: { state: 'mqtt-link', to: 'session', nth: 2 } });
    expect(() => loadScenario(['name: t', 'steps:', '  - fault: powerLoss', '    on: {urc: RDY, to: 1}'].join('\n'), 't.yaml')).toThrow(/step 1.*on: to goes with state/);
  });
});
