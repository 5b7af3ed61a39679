/**
 * The MQTT link when things go wrong or elsewhere: TCP drops and recovery (seed), the broker's
 * connect window (behaviour §13), keepalive on model time (§18), SSLMIPSTART and SNI (§12),
 * routes and pass-through, CONNECT FAIL, PDP loss (§9) and reboot (§7).
 */
import { recentGuardExpiries } from '../sim/kernel.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../sim/broker/index.js';
import { ms, sec } from '../sim/kernel.js';
import { createModem, type Modem, type ModemOptions } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import { cleanupsAfterEach, dataReadyModem, freePort } from './helpers.js';
import { CONNACK_ACCEPTED, connectSession, exact, FarSide, nextUrc, scriptedPeer, sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('mqtt-faults-');
const cleanups = cleanupsAfterEach();

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await dataReadyModem({ mqtt: mqttOptionsFromBroker(shared.broker), traceMemory: true, ...opts });
  cleanups.push(() => m.close());
  return m;
}

async function farSide(topic: string): Promise<FarSide> {
  const f = await FarSide.connect(shared.broker.url);
  cleanups.push(() => f.close());
  await f.subscribe(topic, 1);
  return f;
}

/** A peer that answers CONNECT with CONNACK and then says nothing, ever (no PINGRESP). */
function silentBroker(): Promise<number> {
  return scriptedPeer(cleanups, (s, d) => {
    if (d[0] === 0x10) s.write(CONNACK_ACCEPTED);
  });
}

describe('TCP drop and recovery (seed: CLOSED → MQTTSTATU → MIPSTART)', () => {
  it('the broker drops the client: CLOSED, state 0, MIPCLOSE 767, and MIPSTART works again', async () => {
    const m = await modem();
    await exact(m, 'AT+MCONFIG=drop-modem,"",""', '\r\nOK\r\n');
    await connectSession(m, '127.0.0.1', String(shared.broker.port));
    expect(shared.broker.disconnectClient('drop-modem')).toBe(true);
    await nextUrc(m, 'CLOSED');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await exact(m, 'AT+MPUB="t",0,0,"x"', '\r\n+CME ERROR: 767\r\n');
    await exact(m, 'AT+MIPCLOSE', '\r\n+CME ERROR: 767\r\n');
    const f = await farSide('back/t');
    await connectSession(m, '127.0.0.1', String(shared.broker.port));
    await exact(m, 'AT+MPUB="back/t",1,0,"again"', '\r\nOK\r\n');
    await nextUrc(m, 'PUBACK');
    expect((await f.waitFor('back/t'))[0]!.toString()).toBe('again');
  });

  it('with the default connect window (15 s, as EMQX) an MCONNECT sent 12 s of wall time after CONNECT OK gets CONNACK OK', async () => {
    const patient = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: shared.dataDir });
    cleanups.push(() => patient.close());
    const m = await modem({ mqtt: mqttOptionsFromBroker(patient) });
    await exact(m, 'AT+MIPSTART="broker.example.com",1883', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    // the window is the broker's, on the wall clock: this waits for the broker, not the model
    await new Promise((r) => setTimeout(r, 12_000));
    await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
  }, 30_000);

  it('an MCONNECT later than the broker\'s connect window finds CLOSED, then 767', async () => {
    const hasty = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: shared.dataDir, connectTimeoutMs: 300 });
    cleanups.push(() => hasty.close());
    const m = await modem({ mqtt: mqttOptionsFromBroker(hasty) });
    await exact(m, 'AT+MIPSTART="broker.example.com",1883', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    // model idle: the wait lets the broker's wall-clock window run out
    await nextUrc(m, 'CLOSED', sec(30));
    await exact(m, 'AT+MCONNECT=1,60', '\r\n+CME ERROR: 767\r\n');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  });

  it('a broker outage (pause) closes the session: CLOSED', async () => {
    const flaky = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: shared.dataDir });
    cleanups.push(() => flaky.close());
    const m = await modem({ mqtt: mqttOptionsFromBroker(flaky) });
    await connectSession(m);
    await flaky.pause();
    await nextUrc(m, 'CLOSED');
    await exact(m, 'AT+MIPSTART="127.0.0.1",1883', '\r\nOK\r\n');
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
    await flaky.resume();
    await connectSession(m);
  });
});

describe('keepalive on the model clock', () => {
  it('PINGREQs keep the session up through ten minutes of model time', async () => {
    const m = await modem();
    await connectSession(m, '127.0.0.1', '1883', 60);
    const t0 = m.kernel.now;
    await m.host.advance(sec(600));
    expect(m.kernel.now - t0).toBe(sec(600));
    expect(m.mqtt.link.stats.pings).toBeGreaterThanOrEqual(9);
    expect(m.mqtt.link.stats.pings).toBeLessThanOrEqual(11);
    expect(m.host.take()).toBe('');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :1\r\n\r\nOK\r\n');
  });

  it('a peer that stops answering is given up after 1.5 × keepalive: CLOSED, once its PINGRESP guard has run out', async () => {
    const port = await silentBroker();
    const m = await modem({ mqtt: { broker: { url: `mqtt://127.0.0.1:${port}` } } });
    await exact(m, 'AT+MIPSTART="127.0.0.1",1883', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MCONNECT=1,2', '\r\nOK\r\n');
    const up = await nextUrc(m, 'CONNACK OK');
    const closed = await nextUrc(m, 'CLOSED', sec(10));
    expect(closed - up).toBeGreaterThan(sec(2.7));
    expect(closed - up).toBeLessThan(sec(3.1));
    // a dead peer is the one case a guard is for: it ran out, and said so
    expect(new Set(recentGuardExpiries.splice(0).map((e) => e.label))).toEqual(new Set(['mqtt-pingresp']));
  });

  it('an OK\'d QoS 1 publish whose PUBACK cannot come (the peer drops the link) is reported ERROR before CLOSED', async () => {
    const port = await silentBroker();
    const m = await modem({ mqtt: { broker: { url: `mqtt://127.0.0.1:${port}` } } });
    await exact(m, 'AT+MIPSTART="127.0.0.1",1883', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MCONNECT=1,2', '\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
    await exact(m, 'AT+MPUB="q/t",1,0,"never acked"', '\r\nOK\r\n');
    const out = (await m.host.expect('CLOSED\r\n', sec(10))).text;
    expect(out).toMatch(/\r\nERROR\r\n(.|\r|\n)*\r\nCLOSED\r\n$/);
    recentGuardExpiries.splice(0);
  });
});

describe('SSLMIPSTART and routing', () => {
  it('SSLMIPSTART reaches the TLS listener; the asked name is the SNI, verified against the broker CA', async () => {
    const m = await modem();
    const f = await farSide('tls/t');
    await exact(m, 'AT+SSLMIPSTART="mqtt.example.com",8883', '\r\nOK\r\n');
    const ok = m.kernel.now;
    const at = await nextUrc(m, 'CONNECT OK');
    expect(at - ok).toBeGreaterThanOrEqual(sec(1.4));
    expect(at - ok).toBeLessThanOrEqual(sec(2.35));
    await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
    await exact(m, 'AT+MPUB="tls/t",0,0,"sealed"', '\r\nOK\r\n');
    expect((await f.waitFor('tls/t'))[0]!.toString()).toBe('sealed');
    const dial = m.trace.records.find((r) => r.ev === 'net' && r.what === 'mqtt-dial');
    expect(dial).toMatchObject({ detail: { tls: true, servername: 'mqtt.example.com', port: shared.broker.tlsPort } });
  });

  it('a chain that does not verify ends SSLMIPSTART in STATE + CONNECT FAIL', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'mqtt-other-ca-'));
    const other = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: otherDir });
    cleanups.push(async () => {
      await other.close();
      rmSync(otherDir, { recursive: true, force: true });
    });
    const m = await modem({ mqtt: { broker: { url: shared.broker.url, tlsUrl: shared.broker.tlsUrl, ca: other.caPem } } });
    await exact(m, 'AT+SSLMIPSTART="mqtt.example.com",8883', '\r\nOK\r\n');
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  });

  it('routes pick the destination first; the rest goes to the broker (here: nobody home)', async () => {
    const dead = await freePort();
    const m = await modem({
      mqtt: { broker: { url: `mqtt://127.0.0.1:${dead}` }, routes: [{ from: 'iot.example.com:1883', to: `127.0.0.1:${shared.broker.port}` }] },
    });
    await exact(m, 'AT+MIPSTART="iot.example.com",1883', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MIPCLOSE', '\r\nOK\r\n');
    await exact(m, 'AT+MIPSTART="other.example.com",1883', '\r\nOK\r\n');
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
  });

  it('pass-through connects to what the host asked for', async () => {
    const m = await modem({ mqtt: { passThrough: true } });
    await connectSession(m, '127.0.0.1', String(shared.broker.port));
    await exact(m, 'AT+MIPCLOSE', '\r\nOK\r\n');
    const dead = await freePort();
    await exact(m, `AT+MIPSTART="127.0.0.1",${dead}`, '\r\nOK\r\n');
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
  });
});

describe('bearer and power', () => {
  it('MIPSTART before the data bearer is up: 767', async () => {
    const m = createModem({ mqtt: mqttOptionsFromBroker(shared.broker) });
    cleanups.push(() => m.close());
    await m.host.expect('RDY\r\n', sec(30));
    expect(m.pdp.dataReady).toBe(false);
    await exact(m, 'AT+MIPSTART="127.0.0.1",1883', '\r\n+CME ERROR: 767\r\n');
  });

  it('PDP loss drops the link silently; MIPSTART is 767 until AT+CIPSHUT', async () => {
    const m = await modem();
    const f = await farSide('will/pdp');
    await exact(m, 'AT+MCONFIG=pdp-modem,"","",0,0,"will/pdp","gone"', '\r\nOK\r\n');
    await connectSession(m);
    m.clock.inject('test-pdp-loss', () => m.pdp.networkDeactivate());
    const r = await m.host.expect('+PDP DEACT\r\n');
    expect(r.text).toBe('\r\n+PDP DEACT\r\n');
    await m.host.advance(sec(5));
    expect(m.host.take()).toBe('');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await exact(m, 'AT+MIPSTART="127.0.0.1",1883', '\r\n+CME ERROR: 767\r\n');
    // the broker saw the socket die without DISCONNECT
    expect((await f.waitFor('will/pdp'))[0]!.toString()).toBe('gone');
    await exact(m, 'AT+CIPSHUT', '\r\nSHUT OK\r\n');
    expect(await m.host.command('AT+CGACT=1,1')).toMatch(/OK\r\n$/);
    await connectSession(m);
  });

  it('a reboot forgets the link, the mode, the report setting and the cache', async () => {
    const m = await modem();
    const f = await farSide('none');
    await connectSession(m);
    await exact(m, 'AT+MQTTMSGSET=1', '\r\nOK\r\n');
    await exact(m, 'AT+MQTTMODE=1', '\r\nOK\r\n');
    await exact(m, 'AT+MSUB="r/t",0', '\r\nOK\r\n');
    await nextUrc(m, 'SUBACK');
    await f.client.publishAsync('r/t', 'cached');
    await nextUrc(m, '+MSUB: 0');
    await exact(m, 'AT+RESET', '\r\nOK\r\n');
    await m.host.expect('RDY', sec(30));
    await m.clock.waitUntil(() => m.pdp.dataReady, sec(60));
    m.host.take();
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMODE?', '\r\n+MQTTMODE: 0\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGSET?', '\r\n+MQTTMSGSET:0\r\n\r\nOK\r\n');
    await exact(m, 'AT+MQTTMSGGET', '\r\nOK\r\n');
    await connectSession(m);
  });
});

describe('real time', () => {
  it('the same flow on the wall clock (serve --clock realtime)', async () => {
    const quick = { base: ms(50), jitter: 0 };
    const m = await dataReadyModem({
      clock: 'realtime',
      mqtt: mqttOptionsFromBroker(shared.broker),
      profileOverrides: { boot: { urcs: [{ text: 'RDY', at: ms(50) }] }, network: { simReady: quick, register: quick, defaultPdp: quick } },
    });
    cleanups.push(() => m.close());
    const f = await farSide('rt/t');
    await connectSession(m, 'rt.example.com', '1883', 30);
    await exact(m, 'AT+MPUB="rt/t",1,0,"wall"', '\r\nOK\r\n');
    await nextUrc(m, 'PUBACK');
    expect((await f.waitFor('rt/t'))[0]!.toString()).toBe('wall');
  });
});
