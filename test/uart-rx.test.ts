/**
 * The receive side under a flood, in virtual time through the host port: input past the RX FIFO
 * overruns (dropped, traced with counts) instead of growing memory, so the module answers the
 * next line after the flood within bounded model time; a link that pauses on the pressure hook
 * loses nothing; discardInput() forgets a replaced host's bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sec } from '../sim/kernel.js';
import type { Modem } from '../sim/modem.js';
import { RX_FIFO_BYTES, RX_HIGH_WATER, RX_LOW_WATER } from '../sim/uart.js';
import { bootedModem, heapMb } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

const faults = (modem: Modem, what: string): Array<{ t: number; detail?: unknown }> =>
  modem.trace.records.flatMap((r) => (r.ev === 'fault' && r.what === what ? [{ t: r.t, detail: r.detail }] : []));

describe('UART receive FIFO', () => {
  it('1 MB written at once without CR: past the FIFO it overruns, traced; the next lines are answered within bounded model time; heap bounded', async () => {
    m = await bootedModem({ traceMemory: true });
    const modem = m;
    expect(await modem.host.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    // byte records of a megabyte would be the memory under test
    modem.trace.records.length = 0;
    const before = heapMb();
    const t0 = modem.kernel.now;
    modem.host.write(Buffer.alloc(1 << 20, 'x'));
    await modem.host.advance(0);
    expect(modem.uart.rxBacklog).toBe(RX_FIFO_BYTES);
    const overrun = faults(modem, 'uart-rx-overrun');
    expect(overrun).toEqual([{ t: t0, detail: { dropped: (1 << 20) - RX_FIFO_BYTES, total: (1 << 20) - RX_FIFO_BYTES, fifo: RX_FIFO_BYTES } }]);
    expect(modem.uart.rxDropped).toBe((1 << 20) - RX_FIFO_BYTES);
    // a host that waits for the line to take what it accepted, then ends the junk line
    expect(await modem.clock.waitUntil(() => modem.uart.rxBacklog === 0, sec(60))).toBe(true);
    expect(await modem.host.command('')).toBe('\r\nERROR\r\n');
    expect(await modem.host.command('AT')).toBe('\r\nOK\r\n');
    // 128 KiB at 115200 take 11.4 s: the flood costs the FIFO's worth of line time, not the megabyte's
    expect(modem.kernel.now - t0).toBeLessThan(sec(12));
    modem.trace.records.length = 0;
    const after = heapMb();
    expect(after - before).toBeLessThan(8);
  });

  it('an AT written into a full FIFO is lost like any overrun byte; one written after it drains is answered', async () => {
    m = await bootedModem();
    const modem = m;
    modem.host.write(Buffer.alloc(RX_FIFO_BYTES, 'x'));
    modem.host.write('\rAT\r');
    await modem.host.advance(sec(20));
    expect(modem.uart.rxDropped).toBe(4);
    modem.host.take();
    expect(await modem.host.command('\rAT')).toMatch(/\r\nERROR\r\n$/);
    expect(await modem.host.command('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('a link that pauses on onRxPressure(true) and resumes on false delivers a megabyte without losing a byte', async () => {
    m = await bootedModem();
    const modem = m;
    await modem.host.command('ATE0');
    let received = 0;
    const toModem = modem.uart.toModem;
    modem.uart.toModem = (b) => {
      received++;
      toModem(b);
    };
    const signals: boolean[] = [];
    let paused = false;
    const total = 1 << 20;
    let sent = 0;
    // a socket's reads: 64 KiB at a time while not paused (one more chunk may come after a pause)
    const pump = (): void => {
      while (sent < total && !paused) {
        const n = Math.min(64 * 1024, total - sent);
        sent += n;
        modem.uart.receive(Buffer.alloc(n, 'y'));
      }
    };
    modem.uart.onRxPressure = (high) => {
      signals.push(high);
      paused = high;
      if (!high) modem.clock.inject('link-resume', pump);
    };
    modem.clock.inject('link-read', pump);
    const line = modem.uart.byteTime;
    expect(await modem.clock.waitUntil(() => received === total, line * total + sec(1))).toBe(true);
    expect(modem.uart.rxDropped).toBe(0);
    expect(signals.length).toBeGreaterThan(2);
    expect(signals.every((s, i) => s === (i % 2 === 0))).toBe(true);
    expect(RX_HIGH_WATER + 64 * 1024).toBeLessThanOrEqual(RX_FIFO_BYTES);
    expect(RX_LOW_WATER).toBeLessThan(RX_HIGH_WATER);
    // the megabyte was one over-long line: ERROR for it, then the module is itself again
    expect(await modem.host.command('')).toBe('\r\nERROR\r\n');
    expect(await modem.host.command('AT')).toBe('\r\nOK\r\n');
  });

  it('discardInput() forgets what a replaced host sent and has not arrived; the next host starts clean', async () => {
    m = await bootedModem({ traceMemory: true });
    const modem = m;
    modem.host.write('AT+CSQ\r');
    await modem.host.advance(modem.uart.byteTime * 3);
    modem.clock.inject('host-replaced', () => modem.uart.discardInput());
    await modem.host.advance(sec(1));
    expect(modem.host.take()).toBe('AT+');
    expect(faults(modem, 'uart-rx-discarded').map((f) => f.detail)).toEqual([{ bytes: 4 }]);
    expect(modem.uart.rxBacklog).toBe(0);
    // what had arrived stays in the line buffer, as on the wire: the new host's CR ends it
    expect(await modem.host.command('\rAT')).toBe('\rAT\r\r\nERROR\r\n');
    expect((await modem.host.expect('\r\nOK\r\n')).text).toBe('\r\nOK\r\n');
  });
});
