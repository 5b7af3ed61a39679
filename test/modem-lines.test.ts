/**
 * Modem lines through the binding: DTR drop per AT&D, RI pulses on URCs, RTS/CTS flow control
 * under AT+IFC=2,2, DSR and DCD through get(). All on free-running virtual time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createModemBinding, type ModemRegistry } from '../sim/binding/index.js';
import { sec, ms } from '../sim/kernel.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import type { Modem } from '../sim/modem.js';
import type { TraceRecord } from '../sim/trace.js';
import { bootedModem } from './helpers.js';
import { FarSide, sharedBroker } from './mqtt-helpers.js';
import { StreamDriver } from './stream-driver.js';

const shared = sharedBroker('modem-lines-test-');
let binding: ModemRegistry;
afterEach(async () => {
  await binding.closeAll();
});

/** A modem on the binding, booted, with a driver on its port. */
async function opened(name: string, opts: { mqtt?: boolean; rtscts?: boolean } = {}): Promise<{ m: Modem; d: StreamDriver }> {
  binding = createModemBinding();
  const m = binding.create(name, { traceMemory: true, ...(opts.mqtt === true && { mqtt: mqttOptionsFromBroker(shared.broker) }) });
  const d = new StreamDriver(binding, `modemsim://${name}`, { rtscts: opts.rtscts ?? false });
  await d.until('SMS READY\r\n');
  return { m, d };
}

const lineRecords = (m: Modem, what: string): Array<Extract<TraceRecord, { ev: 'state' }>> =>
  m.trace.records.filter((r): r is Extract<TraceRecord, { ev: 'state' }> => r.ev === 'state' && r.what === what);

async function mqttSession(m: Modem, d: StreamDriver): Promise<void> {
  if (!(await m.clock.waitUntil(() => m.pdp.dataReady, sec(30)))) throw new Error('no data bearer');
  expect(await d.command(`AT+MIPSTART="127.0.0.1","${shared.broker.port}"`)).toContain('OK');
  await d.until('CONNECT OK');
  expect(await d.command('AT+MCONNECT=1,60')).toContain('OK');
  await d.until('CONNACK OK');
  expect(await d.command('AT+MQTTSTATU')).toContain('+MQTTSTATU :1');
}

describe('DTR', () => {
  it('a DTR drop under AT&D2 closes the MQTT link silently: state 0, no CLOSED, DTR traced both ways', async () => {
    const { m, d } = await opened('dtr2', { mqtt: true });
    expect(await d.command('AT&D2')).toBe('AT&D2\r\r\nOK\r\n');
    await mqttSession(m, d);
    const before = d.all.length;
    await d.set({ dtr: false });
    await d.set({ dtr: true });
    expect(await d.command('AT+MQTTSTATU')).toContain('+MQTTSTATU :0');
    expect(d.all.slice(before)).not.toContain('CLOSED');
    expect(lineRecords(m, 'line.dtr').map((r) => r.to)).toEqual([false, true]);
    expect(lineRecords(m, 'line.dtr-hangup').map((r) => r.to)).toEqual(['mqtt']);
    await d.close();
  });

  it('a DTR drop under the profile default (AT&D0) leaves the MQTT session up', async () => {
    const { m, d } = await opened('dtr0', { mqtt: true });
    await mqttSession(m, d);
    await d.set({ dtr: false });
    await d.set({ dtr: true });
    expect(await d.command('AT+MQTTSTATU')).toContain('+MQTTSTATU :1');
    expect(lineRecords(m, 'line.dtr-hangup')).toEqual([]);
    await d.close();
  });
});

describe('RI', () => {
  it('is asserted for 120 ms from the instant of a URC (+PDP DEACT), and getLines() reads it meanwhile', async () => {
    const { m, d } = await opened('ri');
    if (!(await m.clock.waitUntil(() => m.pdp.dataReady, sec(30)))) throw new Error('no data bearer');
    const port = binding.port('ri');
    await m.faults.pdpDeact();
    await m.clock.waitUntil(() => m.lines.status().ri, sec(1));
    expect((await port?.getLines())?.ri).toBe(true);
    await d.until('+PDP DEACT');
    await m.clock.advance(ms(200));
    expect((await port?.getLines())?.ri).toBe(false);
    const urc = m.trace.records.find((r) => r.ev === 'urc' && r.text === '+PDP DEACT');
    const ri = lineRecords(m, 'line.ri').filter((r) => r.t >= (urc?.t ?? 0));
    expect(ri.map((r) => [r.to, r.t - (urc?.t ?? 0)])).toEqual([
      [true, 0],
      [false, ms(120)],
    ]);
    await d.close();
  });

  it('pulses on an incoming +MSUB', async () => {
    const { m, d } = await opened('msub', { mqtt: true });
    await mqttSession(m, d);
    expect(await d.command('AT+MSUB="ri/topic",0')).toContain('OK');
    await d.until('SUBACK');
    const far = await FarSide.connect(shared.broker.url);
    try {
      // the SUBACK's own pulse over first, so the +MSUB starts one of its own
      await m.clock.waitUntil(() => !m.lines.status().ri, sec(1));
      const sent = m.trace.records.length;
      await far.client.publishAsync('ri/topic', 'ring');
      await d.until('+MSUB:');
      const urc = m.trace.records.slice(sent).find((r) => r.ev === 'urc' && r.text.startsWith('+MSUB:'));
      expect(urc).toBeDefined();
      expect(lineRecords(m, 'line.ri').some((r) => r.to === true && r.t === urc?.t)).toBe(true);
    } finally {
      await far.close();
    }
    await d.close();
  });

  it('is not modelled for a modem without a host with lines (no RI records, no extra events)', async () => {
    const m = await bootedModem({ traceMemory: true });
    await m.faults.deregister();
    await m.host.advance(sec(1));
    expect(lineRecords(m, 'line.ri')).toEqual([]);
    await m.close();
  });
});

describe('RTS/CTS flow control', () => {
  it('AT+IFC reads 0,0 at power-on and what was set; XON/XOFF (1) is refused with 765', async () => {
    const m = await bootedModem();
    expect(await m.host.command('AT+IFC?')).toBe('AT+IFC?\r\r\n+IFC: 0,0\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+IFC=?')).toBe('AT+IFC=?\r\r\n+IFC: (0,2),(0,2)\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+IFC=2,2')).toBe('AT+IFC=2,2\r\r\nOK\r\n');
    expect(await m.host.command('AT+IFC?')).toBe('AT+IFC?\r\r\n+IFC: 2,2\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+IFC=1,1')).toBe('AT+IFC=1,1\r\r\n+CME ERROR: 765\r\n');
    await m.close();
  });

  it('with AT+IFC=2,2, RTS off holds the module output (nothing arrives) and RTS on releases it whole and in order', async () => {
    const { m, d } = await opened('rts');
    expect(await d.command('AT+IFC=2,2')).toBe('AT+IFC=2,2\r\r\nOK\r\n');
    await d.set({ rts: false });
    const before = d.all.length;
    d.write('AT+CGMR\r');
    d.write('AT+CSQ\r');
    await m.clock.advance(sec(2));
    expect(d.all.length).toBe(before);
    expect(m.uart.txBacklog).toBeGreaterThan(0);
    expect(m.lines.outputHeld).toBe(true);
    await d.set({ rts: true });
    await d.until('+CSQ: ');
    await d.until('OK\r\n');
    // the second line is echoed as it arrives, while the first still runs: the order of the wire
    expect(d.all.slice(before)).toBe('AT+CGMR\rAT+CSQ\r\r\nAirM2M_720U_V3.2.1_LTE_AT\r\n\r\nOK\r\n\r\n+CSQ: 24,99\r\n\r\nOK\r\n');
    expect(lineRecords(m, 'uart.tx').map((r) => r.to)).toEqual(['held', 'flowing']);
    await d.close();
  });

  it('without AT+IFC=2 an RTS drop holds nothing', async () => {
    const { d } = await opened('rts0');
    await d.set({ rts: false });
    expect(await d.command('AT')).toBe('AT\r\r\nOK\r\n');
    await d.close();
  });

  it('with AT+IFC=2,2 CTS goes off past the module’s receive high-water mark; an rtscts host waits and loses nothing', async () => {
    const { m, d } = await opened('cts', { rtscts: true });
    expect(await d.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(await d.command('AT+IFC=2,2')).toBe('\r\nOK\r\n');
    const junk = ' '.repeat(48 * 1024);
    const written = new Promise<void>((resolve, reject) => d.port.write(junk, (err) => (err ? reject(err) : resolve())));
    await written;
    const cts = lineRecords(m, 'line.cts');
    expect(cts.map((r) => r.to)).toEqual([false, true]);
    expect(m.uart.rxDropped).toBe(0);
    // CTS was off from the high-water mark (32 KiB queued) until the low-water mark (8 KiB)
    const off = cts[1]!.t - cts[0]!.t;
    expect(off).toBe(24 * 1024 * m.uart.byteTime);
    await d.close();
  });
});

describe('DSR and DCD', () => {
  it('get() reports DSR on after RDY, DCD on with the data bearer under AT&C1, and always under AT&C0', async () => {
    const { m, d } = await opened('dcd');
    expect(await d.get()).toMatchObject({ dsr: true, cts: true });
    if (!(await m.clock.waitUntil(() => m.pdp.dataReady, sec(30)))) throw new Error('no data bearer');
    expect((await d.get()).dcd).toBe(true);
    await m.faults.pdpDeact();
    expect((await d.get()).dcd).toBe(false);
    await d.until('+PDP DEACT\r\n');
    expect(await d.command('AT&C0')).toBe('AT&C0\r\r\nOK\r\n');
    expect((await d.get()).dcd).toBe(true);
    await d.close();
  });
});
