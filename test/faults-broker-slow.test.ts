/**
 * The brokerSlow fault through the serial endpoint in virtual time, against the real embedded
 * broker: each reply of the broker enters the model `delay` of model time late, in order, and
 * the module's own waits (MIPSTART's connect, MCONNECT's CONNACK) give up on replies delayed
 * past them, so the host sees a failure, never a hang.
 */
import { describe, expect, it } from 'vitest';
import { describeFault, faultDetail, FaultError, FaultSpecError, parseFault } from '../sim/faults/index.js';
import { COMMAND_GROUPS } from '../sim/groups.js';
import { ms, sec, type Ns } from '../sim/kernel.js';
import { createModem, type Modem } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import type { TraceRecord } from '../sim/trace.js';
import { cleanupsAfterEach, dataReadyModem } from './helpers.js';
import { exact, nextUrc, sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('faults-broker-slow-');
const cleanups = cleanupsAfterEach();
let modems = 0;

async function modem(): Promise<Modem> {
  // an IMEI of its own (the default client id): no run meets another's session at the broker
  const imei = `86${String(process.pid % 1000).padStart(3, '0')}${String(++modems).padStart(10, '0')}`;
  const m = await dataReadyModem({ mqtt: mqttOptionsFromBroker(shared.broker), traceMemory: true, profileOverrides: { identity: { imei } } });
  cleanups.push(() => m.close());
  return m;
}

type NetRecord = Extract<TraceRecord, { ev: 'net' }>;
type StateRecord = Extract<TraceRecord, { ev: 'state' }>;
const netRecord = (m: Modem, what: string): NetRecord | undefined => m.trace.records.find((r): r is NetRecord => r.ev === 'net' && r.what === what);
const linkState = (m: Modem, to: string): StateRecord | undefined =>
  m.trace.records.filter((r): r is StateRecord => r.ev === 'state' && r.what === 'mqtt-link' && r.to === to).at(-1);
type FaultRecord = Extract<TraceRecord, { ev: 'fault' }>;

/** A command's exact answer, then the model time until the URC that follows it. */
async function urcAfter(m: Modem, line: string, urc: string): Promise<Ns> {
  await exact(m, line, '\r\nOK\r\n');
  const ok = m.kernel.now;
  return (await nextUrc(m, urc, sec(60))) - ok;
}

/** MIPSTART, MCONNECT, MSUB and a QoS 1 MPUB: how long each reply took after its command's OK. */
async function session(m: Modem, slow: Ns): Promise<Ns[]> {
  if (slow > 0) await m.faults.brokerSlow(slow, sec(60));
  return [
    await urcAfter(m, 'AT+MIPSTART="mqtt.example.com","1883"', 'CONNECT OK'),
    await urcAfter(m, 'AT+MCONNECT=1,60', 'CONNACK OK'),
    await urcAfter(m, 'AT+MSUB="slow/t",1', 'SUBACK'),
    await urcAfter(m, 'AT+MPUB="slow/u",1,0,"x"', 'PUBACK'),
  ];
}

describe('parseFault for brokerSlow', () => {
  it('parses delay and for (durations in ns); its trace detail parses back into the same fault', () => {
    const f = parseFault({ brokerSlow: { delay: '3s', for: '1min' } }, 'here');
    expect(f).toEqual({ kind: 'brokerSlow', delay: sec(3), for: sec(60) });
    expect(faultDetail(f)).toEqual({ delay: '3000000000ns', for: '60000000000ns' });
    expect(parseFault({ brokerSlow: faultDetail(f) }, 'trace')).toEqual(f);
    expect(describeFault(f)).toBe('brokerSlow (delay: 3 s, for: 1 min)');
  });

  it('refuses missing or bad arguments, naming the place and the field', () => {
    const bad: Array<[unknown, string]> = [
      ['brokerSlow', 'here: fault brokerSlow: give delay and for'],
      [{ brokerSlow: { delay: '1s' } }, 'here: fault brokerSlow: give delay and for'],
      [{ brokerSlow: { delay: 0, for: '1s' } }, 'here: fault brokerSlow: delay must be a duration above 0'],
      [{ brokerSlow: { delay: '2h', for: '1s' } }, 'here: fault brokerSlow: delay must be at most 1 h'],
      [{ brokerSlow: { delay: '1s', for: '1s', jitter: '1s' } }, 'here: fault brokerSlow: unknown key "jitter" (expected "delay", "for")'],
    ];
    for (const [v, msg] of bad) {
      expect(() => parseFault(v, 'here')).toThrow(FaultSpecError);
      expect(() => parseFault(v, 'here')).toThrow(msg);
    }
  });
});

describe('brokerSlow', () => {
  it('CONNECT OK, CONNACK OK, SUBACK and PUBACK each come exactly the delay later than without the fault', async () => {
    const plain = await session(await modem(), 0);
    const slow = await session(await modem(), sec(3));
    expect(slow).toEqual(plain.map((dt) => dt + sec(3)));
  });

  it('the order of replies is kept: a PUBACK after the window still comes after the SUBACK delayed in it', async () => {
    const m = await modem();
    await session(m, 0);
    const t0 = m.kernel.now;
    await m.faults.brokerSlow(sec(2), sec(1));
    await exact(m, 'AT+MSUB="slow/v",1', '\r\nOK\r\n');
    await m.host.advance(t0 + ms(1500) - m.kernel.now);
    // the window is over: this PUBACK is not delayed, but the SUBACK ahead of it is
    await exact(m, 'AT+MPUB="slow/u",1,0,"y"', '\r\nOK\r\n');
    await m.host.advance(t0 + sec(2) - 1 - m.kernel.now);
    expect(m.host.pending).toBe('');
    const suback = await nextUrc(m, 'SUBACK');
    const puback = await nextUrc(m, 'PUBACK');
    expect(suback - t0).toBeGreaterThanOrEqual(sec(2));
    expect(puback).toBeGreaterThan(suback);
  });

  it('a CONNACK delayed past MCONNECT\'s 20 s wait: ERROR, CLOSED, state 0; the late CONNACK prints nothing', async () => {
    const m = await modem();
    await urcAfter(m, 'AT+MIPSTART="mqtt.example.com","1883"', 'CONNECT OK');
    await m.faults.brokerSlow(sec(25), sec(60));
    await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
    const asked = linkState(m, 'handshake')!.t;
    await m.host.advance(asked + sec(20) - m.kernel.now);
    expect(m.host.pending).toBe('');
    expect((await m.host.expect('CLOSED\r\n', sec(1))).text).toBe('\r\nERROR\r\n\r\nCLOSED\r\n');
    expect(netRecord(m, 'mqtt-connack-timeout')).toEqual({ t: asked + sec(20), ev: 'net', what: 'mqtt-connack-timeout', detail: { waitedNs: sec(20) } });
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    // past the instant the CONNACK enters: the link it belonged to is gone
    await m.host.advance(sec(10));
    expect(m.host.pending).toBe('');
    expect(m.kernel.holdsOpen).toBe(0);
  });

  it('a connect delayed past MIPSTART\'s 15 s wait: STATE: TCP CLOSED, CONNECT FAIL; after the window MIPSTART connects', async () => {
    const m = await modem();
    await m.faults.brokerSlow(sec(20), sec(30));
    await exact(m, 'AT+MIPSTART="mqtt.example.com","1883"', '\r\nOK\r\n');
    const dialled = netRecord(m, 'mqtt-dial')!.t;
    await m.host.advance(dialled + sec(15) - m.kernel.now);
    expect(m.host.pending).toBe('');
    expect((await m.host.expect('CONNECT FAIL\r\n', sec(1))).text).toBe('\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n');
    expect(netRecord(m, 'mqtt-dial-failed')).toEqual({ t: dialled + sec(15), ev: 'net', what: 'mqtt-dial-failed', detail: 'no answer' });
    await m.host.advance(sec(20));
    expect(m.host.pending).toBe('');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    expect(await urcAfter(m, 'AT+MIPSTART="mqtt.example.com","1883"', 'CONNECT OK')).toBeLessThan(sec(1));
  });

  it('the window ends with a brokerSlow-over record; a modem without the mqtt group refuses the fault', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.brokerSlow(sec(1), sec(5));
    await m.host.advance(sec(5));
    expect(m.mqtt.link.replyDelay).toBe(0);
    const over = m.trace.records.filter((r): r is FaultRecord => r.ev === 'fault').map((r) => [r.t - t0, r.what]);
    expect(over).toEqual([
      [0, 'brokerSlow'],
      [sec(5), 'brokerSlow-over'],
    ]);
    const bare = createModem({ groups: COMMAND_GROUPS.filter((g) => g.name !== 'mqtt') });
    cleanups.push(() => bare.close());
    await expect(bare.faults.brokerSlow(sec(1), sec(1))).rejects.toThrow(FaultError);
    await expect(bare.faults.brokerSlow(sec(1), sec(1))).rejects.toThrow('this modem has no mqtt group');
  });
});
