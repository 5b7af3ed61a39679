/**
 * The uartFragment fault through the serial endpoint in virtual time: the module's output in
 * bursts of `chunk` bytes, `gap` of silence between, every byte at its bit time; exact instants,
 * the records a replay applies again.
 */
import { describe, expect, it } from 'vitest';
import { describeFault, faultDetail, FaultSpecError, parseFault } from '../sim/faults/index.js';
import { ms, sec, type Ns } from '../sim/kernel.js';
import type { Modem } from '../sim/modem.js';
import type { TraceRecord } from '../sim/trace.js';
import { byteTimeNs } from '../sim/uart.js';
import { cleanupsAfterEach, dataReadyModem } from './helpers.js';

const cleanups = cleanupsAfterEach();
const BYTE: Ns = byteTimeNs(115200);
const GAP: Ns = ms(10);

async function modem(): Promise<Modem> {
  const m = await dataReadyModem({ traceMemory: true });
  cleanups.push(() => m.close());
  return m;
}

type FaultRecord = Extract<TraceRecord, { ev: 'fault' }>;
const faultRecords = (m: Modem): FaultRecord[] => m.trace.records.filter((r): r is FaultRecord => r.ev === 'fault');

/** What the host received from `from` on: each byte's end, relative to `t0`, with the byte. */
function received(m: Modem, t0: Ns): Array<[Ns, string]> {
  return m.host.log.map((x): [Ns, string] => [x.t - t0, String.fromCharCode(x.b)]);
}

/** Lengths of the runs of back-to-back bytes (one byte time apart) the host received. */
function runs(m: Modem): number[] {
  return groups(m, (dt) => dt === BYTE);
}

/** Lengths of the bursts the host received: bytes with less than `gap` of silence between. */
function bursts(m: Modem, gap: Ns): number[] {
  return groups(m, (dt) => dt - BYTE < gap);
}

function groups(m: Modem, together: (dt: Ns) => boolean): number[] {
  const out: number[] = [];
  const log = m.host.log;
  for (let i = 0; i < log.length; i++) {
    if (i > 0 && together(log[i]!.t - log[i - 1]!.t)) out[out.length - 1]!++;
    else out.push(1);
  }
  return out;
}

describe('parseFault for uartFragment', () => {
  it('parses chunk, gap and for (durations in ns); its trace detail parses back into the same fault', () => {
    const f = parseFault({ uartFragment: { chunk: 8, gap: '20ms', for: '5s' } }, 'here');
    expect(f).toEqual({ kind: 'uartFragment', chunk: 8, gap: ms(20), for: sec(5) });
    expect(faultDetail(f)).toEqual({ chunk: 8, gap: '20000000ns', for: '5000000000ns' });
    expect(parseFault({ uartFragment: faultDetail(f) }, 'trace')).toEqual(f);
    expect(describeFault(f)).toBe('uartFragment (chunk: 8, gap: 20 ms, for: 5 s)');
  });

  it('refuses missing or bad arguments, naming the place and the field', () => {
    const bad: Array<[unknown, string]> = [
      ['uartFragment', 'here: fault uartFragment: give chunk, gap and for'],
      [{ uartFragment: { chunk: 8, gap: '1ms' } }, 'here: fault uartFragment: give chunk, gap and for'],
      [{ uartFragment: { chunk: 0, gap: '1ms', for: '1s' } }, 'here: fault uartFragment: chunk must be an integer in 1..65536'],
      [{ uartFragment: { chunk: 2.5, gap: '1ms', for: '1s' } }, 'here: fault uartFragment: chunk must be an integer in 1..65536'],
      [{ uartFragment: { chunk: 8, gap: 0, for: '1s' } }, 'here: fault uartFragment: gap must be a duration above 0'],
      [{ uartFragment: { chunk: 8, gap: '1ms', for: 'ever' } }, 'here: fault uartFragment: for must be a duration above 0'],
      [{ uartFragment: { chunk: 8, gap: '1ms', for: '1s', size: 3 } }, 'here: fault uartFragment: unknown key "size" (expected "chunk", "gap", "for")'],
    ];
    for (const [v, msg] of bad) {
      expect(() => parseFault(v, 'here')).toThrow(FaultSpecError);
      expect(() => parseFault(v, 'here')).toThrow(msg);
    }
  });
});

describe('uartFragment', () => {
  it('AT in bursts of 3: the echo back to back, then each 3 bytes of the answer a gap after the last', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    expect(await m.faults.uartFragment({ chunk: 3, gap: GAP, for: sec(1) })).toBe('uartFragment (chunk: 3, gap: 10 ms, for: 1 s)');
    m.host.log.length = 0;
    // the same bytes as without the fault
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    // the echo follows the host's bytes (each received one byte time after it was sent); the OK,
    // ready after 2–4 ms, waits out the gap behind the third byte, and so on
    const e = 4 * BYTE;
    const b2 = e + GAP;
    const b3 = b2 + 3 * BYTE + GAP;
    expect(received(m, t0)).toEqual([
      [2 * BYTE, 'A'],
      [3 * BYTE, 'T'],
      [e, '\r'],
      [b2 + BYTE, '\r'],
      [b2 + 2 * BYTE, '\n'],
      [b2 + 3 * BYTE, 'O'],
      [b3 + BYTE, 'K'],
      [b3 + 2 * BYTE, '\r'],
      [b3 + 3 * BYTE, '\n'],
    ]);
  });

  it('output quiet for a gap anyway starts a fresh burst: the next answer gets a whole chunk', async () => {
    const m = await modem();
    await m.faults.uartFragment({ chunk: 5, gap: GAP, for: sec(1) });
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    // 9 bytes: a burst of 5 (the echo, a pause shorter than the gap, \r\n) and 4 of the next;
    // after 20 ms of quiet the count starts again, so the next AT comes as 5 + 4 too, not 1 + 5 + 3
    await m.host.advance(ms(20));
    m.host.log.length = 0;
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(bursts(m, GAP)).toEqual([5, 4]);
  });

  it('the window ends with a uartFragment-over record at its instant; after it the output is back to back', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.uartFragment({ chunk: 2, gap: GAP, for: ms(500) });
    await m.host.advance(ms(500));
    expect(faultRecords(m).map((r) => [r.t - t0, r.what, r.detail])).toEqual([
      [0, 'uartFragment', { chunk: 2, gap: '10000000ns', for: '500000000ns' }],
      [ms(500), 'uartFragment-over', {}],
    ]);
    m.host.log.length = 0;
    expect(await m.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
    // the echo, then the answer in one run after the command's latency
    expect(runs(m)).toEqual([10, 19]);
  });

  it('a second uartFragment replaces the first: its chunk from the next byte, its window', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.uartFragment({ chunk: 2, gap: GAP, for: sec(10) });
    await m.faults.uartFragment({ chunk: 4, gap: GAP, for: sec(1) });
    m.host.log.length = 0;
    expect(await m.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
    expect(Math.max(...runs(m))).toBe(4);
    await m.host.advance(sec(10));
    // one end: the first window's never comes
    expect(faultRecords(m).filter((r) => r.what === 'uartFragment-over').map((r) => r.t - t0)).toEqual([sec(1)]);
  });

  it('a freeze during the window: the byte already set to leave leaves, the rest wait, then come in fresh bursts', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.uartFragment({ chunk: 4, gap: GAP, for: sec(5) });
    m.host.log.length = 0;
    m.host.write('AT+CGATT?\r');
    await m.host.advance(ms(1));
    // the echo's first burst is out, the 5th byte set to leave after the gap
    await m.faults.freeze(ms(300));
    const answer = await m.host.expect('OK\r\n', sec(2));
    expect(answer.text).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
    expect(faultRecords(m).map((r) => r.what)).toEqual(['uartFragment', 'freeze', 'freeze-over']);
    // the 5th byte's start was set as the 4th left (after the gap), before the freeze began
    expect(m.host.log[4]!.t - t0).toBe(6 * BYTE + GAP);
    // 300 ms of silence: a fresh burst when the module carries on
    expect(bursts(m, GAP)).toEqual([4, 1, 4, 4, 4, 4, 4, 4]);
    const resumed = m.host.log[5]!;
    expect(resumed.t - t0).toBe(ms(1) + ms(300) + BYTE);
  });
});
