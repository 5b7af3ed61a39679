import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineAssembler, LineEvent } from '../protocol/line.js';
import { parseCommandLine, splitParams } from '../protocol/parse.js';
import { parseParams, ParamSpec } from '../protocol/params.js';
import { formatFinal, formatInfo, FormatSettings, cme, OK, ERROR } from '../protocol/format.js';

const feed = (a: LineAssembler, s: string): LineEvent[] => [...Buffer.from(s, 'latin1')].flatMap((b) => a.push(b));
const lines = (ev: LineEvent[]) => ev.filter((e) => e.kind === 'line').map((e) => (e as { text: string }).text);
const echoed = (ev: LineEvent[]) =>
  Buffer.concat(ev.filter((e) => e.kind === 'echo').map((e) => (e as { bytes: Uint8Array }).bytes)).toString('latin1');
const settings = () => ({ s3: 13, s5: 8, echo: true, maxLine: 64 });

describe('line assembly', () => {
  it('echoes every byte and emits the line at S3', () => {
    const a = new LineAssembler(settings());
    const ev = feed(a, 'AT+CSQ\r');
    expect(echoed(ev)).toBe('AT+CSQ\r');
    expect(lines(ev)).toEqual(['AT+CSQ']);
  });
  it('ignores noise before AT and lines without AT (V.250), including LF of CR LF', () => {
    const a = new LineAssembler(settings());
    expect(lines(feed(a, '\nxyzAT\r\n\r'))).toEqual(['AT']);
    expect(lines(feed(a, 'hello\r'))).toEqual([]);
  });
  it('accepts lower and mixed case prefixes', () => {
    const a = new LineAssembler(settings());
    expect(lines(feed(a, 'at\raT\rAt\r'))).toEqual(['at', 'aT', 'At']);
  });
  it('applies S5 backspace editing', () => {
    const a = new LineAssembler(settings());
    expect(lines(feed(a, 'AT+CSX\bQ\r'))).toEqual(['AT+CSQ']);
  });
  it('follows a changed S3 terminator', () => {
    const a = new LineAssembler({ ...settings(), s3: 10 });
    expect(lines(feed(a, 'AT\r\n'))).toEqual(['AT\r']);
  });
  it('echo off echoes nothing', () => {
    const a = new LineAssembler({ ...settings(), echo: false });
    expect(echoed(feed(a, 'AT\r'))).toBe('');
  });
  it('discards an over-long line whole, keeps memory bounded, recovers at the next S3', () => {
    const a = new LineAssembler(settings());
    const ev = feed(a, 'AT' + 'x'.repeat(20_000) + '\r');
    expect(ev.filter((e) => e.kind === 'overflow')).toEqual([{ kind: 'overflow', length: 20_002 }]);
    expect(lines(ev)).toEqual([]);
    expect(lines(feed(a, 'AT\r'))).toEqual(['AT']);
  });
  it('raw mode takes exactly N bytes, unechoed and unparsed, then returns to command mode', () => {
    const a = new LineAssembler(settings());
    a.enterRaw({ length: 5, maxLength: 5 });
    const ev = feed(a, 'AT\r\nXAT\r');
    expect(ev[0]).toEqual({ kind: 'raw', data: Uint8Array.from(Buffer.from('AT\r\nX')), end: 'length' });
    expect(echoed(ev)).toBe('AT\r');
    expect(lines(ev)).toEqual(['AT']);
  });
  it('raw mode without a length ends at Ctrl-Z and cancels at ESC', () => {
    const a = new LineAssembler(settings());
    a.enterRaw({ ctrlZ: true, maxLength: 100 });
    expect(feed(a, 'ab\x1a')).toEqual([{ kind: 'raw', data: Uint8Array.from([97, 98]), end: 'ctrl-z' }]);
    a.enterRaw({ ctrlZ: true, maxLength: 100 });
    expect(feed(a, 'ab\x1b')[0]).toMatchObject({ kind: 'raw', end: 'cancel' });
  });
  it('never throws and stays bounded on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const a = new LineAssembler(settings());
        for (const b of bytes) {
          for (const e of a.push(b)) if (e.kind === 'line') expect(e.text.length).toBeLessThanOrEqual(64);
        }
      }),
    );
  });
});

describe('command line parsing', () => {
  it('splits basic and extended commands', () => {
    const r = parseCommandLine('ATE0&W+CREG=2;&W');
    expect(r.ok && r.commands.map((c) => [c.name, c.form, c.args])).toEqual([
      ['E', 'set', '0'],
      ['&W', 'set', ''],
      ['+CREG', 'set', '2'],
      ['&W', 'set', ''],
    ]);
  });
  it('recognises the four extended forms', () => {
    const r = parseCommandLine('AT+CGREG?;+CGATT=?;+CSQ;+CGACT=1,5');
    expect(r.ok && r.commands.map((c) => [c.name, c.form, c.args])).toEqual([
      ['+CGREG', 'read', ''],
      ['+CGATT', 'test', ''],
      ['+CSQ', 'exec', ''],
      ['+CGACT', 'set', '1,5'],
    ]);
  });
  it('keeps semicolons inside quotes', () => {
    const r = parseCommandLine('AT+MPUB="a;b",0,0,"x;y";+CSQ');
    expect(r.ok && r.commands.map((c) => c.args)).toEqual(['"a;b",0,0,"x;y"', '']);
  });
  it('upper-cases names and handles S registers', () => {
    const r = parseCommandLine('at+cgreg?;s3?;S5=8');
    expect(r.ok && r.commands.map((c) => [c.name, c.form, c.args])).toEqual([
      ['+CGREG', 'read', ''],
      ['S3', 'read', ''],
      ['S5', 'set', '8'],
    ]);
  });
  it('rejects unterminated strings and junk', () => {
    expect(parseCommandLine('AT+MPUB="abc').ok).toBe(false);
    expect(parseCommandLine('AT+CSQ?x').ok).toBe(false);
    expect(parseCommandLine('AT#').ok).toBe(false);
  });
});

describe('parameters', () => {
  it('splits quoted and unquoted values, with empty trailing values', () => {
    expect(splitParams('"cacert",88,')).toEqual([
      { text: 'cacert', quoted: true },
      { text: '88', quoted: false },
      { text: '', quoted: false },
    ]);
    expect(splitParams('id, user ,"pw"')).toEqual([
      { text: 'id', quoted: false },
      { text: 'user', quoted: false },
      { text: 'pw', quoted: true },
    ]);
    expect(splitParams('"a"b')).toBeUndefined();
  });
  const specs: ParamSpec[] = [
    { name: 'topic', type: 'string', maxLength: 8 },
    { name: 'qos', type: 'int', min: 0, max: 2 },
    { name: 'msg', type: 'string', maxLength: 10, quotes: 'required', optional: true },
  ];
  it('checks count, type, range and quoting', () => {
    expect(parseParams(specs, '"t",1,"m"')).toMatchObject({ ok: true, values: ['t', 1, 'm'] });
    expect(parseParams(specs, 't,"1"')).toMatchObject({ ok: true, values: ['t', 1, undefined] });
    expect(parseParams(specs, 't,3')).toMatchObject({ ok: false });
    expect(parseParams(specs, 't,x')).toMatchObject({ ok: false });
    expect(parseParams(specs, 't,1,m')).toMatchObject({ ok: false });
    expect(parseParams(specs, 't')).toMatchObject({ ok: false });
    expect(parseParams(specs, 't,1,"m",4')).toMatchObject({ ok: false });
    expect(parseParams(specs, '"toolongtopic",1')).toMatchObject({ ok: false });
  });
});

describe('result formatting', () => {
  const s: FormatSettings = { verbose: true, quiet: false, cmee: 1, s3: 13, s4: 10 };
  it('frames information text and final codes with CR LF', () => {
    expect(formatInfo('+CSQ: 24,99', s)).toBe('\r\n+CSQ: 24,99\r\n');
    expect(formatFinal(OK, s)).toBe('\r\nOK\r\n');
    expect(formatFinal({ kind: 'text', text: 'SHUT OK' }, s)).toBe('\r\nSHUT OK\r\n');
  });
  it('spells +CME ERROR per AT+CMEE', () => {
    expect(formatFinal(cme(767), { ...s, cmee: 0 })).toBe('\r\nERROR\r\n');
    expect(formatFinal(cme(767), s)).toBe('\r\n+CME ERROR: 767\r\n');
    expect(formatFinal(cme(767), { ...s, cmee: 2 })).toBe('\r\n+CME ERROR: Operation failed\r\n');
  });
  it('ATV0 gives numeric codes and unframed text; ATQ1 drops final codes', () => {
    const v0 = { ...s, verbose: false };
    expect(formatFinal(OK, v0)).toBe('0\r');
    expect(formatFinal(ERROR, v0)).toBe('4\r');
    expect(formatInfo('+CSQ: 1,2', v0)).toBe('+CSQ: 1,2\r\n');
    expect(formatFinal(OK, { ...s, quiet: true })).toBe('');
  });
});

describe('A/ repeats the last command line', () => {
  it('re-emits the previous line without a terminator', () => {
    const a = new LineAssembler(settings());
    expect(lines(feed(a, 'AT+CSQ\r'))).toEqual(['AT+CSQ']);
    expect(lines(feed(a, 'A/'))).toEqual(['AT+CSQ']);
    expect(lines(feed(a, 'a/'))).toEqual(['AT+CSQ']);
  });
});
