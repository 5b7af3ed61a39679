/**
 * Reproduction of a bug the fuzzer found (reported, not fixed: sim/faults and sim/mqtt belong to
 * other engineers). A retained message is delivered right after SUBACK; tcpDrop resolves on
 * the kernel wake that delivery causes, before the modem has seen its socket close, so the link
 * is still "session"; the next MPUB is accepted (OK) on the dead socket (EPIPE) and its own-echo
 * hold freezes virtual time until its 5 s wall guard runs out. 10 of 10 runs.
 *
 *   node --import tsx test/fuzz/repro-own-echo.ts
 */
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../sim/broker/index.js';
import { recentGuardExpiries, sec } from '../../sim/kernel.js';
import { createModem } from '../../sim/modem.js';
import { mqttOptionsFromBroker } from '../../sim/mqtt/options.js';
const broker = await startEmbeddedBroker({ port: 0, tlsPort: 0 });
const far = await mqtt.connectAsync(broker.url, { clientId: 'far', reconnectPeriod: 0 });
await far.publishAsync('fz/r', 'ret', { qos: 1, retain: true });
let hits = 0;
for (let i = 0; i < 10; i++) {
  const m = createModem({ idleGraceMs: 0, mqtt: mqttOptionsFromBroker(broker), broker, profileOverrides: { identity: { imei: `8600000000000${10 + i}` } } });
  await m.clock.waitUntil(() => m.pdp.dataReady, sec(60));
  await m.host.advance(sec(1)); m.host.take();
  const cmd = async (l: string, urc?: string) => { await m.host.command(l); if (urc) await m.host.expect(`\r\n${urc}\r\n`, sec(10)); };
  await cmd('ATE0');
  await cmd(`AT+MCONFIG=r${i},"",""`);
  await cmd('AT+MIPSTART="broker.example.com",1883', 'CONNECT OK');
  await cmd('AT+MCONNECT=1,60', 'CONNACK OK');
  await cmd('AT+MSUB="fz/#",1', 'SUBACK');
  // the broker sends the retained fz/r now; the drop comes at the same moment
  await m.faults.tcpDrop();
  const phase = m.mqtt.link.phase;
  const t0 = Date.now();
  const out = await m.host.command('AT+MPUB="fz/t",0,0,"hello"', sec(30));
  await m.host.advance(sec(2));
  const wall = Date.now() - t0;
  const g = recentGuardExpiries.splice(0);
  if (g.length) hits++;
  console.log(i, 'phase after tcpDrop resolved:', phase, JSON.stringify(out + m.host.take()), `wall ${wall} ms`, g.map((e) => e.label));
  await m.close();
}
console.log(`${hits}/10 runs froze virtual time on the own-echo hold`);
await far.publishAsync('fz/r', '', { qos: 1, retain: true });
await far.endAsync(); await broker.close();
