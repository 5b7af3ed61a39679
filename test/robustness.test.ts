/**
 * Robustness through the serial endpoint: arbitrary bytes and generated command lines never
 * throw, hang or grow memory, and every command line gets exactly one final result code in
 * the spelling AT+CMEE asks for. Property tests (fast-check) on a virtual-time modem.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cmeText, cmsText } from '../protocol/errors.js';
import type { CommandSpec } from '../sim/commands.js';
import type { EngineSettings } from '../sim/engine.js';
import { sec } from '../sim/kernel.js';
import { createModem, Modem } from '../sim/modem.js';
import { heapMb } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

/** Property runs; ROBUST_RUNS=<n> scales them for a long exploratory run (default: the suite's budget). */
const scale = Number(process.env.ROBUST_RUNS ?? 1);

/** Longest any command may keep its final result away: FSWRITE's <inputtime> cap is 30 days. */
const ANSWER_BOUND = sec(31 * 86_400);

/** A booted modem with echo off and the given CMEE; idle waits jump at once (no outside input here). */
async function quietModem(cmee: 0 | 1 | 2 = 1, trace = true): Promise<Modem> {
  const modem = createModem({ idleGraceMs: 0, traceMemory: trace });
  m = modem;
  await modem.host.expect('SMS READY', sec(30));
  await modem.host.advance(sec(10));
  modem.host.take();
  expect(await modem.host.command(`ATE0+CMEE=${cmee}`)).toBe(`ATE0+CMEE=${cmee}\r\r\nOK\r\n`);
  return modem;
}

const esc = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/**
 * Final result codes in `text` under the settings the modem had when it printed them: verbose
 * `<s3><s4>OK<s3><s4>`…, numeric `0<s3>` / `4<s3>` (a +CME ERROR stays text under ATV0).
 */
function finals(text: string, s: EngineSettings): string[] {
  const nl = esc(String.fromCharCode(s.s3, s.s4));
  // AT+CIFSR's address is its final (protocol/results.ts)
  const names = 'OK|ERROR|\\+CM[ES] ERROR: [^\\r\\n]*|SHUT OK|TimeOut|\\d{1,3}(?:\\.\\d{1,3}){3}';
  const cr = esc(String.fromCharCode(s.s3));
  const lf = esc(String.fromCharCode(s.s4));
  const re = s.verbose
    ? new RegExp(`${nl}(${names})${nl}`, 'g')
    : new RegExp(`(?:^|\\n|${lf})(?:(0|4)${cr}(?!${lf})|(\\+CM[ES] ERROR: [^\\r\\n]*|SHUT OK|TimeOut|\\d{1,3}(?:\\.\\d{1,3}){3})${nl})`, 'g');
  return [...text.matchAll(re)].map((x) => x[1] ?? x[2]!);
}

const documentedCodes = new Set(Object.keys(cmeText).map(Number));
const documentedTexts = new Set(Object.values(cmeText));

const documentedCms = new Set(Object.keys(cmsText).map(Number));
const documentedCmsTexts = new Set(Object.values(cmsText));

/**
 * Every +CME ERROR is one the module documents, in the form CMEE asks for; a +CMS ERROR
 * (27.005, SMS commands) is not CMEE's and prints under CMEE=0 too, numeric or verbose.
 */
function checkCme(final: string, cmee: 0 | 1 | 2): void {
  if (final.startsWith('+CMS ERROR: ')) {
    const what = final.slice('+CMS ERROR: '.length);
    if (cmee === 2) expect(documentedCmsTexts.has(what), `undocumented ${final}`).toBe(true);
    else expect(documentedCms.has(Number(what)) && /^\d+$/.test(what), `undocumented ${final}`).toBe(true);
    return;
  }
  if (!final.startsWith('+CME ERROR: ')) return;
  const what = final.slice('+CME ERROR: '.length);
  expect(cmee, `CMEE=0 must print ERROR, got ${final}`).not.toBe(0);
  if (cmee === 1) expect(documentedCodes.has(Number(what)) && /^\d+$/.test(what), `undocumented ${final}`).toBe(true);
  else expect(documentedTexts.has(what), `undocumented ${final}`).toBe(true);
}

const DEFAULT_FRAMING = { echo: false, verbose: true, quiet: false, s3: 13, s4: 10, s5: 8 };

/**
 * Bring the modem back to echo off, verbose, not quiet, default S3/S4/S5 and `cmee`. A changed
 * S3 or S5 can make the line unreachable from the keyboard (S5=`A` eats the `A` of `AT`), so
 * that case power-cycles, as a user would.
 */
async function normalize(modem: Modem, cmee: 0 | 1 | 2, rebooted: boolean): Promise<void> {
  const s = modem.engine.settings;
  const same = modem.uart.baud === 115200 && Object.entries(DEFAULT_FRAMING).every(([k, v]) => s[k as keyof typeof DEFAULT_FRAMING] === v) && s.cmee === cmee;
  if (same && !rebooted) return;
  if (rebooted || s.s3 !== 13 || s.s5 !== 8) {
    if (!rebooted) modem.reboot();
    await modem.host.advance(sec(10));
  }
  modem.host.take();
  modem.host.write(`ATE0V1Q0S4=10+CMEE=${cmee};+IPR=115200\r`);
  await modem.host.expect(/\r\nOK\r\n$/, sec(10));
  await modem.host.advance(sec(1));
  modem.host.take();
  expect(modem.engine.settings).toMatchObject({ ...DEFAULT_FRAMING, cmee });
}

/** Run the model until nothing is left to happen (a raw prompt's <inputtime> included). */
async function settle(modem: Modem): Promise<void> {
  expect(await modem.clock.waitUntil(() => modem.kernel.nextTime() === undefined, ANSWER_BOUND)).toBe(true);
}

/** Send one command line; returns everything printed for it and the settings it was printed under. */
async function runLine(modem: Modem, line: string): Promise<{ out: string; settings: EngineSettings; rebooted: boolean }> {
  const boot = modem.bootGeneration;
  modem.host.write(line + '\r');
  // the settings the final was printed under (a reboot after it restores others)
  let settings: EngineSettings = { ...modem.engine.settings };
  const answered = await modem.clock.waitUntil(() => {
    settings = { ...modem.engine.settings };
    if (modem.bootGeneration !== boot || finals(modem.host.pending, settings).length > 0) return true;
    // ATQ1 leaves a line without a final result: done when nothing is left to happen
    return settings.quiet && modem.kernel.nextTime() === undefined;
  }, ANSWER_BOUND);
  expect(answered || settings.quiet, `no final result for ${JSON.stringify(line)}: ${JSON.stringify(modem.host.pending)}`).toBe(true);
  // anything that would follow (a second final, a late URC) has the time to show
  await modem.host.advance(sec(5));
  return { out: modem.host.take(), settings, rebooted: modem.bootGeneration !== boot };
}

// ---- generators --------------------------------------------------------------------------

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 });
/** Bytes a host may send inside a line (anything but the CR terminator), latin1 text. */
const lineByte = fc.integer({ min: 0, max: 255 }).filter((b) => b !== 13).map((b) => String.fromCharCode(b));

const param: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map(String),
  fc.integer({ min: -5, max: 70000 }).map(String),
  fc.constantFrom('99999999999999999999999', '4294967296', '1e3', '0x10', '1.5', '-0', '+1', ' 1 ', '00000000001'),
  fc.constant(''),
  printable.filter((s) => !s.includes('"')).map((s) => `"${s}"`),
  printable.filter((s) => !s.includes('"') && !s.includes(',')),
  printable.map((s) => `"${s}`),
  fc.constantFrom('"', '""', '"""', ',,,,,,,,,,,,', '"a"b', 'a"b"', '\\22', '\\', ';', '"a;b"', '?', '=?'),
  fc.integer({ min: 256, max: 400 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 256, max: 400 }).map((n) => `"${'y'.repeat(n)}"`),
  fc.string({ unit: lineByte, maxLength: 12 }),
  fc.constantFrom('"C:/f.txt"', 'f', '"/a/b"', '"../x"', '"mqtt/t"', '"#"', '"a/+/b"', '"cacert"', '"seclevel"', '88', '1360', '10240'),
);

const params = fc.array(param, { minLength: 0, maxLength: 9 }).map((ps) => ps.join(','));

/** One command of the table, in one of the four forms (declared or not), with random parameters. */
function commandOf(specs: readonly CommandSpec[]): fc.Arbitrary<string> {
  const names = specs.map((s) => s.name);
  return fc
    .record({
      name: fc.constantFrom(...names),
      form: fc.constantFrom('test', 'read', 'exec', 'set', 'set', 'set'),
      args: params,
      digits: fc.constantFrom('', '0', '1', '2', '5', '13', '127', '128', '99999999999999999999'),
    })
    .map(({ name, form, args, digits }) => {
      const basic = !/^[+^$*]/.test(name);
      switch (form) {
        case 'test':
          return `${name}=?`;
        case 'read':
          return `${name}?`;
        case 'exec':
          return name;
        default:
          // basic commands take digits (`E1`, `S3=13`); anything else is their syntax error
          if (basic && /^S\d+$/.test(name)) return `${name}=${digits}`;
          if (basic) return `${name}${digits}`;
          return `${name}=${args}`;
      }
    });
}

function commandLine(specs: readonly CommandSpec[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.array(commandOf(specs), { minLength: 1, maxLength: 3 }), fc.constantFrom('AT', 'at', 'At', ' AT'))
    .map(([cmds, at]) => at + cmds.join(';'));
}

// ---- (a) arbitrary bytes -----------------------------------------------------------------

/** Fragments that reach deeper than random bytes: prefixes, forms, quotes, control bytes. */
const TOKENS = [
  'AT', 'at', 'A/', 'a/', '+', '=', '?', '=?', '"', ',', ';', ' ', '\r', '\n', '\r\n', '\b', '\x1a', '\x1b', '\x00', '\xff', '\x80',
  '0', '1', '2', '65535', '99999999999999999999', '-1', '+CSQ', '+CGREG', '+CGATT', '+CMEE', '+MSUB', '+MPUB', '+MPUBEX', '+FSLS',
  '+FSCREATE', '+FSWRITE', '+FSREAD', '+SSLCFG', '+MCONFIG', '+MIPSTART', '+CGDCONT', '+CIPSTATUS', '+MQTTMSGGET', '&W', 'x'.repeat(300),
];

const garbage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((ts) => Buffer.from(ts.join(''), 'latin1')),
  fc.uint8Array({ minLength: 10_300, maxLength: 11_000 }),
);

describe('arbitrary bytes on the UART', () => {
  it('never throw, never hang, and AT answers OK afterwards', async () => {
    const modem = await quietModem();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        runs++;
        const boot = modem.bootGeneration;
        modem.host.write(bytes);
        // a raw prompt the garbage may have opened ends with ESC (Ctrl-Z mode), its 5 s idle
        // gap or its <inputtime>; a line left half typed ends at the CR
        modem.host.write('\x1b\r');
        await settle(modem);
        modem.host.take();
        await normalize(modem, 1, modem.bootGeneration !== boot);
        expect(await modem.host.command('AT')).toBe('\r\nOK\r\n');
        expect(modem.trace.records.filter((r) => r.ev === 'fault')).toEqual([]);
      }),
      { numRuns: 400 * scale, seed: 724 * scale },
    );
    expect(runs).toBeGreaterThanOrEqual(400 * scale);
  });
});

// ---- (b) command lines from the table ----------------------------------------------------

describe('command lines generated from the command table', () => {
  for (const cmee of [0, 1, 2] as const) {
    it(`each get exactly one final result code, documented CME codes only (CMEE=${cmee})`, async () => {
      const modem = await quietModem(cmee);
      const specs = modem.engine.table.all();
      const seen = new Set<string>();
      let boot = modem.bootGeneration;
      await fc.assert(
        fc.asyncProperty(commandLine(specs), async (line) => {
          // normalize first: a failed run (or a shrinking step) leaves the modem as it was
          await normalize(modem, cmee, modem.bootGeneration !== boot);
          boot = modem.bootGeneration;
          const { out, settings } = await runLine(modem, line);
          const f = finals(out, settings);
          expect(f, `${JSON.stringify(line)} → ${JSON.stringify(out)}`).toHaveLength(settings.quiet ? 0 : 1);
          for (const x of f) {
            checkCme(x, settings.cmee);
            seen.add(x.startsWith('+CME') ? '+CME' : x);
          }
        }),
        { numRuns: 1500 * scale, seed: 4100 * scale + cmee },
      );
      expect(modem.trace.records.filter((r) => r.ev === 'fault' && r.what === 'handler-threw')).toEqual([]);
      // the generator reaches past the parameter checks
      expect(seen.has('OK') || seen.has('0')).toBe(true);
      expect(seen.has(cmee === 0 ? 'ERROR' : '+CME')).toBe(true);
    });
  }

  it('every declared command answers each of its four forms once, with huge, negative, empty and unterminated parameters', async () => {
    const modem = await quietModem(1);
    const nasty = ['', '-1', '99999999999999999999', '"', '"abc', ',,,,,,,,,,,,,,,,', 'x'.repeat(300), `"${'z'.repeat(300)}"`, '1,2,3,4,5,6,7,8,9,10'];
    let lines = 0;
    for (const spec of modem.engine.table.all()) {
      if (!/^[+^$*]/.test(spec.name)) continue;
      if (spec.name === '+RESET') continue;
      for (const suffix of ['=?', '?', '', ...nasty.map((n) => `=${n}`)]) {
        const line = `AT${spec.name}${suffix}`;
        const { out, settings, rebooted } = await runLine(modem, line);
        lines++;
        const f = finals(out, settings);
        expect(f, `${line} → ${JSON.stringify(out)}`).toHaveLength(1);
        checkCme(f[0]!, settings.cmee);
        await normalize(modem, 1, rebooted);
      }
    }
    expect(lines).toBeGreaterThan(300);
  });

  it('the rebooting commands answer OK once, then the boot lines', async () => {
    const modem = await quietModem(1);
    const boot = '\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY\r\n';
    const cases: Array<[string, string]> = [
      ['AT+RESET', '\r\nOK\r\n'],
      ['AT+CFUN=1,1', '\r\nOK\r\n'],
      ['AT+CFUN="0","1"', '\r\nOK\r\n'],
      ['AT+CSQ;+RESET', '\r\n+CSQ: 24,99\r\n\r\nOK\r\n'],
      // the reboot waits for the rest of its line, which used to die unanswered
      ['AT+RESET;+CSQ', '\r\n+CSQ: 24,99\r\n\r\nOK\r\n'],
      ['AT+CFUN=1,1;+FSMKDIR=?', '\r\nOK\r\n'],
      ['AT+RESET;+COPS=?', '\r\n+COPS: (2,"CHINA MOBILE","CMCC","46000",7),,(0-4),(0-2)\r\n\r\nOK\r\n'],
      ['AT+RESET;+NOSUCH', '\r\nERROR\r\n'],
    ];
    for (const [line, answer] of cases) {
      const { out, rebooted } = await runLine(modem, line);
      expect(rebooted, line).toBe(true);
      expect(out, line).toBe(answer + boot);
      await normalize(modem, 1, true);
    }
  });
});

// ---- memory bounds -----------------------------------------------------------------------

describe('memory stays bounded', () => {
  it('lines sent while a command is busy: the queue keeps 4 and answers the rest with one ERROR', async () => {
    const modem = await quietModem(1);
    // AT+COPS=? scans for seconds; 50 lines (350 bytes, 30 ms on the wire) arrive meanwhile
    modem.host.write('AT+COPS=?\r' + 'AT+CSQ\r'.repeat(50));
    const first = await modem.host.expect(/\r\nOK\r\n/, sec(60));
    expect(first.text).toBe('\r\n+COPS: (2,"CHINA MOBILE","CMCC","46000",7),,(0-4),(0-2)\r\n\r\nOK\r\n');
    await modem.host.advance(sec(5));
    expect(modem.host.take()).toBe('\r\n+CSQ: 24,99\r\n\r\nOK\r\n'.repeat(4) + '\r\nERROR\r\n');
    expect(await modem.host.command('AT')).toBe('\r\nOK\r\n');
  });

  it('a flood of 20,000 lines: every answer is a whole response, some collapsed into ERROR, memory flat', async () => {
    const modem = await quietModem(1, false);
    const before = heapMb();
    modem.host.write('AT+COPS=?\r' + 'AT+CSQ\r'.repeat(20_000));
    // 140 KB at 115200 baud take about 12 s of model time
    await modem.host.advance(sec(60));
    const out = modem.host.take();
    const after = heapMb();
    const rest = out.replace(/^\r\n\+COPS: [^\r]*\r\n\r\nOK\r\n/, '');
    const answers = rest.match(/\r\n\+CSQ: 24,99\r\n\r\nOK\r\n|\r\nERROR\r\n/g) ?? [];
    expect(answers.join('')).toBe(rest);
    const csq = answers.filter((a) => a.includes('CSQ')).length;
    const errors = answers.length - csq;
    expect(errors).toBeGreaterThan(0);
    expect(csq + errors).toBeLessThan(20_000);
    expect(await modem.host.command('AT')).toBe('\r\nOK\r\n');
    console.log(`flood of 20,000 lines: ${csq} answered, ${errors} ERROR for the overflow; heap ${before.toFixed(1)} → ${after.toFixed(1)} MB`);
    expect(after - before).toBeLessThan(32);
  });

  it('1 MB of garbage without CR is discarded whole; the line buffer stays at its limit', async () => {
    const modem = await quietModem(1, false);
    const before = heapMb();
    const junk = Buffer.alloc(1 << 20, 'q');
    junk.write('AT', 0, 'latin1');
    modem.host.write(junk);
    await modem.host.advance(sec(100));
    expect(modem.host.take()).toBe('');
    expect(await modem.host.command('')).toBe('\r\nERROR\r\n');
    expect(await modem.host.command('AT')).toBe('\r\nOK\r\n');
    const after = heapMb();
    console.log(`1 MB garbage: heap ${before.toFixed(1)} → ${after.toFixed(1)} MB`);
    expect(after - before).toBeLessThan(16);
  });

  it('a raw FSWRITE of the full 10240 bytes, with more bytes after it, stores exactly 10240', async () => {
    const modem = await quietModem(1);
    expect(await modem.host.command('AT+FSCREATE=big.bin')).toBe('\r\nOK\r\n');
    expect(await modem.host.command('AT+FSWRITE=big.bin,0,10241,10')).toBe('\r\n+CME ERROR: 765\r\n');
    modem.host.write('AT+FSWRITE=big.bin,0,10240,10\r');
    await modem.host.expect('\r\n>');
    const data = Buffer.alloc(10240 + 3000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    // the 3000 bytes past <filesize> are ordinary command-mode input again
    data.fill(0x71, 10240);
    modem.host.write(data);
    expect((await modem.host.expect(/\r\nOK\r\n/, sec(10))).text).toBe('\r\nOK\r\n');
    expect(await modem.host.command('AT+FSFLSIZE=big.bin')).toBe('\r\n+FSFLSIZE: 10240\r\n\r\nOK\r\n');
    expect(Buffer.from(modem.fs.flash.read('big.bin')).equals(data.subarray(0, 10240))).toBe(true);
  });

  it('an FSWRITE whose bytes never all come ends in TimeOut, however long <inputtime> is', async () => {
    const modem = await quietModem(1);
    await modem.host.command('AT+FSCREATE=slow.txt');
    modem.host.write('AT+FSWRITE=slow.txt,0,100,4294967295\r');
    await modem.host.expect('\r\n>');
    modem.host.write('only a few bytes');
    const r = await modem.host.expect(/\r\nTimeOut\r\n/, ANSWER_BOUND);
    expect(r.text).toBe('\r\nTimeOut\r\n');
    expect(r.at).toBeGreaterThanOrEqual(sec(30 * 86_400));
    expect(await modem.host.command('AT+FSFLSIZE=slow.txt')).toBe('\r\n+FSFLSIZE: 0\r\n\r\nOK\r\n');
  });

  it('ESC, Ctrl-Z and NUL outside a raw prompt are noise before AT, or a syntax error after it', async () => {
    const modem = await quietModem(1);
    expect(await modem.host.command('\x1b\x1a\x00AT')).toBe('\r\nOK\r\n');
    expect(await modem.host.command('AT\x1bX')).toBe('\r\nERROR\r\n');
    expect(await modem.host.command('AT+CSQ\x1a')).toBe('\r\nERROR\r\n');
  });
});

// ---- bugs found here ---------------------------------------------------------------------

describe('fixed: ATZ and AT&F', () => {
  it('answer OK, and lines queued behind them still run (they used to reset the engine mid-command)', async () => {
    const modem = await quietModem(2);
    modem.host.write('ATZ\rAT+CSQ\r');
    await modem.host.advance(sec(1));
    // ATZ restores the saved (here: factory) settings: echo on again, CMEE 1
    expect(modem.host.take()).toBe('\r\nOK\r\n\r\n+CSQ: 24,99\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CMEE?')).toBe('AT+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n');
    expect(await modem.host.command('ATE0;+CMEE=0;&F;+CMEE?')).toBe('ATE0;+CMEE=0;&F;+CMEE?\r\r\n+CMEE: 1\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT&F0')).toBe('AT&F0\r\r\nOK\r\n');
  });
});
