/**
 * The seed's SSL flows end to end: certificates written to flash over the serial line
 * (FSCREATE/FSWRITE), SSL context 88 set with AT+SSLCFG, SSLMIPSTART to the embedded broker's
 * TLS listener (SNI leaf for the asked name), then the plain MQTT flow.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../sim/broker/index.js';
import type { Modem } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import { dataReadyModem } from './helpers.js';
import { exact, FarSide, nextUrc } from './mqtt-helpers.js';

const dataDir = mkdtempSync(join(tmpdir(), 'mqtt-tls-'));
const otherDir = mkdtempSync(join(tmpdir(), 'mqtt-tls-other-'));
let broker: EmbeddedBroker;
let mtls: EmbeddedBroker;
let otherCa: string;
let m: Modem | undefined;
let far: FarSide | undefined;

beforeAll(async () => {
  broker = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir });
  mtls = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir, mtls: true });
  const other = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: otherDir });
  otherCa = other.caPem;
  await other.close();
});
afterAll(async () => {
  await broker.close();
  await mtls.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(otherDir, { recursive: true, force: true });
});
afterEach(async () => {
  await m?.close();
  await far?.close();
  m = undefined;
  far = undefined;
});

/** AT+FSCREATE + AT+FSWRITE, as in the seed. */
async function writeFile(mm: Modem, name: string, text: string): Promise<void> {
  await exact(mm, `AT+FSCREATE="${name}"`, '\r\nOK\r\n');
  const data = Buffer.from(text, 'latin1');
  mm.host.write(`AT+FSWRITE="${name}",0,${data.length},15\r`);
  await mm.host.expect('\r\n>');
  mm.host.write(data);
  expect((await mm.host.expect(/\r\n(OK|TimeOut|\+CME ERROR: \d+)\r\n/)).text).toBe('\r\nOK\r\n');
}

/** The module's own context must decide: the bridge knows no CA here. */
function unverifiedBridge(b: EmbeddedBroker): Modem['mqtt']['options'] {
  return { broker: { url: b.url, tlsUrl: b.tlsUrl } };
}

describe('SSLMIPSTART with SSL context 88', () => {
  it('one-way: seclevel 1 with the broker CA from flash verifies the SNI leaf of the asked name', async () => {
    m = await dataReadyModem({ mqtt: unverifiedBridge(broker) });
    far = await FarSide.connect(broker.url);
    await far.subscribe('tls/one', 1);
    await writeFile(m, 'ca.crt', broker.caPem);
    await exact(m, 'AT+SSLCFG="cacert",88,"ca.crt"', '\r\nOK\r\n');
    await exact(m, 'AT+SSLCFG="seclevel",88,1', '\r\nOK\r\n');
    await exact(m, 'AT+MCONFIG=tls-one,"",""', '\r\nOK\r\n');
    await exact(m, 'AT+SSLMIPSTART="iot.example.com",8883', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MCONNECT=1,60', '\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
    await exact(m, 'AT+MPUB="tls/one",1,0,"verified"', '\r\nOK\r\n');
    await nextUrc(m, 'PUBACK');
    expect((await far.waitFor('tls/one'))[0]!.toString()).toBe('verified');
  });

  it('one-way with a CA that did not sign the broker: STATE + CONNECT FAIL', async () => {
    m = await dataReadyModem({ mqtt: unverifiedBridge(broker) });
    await writeFile(m, 'ca.crt', otherCa);
    await exact(m, 'AT+SSLCFG="cacert",88,"ca.crt"', '\r\nOK\r\n');
    await exact(m, 'AT+SSLCFG="seclevel",88,1', '\r\nOK\r\n');
    await exact(m, 'AT+SSLMIPSTART="iot.example.com",8883', '\r\nOK\r\n');
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  });

  it('seclevel 1 naming a file that is not in flash: CONNECT FAIL', async () => {
    m = await dataReadyModem({ mqtt: unverifiedBridge(broker) });
    await exact(m, 'AT+SSLCFG="cacert",88,"missing.crt"', '\r\nOK\r\n');
    await exact(m, 'AT+SSLCFG="seclevel",88,1', '\r\nOK\r\n');
    await exact(m, 'AT+SSLMIPSTART="iot.example.com",8883', '\r\nOK\r\n');
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
  });

  it('two-way: an mTLS broker refuses seclevel 0 and accepts seclevel 2 with the client identity', async () => {
    m = await dataReadyModem({ mqtt: mqttOptionsFromBroker(mtls) });
    await exact(m, 'AT+SSLMIPSTART="iot.example.com",8883', '\r\nOK\r\n');
    // context 88 speaks TLS 1.2, where the missing client certificate fails the handshake itself
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
    await writeFile(m, 'ca.crt', mtls.caPem);
    await writeFile(m, 'client.crt', readFileSync(mtls.certs.clientCert, 'latin1'));
    await writeFile(m, 'client.key', readFileSync(mtls.certs.clientKey, 'latin1'));
    for (const l of ['"cacert",88,"ca.crt"', '"clientcert",88,"client.crt"', '"clientkey",88,"client.key"', '"seclevel",88,2']) {
      await exact(m, `AT+SSLCFG=${l}`, '\r\nOK\r\n');
    }
    await exact(m, 'AT+SSLMIPSTART="iot.example.com",8883', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    await exact(m, 'AT+MCONNECT=1,360', '\r\nOK\r\n');
    await nextUrc(m, 'CONNACK OK');
  });
});
