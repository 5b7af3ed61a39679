/**
 * Line records: each command, echo, response line, URC, prompt and data block of the UART as
 * one record with its first and last byte's time; `level: 'lines'` leaves the bytes out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Modem } from '../sim/modem.js';
import type { LineRecord, TraceRecord } from '../sim/trace.js';
import { LineAssembler } from '../sim/trace-lines.js';
import { ms } from '../sim/kernel.js';
import { bootedModem, tempDir } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

const lines = (recs: readonly TraceRecord[]): LineRecord[] => recs.filter((r): r is LineRecord => r.ev === 'line');
const brief = (l: LineRecord): string => `${l.dir} ${l.kind} ${l.text}`;

describe('line records', () => {
  it('cut a session into commands, echoes, responses, URCs, a prompt and a data block', async () => {
    m = await bootedModem({ traceMemory: true });
    const from = m.trace.records.length;
    await m.host.command('AT+CSQ;+CPIN?');
    await m.host.command('AT+FSCREATE="a.txt"');
    m.host.write('AT+FSWRITE="a.txt",0,5,10\r');
    await m.host.expect('>');
    m.host.write('he\r\nl');
    await m.host.expect('OK');
    await m.host.command('AT+CGREG=1');
    await m.faults.deregister();
    await m.host.expect('+CGREG: 2');
    await m.host.advance(ms(100));
    const recs = m.trace.records.slice(from);
    expect(lines(recs).map(brief)).toEqual([
      'rx command AT+CSQ;+CPIN?',
      'tx echo AT+CSQ;+CPIN?',
      'tx response +CSQ: 24,99',
      'tx response +CPIN: READY',
      'tx response OK',
      'rx command AT+FSCREATE="a.txt"',
      'tx echo AT+FSCREATE="a.txt"',
      'tx response OK',
      'rx command AT+FSWRITE="a.txt",0,5,10',
      'tx echo AT+FSWRITE="a.txt",0,5,10',
      'tx prompt >',
      'rx data he\r\nl',
      'tx response OK',
      'rx command AT+CGREG=1',
      'tx echo AT+CGREG=1',
      'tx response OK',
      'tx urc +CGREG: 2',
      'tx urc +PDP DEACT',
    ]);
    // times are those of the byte records: first and last byte of the line, the record at its end
    const bytes = recs.filter((r) => r.ev === 'tx' || r.ev === 'rx');
    for (const l of lines(recs)) {
      const own = bytes.filter((b) => b.ev === l.dir && b.t >= l.t0 && b.t <= l.t1);
      expect(own.length).toBeGreaterThanOrEqual(l.text.length);
      expect(l.t).toBeGreaterThanOrEqual(l.t1);
    }
    const ok = lines(recs).find((l) => l.text === 'OK')!;
    expect(ok.t1 - ok.t0).toBe(2 * 86_806); // 'O' to the CR after 'K'
  });

  it('keep a URC whose raw payload holds CR LF as one record', () => {
    const a = new LineAssembler();
    const out: LineRecord[] = [];
    a.push({ t: 0, ev: 'urc', text: '+MSUB: "t",5 byte,a\r\nbc' });
    let t = 1;
    for (const b of Buffer.from('\r\n+MSUB: "t",5 byte,a\r\nbc\r\n', 'latin1')) out.push(...a.push({ t: t++, ev: 'tx', b }));
    expect(out.map(brief)).toEqual(['tx urc +MSUB: "t",5 byte,a\r\nbc']);
    expect(out[0]).toMatchObject({ t0: 3, t1: 26 });
  });

  it('at level lines: no byte records, the same lines, a much smaller file', async () => {
    const dir = tempDir();
    try {
      const sizes: Record<string, number> = {};
      const got: Record<string, string[]> = {};
      for (const level of ['bytes', 'lines'] as const) {
        const file = join(dir.path, `${level}.jsonl`);
        m = await bootedModem({ traceFile: file, traceLevel: level });
        for (let i = 0; i < 50; i++) await m.host.command('AT+CSQ;+CPIN?;+CGREG?');
        await m.close();
        m = undefined;
        const recs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TraceRecord);
        got[level] = lines(recs).map(brief);
        if (level === 'lines') expect(recs.filter((r) => r.ev === 'rx' || r.ev === 'tx')).toEqual([]);
        sizes[level] = statSync(file).size;
      }
      expect(got['lines']).toEqual(got['bytes']);
      console.log(`50 commands: bytes level ${sizes['bytes']} B, lines level ${sizes['lines']} B`);
      expect(sizes['lines']! * 4).toBeLessThan(sizes['bytes']!);
    } finally {
      dir.remove();
    }
  });
});
