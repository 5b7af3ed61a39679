/**
 * Many modems on one kernel timeline: one event queue, one clock driver, one model time. Each
 * modem keeps its own PRNG streams (a fork of the fleet's kernel seeded for it), its own UART,
 * engine, services and trace, so what one modem does — its trace byte for byte — does not
 * depend on how many others share the timeline. Use: load-testing an MQTT back end with many
 * devices against one broker (pass `mqtt` and `broker` once; every modem dials it).
 *
 * Each modem gets its own IMEI, IMSI and ICCID (derived from the profile's and its index, check
 * digits kept valid), so default MQTT client ids (the IMEI) do not collide at the broker. What
 * is immutable is shared: one resolved profile (each modem's copy differs only in `identity`)
 * and, unless `log` is given, one silent logger.
 */
import { join } from 'node:path';
import { ClockDriver, RealtimeClock, SharedClockView, VirtualClock } from './clock.js';
import { FreeRunningClock } from './free-clock.js';
import { Kernel, Ns } from './kernel.js';
import { createModem, Modem, ModemOptions } from './modem.js';
import { silentLogger } from './log.js';
import type { Profile } from './profile.js';
import { resolveProfile } from './profiles/index.js';

export interface FleetOptions extends Omit<ModemOptions, 'timeline' | 'seed'> {
  count: number;
  /** Seed of modem 0; modem i gets seed + i unless `seedOf` says otherwise (default 1). */
  seed?: number;
  seedOf?: (index: number) => number;
  /**
   * Options of modem i on top of the shared ones. `dataDir`, `traceFile` and `vcdFile` given
   * once are made per modem already (`<dataDir>/<i>`, `name.<i>.ext`).
   */
  perModem?: (index: number) => Omit<ModemOptions, 'timeline' | 'clock' | 'seed'>;
  /** Distinct IMEI/IMSI/ICCID per modem (default true). */
  distinctIdentity?: boolean;
  /** Keep each host port's byte log (`modem.host.log`; default false: a fleet's hosts rarely read it, and it costs an object per byte). */
  hostLog?: boolean;
}

export class Fleet {
  /** The timeline's own kernel (its PRNG is nobody's); every modem's kernel is a fork of it. */
  readonly kernel: Kernel;
  /** The one driver of the timeline. */
  readonly clock: ClockDriver;
  readonly modems: readonly Modem[];
  private closed = false;

  constructor(opts: FleetOptions) {
    if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`fleet count must be a whole number, got ${opts.count}`);
    this.kernel = new Kernel({ seed: 0 });
    this.clock =
      opts.clock === 'realtime'
        ? new RealtimeClock(this.kernel)
        : opts.clock === 'free'
          ? new FreeRunningClock(this.kernel, opts.freeRun)
          : new VirtualClock(this.kernel, { autoHorizon: opts.autoHorizonNs, idleGraceMs: opts.idleGraceMs });
    const { count, seedOf, perModem, distinctIdentity, hostLog, ...shared } = opts;
    const seed0 = opts.seed ?? 1;
    // one profile and one silent logger for all: per modem only the identity differs
    const profile = shared.resolvedProfile ?? resolveProfile(shared.profile, shared.profileOverrides);
    shared.log ??= silentLogger();
    const modems: Modem[] = [];
    for (let i = 0; i < count; i++) {
      const seed = seedOf ? seedOf(i) : seed0 + i;
      const kernel = this.kernel.fork({ seed });
      const mine = perModem?.(i);
      const own: ModemOptions = { ...shared, ...perFile(shared, i), ...mine };
      const base = mine?.resolvedProfile ?? (mine?.profile !== undefined || mine?.profileOverrides !== undefined ? resolveProfile(own.profile, own.profileOverrides) : profile);
      own.resolvedProfile = distinctIdentity === false ? base : { ...base, identity: { ...base.identity, ...fleetIdentity(base.identity, i) } };
      own.timeline = { kernel, clock: new SharedClockView(kernel, this.clock) };
      const m = createModem(own);
      m.host.keepLog = hostLog ?? false;
      modems.push(m);
    }
    this.modems = modems;
  }

  get size(): number {
    return this.modems.length;
  }

  modem(i: number): Modem {
    const m = this.modems[i];
    if (m === undefined) throw new RangeError(`no modem ${i} in a fleet of ${this.modems.length}`);
    return m;
  }

  /**
   * Let model time run until `cond` has held for every modem, or `timeout` passes; true when it
   * did. Each modem is checked until its condition holds once (then it counts as done), so a
   * wait over a thousand modems costs one check per event, not a thousand.
   */
  async waitAll(cond: (m: Modem, index: number) => boolean, timeout: Ns): Promise<boolean> {
    const modems = this.modems;
    let next = 0;
    const done = (): boolean => {
      while (next < modems.length && cond(modems[next]!, next)) next++;
      return next === modems.length;
    };
    return this.clock.waitUntil(done, timeout);
  }

  /** Let `delta` ns of model time pass for the whole fleet. */
  advance(delta: Ns): Promise<void> {
    return this.clock.advance(delta);
  }

  /** Close every modem (links, sessions, traces), then stop the shared driver. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.modems) await m.close();
    this.clock.stop();
  }
}

export function createFleet(opts: FleetOptions): Fleet {
  return new Fleet(opts);
}

/** Files and directories named once for the fleet, made one per modem. */
function perFile(o: ModemOptions, i: number): Partial<ModemOptions> {
  const out: Partial<ModemOptions> = {};
  if (o.dataDir !== undefined) out.dataDir = join(o.dataDir, String(i));
  if (o.traceFile !== undefined) out.traceFile = indexed(o.traceFile, i);
  if (o.vcdFile !== undefined) out.vcdFile = indexed(o.vcdFile, i);
  return out;
}

function indexed(file: string, i: number): string {
  const slash = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  const dot = file.lastIndexOf('.');
  return dot > slash + 1 ? `${file.slice(0, dot)}.${i}${file.slice(dot)}` : `${file}.${i}`;
}

type Identity = Profile['identity'];

/** Luhn check digit of a digit string (IMEI, ICCID). */
function luhn(digits: string): string {
  let sum = 0;
  for (let k = 0; k < digits.length; k++) {
    let d = digits.charCodeAt(digits.length - 1 - k) - 48;
    if (k % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** `digits` with its last `width` digits replaced by (their value + i) mod 10^width. */
function bump(digits: string, width: number, i: number): string {
  const head = digits.slice(0, digits.length - width);
  const tail = digits.slice(digits.length - width);
  const v = (Number(tail) + i) % 10 ** width;
  return head + String(v).padStart(width, '0');
}

/** Modem i's identity: the profile's serial numbers moved on by i (i = 0 keeps the profile's own). */
export function fleetIdentity(base: Pick<Identity, 'imei' | 'imsi' | 'iccid'>, i: number): Pick<Identity, 'imei' | 'imsi' | 'iccid'> {
  if (i === 0) return { imei: base.imei, imsi: base.imsi, iccid: base.iccid };
  const imei = /^\d{15}$/.test(base.imei) ? bump(base.imei.slice(0, 14), 6, i) : `${base.imei}-${i}`;
  const iccidBody = base.iccid.slice(0, -1);
  return {
    imei: /^\d{15}$/.test(base.imei) ? imei + luhn(imei) : imei,
    imsi: /^\d{15}$/.test(base.imsi) ? bump(base.imsi, 9, i) : `${base.imsi}-${i}`,
    iccid: /^\d{19,20}$/.test(base.iccid) ? bump(iccidBody, 9, i) + luhn(bump(iccidBody, 9, i)) : `${base.iccid}-${i}`,
  };
}
