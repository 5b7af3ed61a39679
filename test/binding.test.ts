/**
 * The serialport binding: a driver written against `@serialport/stream`, unchanged but for the
 * binding and the path, talks to an in-process modem on free-running virtual time; the baud
 * rates of both sides meet on a resampled 8N1 line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReadlineParser } from 'serialport';
import { SerialPortStream } from '@serialport/stream';
import { createModemBinding, ModemBinding, type ModemRegistry } from '../sim/binding/index.js';
import { createModem } from '../sim/modem.js';
import { sec } from '../sim/kernel.js';
import { StreamDriver } from './stream-driver.js';

let binding: ModemRegistry;
afterEach(async () => {
  await binding.closeAll();
});
const fresh = (): ModemRegistry => (binding = createModemBinding());

describe('a SerialPortStream driver on the binding', () => {
  it('opens modemsim://dev0, writes AT\\r after the boot lines and gets exactly "AT\\r\\r\\nOK\\r\\n"; a line parser sees OK', async () => {
    binding = ModemBinding;
    const port = new SerialPortStream({ binding: ModemBinding, path: 'modemsim://dev0', baudRate: 115200 });
    const lines: string[] = [];
    port.pipe(new ReadlineParser({ delimiter: '\r\n' })).on('data', (l: string) => lines.push(l));
    let got = '';
    let sent = -1;
    const answer = await new Promise<string>((resolve) => {
      port.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (sent < 0 && got.endsWith('SMS READY\r\n')) {
          sent = got.length;
          port.write('AT\r');
        }
        if (sent >= 0 && got.endsWith('OK\r\n')) resolve(got.slice(sent));
      });
    });
    expect(answer).toBe('AT\r\r\nOK\r\n');
    expect(got.startsWith('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY\r\n')).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(lines).toContain('OK');
    const m = ModemBinding.modem('dev0');
    expect(m?.profile.name).toBe('air724ug');
    await new Promise<void>((resolve) => port.close(() => resolve()));
    // built on open, closed with its port: the name is free again
    expect(ModemBinding.modem('dev0')).toBeUndefined();
    expect(m?.isClosed).toBe(true);
  });

  it('list() names the registered modems (path, manufacturer, IMEI)', async () => {
    fresh();
    const mine = createModem({ clock: 'free' });
    expect(binding.register('mine', mine)).toBe('modemsim://mine');
    binding.create('other');
    const list = await binding.list();
    expect(list.map((p) => p.path)).toEqual(['modemsim://mine', 'modemsim://other']);
    expect(list[0]).toMatchObject({ manufacturer: 'AirM2M', serialNumber: '864713058376410' });
    await binding.closeAll();
    // closeAll closes what it built, not what it was handed
    expect(mine.isClosed).toBe(false);
    await mine.close();
  });

  it('refuses a path that is not modemsim://NAME, a second open of an open port, and framings other than 8N1', async () => {
    fresh();
    binding.create('a');
    await expect(binding.open({ path: '/dev/ttyUSB0', baudRate: 115200 })).rejects.toThrow('expected a path modemsim://NAME');
    const first = await binding.open({ path: 'modemsim://a', baudRate: 115200 });
    await expect(binding.open({ path: 'modemsim://a', baudRate: 115200 })).rejects.toThrow('is open already');
    await first.close();
    await expect(binding.open({ path: 'modemsim://a', baudRate: 115200, dataBits: 7 })).rejects.toThrow("modemsim's UART is 8N1, got 7N1");
  });

  it('a host at 9600 against the module at 115200 gets garbage and no OK; the framing errors are traced', async () => {
    fresh();
    const m = binding.create('slow', { traceMemory: true });
    const d = new StreamDriver(binding, 'modemsim://slow', { baudRate: 9600 });
    await d.opened();
    await m.clock.advance(sec(3));
    const boot = d.all;
    d.write('AT\r');
    await m.clock.advance(sec(2));
    expect(boot).not.toContain('RDY');
    expect(d.all).not.toContain('OK');
    const errors = m.trace.records.filter((r) => r.ev === 'fault' && r.what === 'uart-framing-error');
    const receivers = new Set(errors.map((r) => (r.ev === 'fault' && typeof r.detail === 'object' && r.detail !== null && 'receiver' in r.detail ? r.detail.receiver : undefined)));
    expect([...receivers].sort()).toEqual(['host', 'module']);
    // the module never took a command line out of it
    expect(m.trace.records.some((r) => r.ev === 'cmd')).toBe(false);
    await d.close();
  });

  it('after AT+IPR=9600 answers OK at 115200, update({baudRate: 9600}) carries on at 9600 without a framing error', async () => {
    fresh();
    const m = binding.create('ipr', { traceMemory: true });
    const d = new StreamDriver(binding, 'modemsim://ipr');
    await d.until('SMS READY\r\n');
    expect(await d.command('AT+IPR=9600')).toBe('AT+IPR=9600\r\r\nOK\r\n');
    await d.update(9600);
    expect(await d.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(await d.command('AT+IPR?')).toBe('AT+IPR?\r\r\n+IPR: 9600\r\n\r\nOK\r\n');
    expect(m.uart.baud).toBe(9600);
    expect(m.trace.records.filter((r) => r.ev === 'fault' && r.what === 'uart-framing-error')).toEqual([]);
    await d.close();
  });

  it('on a plain virtual clock, open, set and close return, and bytes move while the test runs the clock', async () => {
    fresh();
    const m = createModem();
    binding.register('virt', m);
    const port = await binding.open({ path: 'modemsim://virt', baudRate: 115200 });
    await port.set({ dtr: false });
    const read = port.read(Buffer.alloc(64), 0, 64);
    await m.host.advance(sec(2));
    const { buffer, bytesRead } = await read;
    expect(buffer.subarray(0, bytesRead).toString('latin1')).toBe('\r');
    await port.close();
    await m.close();
  });

  it('the same driver and seed see the same bytes at the same model instants on two runs', async () => {
    const run = async (): Promise<{ text: string; at: number[] }> => {
      fresh();
      const m = binding.create('det', { seed: 5 });
      const d = new StreamDriver(binding, 'modemsim://det');
      const at: number[] = [];
      await d.until('SMS READY\r\n');
      at.push(m.kernel.now);
      for (const c of ['ATE0', 'AT+CSQ', 'AT+CGATT?', 'AT+CGMR']) {
        await d.command(c);
        at.push(m.kernel.now);
      }
      await d.close();
      const text = d.all;
      await binding.closeAll();
      return { text, at };
    };
    const a = await run();
    const b = await run();
    expect(b).toEqual(a);
  });
});
