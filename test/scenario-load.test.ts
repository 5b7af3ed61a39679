/**
 * Scenario files as text: durations, byte forms, expectation forms, and the loader's messages
 * for mistakes (file, step, line). Pure: no modem, no broker.
 */
import { describe, expect, it } from 'vitest';
import { bytesOf, quote } from '../sim/scenario/bytes.js';
import { formatDuration, parseDuration } from '../sim/scenario/duration.js';
import { loadScenario, ScenarioError, scenarioFromObject } from '../sim/scenario/load.js';
import { DEFAULTS } from '../sim/scenario/types.js';

const errorOf = (text: string): string => {
  try {
    loadScenario(text, 'x.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return (err as Error).message;
  }
  throw new Error('loaded without complaint');
};

describe('durations', () => {
  it('reads ns..h, compounds and bare seconds, and refuses the rest', () => {
    expect(parseDuration('250ms')).toBe(250_000_000);
    expect(parseDuration('5s')).toBe(5_000_000_000);
    expect(parseDuration('1.5s')).toBe(1_500_000_000);
    expect(parseDuration('2min')).toBe(120_000_000_000);
    expect(parseDuration('2m')).toBe(120_000_000_000);
    expect(parseDuration('1h')).toBe(3_600_000_000_000);
    expect(parseDuration('1h30m')).toBe(5_400_000_000_000);
    expect(parseDuration('1m 30s')).toBe(90_000_000_000);
    expect(parseDuration('10us')).toBe(10_000);
    expect(parseDuration(3)).toBe(3_000_000_000);
    expect(parseDuration('0.25')).toBe(250_000_000);
    for (const bad of ['', 's', '5 parsecs', '-1s', '1h-', 'soon', -2, null]) expect(parseDuration(bad)).toBeUndefined();
    expect(formatDuration(3_600_000_000_000)).toBe('1 h');
    expect(formatDuration(5_000_000_000)).toBe('5 s');
    expect(formatDuration(250_000_000)).toBe('250 ms');
  });
});

describe('bytes', () => {
  it('strings are bytes one per character; base64 and hex give any bytes; quote escapes them back', () => {
    expect(bytesOf('a\x00\xff\r\n', 'raw')).toEqual(Buffer.from([0x61, 0x00, 0xff, 0x0d, 0x0a]));
    expect(bytesOf({ base64: 'AP8a' }, 'raw')).toEqual(Buffer.from([0x00, 0xff, 0x1a]));
    expect(bytesOf({ hex: '00 ff 1a' }, 'raw')).toEqual(Buffer.from([0x00, 0xff, 0x1a]));
    expect(() => bytesOf('中', 'raw')).toThrow(/U\+4E2D is not a byte/);
    expect(() => bytesOf({ hex: 'abc' }, 'raw')).toThrow(/pairs of hex digits/);
    expect(() => bytesOf({ base64: '!!' }, 'raw')).toThrow(/not base64/);
    expect(quote('AT\r\r\nOK\r\n"\\\x00\xff')).toBe('"AT\\r\\r\\nOK\\r\\n\\"\\\\\\x00\\xff"');
  });
});

describe('loading', () => {
  it('turns each YAML form into its step, with line numbers and defaults', () => {
    const s = loadScenario(
      [
        'name: forms',
        'far: {subscribe: [a/b, {topic: c/#, qos: 2}]}',
        'steps:',
        '  - send: AT+CGATT?',
        '    expect: ["+CGATT: 1", OK]',
        '  - send: AT',
        '    expect: OK',
        '  - send: AT',
        '    expect: "AT\\r\\r\\nOK\\r\\n"',
        '  - send: AT+CSQ',
        '    expect: {regex: "\\\\+CSQ: \\\\d+,99"}',
        '    within: 2s',
        '  - raw: {hex: "1a"}',
        '  - expect: CONNECT OK',
        '  - wait: 1h',
        '    silent: true',
        '  - until: dataReady',
        '  - fault: tcpDrop',
        '  - fault: {pdpDeact: {cid: 5}}',
        '  - fault: {signal: {rssi: 3}}',
        '  - far: {publish: {topic: a/b, payload: {base64: "AP8="}, qos: 1, retain: true}}',
        '  - far: {expect: {topic: a/b, payload: {regex: "^x"}, within: 3s}}',
        '  - note: hello',
      ].join('\n'),
      'forms.yaml',
    );
    expect(s).toMatchObject({ name: 'forms', start: 'ready', broker: {}, source: 'forms.yaml' });
    expect(s.far).toEqual({ subscribe: [{ topic: 'a/b', qos: 1 }, { topic: 'c/#', qos: 2 }] });
    const st = s.steps;
    expect(st.map((x) => x.line)).toEqual([4, 6, 8, 10, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23]);
    expect(st.map((x) => x.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(st[0]).toMatchObject({ kind: 'send', command: 'AT+CGATT?', expect: { kind: 'lines', lines: ['+CGATT: 1', 'OK'] }, within: DEFAULTS.sendWithin });
    expect(st[1]).toMatchObject({ expect: { kind: 'lines', lines: ['OK'] } });
    expect(st[2]).toMatchObject({ expect: { kind: 'exact', text: 'AT\r\r\nOK\r\n' } });
    expect(st[3]).toMatchObject({ expect: { kind: 'regex', source: '\\+CSQ: \\d+,99' }, within: 2e9 });
    expect(st[4]).toMatchObject({ kind: 'raw', bytes: Buffer.from([0x1a]) });
    expect(st[4]).not.toHaveProperty('expect');
    expect(st[5]).toMatchObject({ kind: 'expect', expect: { kind: 'lines', lines: ['CONNECT OK'] }, within: DEFAULTS.urcWithin });
    expect(st[6]).toMatchObject({ kind: 'wait', ns: 3.6e12, silent: true });
    expect(st[7]).toMatchObject({ kind: 'until', state: 'dataReady', within: DEFAULTS.untilWithin });
    expect(st[8]).toMatchObject({ kind: 'fault', fault: { kind: 'tcpDrop' } });
    expect(st[9]).toMatchObject({ kind: 'fault', fault: { kind: 'pdpDeact', cid: 5 } });
    expect(st[10]).toMatchObject({ kind: 'fault', fault: { kind: 'signal', rssi: 3 } });
    expect(st[11]).toMatchObject({ kind: 'farPublish', topic: 'a/b', payload: Buffer.from([0x00, 0xff]), qos: 1, retain: true });
    expect(st[12]).toMatchObject({ kind: 'farExpect', topic: 'a/b', payload: { kind: 'regex', source: '^x' }, within: 3e9 });
    expect(st[13]).toMatchObject({ kind: 'note', text: 'hello' });
  });

  it('names the file, step and line of a mistake', () => {
    const head = 'name: bad\nsteps:\n  - send: AT\n';
    expect(errorOf(head + '  - sned: AT\n')).toBe('x.yaml: step 2 (line 4): no action: expected one of send, raw, expect, wait, until, fault, far, note');
    expect(errorOf(head + '  - send: AT\n    expcet: OK\n')).toBe('x.yaml: step 2 (line 4): unknown key "expcet" (expected "send", "expect", "within")');
    expect(errorOf(head + '  - wait: soon\n')).toMatch(/^x\.yaml: step 2 \(line 4\): wait: "soon" is not a duration/);
    expect(errorOf(head + '  - fault: meteor\n')).toMatch(/^x\.yaml: step 2 \(line 4\): fault "meteor" is not one of pdpDeact, detach, tcpDrop/);
    expect(errorOf(head + '  - fault: {pdpDeact: {cid: 99}}\n')).toBe('x.yaml: step 2 (line 4): fault pdpDeact: cid must be an integer in 1..15');
    expect(errorOf(head + '  - fault: {signal: {}}\n')).toBe('x.yaml: step 2 (line 4): fault signal: give rssi, ber or dbm');
    expect(errorOf(head + '  - until: rich\n')).toBe('x.yaml: step 2 (line 4): until: "rich" is not one of simReady, registered, attached, dataReady');
    expect(errorOf(head + '  - send: AT\n    expect: {regex: "("}\n')).toMatch(/^x\.yaml: step 2 \(line 4\): expect\.regex: Invalid regular expression/);
    expect(errorOf(head + '  - far: {shout: {}}\n')).toMatch(/^x\.yaml: step 2 \(line 4\): far wants/);
    expect(errorOf(head + '  - far: {smsReports: {to: "+8613912345678", status: 300}}\n')).toBe(
      'x.yaml: step 2 (line 4): far smsReports: status: expected a TP-ST 0..255 (0 delivered, 70 validity period expired)',
    );
    expect(errorOf(head + '  - send: "AT+MPUB=\\"t\\",0,0,\\"中\\""\n')).toMatch(/send: character U\+4E2D is not a byte/);
    expect(errorOf('name: bad\nprofile: air999\nsteps: [{send: AT}]\n')).toBe('x.yaml: profile "air999" is not one of air724ug, air780e');
    expect(errorOf('name: bad\nsteps: []\n')).toBe('x.yaml: "steps" is required (a non-empty list)');
    expect(errorOf('steps: [{send: AT}]\n')).toBe('x.yaml: "name" is required (a string)');
    expect(errorOf('name: bad\nstpes: []\n')).toMatch(/^x\.yaml: unknown key "stpes"/);
    expect(errorOf('name: bad\nsteps:\n  - send: [\n')).toMatch(/^x\.yaml:\d+: /);
  });

  it('takes plain data too (what the YAML parses to)', () => {
    const s = scenarioFromObject({ name: 'obj', seed: 3, start: 'power-on', broker: { connectTimeout: '300ms' }, steps: [{ expect: 'RDY', within: '5s' }] });
    expect(s).toMatchObject({ name: 'obj', seed: 3, start: 'power-on', broker: { connectTimeout: 3e8 } });
    expect(s.steps[0]).toMatchObject({ kind: 'expect', within: 5e9, index: 1 });
    expect(s.steps[0]).not.toHaveProperty('line');
  });
});
