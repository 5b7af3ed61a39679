/**
 * The 8N1 receiver that samples a line driven at another rate (sim/binding/resample.ts): the
 * same rate takes every byte back; a rate off by a few percent still does; a wrong rate gives
 * garbage and framing errors; glitches shorter than half a bit are no start bit.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bitMiddle, UartReceiver, type LineFrame, type Sampled } from '../sim/binding/resample.js';
import { byteTimeNs } from '../sim/uart.js';

/** Bytes back to back at `baud` from `start`. */
function frames(bytes: readonly number[], baud: number, start = 1000): LineFrame[] {
  const n = byteTimeNs(baud);
  return bytes.map((byte, i) => ({ byte, start: start + i * n, baud }));
}

/** Everything a receiver at `rxBaud` makes of the frames, the line idle after them. */
function decode(rxBaud: number, fs: readonly LineFrame[]): Sampled[] {
  const rx = new UartReceiver(rxBaud);
  const out: Sampled[] = [];
  for (const f of fs) out.push(...rx.push(f));
  out.push(...rx.idleUntil(Number.MAX_SAFE_INTEGER));
  return out;
}

const bytesOf = (s: readonly Sampled[]): number[] => s.flatMap((x) => (x.kind === 'byte' ? [x.byte] : []));
const text = (s: string): number[] => [...Buffer.from(s, 'latin1')];

describe('UartReceiver at the transmitter’s rate', () => {
  it('takes every byte value back, back to back, each complete at its stop-bit middle', () => {
    const all = Array.from({ length: 256 }, (_, i) => i);
    const fs = frames(all, 115200);
    const got = decode(115200, fs);
    expect(got.every((s) => s.kind === 'byte')).toBe(true);
    expect(bytesOf(got)).toEqual(all);
    expect(got.map((s) => s.at)).toEqual(fs.map((f) => f.start + bitMiddle(115200, 9)));
  });

  it('gives the same bytes however the frames are split into pushes and idle notices', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.array(fc.nat(5), { minLength: 1, maxLength: 40 }), (data, gaps) => {
        // frames with idle gaps of whole bit times between them
        const baud = 9600;
        const bit = 1e9 / baud;
        let t = 500;
        const fs: LineFrame[] = [];
        data.forEach((byte, i) => {
          fs.push({ byte, start: Math.round(t), baud });
          t += byteTimeNs(baud) + (gaps[i % gaps.length] ?? 0) * bit;
        });
        const rx = new UartReceiver(baud);
        const out: Sampled[] = [];
        for (const f of fs) {
          out.push(...rx.push(f));
          out.push(...rx.idleUntil(f.start + byteTimeNs(baud)));
        }
        out.push(...rx.idleUntil(Number.MAX_SAFE_INTEGER));
        expect(bytesOf(out)).toEqual([...data]);
      }),
    );
  });

  it('still takes text right with the transmitter 2 % fast or slow', () => {
    const msg = text('AT+CGATT?\r\n\r\nOK\r\n');
    expect(bytesOf(decode(115200, frames(msg, 117504)))).toEqual(msg);
    expect(bytesOf(decode(115200, frames(msg, 112896)))).toEqual(msg);
  });
});

describe('UartReceiver at the wrong rate', () => {
  it('turns "AT\\r" sent at 9600 into other bytes and framing errors at 115200', () => {
    const got = decode(115200, frames(text('AT\r'), 9600));
    expect(bytesOf(got)).not.toEqual(text('AT\r'));
    expect(got.some((s) => s.kind === 'framing-error')).toBe(true);
    // each 9600 bit is 12 of the receiver's: far more frames than bytes sent
    expect(got.length).toBeGreaterThan(3);
  });

  it('turns "\\r\\nOK\\r\\n" sent at 115200 into at most a couple of bytes, none of them the text, at 9600', () => {
    const got = decode(9600, frames(text('\r\nOK\r\n'), 115200));
    expect(got.length).toBeLessThanOrEqual(2);
    expect(bytesOf(got).some((b) => b === 0x4f || b === 0x4b)).toBe(false);
  });

  it('drops a byte whose stop bit samples 0 as a framing error (0x00 at half the rate)', () => {
    const got = decode(19200, frames([0x00], 9600));
    expect(got[0]).toMatchObject({ kind: 'framing-error', bits: 0 });
    expect(bytesOf(got)).toEqual([]);
  });

  it('takes a low pulse shorter than half a bit for no start bit (0xff at ten times the rate)', () => {
    // 0xff at 96000 is one low bit of ~10.4 µs; the 9600 receiver samples the start bit at 52 µs
    expect(decode(9600, frames([0xff], 96000))).toEqual([]);
  });

  it('waits, where the line is not known yet, for the next frame or the line going idle', () => {
    const rx = new UartReceiver(9600);
    const [f] = frames([0x41], 115200, 0);
    expect(rx.push(f!)).toEqual([]);
    const w = rx.waitingFor;
    expect(w).toBe(bitMiddle(9600, 1));
    expect(rx.inFrame).toBe(true);
    expect(rx.idleUntil(w!)).toEqual([]);
    const got = rx.idleUntil(Number.MAX_SAFE_INTEGER);
    expect(got).toHaveLength(1);
    expect(rx.inFrame).toBe(false);
    expect(rx.waitingFor).toBeUndefined();
  });
});
