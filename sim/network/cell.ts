/**
 * The network side of the air interface: is there a network to register on, which cell serves
 * the module, does it roam. It belongs to the world, not to the module, so it survives reboots.
 */
import type { Profile } from '../profile.js';

/** What +CREG/+CGREG/+CEREG report while there is no network: 0 idle, 2 searching, 3 denied, 4 unknown. */
export type NoServiceStat = 0 | 2 | 3 | 4;

export interface CellChange {
  lac?: string;
  ci?: string;
  roaming?: boolean;
}

const HEX = /^[0-9A-Fa-f]{1,8}$/;

export class ServingNetwork {
  /** A network the module can register on. */
  available = true;
  /** Stat reported while searching without a network. */
  noServiceStat: NoServiceStat = 2;
  roaming = false;
  lac: string;
  ci: string;
  readonly act: number;
  readonly operator: Profile['network']['operator'];

  constructor(p: Profile['network']) {
    this.lac = p.lac;
    this.ci = p.ci;
    this.act = p.act;
    this.operator = p.operator;
  }

  /** Apply a cell change; true when lac, ci or roaming differ from before. */
  update(c: CellChange): boolean {
    for (const v of [c.lac, c.ci]) if (v !== undefined && !HEX.test(v)) throw new RangeError(`${v} is not 1..8 hex digits`);
    const before = `${this.lac}/${this.ci}/${this.roaming}`;
    if (c.lac !== undefined) this.lac = c.lac;
    if (c.ci !== undefined) this.ci = c.ci;
    if (c.roaming !== undefined) this.roaming = c.roaming;
    return before !== `${this.lac}/${this.ci}/${this.roaming}`;
  }

  /** 1 home, 5 roaming. */
  get registeredStat(): 1 | 5 {
    return this.roaming ? 5 : 1;
  }
}
