/**
 * "Nothing is lost silently" on the MQTT side, through the serial endpoint and a real broker:
 * floods of inbound messages (cache and direct mode) stay bounded, a message that arrives
 * while a command or a raw-data prompt runs is held and printed after the final result, one
 * taken off the socket just before the host closes the link is still printed, a QoS 1 publish
 * whose link drops before PUBACK shows as ERROR then CLOSED, never a PUBACK, and a reboot that swallows
 * pending output says so in the trace.
 */
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { ms, sec } from '../sim/kernel.js';
import type { Modem, ModemOptions } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import type { TraceRecord } from '../sim/trace.js';
import { cleanupsAfterEach, dataReadyModem, heapMb } from './helpers.js';
import { CONNACK_ACCEPTED, exact, FarSide, nextUrc, scriptedPeer, sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('robust-mqtt-');
const cleanups = cleanupsAfterEach();

type Fault = Extract<TraceRecord, { ev: 'fault' }>;
const faultLog = new WeakMap<Modem, Fault[]>();

/**
 * A booted modem with echo off. Only faults are kept from the trace, and the host port keeps
 * no byte log, so heap figures show the model, not the test's records of it.
 */
async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await dataReadyModem({ mqtt: mqttOptionsFromBroker(shared.broker), ...opts });
  cleanups.push(() => m.close());
  const log: Fault[] = [];
  faultLog.set(m, log);
  m.trace.onRecord((r) => {
    if (r.ev === 'fault') log.push(r);
  });
  m.host.keepLog = false;
  await exact(m, 'ATE0', '\r\nOK\r\n');
  return m;
}

async function farSide(): Promise<FarSide> {
  const f = await FarSide.connect(shared.broker.url);
  cleanups.push(() => f.close());
  return f;
}

/** A session subscribed to `filter` at QoS 1. */
async function subscribed(m: Modem, id: string, filter: string): Promise<void> {
  m.host.write(`AT+MCONFIG=${id},"",""\r`);
  expect((await m.host.expect('OK\r\n')).text).toBe('\r\nOK\r\n');
  await connectSessionQuiet(m);
  expect(await m.host.command(`AT+MSUB="${filter}",1`)).toBe('\r\nOK\r\n');
  await nextUrc(m, 'SUBACK');
}

/** connectSession with echo off. */
async function connectSessionQuiet(m: Modem): Promise<void> {
  expect(await m.host.command('AT+MIPSTART="broker.example.com",1883')).toBe('\r\nOK\r\n');
  await nextUrc(m, 'CONNECT OK');
  expect(await m.host.command('AT+MCONNECT=1,60')).toBe('\r\nOK\r\n');
  await nextUrc(m, 'CONNACK OK');
}

/**
 * Run model time (at most `budgetMs` of it) until `cond`, letting broker traffic in as it
 * comes: an idle model waits (the clock's idle grace, wall time) for the next message.
 */
async function pump(m: Modem, cond: () => boolean, budgetMs = 500): Promise<void> {
  await m.clock.waitUntil(cond, ms(budgetMs));
  expect(cond()).toBe(true);
}

const faults = (m: Modem, what: string): Fault[] => (faultLog.get(m) ?? []).filter((r) => r.what === what);

const body = (i: number, n: number): string => `${i}:`.padEnd(n, String.fromCharCode(97 + (i % 26)));

describe('floods of inbound messages', () => {
  it('cache mode: 500 messages keep 4 slots, every overwrite is announced and traced, the newest 4 read out', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'flood-cache', 'flood/c');
    expect(await m.host.command('AT+MQTTMSGSET=1')).toBe('\r\nOK\r\n');
    const before = heapMb();
    for (let i = 0; i < 500; i++) f.client.publish('flood/c', body(i, 1000), { qos: 1 });
    await pump(m, () => m.mqtt.link.stats.received >= 500, 5000);
    await m.host.advance(sec(5));
    const out = m.host.take();
    const after = heapMb();
    expect(out).toBe(Array.from({ length: 500 }, (_, i) => `\r\n+MSUB: ${i % 4}\r\n`).join(''));
    expect(m.mqtt.cache.overwrites).toBe(496);
    expect(faults(m, 'mqtt-cache-overwrite')).toHaveLength(496);
    const newest = [496, 497, 498, 499].map((i) => `\r\n+MSUB: flood/c,1000 byte,${body(i, 1000)}\r\n`).join('');
    expect(await m.host.command('AT+MQTTMSGGET')).toBe(`${newest}\r\nOK\r\n`);
    expect(await m.host.command('AT+MQTTMSGGET')).toBe('\r\nOK\r\n');
    console.log(`cache mode, 500 × 1000 B: heap ${before.toFixed(1)} → ${after.toFixed(1)} MB`);
    expect(after - before).toBeLessThan(16);
  });

  it('direct mode: 300 messages are each printed once, whole and in order', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'flood-direct', 'flood/d');
    const before = heapMb();
    for (let i = 0; i < 300; i++) f.client.publish('flood/d', body(i, 200), { qos: 1 });
    // the UART needs about 5.7 s of model time for these and the session reads no faster;
    // model timers may run ahead while the first messages are still on loopback
    await pump(m, () => m.mqtt.link.stats.received >= 300, 300_000);
    await m.host.advance(sec(10));
    const out = m.host.take();
    const after = heapMb();
    expect(out).toBe(Array.from({ length: 300 }, (_, i) => `\r\n+MSUB: "flood/d",200 byte,${body(i, 200)}\r\n`).join(''));
    console.log(`direct mode, 300 × 200 B: heap ${before.toFixed(1)} → ${after.toFixed(1)} MB`);
    expect(faults(m, 'urc-overflow')).toEqual([]);
  });
});

describe('a message that arrives while the module is busy', () => {
  it('during a command: held, then printed right after its final result', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'held-cmd', 'held/t');
    // AT+COPS=? scans for 2 to 4 s
    m.host.write('AT+COPS=?\r');
    await m.host.advance(ms(100));
    f.client.publish('held/t', 'during', { qos: 1 });
    await pump(m, () => m.mqtt.link.stats.received >= 1);
    await m.host.advance(ms(100));
    expect(m.host.pending).toBe('');
    const r = await m.host.expect('\r\nOK\r\n', sec(10));
    expect(r.text).toBe('\r\n+COPS: (2,"CHINA MOBILE","CMCC","46000",7),,(0-4),(0-2)\r\n\r\nOK\r\n');
    await nextUrc(m, '+MSUB: "held/t",6 byte,during');
  });

  it('during an FSWRITE prompt: held, then printed after the OK; the raw bytes are not disturbed', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'held-raw', 'held/raw');
    expect(await m.host.command('AT+FSCREATE=raw.bin')).toBe('\r\nOK\r\n');
    m.host.write('AT+FSWRITE=raw.bin,0,8,10\r');
    await m.host.expect('\r\n>');
    f.client.publish('held/raw', 'in-prompt', { qos: 1 });
    await pump(m, () => m.mqtt.link.stats.received >= 1);
    await m.host.advance(ms(100));
    expect(m.host.pending).toBe('');
    m.host.write('12345678');
    expect((await m.host.expect('\r\nOK\r\n')).text).toBe('\r\nOK\r\n');
    await nextUrc(m, '+MSUB: "held/raw",9 byte,in-prompt');
    expect(Buffer.from(m.fs.flash.read('raw.bin')).toString()).toBe('12345678');
  });

  it('during an MPUBEX prompt: held, then printed after the publish OK', async () => {
    const m = await modem();
    const f = await farSide();
    await f.subscribe('pubex/out', 1);
    await subscribed(m, 'held-pubex', 'held/pubex');
    m.host.write('AT+MPUBEX="pubex/out",0,0,5\r');
    await m.host.expect('\r\n>');
    f.client.publish('held/pubex', 'meanwhile', { qos: 1 });
    await pump(m, () => m.mqtt.link.stats.received >= 1);
    await m.host.advance(ms(100));
    expect(m.host.pending).toBe('');
    m.host.write('hello');
    expect((await m.host.expect('\r\nOK\r\n')).text).toBe('\r\nOK\r\n');
    await nextUrc(m, '+MSUB: "held/pubex",9 byte,meanwhile');
    expect((await f.waitFor('pubex/out'))[0]!.toString()).toBe('hello');
  });

  it('a flood during one long prompt: the session stops reading the socket and nothing is dropped', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'held-many', 'held/many');
    await m.host.command('AT+FSCREATE=w.bin');
    m.host.write('AT+FSWRITE=w.bin,0,4,600\r');
    await m.host.expect('\r\n>');
    for (let i = 0; i < 300; i++) f.client.publish('held/many', `n${i}`, { qos: 1 });
    await pump(m, () => m.mqtt.link.stats.inboundPaused > 0, 5000);
    await m.host.advance(sec(1));
    // the module holds what it took; the broker keeps the rest, unacknowledged
    expect(m.engine.heldUrcCount).toBeLessThan(256);
    expect(m.mqtt.link.stats.received).toBeLessThan(300);
    m.host.write('done');
    await m.host.expect('\r\nOK\r\n');
    await pump(m, () => m.mqtt.link.stats.received >= 300, 30_000);
    await m.host.advance(sec(2));
    const kept = m.host.take().match(/\+MSUB: "held\/many",\d+ byte,n\d+/g) ?? [];
    expect(kept).toEqual(Array.from({ length: 300 }, (_, i) => `+MSUB: "held/many",${String(i).length + 1} byte,n${i}`));
    expect(faults(m, 'urc-overflow')).toEqual([]);
  });
});

describe('the module lets go of the link while a message is on its way to the UART', () => {
  for (const cmd of ['AT+MIPCLOSE', 'AT+MDISCONNECT']) {
    it(`${cmd} just after a message was taken off the socket: the message is still printed`, async () => {
      const m = await modem();
      const f = await farSide();
      await subscribed(m, `late-${cmd.slice(3)}`, 'late/t');
      f.client.publish('late/t', 'just-in', { qos: 1 });
      await pump(m, () => m.mqtt.link.stats.received >= 1);
      // the URC is 10 to 20 ms away; the command line takes about 5 ms
      m.host.write(`${cmd}\r`);
      expect((await m.host.expect('\r\nOK\r\n')).text).toBe('\r\nOK\r\n');
      await nextUrc(m, '+MSUB: "late/t",7 byte,just-in');
      await m.host.advance(sec(2));
      expect(m.host.take()).toBe('');
    });
  }

  it('a reboot (power cut) while a message is held: no URC after RDY, the loss is in the trace', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'late-reboot', 'late/r');
    m.host.write('AT+COPS=?\r');
    await m.host.advance(ms(100));
    f.client.publish('late/r', 'doomed', { qos: 1 });
    await pump(m, () => m.mqtt.link.stats.received >= 1);
    await m.host.advance(ms(100));
    m.clock.inject('power-cut', () => m.reboot());
    await m.host.expect('SMS READY', sec(30));
    await m.host.advance(sec(5));
    expect(m.host.take()).not.toContain('+MSUB');
    expect(faults(m, 'output-lost-at-reboot')).toMatchObject([{ detail: { urcs: 1, lines: 0, command: true } }]);
  });

  it('a message taken just before a power cut: the loss is in the trace', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'cut-rx', 'cut/rx');
    f.client.publish('cut/rx', 'gone', { qos: 1 });
    await pump(m, () => m.mqtt.link.stats.received >= 1);
    // the power cut itself, before the 10 to 20 ms the URC needs
    m.mqtt.powerOff();
    expect(faults(m, 'mqtt-rx-lost')).toMatchObject([{ detail: { why: 'power-off', messages: 1 } }]);
  });
});

describe('publish and reboot against loss', () => {
  /** A peer that takes CONNECT and PUBLISH, acknowledges only the CONNECT, and hangs up after a PUBLISH. */
  function forgetfulBroker(): Promise<number> {
    return scriptedPeer(cleanups, (s, d) => {
      if (d[0] === 0x10) s.write(CONNACK_ACCEPTED);
      else if ((d[0]! & 0xf0) === 0x30) s.destroy();
    });
  }

  it('an MPUB at QoS 1 OK\'d whose link drops before PUBACK: ERROR then CLOSED and no PUBACK, the message traced as lost', async () => {
    const port = await forgetfulBroker();
    const m = await modem({ mqtt: { broker: { url: `mqtt://127.0.0.1:${port}` } } });
    await connectSessionQuiet(m);
    expect(await m.host.command('AT+MPUB="q1/t",1,0,"fragile"')).toBe('\r\nOK\r\n');
    expect((await m.host.expect('\r\nCLOSED\r\n')).text).toBe('\r\nERROR\r\n\r\nCLOSED\r\n');
    await m.host.advance(sec(5));
    expect(m.host.take()).toBe('');
    expect(faults(m, 'mqtt-inflight-lost')).toMatchObject([{ detail: { op: 'mqtt-puback' } }]);
    expect(await m.host.command('AT+MQTTSTATU')).toBe('\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  });

  /**
   * A broker that keeps persistent sessions but hangs up on the first PUBLISH of a connection
   * without acknowledging it; a re-sent one (DUP) it acknowledges. `seen` gets every PUBLISH.
   */
  async function sessionKeepingBroker(seen: Array<{ dup: boolean; payload: string }>): Promise<number> {
    return scriptedPeer(cleanups, (s, d) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (p: Packet) => {
        if (p.cmd === 'connect') s.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: !p.clean }));
        else if (p.cmd === 'publish') {
          seen.push({ dup: p.dup === true, payload: p.payload.toString() });
          if (p.dup && p.messageId !== undefined) s.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId }));
          else s.destroy();
        }
      });
      parser.parse(d);
    });
  }

  async function sessionOn(m: Modem, clean: 0 | 1): Promise<void> {
    expect(await m.host.command('AT+MIPSTART="broker.example.com",1883')).toBe('\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    expect(await m.host.command(`AT+MCONNECT=${clean},60`)).toBe('\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
  }

  it('a QoS 1 MPUB cut before its PUBACK in a persistent session is re-sent on the clean=0 reconnect, and its PUBACK printed then', async () => {
    const seen: Array<{ dup: boolean; payload: string }> = [];
    const port = await sessionKeepingBroker(seen);
    const m = await modem({ mqtt: { broker: { url: `mqtt://127.0.0.1:${port}` } } });
    await sessionOn(m, 0);
    expect(await m.host.command('AT+MPUB="q1/t",1,0,"fragile"')).toBe('\r\nOK\r\n');
    expect((await m.host.expect('\r\nCLOSED\r\n')).text).toBe('\r\nCLOSED\r\n');
    await sessionOn(m, 0);
    expect((await m.host.expect('\r\nPUBACK\r\n')).text).toBe('\r\nPUBACK\r\n');
    expect(seen).toEqual([
      { dup: false, payload: 'fragile' },
      { dup: true, payload: 'fragile' },
    ]);
    expect(faults(m, 'mqtt-inflight-lost')).toEqual([]);
  });

  it('a persistent session given up with clean=1 tells the host ERROR for each OK\'d PUBLISH it drops, and re-sends nothing', async () => {
    const seen: Array<{ dup: boolean; payload: string }> = [];
    const port = await sessionKeepingBroker(seen);
    const m = await modem({ mqtt: { broker: { url: `mqtt://127.0.0.1:${port}` } } });
    await sessionOn(m, 0);
    expect(await m.host.command('AT+MPUB="q1/t",1,0,"fragile"')).toBe('\r\nOK\r\n');
    await nextUrc(m, 'CLOSED');
    expect(await m.host.command('AT+MIPSTART="broker.example.com",1883')).toBe('\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    expect(await m.host.command('AT+MCONNECT=1,60')).toBe('\r\nOK\r\n');
    expect((await m.host.expect('\r\nCONNACK OK\r\n')).text).toBe('\r\nERROR\r\n\r\nCONNACK OK\r\n');
    await m.host.advance(sec(2));
    expect(seen).toEqual([{ dup: false, payload: 'fragile' }]);
    expect(faults(m, 'mqtt-inflight-lost')).toMatchObject([{ detail: { op: 'PUBACK', why: 'replaced' } }]);
  });

  it('AT+RESET with a line queued behind it: the line is answered before the reboot', async () => {
    const m = await modem();
    m.host.write('AT+RESET\rAT+CSQ\r');
    expect((await m.host.expect('RDY', sec(10))).text).toBe('\r\nOK\r\n\r\n+CSQ: 24,99\r\n\r\nOK\r\n\r\nRDY');
    expect(faults(m, 'output-lost-at-reboot')).toEqual([]);
  });
});

// ---- generated MQTT command lines against a live session ---------------------------------

/** ROBUST_RUNS=<n> scales the property runs for a long exploratory run. */
const scale = Number(process.env.ROBUST_RUNS ?? 1);

const mqttParam: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('0', '1', '2', '3', '-1', '', '99999999999999999999', '1360', '1361', '65535', '65536'),
  fc.constantFrom('"fz/t"', 'fz/t', '"fz/#"', '"#"', '"+"', '"fz/+/x"', '"a#"', '"a+b"', '""', '"/"', '"fz/\x00"', '"\xc3\xa9t"', '"\xff"'),
  fc.constantFrom('"hello"', '"\\22q\\22"', '"\\0D\\0A"', '"313233"', '"31323"', '"zz"', '"', '"unterminated', ',,,,', '"a;b"'),
  fc.integer({ min: 250, max: 300 }).map((n) => `"${'t'.repeat(n)}"`),
  fc.integer({ min: 1350, max: 1400 }).map((n) => `"${'p'.repeat(n)}"`),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 12 }).filter((x) => !x.includes('"')),
);

const topicArg = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('"fz/t"', 'fz/t', '"fz/\xc3\xa9"', '"fz/#"', '"fz/+/x"') },
  { weight: 1, arbitrary: fc.constantFrom('"#"', '"+"', '"a#"', '""', '"fz/\x00"', '"\xff"', `"${'t'.repeat(257)}"`) },
);
/** Mostly 0..max, sometimes out of range or not a number. */
const small = (max: number): fc.Arbitrary<string> =>
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max }).map(String) }, { weight: 1, arbitrary: fc.constantFrom('-1', '', '99999999999', '"1"', String(max + 1)) });
const messageArg = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('"hello"', '""', '"\\22q\\22\\0D\\0A"', '"313233"') },
  { weight: 1, arbitrary: fc.constantFrom('"31323"', '"zz"', '"unterminated', 'bare') },
  { weight: 1, arbitrary: fc.integer({ min: 1300, max: 1400 }).map((n) => `"${'p'.repeat(n)}"`) },
);

/** Parameter lists shaped like each command's own, most of them valid, some a little off. */
const shaped: Readonly<Record<string, fc.Arbitrary<string[]>>> = {
  '+MPUB': fc.tuple(topicArg, small(2), small(1), messageArg),
  '+MPUBEX': fc.tuple(topicArg, small(2), small(1), fc.constantFrom('3', '1', '0', '1361')),
  '+MSUB': fc.tuple(topicArg, small(2)),
  '+MUNSUB': fc.tuple(topicArg),
  '+MCONFIG': fc.constantFrom(['fuzz-modem'], ['fuzz-modem', '"u"', '"p"'], ['""'], ['fuzz-modem', '', '', '1', '0', '"fz/will"', '"bye"'], ['x', '"u"']),
  '+MIPSTART': fc.tuple(fc.constantFrom('"broker.example.com"', '127.0.0.1', '""'), small(65535)),
  '+SSLMIPSTART': fc.tuple(fc.constantFrom('"broker.example.com"', '""'), small(65535)),
  '+MCONNECT': fc.tuple(small(1), small(65535)),
  '+MQTTMODE': fc.tuple(small(1)),
  '+MQTTMSGSET': fc.tuple(small(1)),
};

describe('generated MQTT command lines against a live session', () => {
  it('never throw or hang; AT answers and no I/O hold is left open afterwards', async () => {
    const m = await modem();
    const f = await farSide();
    const names = m.engine.table
      .entries()
      .filter((e) => e.group === 'mqtt')
      .map((e) => e.spec.name);
    const line = fc
      .record({
        name: fc.constantFrom(...names),
        form: fc.constantFrom('=?', '?', '', '=', '=', '=', '='),
        args: fc.array(mqttParam, { maxLength: 8 }),
        inbound: fc.boolean(),
      })
      .chain(({ name, form, args, inbound }) =>
        (form === '=' && shaped[name] ? fc.oneof(fc.constant(args), shaped[name]!, shaped[name]!, shaped[name]!) : fc.constant(args)).map((a) => ({
          text: `AT${name}${form}${form === '=' ? a.join(',') : ''}`,
          inbound,
        })),
      );
    let runs = 0;
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(line, async ({ text, inbound }) => {
        runs++;
        if (m.mqtt.link.status !== 1) await resume(m);
        if (inbound) f.client.publish('fz/t', `in-${runs}`, { qos: 1 });
        m.host.write(text + '\r');
        const answered = await m.clock.waitUntil(() => /\r\n(OK|ERROR|\+CME ERROR: \d+)\r\n|\r\n>/.test(m.host.pending), sec(60));
        expect(answered, `${JSON.stringify(text)} → ${JSON.stringify(m.host.pending)}`).toBe(true);
        // a raw prompt ends by its 5 s gap; late URCs (PUBACK, SUBACK, +MSUB) come meanwhile
        await m.host.advance(sec(6));
        const out = m.host.take();
        for (const c of out.matchAll(/\+CME ERROR: (\d+)/g)) expect([765, 767, 797]).toContain(Number(c[1]));
        for (const u of out.matchAll(/\r\n(OK|PUBACK|PUBCOMP|SUBACK|UNSUBACK|\+MSUB: [^\r]*)\r\n/g)) {
          const k = u[1]!.startsWith('+MSUB') ? '+MSUB' : u[1]!;
          seen.set(k, (seen.get(k) ?? 0) + 1);
        }
      }),
      { numRuns: 300 * scale, seed: 1883 * scale },
    );
    expect(runs).toBe(300 * scale);
    console.log('MQTT lines: answers and URCs seen', Object.fromEntries(seen));
    // the lines reach the broker, not only the parameter checks
    for (const k of ['OK', 'PUBACK', '+MSUB']) expect(seen.get(k) ?? 0, k).toBeGreaterThan(0);
    expect(await m.host.command('AT')).toBe('\r\nOK\r\n');
    await m.host.advance(sec(1));
    expect(m.kernel.holdsOpen).toBe(0);
    expect(faults(m, 'handler-threw')).toEqual([]);
  });
});

/** Back to a session whatever the last line did (MIPCLOSE, MDISCONNECT, a refused client id). */
async function resume(m: Modem): Promise<void> {
  await m.host.command('AT+MIPCLOSE');
  expect(await m.host.command('AT+MCONFIG=fuzz-modem,"",""')).toBe('\r\nOK\r\n');
  await m.host.advance(sec(1));
  m.host.take();
  await connectSessionQuiet(m);
  expect(await m.host.command('AT+MSUB="fz/#",1')).toBe('\r\nOK\r\n');
  await nextUrc(m, 'SUBACK');
}

describe('inbound payloads past the module limit', () => {
  it('a 1 MB message is printed cut to limits.mqttPayload (1360 bytes), with that length, and traced with its real size', async () => {
    const m = await modem();
    const f = await farSide();
    await subscribed(m, 'big-in', 'big/t');
    f.client.publish('big/t', Buffer.alloc(1_000_000, 0x41), { qos: 0 });
    const got = await m.host.expect(/\+MSUB: "big\/t",(\d+) byte,(A*)\r\n/, sec(10));
    expect(got.groups[0]).toBe('1360');
    expect(got.groups[1]!.length).toBe(1360);
    expect(faults(m, 'mqtt-rx-oversize')).toMatchObject([{ detail: { topic: 'big/t', bytes: 1_000_000, limit: 1360, action: 'truncate' } }]);
  });

  it('with limits.mqttInboundOversize drop, an oversize message prints nothing and the next one still arrives', async () => {
    const m = await modem({ profileOverrides: { limits: { mqttInboundOversize: 'drop' } } });
    const f = await farSide();
    await subscribed(m, 'big-drop', 'big/d');
    f.client.publish('big/d', Buffer.alloc(5000, 0x42), { qos: 0 });
    f.client.publish('big/d', 'small', { qos: 0 });
    expect((await m.host.expect(/\+MSUB: "big\/d",\d+ byte,[^\r]*\r\n/, sec(10))).match).toBe('+MSUB: "big/d",5 byte,small\r\n');
    expect(faults(m, 'mqtt-rx-oversize')).toMatchObject([{ detail: { bytes: 5000, action: 'drop' } }]);
  });
});
