import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Modem } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { byteTimeNs } from '../sim/uart.js';
import { bootedModem, tempDir } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

// One 90-character ATI line: 2 + 90 + 2 bytes of information text + 6 bytes of OK = 100 bytes.
const fixedLatency = {
  latency: { simple: { base: ms(3), jitter: 0 }, reset: { base: ms(24), jitter: 0 } },
  identity: { ati: ['A'.repeat(90)] },
};

async function timedResponse(modem: Modem, line: string): Promise<{ sentAt: number; times: number[] }> {
  modem.host.take();
  const from = modem.host.log.length;
  const sentAt = modem.kernel.now;
  await modem.host.command(line);
  return { sentAt, times: modem.host.log.slice(from).map((e) => e.t) };
}

describe('UART timing in virtual time', () => {
  it('computes byte times with the documented rounding', () => {
    expect(byteTimeNs(115200)).toBe(86_806);
    expect(byteTimeNs(9600)).toBe(1_041_667);
    expect(byteTimeNs(921600)).toBe(10_851);
  });

  it('spaces the 100 bytes of a response by exactly one byte time at 115200, after terminator + latency', async () => {
    m = await bootedModem({ profileOverrides: fixedLatency });
    await m.host.command('ATE0');
    const { sentAt, times } = await timedResponse(m, 'ATI');
    expect(times).toHaveLength(100);
    const bt = 86_806;
    const terminatorAt = sentAt + 4 * bt; // 'ATI\r' takes four byte times to arrive
    expect(times[0]).toBe(terminatorAt + ms(3) + bt);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(bt);
  });

  it('answers AT+IPR=9600 at the old rate, then runs at 1,041,667 ns per byte', async () => {
    m = await bootedModem({ profileOverrides: fixedLatency });
    await m.host.command('ATE0');
    const ipr = await timedResponse(m, 'AT+IPR=9600');
    expect(ipr.times[1]! - ipr.times[0]!).toBe(86_806);
    const { sentAt, times } = await timedResponse(m, 'ATI');
    const bt = 1_041_667;
    expect(times).toHaveLength(100);
    expect(times[0]).toBe(sentAt + 4 * bt + ms(3) + bt);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(bt);
    expect(await m.host.command('AT+IPR?')).toBe('\r\n+IPR: 9600\r\n\r\nOK\r\n');
  });

  it('AT+RESET: OK after the reset latency, then the boot lines at their modelled times', async () => {
    m = await bootedModem({ profileOverrides: fixedLatency });
    await m.host.command('ATE0');
    const { sentAt, times } = await timedResponse(m, 'AT+RESET');
    const bt = 86_806;
    const okEnd = sentAt + 9 * bt + ms(24) + 6 * bt;
    expect(times.at(-1)).toBe(okEnd);
    const powerOn = okEnd + m.profile.boot.resetDelay;
    for (const u of m.profile.boot.urcs) {
      const r = await m.host.expect(`\r\n${u.text}\r\n`, sec(20));
      // echo is on again after the reboot (not saved with &W); the line starts at its boot time
      const len = u.text.length + 4;
      expect(r.at).toBe(powerOn + u.at + len * bt);
    }
  });

  it('a simulated hour passes in well under a second of wall time', async () => {
    m = await bootedModem();
    const t0 = performance.now();
    await m.host.advance(sec(3600));
    expect(m.kernel.now).toBeGreaterThanOrEqual(sec(3600));
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(performance.now() - t0).toBeLessThan(5000); // generous bound; the benchmark measures the real figure
  });
});

describe('determinism', () => {
  async function run(seed: number, traceFile: string): Promise<string> {
    const modem = await bootedModem({ seed, traceFile });
    for (const line of ['AT', 'AT+CSQ;+CPIN?', 'ATE0', 'AT+CMEE=2', 'AT+NOSUCH', 'AT+IPR=9600', 'ATI', 'AT+RESET']) {
      await modem.host.command(line);
    }
    await modem.host.expect('SMS READY\r\n');
    await modem.close();
    return readFileSync(traceFile, 'utf8');
  }

  it('the same seed and the same input give byte-identical trace files; another seed does not', async () => {
    const dir = tempDir();
    try {
      const a = await run(7, join(dir.path, 'a.jsonl'));
      const b = await run(7, join(dir.path, 'b.jsonl'));
      const c = await run(8, join(dir.path, 'c.jsonl'));
      expect(a.length).toBeGreaterThan(1000);
      expect(a).toBe(b);
      expect(c).not.toBe(a);
      const first = JSON.parse(a.split('\n').find((l) => l.includes('"ev":"rx"'))!);
      expect(Number.isInteger(first.t)).toBe(true);
    } finally {
      dir.remove();
    }
  });
});
