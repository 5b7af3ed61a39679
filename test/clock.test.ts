/**
 * The clock drivers at their edges: a model timeout longer than Node's longest timer in real
 * time, and what a closed modem does with pending waits and late outside input.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ms, sec } from '../sim/kernel.js';
import { ExpectTimeout } from '../sim/host.js';
import { createModem, Modem, ModemOptions } from '../sim/modem.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

const quick = { base: ms(20), jitter: 0 };
/** Real time with a boot of 20 ms instead of 2.6 s: these tests are about the clock, not the boot. */
const quickRealtime: ModemOptions = {
  clock: 'realtime',
  profileOverrides: { boot: { urcs: [{ text: 'RDY', at: ms(20) }] }, network: { simReady: quick, register: quick, defaultPdp: quick } },
};

describe('real-time clock', () => {
  it('arms a model timeout past 2^31 ms without a 1 ms busy loop (FSWRITE <inputtime> 4294967295)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      m = createModem(quickRealtime);
      await m.host.expect('RDY', sec(5));
      expect(await m.host.command('AT+FSCREATE="big.txt"')).toMatch(/\r\nOK\r\n$/);
      m.host.write('AT+FSWRITE="big.txt",0,10,4294967295\r');
      await m.host.expect('\r\n>', sec(5));
      // Node reports an overflowing setTimeout with a warning on the next tick
      await m.host.advance(ms(50));
      expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
      m.host.write('0123456789');
      expect((await m.host.expect(/\r\n(OK|\+CME ERROR: \d+)\r\n/, sec(5))).match).toBe('\r\nOK\r\n');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('close() answers a pending wait at once and drops input that comes after it', async () => {
    m = createModem(quickRealtime);
    await m.host.expect('RDY', sec(5));
    const pending = m.host.expect('never printed', sec(3600));
    await m.close();
    await expect(pending).rejects.toBeInstanceOf(ExpectTimeout);
    const queued = m.kernel.pending;
    m.host.write('AT\r');
    expect(m.kernel.pending).toBe(queued);
  });
});

describe('virtual clock', () => {
  it('a closed modem drops input that comes after close()', async () => {
    m = createModem({ idleGraceMs: 0 });
    await m.host.expect('RDY', sec(5));
    await m.close();
    const queued = m.kernel.pending;
    m.host.write('AT\r');
    expect(m.kernel.pending).toBe(queued);
    await expect(m.host.expect('OK', sec(1))).rejects.toBeInstanceOf(ExpectTimeout);
  });
});
