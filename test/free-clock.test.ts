/**
 * Free-running virtual time: a driver that only reads and writes a stream — never `advance`,
 * never `expect` — sees the module boot and answer, at the same model instants on every run.
 */
import { describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { sec } from '../sim/kernel.js';
import { createModem, type Modem } from '../sim/modem.js';

/** A tiny driver of the kind users write: wait for a text on the stream, send a line. */
class StreamDriver {
  private buf = '';
  private waiting: Array<{ text: string; resolve: () => void }> = [];
  constructor(
    private readonly port: Duplex,
    private readonly m: Modem,
  ) {
    port.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      for (const w of [...this.waiting]) {
        if (this.buf.includes(w.text)) {
          this.waiting = this.waiting.filter((x) => x !== w);
          w.resolve();
        }
      }
    });
  }

  until(text: string): Promise<number> {
    return new Promise((resolve) => {
      const done = (): void => {
        const i = this.buf.indexOf(text);
        this.buf = this.buf.slice(i + text.length);
        resolve(this.m.kernel.now);
      };
      if (this.buf.includes(text)) return done();
      this.waiting.push({ text, resolve: done });
    });
  }

  send(line: string): void {
    this.port.write(line + '\r');
  }
}

async function session(seed: number): Promise<{ times: number[]; out: string }> {
  const m = createModem({ clock: 'free', seed, traceMemory: true });
  const port = m.host.stream();
  let out = '';
  port.on('data', (d: Buffer) => (out += d.toString('latin1')));
  const d = new StreamDriver(port, m);
  const times: number[] = [];
  times.push(await d.until('SMS READY\r\n'));
  d.send('ATE0');
  times.push(await d.until('OK\r\n'));
  d.send('AT+CGATT?');
  times.push(await d.until('OK\r\n'));
  d.send('AT+CSQ');
  times.push(await d.until('OK\r\n'));
  await m.close();
  return { times, out };
}

describe('free-running virtual time', () => {
  it('boots by itself and answers a stream-only driver: RDY…SMS READY, then each command line', async () => {
    const { out, times } = await session(1);
    expect(out).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY\r\nATE0\r\r\nOK\r\n\r\n+CGATT: 0\r\n\r\nOK\r\n\r\n+CSQ: 24,99\r\n\r\nOK\r\n');
    expect(times[0]).toBe(2_600_000_000 + 13 * 86_806);
  });

  it('gives the same model instants on every run of the same driver and seed', async () => {
    const a = await session(7);
    const b = await session(7);
    expect(b.times).toEqual(a.times);
    expect(b.out).toBe(a.out);
  });

  it('lets a simulated hour pass in well under a second of wall time when the driver waits', async () => {
    const m = createModem({ clock: 'free' });
    const t0 = performance.now();
    await m.host.advance(sec(3600));
    const wallMs = performance.now() - t0;
    expect(m.kernel.now).toBe(sec(3600));
    expect(wallMs).toBeLessThan(1000);
    await m.close();
  });

  it('stands still while real I/O is in flight (a kernel hold), and moves on once it is released', async () => {
    const m = createModem({ clock: 'free' });
    await m.host.expect('SMS READY\r\n', sec(10));
    const at = m.kernel.now;
    const hold = m.kernel.hold('test-io', 10_000);
    const moved = m.host.advance(sec(1));
    await new Promise((r) => setTimeout(r, 30));
    expect(m.kernel.now).toBe(at);
    hold.release();
    await moved;
    expect(m.kernel.now).toBe(at + sec(1));
    await m.close();
  });
});
