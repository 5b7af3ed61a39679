/**
 * The trace file is streamed: a served modem's records reach the file within ~50 ms of wall
 * time, so `tail -f` follows a session and a SIGKILL loses at most that window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tempDir } from './helpers.js';
import { TcpHost } from './serial-host.js';
import { ServedChild } from './trace-child.js';

interface Rec {
  ev: string;
  b?: number;
}

/** Whole lines of a file being written (a last line cut by a kill is left out). */
function records(file: string): Rec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n');
  lines.pop();
  return lines.map((l) => JSON.parse(l) as Rec);
}

const bytesOf = (recs: Rec[], ev: 'tx' | 'rx'): number[] => recs.filter((r) => r.ev === ev).map((r) => r.b ?? -1);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('streamed trace of a served modem', () => {
  it('follows the session within 100 ms and keeps everything up to ~100 ms before a SIGKILL', async () => {
    const dir = tempDir('modemsim-trace-');
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'trace.jsonl');
    const served = new ServedChild(['--serial', 'tcp:127.0.0.1:0', '--data-dir', join(dir.path, 'data'), '--trace', file]);
    cleanups.push(() => served.kill());
    const ready = await served.ready();
    const host = new TcpHost(ready.serial);
    cleanups.push(() => host.close());
    await host.connected;
    await host.expect('SMS READY\r\n', 10_000);

    const delays: number[] = [];
    const sent: number[] = [];
    for (const cmd of ['AT', 'AT+CSQ', 'ATI', 'AT+CGREG?', 'AT+CPIN?']) {
      sent.push(...Buffer.from(cmd + '\r', 'latin1'));
      await host.command(cmd);
      const got = host.arrivals.length;
      const lastArrival = host.arrivals[got - 1]!;
      // tail -f: poll the file until it holds every byte the host has seen
      for (;;) {
        if (bytesOf(records(file), 'tx').length >= got) break;
        if (performance.now() - lastArrival > 2000) break;
        await sleep(2);
      }
      delays.push(performance.now() - lastArrival);
    }
    console.log(`trace write delay after the host saw the last byte: ${delays.map((d) => d.toFixed(1)).join(', ')} ms`);
    for (const d of delays) expect(d).toBeLessThan(100);

    // the last answer ends 150 ms before the kill: it must all be in the file
    sent.push(...Buffer.from('AT+CGATT?\r', 'latin1'));
    await host.command('AT+CGATT?');
    await sleep(150);
    const killedAt = performance.now();
    await served.kill('SIGKILL');
    const before = host.arrivals.filter((t) => t < killedAt - 100).length;
    expect(before).toBe(host.arrivals.length);
    const recs = records(file);
    expect(recs.length).toBeGreaterThan(200);
    expect(bytesOf(recs, 'tx').length).toBe(before);
    expect(Buffer.from(bytesOf(recs, 'rx')).toString('latin1')).toBe(Buffer.from(sent).toString('latin1'));
    expect(Buffer.from(bytesOf(recs, 'tx')).toString('latin1')).toMatch(/AT\+CGATT\?\r\r\n\+CGATT: [01]\r\n\r\nOK\r\n/);
  });
});
