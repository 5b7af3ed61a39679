/**
 * The line and power faults (freeze, noise, slow, powerLoss) through the serial endpoint in
 * virtual time: exact bytes, exact instants, the trace records a replay applies again.
 */
import { describe, expect, it } from 'vitest';
import { faultDetail, FaultSpecError, lineMatches, parseFault, parseTrigger, type Fault } from '../sim/faults/index.js';
import { loadScenario } from '../sim/scenario/load.js';
import { ms, sec, type Ns } from '../sim/kernel.js';
import type { Modem, ModemOptions } from '../sim/modem.js';
import type { TraceRecord } from '../sim/trace.js';
import { byteTimeNs } from '../sim/uart.js';
import { cleanupsAfterEach, dataReadyModem, timed, UART_SLACK } from './helpers.js';

const cleanups = cleanupsAfterEach();
const BYTE: Ns = byteTimeNs(115200);

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await dataReadyModem({ traceMemory: true, ...opts });
  cleanups.push(() => m.close());
  return m;
}

type FaultRecord = Extract<TraceRecord, { ev: 'fault' }>;
type ByteRecord = Extract<TraceRecord, { ev: 'rx' | 'tx' }>;
const faultRecords = (m: Modem): FaultRecord[] => m.trace.records.filter((r): r is FaultRecord => r.ev === 'fault');
const byteRecords = (m: Modem, ev: 'rx' | 'tx', after: Ns): ByteRecord[] => m.trace.records.filter((r): r is ByteRecord => r.ev === ev && r.t > after);
const rxBytes = (m: Modem, after: Ns): number[] => byteRecords(m, 'rx', after).map((r) => r.b);

describe('parseFault for the line and power faults', () => {
  it('parses freeze, noise, slow and powerLoss; durations in ns', () => {
    expect(parseFault({ freeze: { for: '3s' } }, 'here')).toEqual({ kind: 'freeze', for: sec(3) });
    expect(parseFault({ noise: { burst: 'FF00', toHost: 4 } }, 'here')).toEqual({ kind: 'noise', burst: 'ff00', toHost: 4 });
    expect(parseFault({ noise: { bytes: 8 } }, 'here')).toEqual({ kind: 'noise', bytes: 8 });
    expect(parseFault({ noise: { rate: 0.01, for: '5s', corrupt: 'tx' } }, 'here')).toEqual({ kind: 'noise', rate: 0.01, for: sec(5), corrupt: 'tx' });
    expect(parseFault({ slow: { factor: 2.5, for: '250ms' } }, 'here')).toEqual({ kind: 'slow', factor: 2.5, for: ms(250) });
    expect(parseFault('powerLoss', 'here')).toEqual({ kind: 'powerLoss' });
  });

  it('the trace detail of each parses back into the same fault (what replay applies)', () => {
    const faults: Fault[] = [
      { kind: 'freeze', for: 1_234_567 },
      { kind: 'slow', factor: 3, for: sec(20) },
      { kind: 'noise', bytes: 3, burst: 'a5', toHost: 2 },
      { kind: 'noise', rate: 0.25, for: ms(1500), corrupt: 'rx' },
      { kind: 'powerLoss' },
    ];
    for (const f of faults) expect(parseFault({ [f.kind]: faultDetail(f) }, 'trace')).toEqual(f);
    expect(faultDetail({ kind: 'freeze', for: sec(2) })).toEqual({ for: '2000000000ns' });
  });

  it('refuses missing or bad arguments, naming the place and the field', () => {
    const bad: Array<[unknown, string]> = [
      ['freeze', 'here: fault freeze: give for (a duration)'],
      [{ freeze: { for: 'soon' } }, 'here: fault freeze: for must be a duration above 0'],
      [{ noise: {} }, 'here: fault noise: give bytes, burst, toHost or rate (with for)'],
      [{ noise: { rate: 2, for: '1s' } }, 'here: fault noise: rate must be a number above 0 and at most 1'],
      [{ noise: { rate: 0.1 } }, 'here: fault noise: give for (how long the line is noisy) with rate'],
      [{ noise: { rate: 0.1, for: '1s', corrupt: 'up' } }, 'here: fault noise: corrupt must be one of both, rx, tx'],
      [{ noise: { burst: 'abc' } }, 'here: fault noise: burst must be hex digits'],
      [{ noise: { bytes: 0 } }, 'here: fault noise: bytes must be an integer in 1..65536'],
      [{ slow: { factor: 0, for: '1s' } }, 'here: fault slow: factor must be a number in (0, 1000]'],
      [{ slow: { factor: 2 } }, 'here: fault slow: give factor and for'],
      [{ powerLoss: { now: true } }, 'here: fault powerLoss: unknown key "now" (expected none)'],
    ];
    for (const [v, msg] of bad) {
      expect(() => parseFault(v, 'here')).toThrow(FaultSpecError);
      expect(() => parseFault(v, 'here')).toThrow(msg);
    }
  });
});

describe('freeze', () => {
  it('input during a freeze is lost (no echo, no answer); a URC meanwhile prints at the end, then AT is answered', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    expect(await m.faults.freeze(sec(2))).toBe('freeze (for: 2 s)');
    m.host.write('AT\r');
    await m.host.advance(sec(1));
    await m.faults.pdpDeact();
    await m.host.advance(sec(1) - 1);
    expect(m.host.pending).toBe('');
    const urc = await m.host.expect('\r\n+PDP DEACT\r\n', sec(1));
    expect(urc.text).toBe('\r\n+PDP DEACT\r\n');
    expect(urc.at).toBe(t0 + sec(2) + 14 * BYTE);
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(faultRecords(m).map((r) => [r.t - t0, r.what, r.detail])).toEqual([
      [0, 'freeze', { for: '2000000000ns' }],
      [sec(1), 'pdpDeact', {}],
      [sec(2), 'freeze-over', {}],
    ]);
  });

  it('an answer computed during a freeze is held, not lost: OK leaves when the module carries on', async () => {
    const m = await modem();
    m.host.write('AT\r');
    expect((await m.host.expect('AT\r', ms(10))).text).toBe('AT\r');
    const t0 = m.kernel.now;
    await m.faults.freeze(ms(500));
    const ok = await m.host.expect('\r\nOK\r\n', sec(1));
    expect(ok.text).toBe('\r\nOK\r\n');
    expect(ok.at).toBe(t0 + ms(500) + 6 * BYTE);
  });

  it('a second freeze during one extends it to the later end', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.freeze(sec(1));
    await m.host.advance(ms(500));
    await m.faults.freeze(sec(1));
    await m.host.advance(ms(900));
    m.host.write('AT\r');
    await m.host.advance(ms(50));
    expect(m.host.pending).toBe('');
    await m.host.advance(ms(100));
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(faultRecords(m).filter((r) => r.what === 'freeze-over').map((r) => r.t - t0)).toEqual([ms(1500)]);
  });
});

describe('noise', () => {
  it('a burst reaches the RX through the UART, one byte time apiece: before a command it is echoed and skipped', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.noise({ burst: 'ff00fe' });
    expect(await m.host.command('AT')).toBe('\xff\xfeAT\r\r\nOK\r\n');
    const rx = byteRecords(m, 'rx', t0).slice(0, 3);
    expect(rx.map((r) => [r.t - t0, r.b])).toEqual([
      [BYTE, 0xff],
      [2 * BYTE, 0x00],
      [3 * BYTE, 0xfe],
    ]);
  });

  it('a garbage byte inside a command line garbles it: echoed, ERROR', async () => {
    const m = await modem();
    m.host.write('AT+CS');
    await m.faults.noise({ burst: 'a5' });
    expect(await m.host.command('Q')).toBe('AT+CS\xa5Q\r\r\nERROR\r\n');
  });

  it('bytes: N random bytes are seeded: the same seed gives the same bytes on the RX', async () => {
    const draw = async (): Promise<number[]> => {
      const m = await modem({ seed: 9 });
      const t0 = m.kernel.now;
      await m.faults.noise({ bytes: 16 });
      await m.host.advance(ms(5));
      return rxBytes(m, t0 - 1);
    };
    const a = await draw();
    expect(a).toHaveLength(16);
    expect(await draw()).toEqual(a);
  });

  it('rate with corrupt: tx flips one bit of each byte to the host for the window (rate 1), the trace holds what arrived; after it, answers are clean and noise-over is traced', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.noise({ rate: 1, for: ms(100), corrupt: 'tx' });
    m.host.write('AT\r');
    await m.host.advance(ms(50));
    const got = [...Buffer.from(m.host.take(), 'latin1')];
    const sent = [...Buffer.from('AT\r\r\nOK\r\n', 'latin1')];
    expect(got).toHaveLength(sent.length);
    // exactly one bit differs in every byte
    expect(got.map((b, i) => (b ^ sent[i]!).toString(2).replace(/0/g, ''))).toEqual(sent.map(() => '1'));
    expect(byteRecords(m, 'tx', t0).map((r) => r.b)).toEqual(got);
    // the module heard the command as sent
    expect(rxBytes(m, t0)).toEqual([...Buffer.from('AT\r', 'latin1')]);
    await m.host.advance(ms(60));
    expect(m.trace.records.some((r) => r.ev === 'fault' && r.what === 'noise-over')).toBe(true);
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('rate with corrupt: rx garbles what the module hears (rate 1): no OK comes back; the same seed corrupts the same bits', async () => {
    const heard = async (): Promise<number[]> => {
      const m = await modem({ seed: 5 });
      const t0 = m.kernel.now;
      await m.faults.noise({ rate: 1, for: sec(1), corrupt: 'rx' });
      m.host.write('AT+CSQ\r');
      await m.host.advance(ms(200));
      expect(m.host.take()).not.toContain('OK');
      return rxBytes(m, t0);
    };
    const a = await heard();
    expect(a).toHaveLength(7);
    expect(a.map((b, i) => (b ^ 'AT+CSQ\r'.charCodeAt(i)).toString(2).replace(/0/g, ''))).toEqual(Array(7).fill('1'));
    expect(await heard()).toEqual(a);
  });

  it('toHost: N garbage bytes reach the host behind queued output, at one byte time apiece', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await m.faults.noise({ toHost: 5 });
    await m.host.advance(5 * BYTE);
    const got = m.host.take();
    expect(got).toHaveLength(5);
    expect(m.host.pending).toBe('');
    const tx = byteRecords(m, 'tx', t0);
    expect(tx.map((r) => r.t - t0)).toEqual([1, 2, 3, 4, 5].map((i) => i * BYTE));
    expect(tx.map((r) => r.b)).toEqual([...Buffer.from(got, 'latin1')]);
  });
});

describe('slow', () => {
  it('AT takes factor times its profile latency during the window, its usual latency after', async () => {
    const m = await modem();
    const simple = m.profile.latency.simple;
    await m.faults.slow(10, sec(5));
    const slow = await timed(m, 'AT');
    expect(slow.text).toBe('AT\r\r\nOK\r\n');
    expect(slow.dt).toBeGreaterThanOrEqual(10 * simple.base);
    expect(slow.dt).toBeLessThanOrEqual(10 * (simple.base + simple.jitter) + UART_SLACK);
    await m.host.advance(sec(5));
    expect(m.engine.latencyFactor).toBe(1);
    const normal = await timed(m, 'AT');
    expect(normal.dt).toBeLessThanOrEqual(simple.base + simple.jitter + UART_SLACK);
  });

  it('a second slow replaces the first: its factor, its window', async () => {
    const m = await modem();
    await m.faults.slow(10, sec(5));
    await m.faults.slow(3, sec(1));
    expect(m.engine.latencyFactor).toBe(3);
    await m.host.advance(sec(1));
    expect(m.engine.latencyFactor).toBe(1);
    await m.host.advance(sec(5));
    expect(m.engine.latencyFactor).toBe(1);
  });
});

describe('powerLoss', () => {
  it('mid-command: no answer, input until the boot lost, RDY after the reset delay and its boot time, RAM lost', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CMEE=2')).toBe('AT+CMEE=2\r\r\nOK\r\n');
    m.host.write('AT+CSQ\r');
    expect((await m.host.expect('AT+CSQ\r', ms(10))).text).toBe('AT+CSQ\r');
    const t0 = m.kernel.now;
    expect(await m.faults.powerLoss()).toBe('powerLoss');
    await m.host.advance(ms(100));
    m.host.write('AT\r');
    await m.host.advance(ms(100));
    expect(m.host.pending).toBe('');
    const rdy = await m.host.expect('\r\nRDY\r\n', sec(5));
    expect(rdy.text).toBe('\r\nRDY\r\n');
    const rdyAt = m.profile.boot.urcs.find((u) => u.text === 'RDY')!.at;
    expect(rdy.at).toBe(t0 + m.profile.boot.resetDelay + rdyAt + 7 * BYTE);
    await m.clock.waitUntil(() => m.pdp.dataReady, sec(60));
    await m.host.advance(sec(1));
    m.host.take();
    expect(await m.host.command('AT+CMEE?')).toBe('AT+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n');
  });

  it('output queued for the host when the power goes never leaves', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    m.engine.sendRaw(Buffer.from('0123456789', 'latin1'));
    await m.host.advance(3 * BYTE);
    await m.faults.powerLoss();
    await m.host.advance(ms(100));
    expect(m.host.take()).toBe('012');
    expect(faultRecords(m).find((r) => r.what === 'output-lost-at-power-loss')).toEqual({
      t: t0 + 3 * BYTE,
      ev: 'fault',
      what: 'output-lost-at-power-loss',
      detail: { bytes: 7 },
    });
  });

  it('a power loss ends a freeze: the module boots and answers', async () => {
    const m = await modem();
    await m.faults.freeze(sec(60));
    await m.faults.powerLoss();
    await m.host.expect('\r\nSMS READY\r\n', sec(5));
    m.host.take();
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
  });
});

describe('faults fired on a host command', () => {
  it('parseTrigger and lineMatches: the name must end where the pattern does, any case', () => {
    const t = parseTrigger({ command: '+MPUB' }, 'here');
    expect(t).toEqual({ command: '+MPUB', nth: 1 });
    expect(lineMatches(t, 'AT+MPUB="a",0,0,"x"')).toBe(true);
    expect(lineMatches(t, 'at+mpub?')).toBe(true);
    expect(lineMatches(t, 'AT+MPUBEX="a",0,0,3')).toBe(false);
    expect(lineMatches(t, 'AT+CSQ')).toBe(false);
    expect(() => parseTrigger({ command: 'AT+CSQ;' }, 'here')).toThrow('here: on: command must be a command name');
    expect(() => parseTrigger({ command: '+CSQ', nth: 0 }, 'here')).toThrow('here: on: nth must be an integer in 1..1000000');
  });

  it('powerLoss on the 2nd AT+CSQ: the 1st is answered, the 2nd echoed without its CR and never answered; RDY follows', async () => {
    const m = await modem();
    const armed = m.faults.on({ command: '+CSQ', nth: 2 }, { kind: 'powerLoss' });
    expect(await m.host.command('AT+CSQ')).toMatch(/^AT\+CSQ\r\r\n\+CSQ: \d+,\d+\r\n\r\nOK\r\n$/);
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    m.host.write('AT+CSQ\r');
    // virtual time moves while the host waits on it
    const rdy = await m.host.expect('\r\nRDY\r\n', sec(5));
    expect(rdy.text).toBe('AT+CSQ\r\nRDY\r\n');
    expect(await armed.fired).toBe('powerLoss');
    const cutAt = faultRecords(m).find((r) => r.what === 'powerLoss')!.t;
    // the CR ended its stop bit at the cut: the line was complete there
    expect(byteRecords(m, 'rx', 0).at(-1)).toEqual({ t: cutAt, ev: 'rx', b: 13 });
  });

  it('a disarmed trigger never fires; one that cannot apply rejects and is traced as trigger-failed after its fault record', async () => {
    const m = await modem();
    const off = m.faults.on({ command: '+CSQ', nth: 1 }, { kind: 'reboot' });
    off.disarm();
    const bad = m.faults.on({ command: '+CGATT', nth: 1 }, { kind: 'pdpDeact', cid: 9 });
    expect(await m.host.command('AT+CSQ')).toMatch(/OK\r\n$/);
    expect(await m.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
    await expect(bad.fired).rejects.toThrow('expected an active PDP context 9, got none');
    // the fault is recorded as it enters the model, before it finds nothing to act on
    expect(faultRecords(m).map((r) => r.what)).toEqual(['pdpDeact', 'trigger-failed']);
  });

  it('a scenario fault step takes on: {command, nth}; a bad one names the step', () => {
    const s = loadScenario(['name: t', 'steps:', '  - fault: {freeze: {for: 2s}}', '    on: {command: "+MPUB", nth: 3}'].join('\n'), 't.yaml');
    expect(s.steps[0]).toMatchObject({ kind: 'fault', fault: { kind: 'freeze', for: sec(2) }, on: { command: '+MPUB', nth: 3 } });
    expect(() => loadScenario(['name: t', 'steps:', '  - fault: powerLoss', '    on: {cmd: "+MPUB"}'].join('\n'), 't.yaml')).toThrow(
      /step 1.*on: unknown key "cmd" \(expected "command", "urc", "state", "to", "nth"\)/,
    );
  });
});
