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
