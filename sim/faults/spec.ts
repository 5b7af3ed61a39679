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
  | { kind: 'noise'; bytes?: number; burst?: string; toHost?: number }
  /** Every latency drawn is `factor` times the profile's, for `for` ns. */
  | { kind: 'slow'; factor: number; for: Ns }
  /** Power cut: nothing more is printed, RAM state lost, flash kept; boots again after the reset delay. */
  | { kind: 'powerLoss' };

export type FaultKind = Fault['kind'];

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
  noise: ['bytes', 'burst', 'toHost'],
  slow: ['factor', 'for'],
  powerLoss: [],
};

// own keys only: a fault named "toString" is no fault
const isKind = (s: string): s is FaultKind => Object.hasOwn(FAULT_ARGS, s);

/** Every fault's name, in the order messages list them. */
export const FAULT_KINDS: readonly FaultKind[] = Object.keys(FAULT_ARGS).filter(isKind);

type Obj = SpecObject;
const isObj = isSpecObject;

/** Messages name the place first, as the scenario loader's do (typed where declared, so `fail` narrows). */
class At extends SpecPlace {
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
    case 'noise': {
      const f: Fault = { kind };
      if (args.bytes !== undefined) f.bytes = fp.int(args.bytes, 'bytes', 1, MAX_NOISE_BYTES);
      if (args.burst !== undefined) {
        const hex = fp.string(args.burst, 'burst').toLowerCase();
        if (!/^([0-9a-f]{2})+$/.test(hex) || hex.length / 2 > MAX_NOISE_BYTES) fp.fail('burst must be hex digits, two per byte (e.g. "ff00")');
        f.burst = hex;
      }
      if (args.toHost !== undefined) f.toHost = fp.int(args.toHost, 'toHost', 1, MAX_NOISE_BYTES);
      if (f.bytes === undefined && f.burst === undefined && f.toHost === undefined) fp.fail('give bytes, burst or toHost');
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

/**
 * A fault's arguments as parseFault reads them back (the `detail` of its trace record, so a
 * replay applies the same fault): durations are written in ns, since a bare number is seconds.
 */
export function faultDetail(f: Fault): Record<string, unknown> {
  const { kind: _kind, ...args } = f;
  if (f.kind === 'freeze' || f.kind === 'slow') return { ...args, for: `${f.for}ns` };
  return args;
}

/** When an armed fault fires: the `nth` (from 1) command line the host completes that starts with `AT` + `command`. */
export interface FaultTrigger {
  /** `+MPUB` matches `AT+MPUB=…` and `at+mpub?`, not `AT+MPUBEX=…` (case-insensitive). */
  command: string;
  nth: number;
}

/** Parse `{command: "+MPUB", nth: 2}` (nth default 1). */
export function parseTrigger(value: unknown, where: string): FaultTrigger {
  const at = new At(`${where}: on`);
  if (!isObj(value)) return at.fail('on wants {command: "+MPUB", nth: 1}');
  at.keys(value, ['command', 'nth']);
  if (value.command === undefined) at.fail('give command (e.g. "+MPUB")');
  const command = at.string(value.command, 'command');
  if (!/^[+&]?[A-Za-z0-9]+$/.test(command)) at.fail('command must be a command name such as "+MPUB" or "+CSQ"');
  return { command, nth: value.nth === undefined ? 1 : at.int(value.nth, 'nth', 1, 1_000_000) };
}

/** Whether a command line completes the trigger's command. */
export function lineMatches(t: FaultTrigger, line: string): boolean {
  const head = `AT${t.command}`.toUpperCase();
  if (line.length < head.length || line.slice(0, head.length).toUpperCase() !== head) return false;
  // the name ends there: +MPUB is not +MPUBEX
  return !/[A-Za-z0-9]/.test(line.charAt(head.length));
}

/** How a fault reads in a transcript and a control reply: `signal (rssi: 5)`. */
export function describeFault(f: Fault): string {
  const { kind, ...args } = f;
  const a = Object.entries(args)
    // an in-process call may pass an argument as undefined: it was not given
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${k === 'for' && typeof v === 'number' ? formatDuration(v) : String(v)}`)
    .join(', ');
  return a === '' ? kind : `${kind} (${a})`;
}
