/**
 * Pieces the test files share: modems brought to a known point in virtual time, command timing
 * against the profile, cleanups, and bounded wall-time waits on things outside the model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect } from 'vitest';
import { FINAL_RESULT } from '../sim/host.js';
import { createModem, Modem, ModemOptions } from '../sim/modem.js';
import { Ns, ms, sec } from '../sim/kernel.js';
import type { Latency } from '../sim/profile.js';

/** A modem in virtual time, booted, with the boot lines consumed. */
export async function bootedModem(opts: ModemOptions = {}): Promise<Modem> {
  const m = createModem(opts);
  await m.host.expect('RDY', sec(30));
  await m.host.advance(sec(10));
  m.host.take();
  return m;
}

/** A modem in virtual time, registered with its default PDP context up, nothing pending. */
export async function dataReadyModem(opts: ModemOptions = {}): Promise<Modem> {
  const m = createModem(opts);
  if (!(await m.clock.waitUntil(() => m.pdp.dataReady, sec(60)))) {
    await m.close();
    throw new Error('modem never got a data bearer');
  }
  await m.host.advance(sec(1));
  m.host.take();
  return m;
}

/** Send a line; the answer through its final result code, and the model time from echo to final. */
export async function timed(modem: Modem, line: string, timeout: Ns = sec(120)): Promise<{ text: string; dt: Ns }> {
  modem.host.write(line + '\r');
  const echo = await modem.host.expect(line + '\r', timeout);
  const fin = await modem.host.expect(FINAL_RESULT, timeout);
  return { text: echo.text + fin.text, dt: fin.at - echo.at };
}

/** Bytes of a short response on the wire at 115200 baud, and the echo's last byte. */
export const UART_SLACK: Ns = ms(3);

/** `dt` lies within the sum of these latencies (base … base + jitter, plus the UART bytes). */
export function within(dt: Ns, ...ls: Latency[]): void {
  const lo = ls.reduce((s, l) => s + l.base, 0);
  const hi = ls.reduce((s, l) => s + l.base + l.jitter, 0) + UART_SLACK;
  expect(dt).toBeGreaterThanOrEqual(lo);
  expect(dt).toBeLessThanOrEqual(hi);
}

export function tempDir(prefix = 'modemsim-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Functions run after each test, the last pushed first (what a test opened, it closes). */
export function cleanupsAfterEach(): Array<() => Promise<void> | void> {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });
  return cleanups;
}

/** A loopback port nothing listens on (just now: free for a child to bind, or to be refused on). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let gc: (() => void) | undefined;

/** Heap in use after a full collection, MB. */
export function heapMb(): number {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/**
 * Waits on something outside the model (a child process, a socket, a far-side client), bounded
 * by wall time: `probe` is tried at once and at every `notify()` until it returns a value;
 * a probe that throws ends the wait with its error.
 */
export class WallWaits {
  private waiters = new Set<() => void>();

  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  until<T>(probe: () => T | undefined, timeoutMs: number, timeoutMessage: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let v: T | undefined;
        try {
          v = probe();
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (v === undefined) return;
        done();
        resolve(v);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(timeoutMessage()));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }
}
