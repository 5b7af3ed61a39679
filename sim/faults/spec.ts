/**
 * Fault specs: the network-side and outside-world events a scenario, the control endpoint or
 * an in-process user can inject, and the one parser of their written form (`NAME` or
 * `{NAME: {args}}`, the same in YAML and JSON; scenarios/README.md documents it).
 */
import type { Ns } from '../kernel.js';
import { formatDuration, parseDuration } from '../scenario/duration.js';
import { isSpecObject, SpecPlace, type SpecObject } from '../spec-place.js';

/** Network-side and outside-world events. */
export type Fault =
  | { kind: 'pdpDeact'; cid?: number }
  | { kind: 'detach' }
  | { kind: 'tcpDrop'; clientId?: string }
  | { kind: 'brokerDown' }
  | { kind: 'brokerUp' }
  | { kind: 'deregister'; stat?: 0 | 2 | 3 | 4 }
  | { kind: 'register'; roaming?: boolean; lac?: string; ci?: string }
  | { kind: 'signal'; rssi?: number; ber?: number; dbm?: number }
  | { kind: 'reboot' }
  /** The firmware hangs for `for` ns: input lost, output held until it resumes. */
  | { kind: 'freeze'; for: Ns }
  /** Garbage on the line: `bytes` random or `burst` (hex) into the module's RX, `toHost` random bytes out. */
  | { kind: 'noise'; bytes?: number; burst?: string; toHost?: number; rate?: number; for?: Ns; corrupt?: NoiseDirection }
  /** Every latency drawn is `factor` times the profile's, for `for` ns. */
  | { kind: 'slow'; factor: number; for: Ns }
  /** Power cut: nothing more is printed, RAM state lost, flash kept; boots again after the reset delay. */
  | { kind: 'powerLoss' }
  /** For `for` ns the host gets the module's output in bursts of `chunk` bytes, `gap` ns of silence between. */
  | { kind: 'uartFragment'; chunk: number; gap: Ns; for: Ns }
  /** For `for` ns every reply of the broker enters the model `delay` ns after it arrived. */
  | { kind: 'brokerSlow'; delay: Ns; for: Ns };

export type FaultKind = Fault['kind'];

/** Which way a noise window corrupts bytes: towards the module (`rx`), the host (`tx`), or both. */
export type NoiseDirection = 'both' | 'rx' | 'tx';
export const NOISE_DIRECTIONS: readonly NoiseDirection[] = ['both', 'rx', 'tx'];

/** A fault spec that does not parse; the message starts with `where`. */
export class FaultSpecError extends Error {}

/** The arguments each fault takes; the order of the keys is the order messages list them in. */
const FAULT_ARGS: Readonly<Record<FaultKind, readonly string[]>> = {
  pdpDeact: ['cid'],
  detach: [],
  tcpDrop: ['clientId'],
  brokerDown: [],
  brokerUp: [],
  deregister: ['stat'],
  register: ['roaming', 'lac', 'ci'],
  signal: ['rssi', 'ber', 'dbm'],
  reboot: [],
  freeze: ['for'],
  noise: ['bytes', 'burst', 'toHost', 'rate', 'for', 'corrupt'],
  slow: ['factor', 'for'],
  powerLoss: [],
  uartFragment: ['chunk', 'gap', 'for'],
  brokerSlow: ['delay', 'for'],
};

// own keys only: a fault named "toString" is no fault
const isKind = (s: string): s is FaultKind => Object.hasOwn(FAULT_ARGS, s);

/** Every fault's name, in the order messages list them. */
export const FAULT_KINDS: readonly FaultKind[] = Object.keys(FAULT_ARGS).filter(isKind);

type Obj = SpecObject;
const isObj = isSpecObject;

/** Messages name the place first, as the scenario loader's do (typed where declared, so `fail` narrows). */
export class At extends SpecPlace {
  constructor(text: string) {
    super(text, (m) => new FaultSpecError(m));
  }
  /** A positive duration, as scenarios write them (`2s`, `250ms`, a bare number of seconds). */
  duration(v: unknown, what: string): Ns {
    const ns = parseDuration(v);
    if (ns === undefined || ns <= 0) this.fail(`${what} must be a duration above 0 (250ms, 5s, 1min …)`);
    return ns;
  }
}

/** Garbage bytes a noise fault may carry at once: enough to overrun a line, bounded for memory. */
const MAX_NOISE_BYTES = 65536;
/** A burst of uartFragment: one byte up to a USB bulk transfer's worth many times over. */
const MAX_CHUNK_BYTES = 65536;
/** brokerSlow's delay: far past any wait of the module (MCONNECT's is 20 s), bounded so model time stays sane. */
const MAX_BROKER_DELAY: Ns = 3600e9;

const NO_SERVICE_STATS = [0, 2, 3, 4] as const;
const noServiceStat = (n: number): n is (typeof NO_SERVICE_STATS)[number] => (NO_SERVICE_STATS as readonly number[]).includes(n);

/**
 * Parse a fault spec: a name (`"pdpDeact"`) or a one-key mapping (`{pdpDeact: {cid: 5}}`).
 * Throws FaultSpecError naming `where`, the field and what it allows.
 */
export function parseFault(value: unknown, where: string): Fault {
  const place: At = new At(where);
  let kind: string;
  let args: Obj = {};
  if (typeof value === 'string') kind = value;
  else if (isObj(value) && Object.keys(value).length === 1) {
    kind = Object.keys(value)[0]!;
    const a = value[kind];
    if (a !== null && a !== undefined) {
      if (!isObj(a)) place.fail(`fault ${kind}: arguments must be a mapping`);
      args = a;
    }
  } else return place.fail(`fault wants one of ${FAULT_KINDS.join(', ')} (a name, or {name: {args}})`);
  if (!isKind(kind)) return place.fail(`fault "${kind}" is not one of ${FAULT_KINDS.join(', ')}`);
  const fp: At = new At(`${where}: fault ${kind}`);
  fp.keys(args, FAULT_ARGS[kind]);
  switch (kind) {
    case 'pdpDeact':
      return args.cid === undefined ? { kind } : { kind, cid: fp.int(args.cid, 'cid', 1, 15) };
    case 'tcpDrop':
      return args.clientId === undefined ? { kind } : { kind, clientId: fp.string(args.clientId, 'clientId') };
    case 'deregister': {
      if (args.stat === undefined) return { kind };
      const stat = fp.int(args.stat, 'stat', 0, 4);
      if (!noServiceStat(stat)) return fp.fail('stat 1 is "registered"; use 0, 2, 3 or 4');
      return { kind, stat };
    }
    case 'register': {
      const f: Fault = { kind };
      if (args.roaming !== undefined) {
        if (typeof args.roaming !== 'boolean') fp.fail('roaming must be true or false');
        f.roaming = args.roaming;
      }
      if (args.lac !== undefined) f.lac = fp.string(args.lac, 'lac');
      if (args.ci !== undefined) f.ci = fp.string(args.ci, 'ci');
      return f;
    }
    case 'signal': {
      const f: Fault = { kind };
      if (args.rssi !== undefined) f.rssi = fp.int(args.rssi, 'rssi', 0, 99);
      if (args.ber !== undefined) f.ber = fp.int(args.ber, 'ber', 0, 99);
      if (args.dbm !== undefined) f.dbm = fp.int(args.dbm, 'dbm', -200, 0);
      if (f.rssi === undefined && f.ber === undefined && f.dbm === undefined) fp.fail('give rssi, ber or dbm');
      return f;
    }
    case 'freeze':
      if (args.for === undefined) return fp.fail('give for (a duration)');
      return { kind, for: fp.duration(args.for, 'for') };
    case 'slow': {
      if (args.factor === undefined || args.for === undefined) return fp.fail('give factor and for');
      const factor = args.factor;
      if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0 || factor > 1000) fp.fail('factor must be a number in (0, 1000]');
      return { kind, factor, for: fp.duration(args.for, 'for') };
    }
    case 'uartFragment': {
      if (args.chunk === undefined || args.gap === undefined || args.for === undefined) return fp.fail('give chunk, gap and for');
      return { kind, chunk: fp.int(args.chunk, 'chunk', 1, MAX_CHUNK_BYTES), gap: fp.duration(args.gap, 'gap'), for: fp.duration(args.for, 'for') };
    }
    case 'brokerSlow': {
      if (args.delay === undefined || args.for === undefined) return fp.fail('give delay and for');
      const delay = fp.duration(args.delay, 'delay');
      if (delay > MAX_BROKER_DELAY) fp.fail('delay must be at most 1 h');
      return { kind, delay, for: fp.duration(args.for, 'for') };
    }
    case 'noise': {
      const f: Fault = { kind };
      if (args.bytes !== undefined) f.bytes = fp.int(args.bytes, 'bytes', 1, MAX_NOISE_BYTES);
      if (args.burst !== undefined) {
        const hex = fp.string(args.burst, 'burst').toLowerCase();
        if (!/^([0-9a-f]{2})+$/.test(hex) || hex.length / 2 > MAX_NOISE_BYTES) fp.fail('burst must be hex digits, two per byte (e.g. "ff00")');
        f.burst = hex;
      }
      if (args.toHost !== undefined) f.toHost = fp.int(args.toHost, 'toHost', 1, MAX_NOISE_BYTES);
      if (args.rate !== undefined || args.for !== undefined || args.corrupt !== undefined) {
        const rate = args.rate;
        if (typeof rate !== 'number' || !(rate > 0 && rate <= 1)) fp.fail('rate must be a number above 0 and at most 1 (the chance each byte is corrupted)');
        if (args.for === undefined) fp.fail('give for (how long the line is noisy) with rate');
        f.rate = rate;
        f.for = fp.duration(args.for, 'for');
        if (args.corrupt !== undefined) {
          const c = args.corrupt;
          if (c !== 'both' && c !== 'rx' && c !== 'tx') fp.fail(`corrupt must be one of ${NOISE_DIRECTIONS.join(', ')}`);
          f.corrupt = c;
        }
      }
      if (f.bytes === undefined && f.burst === undefined && f.toHost === undefined && f.rate === undefined) fp.fail('give bytes, burst, toHost or rate (with for)');
      return f;
    }
    case 'detach':
    case 'brokerDown':
    case 'brokerUp':
    case 'reboot':
    case 'powerLoss':
      return { kind };
  }
}

/** Arguments that are durations (model ns): written `…ns` in a trace, `2 s` in a description. */
const DURATION_ARGS: ReadonlySet<string> = new Set(['for', 'gap', 'delay']);

/**
 * A fault's arguments as parseFault reads them back (the `detail` of its trace record, so a
 * replay applies the same fault): durations are written in ns, since a bare number is seconds.
 */
export function faultDetail(f: Fault): Record<string, unknown> {
  const { kind: _kind, ...args } = f;
  const out: Record<string, unknown> = { ...args };
  for (const [k, v] of Object.entries(args)) if (DURATION_ARGS.has(k) && typeof v === 'number') out[k] = `${v}ns`;
  return out;
}

/** How a fault reads in a transcript and a control reply: `signal (rssi: 5)`. */
export function describeFault(f: Fault): string {
  const { kind, ...args } = f;
  const a = Object.entries(args)
    // an in-process call may pass an argument as undefined: it was not given
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${DURATION_ARGS.has(k) && typeof v === 'number' ? formatDuration(v) : String(v)}`)
    .join(', ');
  return a === '' ? kind : `${kind} (${a})`;
}
