/**
 * The radio signal the module sees. The network side sets it (scenario, control API); AT+CSQ
 * reads it. With `spread` > 0 every reading varies by a seeded amount, as a real RSSI does.
 */
import type { PrngStream } from '../prng.js';

export interface SignalLevel {
  /** CSQ units: 0 ≤ −113 dBm, 1 = −111, 2..30 = −109..−53 dBm, 31 ≥ −51 dBm, 99 unknown. */
  rssi: number;
  /** RXQUAL 0..7, 99 unknown. */
  ber: number;
}

export interface SignalChange {
  rssi?: number;
  ber?: number;
  /** Received power in dBm; converted with rssi = (dBm + 113) / 2 (27.007 §8.5). */
  dbm?: number;
  spread?: number;
}

export const UNKNOWN_SIGNAL: SignalLevel = { rssi: 99, ber: 99 };

export function rssiFromDbm(dbm: number): number {
  return Math.min(31, Math.max(0, Math.floor((dbm + 113) / 2)));
}

export class SignalModel {
  rssi: number;
  ber: number;
  spread: number;

  constructor(init: SignalLevel & { spread: number }) {
    this.rssi = init.rssi;
    this.ber = init.ber;
    this.spread = init.spread;
  }

  set(c: SignalChange): void {
    const rssi = c.dbm !== undefined ? rssiFromDbm(c.dbm) : c.rssi;
    if (rssi !== undefined && !(rssi === 99 || (Number.isInteger(rssi) && rssi >= 0 && rssi <= 31))) {
      throw new RangeError(`rssi ${rssi} is not 0..31 or 99`);
    }
    if (c.ber !== undefined && !(c.ber === 99 || (Number.isInteger(c.ber) && c.ber >= 0 && c.ber <= 7))) {
      throw new RangeError(`ber ${c.ber} is not 0..7 or 99`);
    }
    if (c.spread !== undefined && !(Number.isInteger(c.spread) && c.spread >= 0)) {
      throw new RangeError(`spread ${c.spread} is not a whole number ≥ 0`);
    }
    if (rssi !== undefined) this.rssi = rssi;
    if (c.ber !== undefined) this.ber = c.ber;
    if (c.spread !== undefined) this.spread = c.spread;
  }

  /** One reading; the stream is only drawn from when the level varies. */
  read(prng: PrngStream): SignalLevel {
    if (this.rssi === 99 || this.spread === 0) return { rssi: this.rssi, ber: this.ber };
    const v = this.rssi + prng.int(-this.spread, this.spread);
    return { rssi: Math.min(31, Math.max(0, v)), ber: this.ber };
  }

  get level(): SignalLevel {
    return { rssi: this.rssi, ber: this.ber };
  }
}
