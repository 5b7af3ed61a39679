/**
 * What one fuzz step does, and the fast-check arbitraries that generate and mutate them:
 * command lines from the command table and from a corpus of the manual's lines (mutated byte by
 * byte and token by token), raw byte bursts, raw-data prompts with their data, faults of the
 * catalogue, baud changes, MQTT sessions opened as a driver opens them, far-side messages and
 * waits. Every byte a step sends is made free of the JS markers first, so any marker on the
 * line comes from the simulator.
 */
import fc from 'fast-check';
import type { Fault } from '../../sim/faults/index.js';
import { ms, sec } from '../../sim/kernel.js';
import { JS_MARKERS } from './observer.js';

export type Step =
  /** One command line; `data` answers a raw-data prompt if the line opens one. */
  | { kind: 'line'; text: string; data: string }
  /** Raw bytes, CRs and all (latin1). */
  | { kind: 'burst'; bytes: string }
  /** A command that takes raw data, its set-up lines, and the data (right, short, long, cancelled). */
  | { kind: 'prompt'; which: 'fswrite' | 'mpubex' | 'cmgs'; setup: string[]; head: string; data: string }
  | { kind: 'fault'; fault: Fault }
  /** AT+IPR=<rate>; the in-process host talks at whatever rate the module's UART runs. */
  | { kind: 'baud'; rate: number }
  /** MCONFIG, MIPSTART, MCONNECT, MSUB as a driver sends them. */
  | { kind: 'session'; clean: 0 | 1; keepalive: number; tls: boolean }
  /** The far side publishes: a message in. */
  | { kind: 'far'; topic: string; payload: string; qos: 0 | 1 }
  | { kind: 'wait'; seconds: number };

export type StepKind = Step['kind'];

/** Break every JS marker in host input (`NaN` → `N_N`), so a marker on the line is the simulator's. */
export function sanitize(s: string): string {
  let out = s;
  for (let changed = true; changed; ) {
    changed = false;
    for (const mk of JS_MARKERS) {
      if (out.includes(mk)) {
        out = out.split(mk).join(mk[0] + '_' + mk.slice(2));
        changed = true;
      }
    }
  }
  return out;
}

const chr = (c: number): string => String.fromCharCode(c);
const latin1Of = (a: Uint8Array): string => Buffer.from(a).toString('latin1');

// ---- the corpus: lines of the manual's flows and every command's usual forms ------------------

export const CORPUS: readonly string[] = [
  'AT', 'ATE0', 'ATE1', 'ATV0', 'ATV1', 'ATQ0', 'ATQ1', 'ATI', 'ATZ', 'AT&F', 'AT&W', 'ATS3?', 'ATS4=10', 'ATS5?', 'ATS3=13',
  'AT+CMEE=0', 'AT+CMEE=1', 'AT+CMEE=2', 'AT+CMEE?', 'AT+IPR?', 'AT+IPR=?', 'AT+IPR=115200', 'AT+IPR=0',
  'AT+CGMI', 'AT+CGMM', 'AT+CGMR', 'AT+CGSN', 'AT+GSN', 'AT+CIMI', 'AT+ICCID', 'AT+RESET',
  'AT+CFUN?', 'AT+CFUN=1', 'AT+CFUN=0', 'AT+CFUN=4', 'AT+CFUN=1,1', 'AT+CPIN?', 'AT+CSQ', 'AT+CSQ=?',
  'AT+CREG?', 'AT+CREG=2', 'AT+CGREG?', 'AT+CGREG=1', 'AT+CEREG=2', 'AT+CEREG?', 'AT+COPS?', 'AT+COPS=?', 'AT+COPS=0', 'AT+COPS=3,0', 'AT+COPS=2',
  'AT+CGATT?', 'AT+CGATT=1', 'AT+CGATT=0', 'AT+CGDCONT?', 'AT+CGDCONT=5,"IP","cmiot"', 'AT+CGDCONT=5', 'AT+CGDCONT=1,"IP","cmnet"',
  'AT+CGACT?', 'AT+CGACT=1,5', 'AT+CGACT=0,5', 'AT+CGACT=1,1', 'AT+CGACT=0', 'AT+CGPADDR', 'AT+CGPADDR=1', 'AT+CIPSHUT', 'AT+CIPSTATUS',
  'AT+FSCREATE="f1"', 'AT+FSCREATE=f2', 'AT+FSWRITE="f1",0,5,10', 'AT+FSWRITE=f2,1,3,2', 'AT+FSREAD="f1",0,100,0', 'AT+FSREAD=f1,1,10,2',
  'AT+FSREADHEAD=1', 'AT+FSREADHEAD=0', 'AT+FSREADHEAD?', 'AT+FSDEL="f1"', 'AT+FSLS', 'AT+FSLS="d1"', 'AT+FSFLSIZE="f1"', 'AT+FSMEM',
  'AT+FSDRIVE=0', 'AT+FSMKDIR="d1"', 'AT+FSRMDIR="d1"', 'AT+FSCREATE="d1/f3"', 'AT+FSCREATE="C:/f4"',
  'AT+SSLCFG="seclevel",88,0', 'AT+SSLCFG="seclevel",88', 'AT+SSLCFG="cacert",88,"f1"', 'AT+SSLCFG="cacert",88,', 'AT+SSLCFG="sslversion",88,4',
  'AT+MCONFIG=fz-modem,"",""', 'AT+MCONFIG="fz-modem","u","p",1,0,"fz/will","bye"', 'AT+MCONFIG=fz-other',
  'AT+MIPSTART="broker.example.com","1883"', 'AT+MIPSTART=127.0.0.1,1883', 'AT+SSLMIPSTART="broker.example.com",8883',
  'AT+MCONNECT=1,60', 'AT+MCONNECT=0,60', 'AT+MCONNECT=1,5',
  'AT+MPUB="fz/t",0,0,"hello"', 'AT+MPUB="fz/t",1,0,"q1"', 'AT+MPUB="fz/t",2,0,"q2"', 'AT+MPUB="fz/r",1,1,"ret"', 'AT+MPUB="fz/t",0,0,"313233"',
  'AT+MPUB="fz/t",0,0,"\\22q\\22\\0D\\0A"', 'AT+MPUBEX="fz/t",1,0,5', 'AT+MSUB="fz/#",1', 'AT+MSUB="fz/t",0', 'AT+MSUB="fz/+/x",2', 'AT+MUNSUB="fz/#"',
  'AT+MQTTMODE=1', 'AT+MQTTMODE=0', 'AT+MQTTMODE?', 'AT+MQTTMSGSET=1', 'AT+MQTTMSGSET=0', 'AT+MQTTMSGSET?', 'AT+MQTTMSGGET', 'AT+MQTTMSGGET?',
  'AT+MDISCONNECT', 'AT+MIPCLOSE', 'AT+MQTTSTATU',
  'AT+CMGF=1', 'AT+CMGF=0', 'AT+CMGF?', 'AT+CSCS="GSM"', 'AT+CSCS="UCS2"', 'AT+CSCS?', 'AT+CPMS?', 'AT+CPMS="SM","SM","SM"', 'AT+CNMI=2,1,0,0,0', 'AT+CNMI=2,2,0,0,0',
  'AT+CMGL="ALL"', 'AT+CMGL=4', 'AT+CMGR=1', 'AT+CMGD=1', 'AT+CMGD=1,4', 'AT+CMGS="10086"', 'AT+CMGS=20', 'AT+CMGW="10086"', 'AT+CMSS=1', 'AT+CSCA?', 'AT+CSMP?', 'AT+CSDH=1', 'AT+CSMS?',
  'AT+CCLK?', 'AT+CBC', 'AT+CLIP=1', 'AT+CUSD=1,"*100#"', 'AT+CPBS?', 'AT+CPBR=1', 'AT+CPBW=1,"10086",129,"x"', 'AT+CHUP', 'AT+CLAC',
  'AT+CSQ;+CGREG?', 'AT+CIPSHUT;+CSQ', 'ATE0&W', 'AT+CGREG?;+CGATT?;+CSQ', 'AT+MQTTSTATU;+CSQ', 'AT+RESET;+CSQ', 'ATQ1;+CSQ', 'ATV0;+CSQ',
];

/** Parameters that reach past the parsers: huge, negative, empty, unbalanced quotes, escapes. */
const NASTY: readonly string[] = [
  '', '-1', '0', '1', '2', '99999999999999999999', '4294967296', '1e3', '0x10', '1.5', '+1', ' 1 ', '00000000001', '"', '""', '"""', ',,,,,,',
  '"a"b', 'a"b"', '\\22', '\\', ';', '"a;b"', '?', '=?', '"C:/f.txt"', '"../x"', '"/a/b"', '"#"', '"a/+/b"', '"fz/\x00"', '"\xc3\xa9t"', '"\xff"',
  '65535', '65536', '1360', '1361', '10240', '10241', '88', '"cacert"', '"seclevel"', '"ALL"', '"10086"', '129', '145',
];

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(chr), maxLength: 16 });
/** A byte of a line other than the terminator. */
const lineByte = fc.integer({ min: 0, max: 255 }).filter((b) => b !== 13).map(chr);

const param: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: 70_000 }).map(String) },
  { weight: 2, arbitrary: printable.filter((s) => !s.includes('"')).map((s) => `"${s}"`) },
  { weight: 1, arbitrary: printable },
  { weight: 1, arbitrary: fc.string({ unit: lineByte, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.integer({ min: 250, max: 1400 }).map((n) => `"${'p'.repeat(n)}"`) },
);

/** A line of the table: a name in one of the four forms with generated parameters. */
function tableLine(names: readonly string[]): fc.Arbitrary<string> {
  const one = fc
    .record({
      name: fc.constantFrom(...names),
      form: fc.constantFrom('test', 'read', 'exec', 'set', 'set', 'set'),
      args: fc.array(param, { maxLength: 8 }),
      digits: fc.constantFrom('', '0', '1', '2', '13', '127', '128', '99999999999999999999'),
    })
    .map(({ name, form, args, digits }) => {
      const basic = !/^[+^$*]/.test(name);
      if (form === 'test') return `${name}=?`;
      if (form === 'read') return `${name}?`;
      if (form === 'exec') return name;
      if (basic) return /^S\d+$/.test(name) ? `${name}=${digits}` : `${name}${digits}`;
      return `${name}=${args.join(',')}`;
    });
  return fc
    .tuple(fc.array(one, { minLength: 1, maxLength: 3 }), fc.constantFrom('AT', 'at', 'At', ' AT', 'xyAT'))
    .map(([cmds, at]) => at + cmds.map((c, i) => (i > 0 && /^[+^$*]/.test(c) ? `;${c}` : c)).join(''));
}

/** One edit of a line; positions are fractions of its length, so they shrink with it. */
type Edit =
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; len: number }
  | { op: 'replace'; at: number; byte: number }
  | { op: 'duplicate'; at: number; len: number }
  | { op: 'truncate'; at: number }
  | { op: 'case'; at: number; len: number }
  | { op: 'param'; index: number; value: string }
  | { op: 'splice'; other: string };

const frac = fc.double({ min: 0, max: 1, noNaN: true });
const edit = (corpus: readonly string[]): fc.Arbitrary<Edit> =>
  fc.oneof(
    fc.record({ op: fc.constant('insert' as const), at: frac, text: fc.oneof(fc.constantFrom(',', '"', ';', '=', '?', '\\', ' ', '\x00', '\x08', '\x1a', '\x1b', '\xff', '/'), fc.string({ unit: lineByte, maxLength: 4 })) }),
    fc.record({ op: fc.constant('delete' as const), at: frac, len: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ op: fc.constant('replace' as const), at: frac, byte: fc.integer({ min: 0, max: 255 }).filter((b) => b !== 13) }),
    fc.record({ op: fc.constant('duplicate' as const), at: frac, len: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: frac }),
    fc.record({ op: fc.constant('case' as const), at: frac, len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('param' as const), index: fc.integer({ min: 0, max: 7 }), value: param }),
    fc.record({ op: fc.constant('splice' as const), other: fc.constantFrom(...corpus) }),
  );

function applyEdit(line: string, e: Edit): string {
  const pos = (f: number): number => Math.min(line.length, Math.floor(f * (line.length + 1)));
  switch (e.op) {
    case 'insert': {
      const i = pos(e.at);
      return line.slice(0, i) + e.text + line.slice(i);
    }
    case 'delete': {
      const i = pos(e.at);
      return line.slice(0, i) + line.slice(i + e.len);
    }
    case 'replace': {
      const i = Math.min(pos(e.at), Math.max(0, line.length - 1));
      return line.slice(0, i) + chr(e.byte) + line.slice(i + 1);
    }
    case 'duplicate': {
      const i = pos(e.at);
      return line.slice(0, i + e.len) + line.slice(i, i + e.len) + line.slice(i + e.len);
    }
    case 'truncate':
      return line.slice(0, Math.max(2, pos(e.at)));
    case 'case': {
      const i = pos(e.at);
      const part = line.slice(i, i + e.len);
      const flipped = [...part].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
      return line.slice(0, i) + flipped + line.slice(i + e.len);
    }
    case 'param': {
      const eq = line.indexOf('=');
      if (eq < 0) return `${line}=${e.value}`;
      const ps = line.slice(eq + 1).split(',');
      ps[Math.min(e.index, ps.length)] = e.value;
      return line.slice(0, eq + 1) + ps.join(',');
    }
    case 'splice':
      return `${line};${e.other.replace(/^AT/i, '')}`;
  }
}

/** A corpus line with a few edits. */
const mutatedLine = (corpus: readonly string[]): fc.Arbitrary<string> =>
  fc.tuple(fc.constantFrom(...corpus), fc.array(edit(corpus), { minLength: 1, maxLength: 4 })).map(([base, edits]) => edits.reduce(applyEdit, base));

/** What a prompt is answered with: nothing usable, a fitting payload, ESC, Ctrl-Z, too much. */
const promptData: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map(latin1Of) },
  { weight: 2, arbitrary: fc.constantFrom('hello', '12345', 'abc\x1a', '\x1b', '\x1a', 'x\x1b', '0011000B915121436587F90000AA0AE8329BFD4697D9EC37\x1a') },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('A', 'T', '\r', '\n', '\x1a', '\x1b', 'z', '0'), maxLength: 30 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1300, max: 1500 }).map((n) => 'q'.repeat(n)) },
);

/** Fragments that reach deeper than random bytes. */
const TOKENS = [
  'AT', 'at', 'A/', 'a/', '+', '=', '?', '=?', '"', ',', ';', ' ', '\r', '\n', '\r\n', '\b', '\x1a', '\x1b', '\x00', '\xff', '\x80', '0', '1', '2', '65535',
  '99999999999999999999', '-1', '+CSQ', '+CGREG', '+CGATT', '+CMEE', '+MSUB', '+MPUB', '+MPUBEX', '+FSLS', '+FSCREATE', '+FSWRITE', '+FSREAD', '+SSLCFG',
  '+MCONFIG', '+MIPSTART', '+CGDCONT', '+CIPSTATUS', '+MQTTMSGGET', '+CMGS', '+CMGF', '+IPR', '&W', 'E0', 'Q1', 'V0', 'S3=', 'S5=', 'x'.repeat(300),
];

const burst = (corpus: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 300 }).map(latin1Of) },
    { weight: 6, arbitrary: fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((ts) => ts.join('')) },
    { weight: 8, arbitrary: fc.array(mutatedLine(corpus), { minLength: 1, maxLength: 6 }).map((ls) => ls.map((l) => `${l}\r`).join('')) },
    { weight: 4, arbitrary: fc.array(fc.constantFrom(...corpus), { minLength: 2, maxLength: 8 }).map((ls) => ls.map((l) => `${l}\r`).join('')) },
    // past the line buffer: discarded whole, answered ERROR
    { weight: 1, arbitrary: fc.integer({ min: 10_200, max: 10_400 }).map((n) => `AT${'y'.repeat(n)}\rAT\r`) },
  );

const FILES = ['"f1"', 'f2', '"d1/f3"', '"C:/f4"'];

const fswrite: fc.Arbitrary<Step> = fc
  .record({
    file: fc.constantFrom(...FILES),
    mode: fc.constantFrom(0, 1),
    len: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(1024, 10240)),
    time: fc.constantFrom(1, 2, 5, 10, 30),
    fill: fc.constantFrom('exact', 'short', 'long', 'esc-start'),
    seed: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  })
  .map(({ file, mode, len, time, fill, seed }) => {
    const pattern = latin1Of(seed);
    const body = (n: number): string => pattern.repeat(Math.ceil(n / pattern.length)).slice(0, n);
    const data = fill === 'exact' ? body(len) : fill === 'short' ? body(Math.max(0, len - 1)) : fill === 'long' ? `${body(len)}AT+CSQ` : `\x1b${body(len - 1)}`;
    return { kind: 'prompt' as const, which: 'fswrite' as const, setup: [`AT+FSCREATE=${file}`], head: `AT+FSWRITE=${file},${mode},${len},${time}`, data };
  });

const mpubex: fc.Arbitrary<Step> = fc
  .record({
    qos: fc.constantFrom(0, 1, 2),
    len: fc.option(fc.integer({ min: 1, max: 1360 }), { nil: undefined }),
    fill: fc.constantFrom('exact', 'short', 'ctrl-z', 'esc', 'idle'),
    seed: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  })
  .map(({ qos, len, fill, seed }) => {
    const pattern = latin1Of(seed).replace(/[\x1a\x1b]/g, 'k');
    const n = len ?? 8;
    const body = (k: number): string => pattern.repeat(Math.ceil(k / pattern.length)).slice(0, k);
    const data = fill === 'exact' ? body(n) : fill === 'short' ? body(n - 1) : fill === 'ctrl-z' ? `${body(Math.min(n, 20))}\x1a` : fill === 'esc' ? `${body(3)}\x1b` : body(Math.min(n, 20));
    const head = len === undefined ? `AT+MPUBEX="fz/x",${qos},0` : `AT+MPUBEX="fz/x",${qos},0,${len}`;
    return { kind: 'prompt' as const, which: 'mpubex' as const, setup: [], head, data };
  });

const cmgs: fc.Arbitrary<Step> = fc
  .record({
    text: fc.boolean(),
    body: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(chr), maxLength: 40 }),
    end: fc.constantFrom('\x1a', '\x1b', ''),
  })
  .map(({ text, body, end }) =>
    text
      ? { kind: 'prompt' as const, which: 'cmgs' as const, setup: ['AT+CMGF=1'], head: 'AT+CMGS="10086"', data: body + end }
      : // an SMS-SUBMIT of 18 octets after the default SMSC: to 1234567890, "hello" in GSM 7-bit
        { kind: 'prompt' as const, which: 'cmgs' as const, setup: ['AT+CMGF=0'], head: 'AT+CMGS=18', data: `0011000A8121436587090000AA05E8329BFD06${end === '' ? '\x1a' : end}` },
  );

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.constant<Fault>({ kind: 'pdpDeact' }),
  fc.constantFrom<Fault>({ kind: 'pdpDeact', cid: 1 }, { kind: 'pdpDeact', cid: 5 }),
  fc.constant<Fault>({ kind: 'detach' }),
  fc.constant<Fault>({ kind: 'tcpDrop' }),
  fc.constant<Fault>({ kind: 'brokerDown' }),
  fc.constant<Fault>({ kind: 'brokerUp' }),
  fc.constantFrom<Fault>({ kind: 'deregister' }, { kind: 'deregister', stat: 3 }, { kind: 'deregister', stat: 0 }),
  fc.constantFrom<Fault>({ kind: 'register' }, { kind: 'register', roaming: true }, { kind: 'register', lac: '1a2b', ci: '00a2c315' }),
  fc.integer({ min: 0, max: 31 }).map((rssi): Fault => ({ kind: 'signal', rssi })),
  fc.constant<Fault>({ kind: 'reboot' }),
  // chunks of 2 and up: the baud check wants two bytes of an answer back to back
  fc
    .record({ chunk: fc.constantFrom(2, 8, 64), gap: fc.constantFrom(ms(1), ms(20), ms(200)), for: fc.constantFrom(sec(5), sec(60)) })
    .map((a): Fault => ({ kind: 'uartFragment', ...a })),
  // 25 s: past MIPSTART's and MCONNECT's waits, so their failures are reached too
  fc.record({ delay: fc.constantFrom(ms(100), sec(3), sec(25)), for: fc.constantFrom(sec(10), sec(120)) }).map((a): Fault => ({ kind: 'brokerSlow', ...a })),
);

export interface StepWeights {
  line: number;
  burst: number;
  prompt: number;
  fault: number;
  baud: number;
  session: number;
  far: number;
  wait: number;
}

/** The long run's mix: mostly command lines and bursts, the rest keeping the model in deep states. */
export const DEFAULT_WEIGHTS: StepWeights = { line: 69, burst: 10, prompt: 8, fault: 5, baud: 2, session: 2, far: 2, wait: 2 };

export interface StepOptions {
  /** Command names of the modem's table (AT+… forms, basic commands). */
  names: readonly string[];
  /** Baud rates the profile lists. */
  rates: readonly number[];
  /** Include AT+CMGS prompts (the SMS group is in the table). */
  cmgs: boolean;
  weights?: StepWeights;
}

export function stepArb(o: StepOptions): fc.Arbitrary<Step> {
  const w = o.weights ?? DEFAULT_WEIGHTS;
  const corpus = CORPUS;
  const line = fc
    .tuple(fc.oneof({ weight: 3, arbitrary: tableLine(o.names) }, { weight: 4, arbitrary: mutatedLine(corpus) }, { weight: 3, arbitrary: fc.constantFrom(...corpus) }), promptData)
    .map(([text, data]): Step => ({ kind: 'line', text, data }));
  const prompts: Array<fc.Arbitrary<Step>> = [fswrite, mpubex];
  if (o.cmgs) prompts.push(cmgs);
  return fc.oneof(
    { weight: w.line, arbitrary: line },
    { weight: w.burst, arbitrary: burst(corpus).map((bytes): Step => ({ kind: 'burst', bytes })) },
    { weight: w.prompt, arbitrary: fc.oneof(...prompts) },
    { weight: w.fault, arbitrary: faultArb.map((fault): Step => ({ kind: 'fault', fault })) },
    { weight: w.baud, arbitrary: fc.constantFrom(...o.rates).map((rate): Step => ({ kind: 'baud', rate })) },
    {
      weight: w.session,
      arbitrary: fc
        .record({ clean: fc.constantFrom<0 | 1>(0, 1), keepalive: fc.constantFrom(5, 60, 300), tls: fc.constantFrom(false, false, false, false, false, false, false, false, false, true) })
        .map((s): Step => ({ kind: 'session', ...s })),
    },
    {
      weight: w.far,
      arbitrary: fc
        .record({ topic: fc.constantFrom('fz/t', 'fz/in', 'fz/a/x', 'other'), payload: fc.uint8Array({ maxLength: 64 }).map(latin1Of), qos: fc.constantFrom<0 | 1>(0, 1) })
        .map((f): Step => ({ kind: 'far', ...f })),
    },
    { weight: w.wait, arbitrary: fc.constantFrom(1, 5, 30, 120, 600).map((seconds): Step => ({ kind: 'wait', seconds })) },
  );
}

/** A run: a fresh modem, maybe a session first, then the steps. */
export interface Run {
  session: boolean;
  steps: Step[];
}

export function runArb(o: StepOptions, maxSteps: number): fc.Arbitrary<Run> {
  // size 'max': lengths spread over 1..maxSteps (fast-check's default keeps arrays short)
  // three runs in ten start with a session (the rest reach one through their steps, or not)
  return fc.record({ session: fc.integer({ min: 0, max: 9 }).map((n) => n < 3), steps: fc.array(stepArb(o), { minLength: 1, maxLength: maxSteps, size: 'max' }) });
}

/** A step as one line of text, for counterexamples. */
export function describeStep(s: Step): string {
  const q = (x: string): string => JSON.stringify(x.length > 120 ? `${x.slice(0, 100)}…(${x.length} bytes)` : x);
  switch (s.kind) {
    case 'line':
      return `line ${q(s.text)}${s.data ? ` (prompt data ${q(s.data)})` : ''}`;
    case 'burst':
      return `burst ${q(s.bytes)}`;
    case 'prompt':
      return `prompt ${[...s.setup, s.head].map((l) => q(l)).join(', ')} data ${q(s.data)}`;
    case 'fault':
      return `fault ${JSON.stringify(s.fault)}`;
    case 'baud':
      return `baud AT+IPR=${s.rate}`;
    case 'session':
      return `session clean=${s.clean} keepalive=${s.keepalive}${s.tls ? ' tls' : ''}`;
    case 'far':
      return `far publish ${s.topic} qos ${s.qos} ${q(s.payload)}`;
    case 'wait':
      return `wait ${s.seconds} s`;
  }
}
