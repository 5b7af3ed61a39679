import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Modem } from '../sim/modem.js';
import { bootedModem, tempDir } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

/** Sample a VCD line at bit centres to get its bytes back (8N1, LSB first). */
function decode(vcd: string, id: string, bitNs: number): number[] {
  const changes: Array<[number, number]> = [];
  let t = 0;
  for (const line of vcd.split('\n')) {
    if (line.startsWith('#')) t = Number(line.slice(1));
    else if (line.length === 2 && line[1] === id) changes.push([t, Number(line[0])]);
  }
  const level = (at: number): number => {
    let v = 1;
    for (const [ct, cv] of changes) if (ct <= at) v = cv;
    return v;
  };
  const bytes: number[] = [];
  let i = 0;
  while (i < changes.length) {
    const [start, v] = changes[i]!;
    if (v !== 0) {
      i++;
      continue;
    }
    let b = 0;
    for (let k = 0; k < 8; k++) b |= level(start + bitNs * (1.5 + k)) << k;
    expect(level(start + bitNs * 9.5)).toBe(1); // stop bit
    bytes.push(b);
    const end = start + bitNs * 10;
    while (i < changes.length && changes[i]![0] < end - bitNs / 2) i++;
  }
  return bytes;
}

describe('VCD waveform of the UART lines', () => {
  it('holds every byte of both directions, bit by bit, at the line rate', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'uart.vcd');
      m = await bootedModem({ vcdFile: file });
      const from = m.host.log.length;
      await m.host.command('AT+CSQ;+CPIN?');
      const sent = m.host.log.map((e) => e.b);
      await m.close();
      m = undefined;
      const vcd = readFileSync(file, 'utf8');
      expect(vcd).toContain('$timescale 1ns $end');
      const bitNs = 86_806 / 10;
      expect(decode(vcd, '!', bitNs)).toEqual(sent);
      expect(Buffer.from(decode(vcd, '"', bitNs)).toString('latin1')).toBe('AT+CSQ;+CPIN?\r');
      expect(Buffer.from(sent.slice(from)).toString('latin1')).toContain('+CPIN: READY');
    } finally {
      dir.remove();
    }
  });
});

/** The string tracks: each `$var string` by name, its values with their times (GTKWave escapes undone). */
function strings(vcd: string): Map<string, Array<[number, string]>> {
  const ids = new Map<string, string>();
  for (const m of vcd.matchAll(/^\$var string \d+ (\S+) (\S+) \$end$/gm)) ids.set(m[1]!, m[2]!);
  const out = new Map<string, Array<[number, string]>>([...ids.values()].map((n) => [n, []]));
  let t = 0;
  for (const line of vcd.split('\n')) {
    if (line.startsWith('#')) t = Number(line.slice(1));
    const m = /^s(\S*) (\S+)$/.exec(line);
    if (!m) continue;
    const text = m[1]!.replace(/\\(\\|r|n|t|[0-7]{3})/g, (_, e: string) => (e === '\\' ? '\\' : e === 'r' ? '\r' : e === 'n' ? '\n' : e === 't' ? '\t' : String.fromCharCode(parseInt(e, 8))));
    out.get(ids.get(m[2]!)!)!.push([t, text]);
  }
  return out;
}

describe('VCD string tracks', () => {
  it('hold each command and each line of the module while its bytes are on the wire, with its kind', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'uart.vcd');
      m = await bootedModem({ vcdFile: file, traceMemory: true });
      const from = m.trace.records.length;
      await m.host.command('AT+CSQ;+CPIN?');
      await m.host.command('AT+CGREG=2');
      await m.faults.deregister();
      await m.host.expect('+PDP DEACT\r\n');
      const recs = m.trace.records.slice(from);
      await m.close();
      m = undefined;
      const vcd = readFileSync(file, 'utf8');
      const tracks = strings(vcd);
      expect([...tracks.keys()]).toEqual(['RXD_line', 'TXD_line', 'TXD_kind']);
      const shown = (name: string): string[] => tracks.get(name)!.map(([, v]) => v).filter((v) => v !== '');
      expect(shown('RXD_line').slice(-2)).toEqual(['AT+CSQ;+CPIN?', 'AT+CGREG=2']);
      expect(shown('TXD_line').slice(-8)).toEqual(['AT+CSQ;+CPIN?', '+CSQ: 24,99', '+CPIN: READY', 'OK', 'AT+CGREG=2', 'OK', '+CGREG: 2', '+PDP DEACT']);
      expect(shown('TXD_kind').slice(-4)).toEqual(['echo', 'response', 'URC', 'URC']);
      // from the start bit of the first byte to the stop bit of the last
      const bt = 86_806;
      const rx = recs.filter((r) => r.ev === 'rx');
      const cmd = tracks.get('RXD_line')!.find(([, v]) => v === 'AT+CSQ;+CPIN?')!;
      expect(cmd[0]).toBe(rx[0]!.t - bt);
      const cleared = tracks.get('RXD_line')!.find(([t, v]) => t > cmd[0] && v === '')!;
      expect(cleared[0]).toBe(rx.find((r) => r.ev === 'rx' && r.b === 13)!.t);
      // times never go back
      const stamps = vcd.split('\n').filter((l) => l.startsWith('#')).map((l) => Number(l.slice(1)));
      for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    } finally {
      dir.remove();
    }
  });
});

describe.skipIf(!existsSync('/dev/full'))('trace and VCD files on a full disk', () => {
  it('log one error each and stop; the modem keeps answering', async () => {
    const records: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line) as { level: number; msg: string }) });
    // /dev/full takes the open and refuses every write with ENOSPC
    m = await bootedModem({ traceFile: '/dev/full', vcdFile: '/dev/full', log });
    for (let i = 0; i < 20; i++) expect(await m.host.command('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 24,99\r\n\r\nOK\r\n');
    await m.close();
    m = undefined;
    const errors = records.filter((r) => r.level === 50).map((r) => r.msg);
    expect(errors.sort()).toEqual([
      'VCD file write failed; the waveform stops here, the modem runs on',
      'trace file write failed; the file stops here, the modem runs on',
    ]);
  });
});
