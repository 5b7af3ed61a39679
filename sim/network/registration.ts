/**
 * Registration status as the three reporting commands show it (+CREG circuit, +CGREG packet,
 * +CEREG EPS). On this LTE-only module one status serves all three; each has its own URC mode.
 */
import type { ServingNetwork } from './cell.js';

/** 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming. */
export type RegStat = 0 | 1 | 2 | 3 | 4 | 5;
export type RegCommand = '+CREG' | '+CGREG' | '+CEREG';
/** 0 no URC, 1 `+CGREG: <stat>`, 2 adds `"<lac>","<ci>",<act>` while registered. */
export type RegUrcMode = 0 | 1 | 2;

export const REG_COMMANDS: readonly RegCommand[] = ['+CREG', '+CGREG', '+CEREG'];

export const isRegistered = (s: RegStat): boolean => s === 1 || s === 5;

function location(stat: RegStat, cell: ServingNetwork): string {
  return isRegistered(stat) ? `,"${cell.lac}","${cell.ci}",${cell.act}` : '';
}

/** The URC for a status (n=1) or status/cell (n=2) change; undefined when n=0. */
export function regUrc(cmd: RegCommand, n: RegUrcMode, stat: RegStat, cell: ServingNetwork): string | undefined {
  if (n === 0) return undefined;
  return `${cmd}: ${stat}${n === 2 ? location(stat, cell) : ''}`;
}

/** The read form: `+CGREG: <n>,<stat>[,"<lac>","<ci>",<act>]` (location only with n=2, registered). */
export function regRead(cmd: RegCommand, n: RegUrcMode, stat: RegStat, cell: ServingNetwork): string {
  return `${cmd}: ${n},${stat}${n === 2 ? location(stat, cell) : ''}`;
}
