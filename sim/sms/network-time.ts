/**
 * The network's clock: the profile's `network.time` (UTC at model time 0) run on by model
 * time. NITZ sets the module's RTC from it, and the SMSC stamps its messages with it, so both
 * are reproducible on the virtual clock.
 */
import type { Ns } from '../kernel.js';
import type { Profile } from '../profile.js';

export function networkDate(profile: Profile, now: Ns): Date {
  return new Date(Date.parse(profile.network.time.utc) + Math.floor(now / 1e6));
}

/** 27.007 time as AT+CCLK prints it: local `yy/MM/dd,hh:mm:ss±zz` (zone in quarter hours). */
export function clockText(utc: Date, zoneQuarters: number): string {
  const local = new Date(utc.getTime() + zoneQuarters * 15 * 60_000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const zone = `${zoneQuarters < 0 ? '-' : '+'}${p(Math.abs(zoneQuarters))}`;
  return (
    `${p(local.getUTCFullYear() % 100)}/${p(local.getUTCMonth() + 1)}/${p(local.getUTCDate())},` +
    `${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}${zone}`
  );
}

/** Parse AT+CCLK's `yy/MM/dd,hh:mm:ss±zz` (years 2000..2099); undefined when malformed. */
export function parseClockText(s: string): { utc: Date; zoneQuarters: number } | undefined {
  const m = /^(\d\d)\/(\d\d)\/(\d\d),(\d\d):(\d\d):(\d\d)([+-])(\d\d)$/.exec(s);
  if (!m) return undefined;
  const [yy, mo, dd, hh, mi, ss, sign, zz] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), m[7], Number(m[8])];
  if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 59 || zz > 48) return undefined;
  const local = Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss);
  const check = new Date(local);
  // 31 February and the like roll over: not a date
  if (check.getUTCDate() !== dd) return undefined;
  const zoneQuarters = sign === '-' ? -zz : zz;
  return { utc: new Date(local - zoneQuarters * 15 * 60_000), zoneQuarters };
}
