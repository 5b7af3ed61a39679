/**
 * The MQTT command set against the embedded broker on real sockets, with a separate `mqtt`
 * client on the far side checking what the modem published. Byte-exact where the seed shows
 * bytes (seeds/000 "普通流程"; behaviour §10–17).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../sim/broker/index.js';
import { sec } from '../sim/kernel.js';
import type { Modem, ModemOptions } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import { dataReadyModem } from './helpers.js';
import { connectSession, exact, FarSide, nextUrc, openSeedSession, sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('mqtt-test-');
let m: Modem | undefined;
let far: FarSide | undefined;

afterEach(async () => {
  await m?.close();
  await far?.close();
  m = undefined;
  far = undefined;
});

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  m = await dataReadyModem({ mqtt: mqttOptionsFromBroker(shared.broker), traceMemory: true, ...opts });
  return m;
}

async function farSide(topic = 'mqtt/topic'): Promise<FarSide> {
  far = await FarSide.connect(shared.broker.url);
  await far.subscribe(topic, 2);
  return far;
}

describe('the seed plain flow', () => {
  it('MCONFIG, MIPSTART, MCONNECT, MSUB, MPUB ASCII and HEX, cache and direct +MSUB, MDISCONNECT, MIPCLOSE', async () => {
    const m = await modem();
    const f = await farSide();
    await exact(m, 'AT+CGATT?', '\r\n+CGATT: 1\r\n\r\nOK\r\n');
    await exact(m, 'AT+MCONFIG=modemsim-seed,XXXX,$$$$', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await openSeedSession(m, '127.0.0.1', String(shared.broker.port));

    // cache mode, as in the seed's "+MSUB: 0" / AT+MQTTMSGGET part
    await exact(m, 'AT+MQTTMSGSET=1', '\r\nOK\r\n');
    await exact(m, 'AT+MPUB="mqtt/topic",0,0,"SSSSddddd"', '\r\nOK\r\n');
    expect((await f.waitFor('mqtt/topic', 1))[0]!.toString()).toBe('SSSSddddd');
    await nextUrc(m, '+MSUB: 0');
    await exact(
      m,
      'AT+MQTTMSGGET?',
      '\r\n+MQTTMSGGET: 0,VALID\r\n\r\n+MQTTMSGGET: 1,INVALID\r\n\r\n+MQTTMSGGET: 2,INVALID\r\n\r\n+MQTTMSGGET: 3,INVALID\r\n\r\nOK\r\n',
    );
    await exact(m, 'AT+MQTTMSGGET', '\r\n+MSUB: mqtt/topic,9 byte,SSSSddddd\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGGET', '\r\nOK\r\n');

    await exact(m, 'AT+MQTTMODE=1', '\r\nOK\r\n');
    await exact(m, 'AT+MPUB="mqtt/topic",0,0,"313233"', '\r\nOK\r\n');
    expect((await f.waitFor('mqtt/topic', 2))[1]!.toString()).toBe('123');
    await nextUrc(m, '+MSUB: 0');
    await exact(m, 'AT+MQTTMSGGET', '\r\n+MSUB: mqtt/topic,3 byte,123\r\n\r\nOK\r\n');

    await exact(m, 'AT+MQTTMSGSET=0', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTMODE=0', '\r\nOK\r\n');
    await exact(m, 'AT+MPUB="mqtt/topic",0,0,"SSSSddddd"', '\r\nOK\r\n');
    await nextUrc(m, '+MSUB: "mqtt/topic",9 byte,SSSSddddd');

    await exact(m, 'AT+MDISCONNECT', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await m.host.advance(sec(5));
    expect(m.host.take()).toBe('');
    await exact(m, 'AT+MIPCLOSE', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await m.host.advance(sec(5));
    expect(m.host.take()).toBe('');
  });

  it('credentials may be quoted or not, and empty ones are written ""', async () => {
    const m = await modem();
    await exact(m, 'AT+MCONFIG="id-1","user","pass"', '\r\nOK\r\n');
    await exact(m, 'AT+MCONFIG=id-2,"",""', '\r\nOK\r\n');
    await exact(m, 'AT+MCONFIG=id-3', '\r\nOK\r\n');
    await exact(m, 'AT+MCONFIG=id-4,user', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MCONFIG=', '\r\n+CME ERROR: 765\r\n');
  });

  it('a driver that asks for shared.broker.emqx.io reaches the embedded broker, named in the trace', async () => {
    const m = await modem();
    const f = await farSide('emqx/t');
    await exact(m, 'AT+MCONFIG=emqx-driver,"",""', '\r\nOK\r\n');
    await connectSession(m, 'broker.emqx.io', '1883');
    await exact(m, 'AT+MPUB="emqx/t",0,0,"hello"', '\r\nOK\r\n');
    expect((await f.waitFor('emqx/t'))[0]!.toString()).toBe('hello');
    const dial = m.trace.records.find((r) => r.ev === 'net' && r.what === 'mqtt-dial');
    expect(dial).toMatchObject({ detail: { asked: { host: 'broker.emqx.io', port: 1883 }, port: shared.broker.port, via: 'broker' } });
  });

  it('unquoted host and port work too, and a second MIPSTART answers ALREADY CONNECT', async () => {
    const m = await modem();
    await exact(m, `AT+MIPSTART=127.0.0.1,${shared.broker.port}`, '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, `AT+MIPSTART=127.0.0.1,${shared.broker.port}`, '\r\nOK\r\n');
    await nextUrc(m, 'ALREADY CONNECT');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :2\r\n\r\nOK\r\n');
  });
});

describe('after MDISCONNECT', () => {
  it('the broker has closed: state 0 with no CLOSED, MCONNECT answers 767, and MIPSTART connects afresh', async () => {
    const m = await modem();
    const f = await farSide('again/t');
    await connectSession(m);
    await exact(m, 'AT+MDISCONNECT', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await exact(m, 'AT+MPUB="again/t",0,0,"x"', '\r\n+CME ERROR: 767\r\n');
    await exact(m, 'AT+MCONNECT=0,120', '\r\n+CME ERROR: 767\r\n');
    await m.host.advance(sec(5));
    expect(m.host.take()).toBe('');
    await exact(m, `AT+MIPSTART="127.0.0.1",${shared.broker.port}`, '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MCONNECT=0,120', '\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :1\r\n\r\nOK\r\n');
    await exact(m, 'AT+MPUB="again/t",0,0,"back"', '\r\nOK\r\n');
    expect((await f.waitFor('again/t'))[0]!.toString()).toBe('back');
  });

  it('MIPCLOSE right after MDISCONNECT answers OK, as the manual\'s flow shows; a second one 767', async () => {
    const m = await modem();
    await connectSession(m);
    await exact(m, 'AT+MDISCONNECT', '\r\nOK\r\n');
    await exact(m, 'AT+MIPCLOSE', '\r\nOK\r\n');
    await exact(m, 'AT+MIPCLOSE', '\r\n+CME ERROR: 767\r\n');
  });

  it('prints CLOSED after the OK when the profile says so (spellings.mqttClosedAfterDisconnect)', async () => {
    const m = await modem({ profileOverrides: { spellings: { mqttClosedAfterDisconnect: true } } });
    await connectSession(m);
    await exact(m, 'AT+MDISCONNECT', '\r\nOK\r\n');
    await nextUrc(m, 'CLOSED');
  });
});

describe('nothing OK\'d ends in silence', () => {
  it('MUNSUB then MDISCONNECT at once: the UNSUBACK that came in is printed, after the OK', async () => {
    const m = await modem();
    await connectSession(m);
    await exact(m, 'AT+MSUB="gone/t",0', '\r\nOK\r\n');
    await nextUrc(m, 'SUBACK');
    m.host.write('AT+MUNSUB="gone/t"\rAT+MDISCONNECT\r');
    const out = (await m.host.expect(/UNSUBACK\r\n|ERROR\r\n/, sec(5))).text;
    expect(out).toContain('\r\nOK\r\n');
    expect(out.endsWith('\r\nUNSUBACK\r\n') || out.endsWith('\r\nERROR\r\n')).toBe(true);
  });
});

describe('publish', () => {
  it('QoS 1 gives PUBACK and QoS 2 PUBREC then PUBCOMP, after OK', async () => {
    const m = await modem();
    const f = await farSide('q/t');
    await connectSession(m);
    await exact(m, 'AT+MPUB="q/t",1,0,"one"', '\r\nOK\r\n');
    await nextUrc(m, 'PUBACK');
    await exact(m, 'AT+MPUB="q/t",2,0,"two"', '\r\nOK\r\n');
    await nextUrc(m, 'PUBREC');
    await nextUrc(m, 'PUBCOMP');
    const got = await f.waitFor('q/t', 2);
    expect(got.map(String)).toEqual(['one', 'two']);
    expect(f.messages.map((x) => x.qos)).toEqual([1, 2]);
  });

  it('retain is kept by the broker for a later subscriber', async () => {
    const m = await modem();
    await connectSession(m);
    await exact(m, 'AT+MPUB="ret/t",1,1,"kept"', '\r\nOK\r\n');
    await nextUrc(m, 'PUBACK');
    const f = await farSide('ret/t');
    const [msg] = await f.waitFor('ret/t');
    expect(msg!.toString()).toBe('kept');
    expect(f.messages[0]!.retain).toBe(true);
  });

  it('ASCII mode decodes \\22 \\0D \\0A \\5C and nothing else', async () => {
    const m = await modem();
    const f = await farSide('esc/t');
    await connectSession(m);
    await exact(m, 'AT+MPUB="esc/t",0,0,"{\\22id\\22:\\22123\\22}\\0D\\0A\\5C\\41"', '\r\nOK\r\n');
    expect((await f.waitFor('esc/t'))[0]!.toString('latin1')).toBe('{"id":"123"}\r\n\\\\41');
  });

  it('refuses malformed messages with 765 and publishing before CONNACK OK with 767', async () => {
    const m = await modem();
    await exact(m, 'AT+MPUB="t",0,0,"x"', '\r\n+CME ERROR: 767\r\n');
    await exact(m, 'AT+MSUB="t",0', '\r\n+CME ERROR: 767\r\n');
    await exact(m, 'AT+MCONNECT=1,60', '\r\n+CME ERROR: 767\r\n');
    await exact(m, `AT+MIPSTART="127.0.0.1",${shared.broker.port}`, '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MPUB="t",0,0,"x"', '\r\n+CME ERROR: 767\r\n');
    await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
    await exact(m, 'AT+MPUB="t",0,0,x', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MPUB="t/#",0,0,"x"', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MPUB="t",3,0,"x"', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MQTTMODE=1', '\r\nOK\r\n');
    await exact(m, 'AT+MPUB="t",0,0,"31323"', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MPUB="t",0,0,"3G"', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MPUB="t",0,0,"4a4B"', '\r\nOK\r\n');
  });

  it('the payload limit is the profile\'s: 1360 bytes on air724ug, 4100 on air780e', async () => {
    const m = await modem();
    const f = await farSide('big/t');
    await connectSession(m);
    await exact(m, `AT+MPUB="big/t",0,0,"${'a'.repeat(1360)}"`, '\r\nOK\r\n');
    await exact(m, `AT+MPUB="big/t",0,0,"${'a'.repeat(1361)}"`, '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MQTTMODE=1', '\r\nOK\r\n');
    await exact(m, `AT+MPUB="big/t",0,0,"${'ff'.repeat(1361)}"`, '\r\n+CME ERROR: 765\r\n');
    expect((await f.waitFor('big/t'))[0]!.length).toBe(1360);
    await m.close();
    const e = await modem({ profile: 'air780e' });
    await connectSession(e);
    await exact(e, `AT+MPUB="big/t",0,0,"${'b'.repeat(4100)}"`, '\r\nOK\r\n');
    await exact(e, `AT+MPUB="big/t",0,0,"${'b'.repeat(4101)}"`, '\r\n+CME ERROR: 765\r\n');
    expect((await f.waitFor('big/t', 2))[1]!.length).toBe(4100);
  });

  it('MPUBEX takes <len> raw bytes after the prompt, or data up to Ctrl-Z, or up to a 5 s gap', async () => {
    const m = await modem();
    const f = await farSide('ex/t');
    await connectSession(m);
    m.host.write('AT+MPUBEX="ex/t",1,0,5\r');
    await m.host.expect('\r\n>');
    m.host.write(Buffer.from([0x00, 0x0d, 0x0a, 0x1a, 0xff]));
    await m.host.expect('\r\nOK\r\n');
    await nextUrc(m, 'PUBACK');
    m.host.write('AT+MPUBEX="ex/t",0,0\r');
    await m.host.expect('\r\n>');
    m.host.write('until ctrl-z\x1a');
    await m.host.expect('\r\nOK\r\n');
    m.host.write('AT+MPUBEX="ex/t",0,0\r');
    await m.host.expect('\r\n>');
    m.host.write('idle');
    const ok = await m.host.expect('\r\nOK\r\n', sec(12));
    expect(ok.text).toBe('\r\nOK\r\n');
    const got = await f.waitFor('ex/t', 3);
    expect(got.map((b) => b.toString('latin1'))).toEqual(['\x00\r\n\x1a\xff', 'until ctrl-z', 'idle']);
    await exact(m, 'AT+MPUBEX="ex/t",0,0,1361', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MIPCLOSE', '\r\nOK\r\n');
    await exact(m, 'AT+MPUBEX="ex/t",0,0,3', '\r\n+CME ERROR: 767\r\n');
  });
});

describe('subscribe and receive', () => {
  it('MUNSUB answers UNSUBACK and stops delivery', async () => {
    const m = await modem();
    await connectSession(m);
    await exact(m, 'AT+MSUB="u/+",1', '\r\nOK\r\n');
    await nextUrc(m, 'SUBACK');
    await exact(m, 'AT+MUNSUB="u/+"', '\r\nOK\r\n');
    await nextUrc(m, 'UNSUBACK');
    await exact(m, 'AT+MSUB="u/#/x",0', '\r\n+CME ERROR: 765\r\n');
  });

  it('direct mode prints binary payloads raw, with their byte count', async () => {
    const m = await modem();
    const f = await farSide('none');
    await connectSession(m);
    await exact(m, 'AT+MSUB="bin/t",1', '\r\nOK\r\n');
    await nextUrc(m, 'SUBACK');
    const payload = Buffer.from([0x00, 0x0d, 0x0a, 0x22, 0xff, 0x41]);
    await f.client.publishAsync('bin/t', payload, { qos: 1 });
    const line = '\r\n+MSUB: "bin/t",6 byte,\x00\r\n"\xffA\r\n';
    const r = await m.host.expect(line);
    expect(r.text).toBe(line);
  });

  it('the cache keeps 4 slots, overwrites the oldest and reads out oldest first', async () => {
    const m = await modem();
    const f = await farSide('none');
    await connectSession(m);
    await exact(m, 'AT+MQTTMSGSET=1', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGSET?', '\r\n+MQTTMSGSET:1\r\n\r\nOK\r\n');
    await exact(m, 'AT+MSUB="c/t",1', '\r\nOK\r\n');
    await nextUrc(m, 'SUBACK');
    for (let i = 1; i <= 5; i++) {
      await f.client.publishAsync('c/t', `m${i}`, { qos: 1 });
      await nextUrc(m, `+MSUB: ${(i - 1) % 4}`);
    }
    await exact(
      m,
      'AT+MQTTMSGGET',
      '\r\n+MSUB: c/t,2 byte,m2\r\n\r\n+MSUB: c/t,2 byte,m3\r\n\r\n+MSUB: c/t,2 byte,m4\r\n\r\n+MSUB: c/t,2 byte,m5\r\n\r\nOK\r\n',
    );
    const lost = m.trace.records.filter((r) => r.ev === 'fault' && r.what === 'mqtt-cache-overwrite');
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ detail: { slot: 0, lostTopic: 'c/t', overwrites: 1 } });
    await exact(
      m,
      'AT+MQTTMSGGET?',
      '\r\n+MQTTMSGGET: 0,INVALID\r\n\r\n+MQTTMSGGET: 1,INVALID\r\n\r\n+MQTTMSGGET: 2,INVALID\r\n\r\n+MQTTMSGGET: 3,INVALID\r\n\r\nOK\r\n',
    );
  });
});

describe('session options', () => {
  it('the will of MCONFIG is published when the link dies; will topic and message must be quoted', async () => {
    const m = await modem();
    const f = await farSide('will/t');
    await exact(m, 'AT+MCONFIG=will-modem,u,p,1,0,will/t,"bye"', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MCONFIG=will-modem,u,p,1,0,"will/t",bye', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MCONFIG=will-modem,u,p,1,1,"",""', '\r\n+CME ERROR: 765\r\n');
    await exact(m, 'AT+MCONFIG=will-modem,u,p,1,0,"will/t","bye"', '\r\nOK\r\n');
    await connectSession(m);
    expect(shared.broker.disconnectClient('will-modem')).toBe(true);
    await nextUrc(m, 'CLOSED');
    expect((await f.waitFor('will/t'))[0]!.toString()).toBe('bye');
  });

  it('a broker that refuses the credentials gets OK, then a bare ERROR, then CLOSED', async () => {
    const strict = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: shared.dataDir, auth: { username: 'dev', password: 'secret' } });
    try {
      const m = await modem({ mqtt: mqttOptionsFromBroker(strict) });
      await exact(m, 'AT+MCONFIG=auth-modem,dev,wrong', '\r\nOK\r\n');
      await exact(m, 'AT+MIPSTART="mqtt.example.com",1883', '\r\nOK\r\n');
      await nextUrc(m, 'CONNECT OK');
      await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
      await nextUrc(m, 'ERROR');
      await nextUrc(m, 'CLOSED');
      await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
      await exact(m, 'AT+MCONFIG=auth-modem,dev,secret', '\r\nOK\r\n');
      await connectSession(m);
    } finally {
      await m?.close();
      m = undefined;
      await strict.close();
    }
  });

  it('test forms print the manual\'s templates', async () => {
    const m = await modem();
    await exact(m, 'AT+MCONFIG=?', '\r\n+MCONFIG: <clientid>[,<username>,<password>[,(0-2),(0,1),<will_topic>,<will_message>]]\r\n\r\nOK\r\n');
    await exact(m, 'AT+MIPSTART=?', '\r\n+MIPSTART:"(0,255).(0,255).(0,255).(0,255)",(1-65535)\r\n\r\n+MIPSTART:"DOMAIN NAME",(1-65535)\r\n\r\nOK\r\n');
    await exact(m, 'AT+SSLMIPSTART=?', '\r\n+SSLMIPSTART:"(0,255).(0,255).(0,255).(0,255)",(1-65535)\r\n\r\n+SSLMIPSTART:"DOMAIN NAME",(1-65535)\r\n\r\nOK\r\n');
    await exact(m, 'AT+MCONNECT=?', '\r\n+MCONNECT:(0-1),(1-65535)\r\n\r\nOK\r\n');
    await exact(m, 'AT+MPUB=?', '\r\n+MPUB:<topic>,(0-2),(0-1),<message>\r\n\r\nOK\r\n');
    await exact(m, 'AT+MPUBEX=?', '\r\n+MPUBEX:<topic>,(0-2),(0-1),<len>\r\n\r\nOK\r\n');
    await exact(m, 'AT+MSUB=?', '\r\n+MSUB:<topic>,(0-2)\r\n\r\nOK\r\n');
    await exact(m, 'AT+MUNSUB=?', '\r\n+MUNSUB:<topic>\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMODE=?', '\r\n+MQTTMODE: (0,1)\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMODE?', '\r\n+MQTTMODE: 0\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGSET=?', '\r\n+MQTTMSGSET:(0,1)\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGSET?', '\r\n+MQTTMSGSET:0\r\n\r\nOK\r\n');
    for (const c of ['MQTTMSGGET', 'MDISCONNECT', 'MIPCLOSE', 'MQTTSTATU']) await exact(m, `AT+${c}=?`, '\r\nOK\r\n');
    await exact(m, 'AT+MIPCLOSE', '\r\n+CME ERROR: 767\r\n');
    await exact(m, 'AT+MDISCONNECT', '\r\n+CME ERROR: 767\r\n');
  });
});
