/**
 * One message storage of 27.005 (AT+CPMS "SM": the SIM's EF_SMS records): numbered slots
 * 1..capacity, each a status and the PDU as the SIM keeps it (SCA + TPDU). The SIM also holds
 * the last TP-MR used (EF_SMSS), so message references run on across reboots.
 */
import type { Logger } from '../log.js';
import { parsePdu } from './pdu.js';
import { SimFile, isRecord } from './sim-file.js';

/** 27.005 <stat>: 0 REC UNREAD, 1 REC READ, 2 STO UNSENT, 3 STO SENT. */
export type SmsStat = 0 | 1 | 2 | 3;

export const STAT_TEXT: Readonly<Record<SmsStat, string>> = { 0: 'REC UNREAD', 1: 'REC READ', 2: 'STO UNSENT', 3: 'STO SENT' };

export interface StoredSms {
  readonly index: number;
  readonly stat: SmsStat;
  /** Hex, SCA included. */
  readonly pdu: string;
}

const FORMAT = 'modemsim-sim-sms/1';

/** A stored PDU is at most an SCA (12 octets) plus the longest TPDU (164): longer ones are not SIM records. */
const MAX_PDU_HEX = 2 * (12 + 164);

const isStat = (v: unknown): v is SmsStat => v === 0 || v === 1 || v === 2 || v === 3;

export class MessageStore {
  private readonly slots = new Map<number, StoredSms>();
  private mr: number;

  constructor(
    private readonly file: SimFile,
    readonly capacity: number,
    firstMr: number,
    log: Logger,
  ) {
    this.mr = firstMr & 0xff;
    const v = file.load();
    if (!isRecord(v)) return;
    if (typeof v['nextMr'] === 'number' && Number.isInteger(v['nextMr'])) this.mr = v['nextMr'] & 0xff;
    const list = Array.isArray(v['messages']) ? v['messages'] : [];
    for (const m of list) {
      // a hand-edited or foreign record is left out rather than printed to the host
      if (!isRecord(m)) continue;
      const { index, stat, pdu } = m;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || index > capacity || this.slots.has(index)) {
        log.warn({ index }, 'SIM message slot out of range or twice; left out');
        continue;
      }
      if (!isStat(stat) || typeof pdu !== 'string' || pdu.length > MAX_PDU_HEX || !parsePdu(pdu, { withSca: true }).ok) {
        log.warn({ index }, 'SIM message record unreadable; left out');
        continue;
      }
      this.slots.set(index, { index, stat, pdu: pdu.toUpperCase() });
    }
  }

  get used(): number {
    return this.slots.size;
  }

  get full(): boolean {
    return this.slots.size >= this.capacity;
  }

  get(index: number): StoredSms | undefined {
    return this.slots.get(index);
  }

  /** Every stored message, by index. */
  all(): StoredSms[] {
    return [...this.slots.values()].sort((a, b) => a.index - b.index);
  }

  /** Store in the lowest free slot; undefined when full. Throws on a host I/O error. */
  add(stat: SmsStat, pdu: string): number | undefined {
    if (this.full) return undefined;
    let index = 1;
    while (this.slots.has(index)) index++;
    this.slots.set(index, { index, stat, pdu: pdu.toUpperCase() });
    this.commit(() => this.slots.delete(index));
    return index;
  }

  setStat(index: number, stat: SmsStat): void {
    const m = this.slots.get(index);
    if (m === undefined || m.stat === stat) return;
    this.slots.set(index, { ...m, stat });
    this.commit(() => this.slots.set(index, m));
  }

  /** Delete the messages `which` picks (one write for all); returns how many went. */
  deleteWhere(which: (m: StoredSms) => boolean): number {
    const gone = this.all().filter(which);
    if (gone.length === 0) return 0;
    for (const m of gone) this.slots.delete(m.index);
    this.commit(() => {
      for (const m of gone) this.slots.set(m.index, m);
    });
    return gone.length;
  }

  /** The TP-MR for the next message sent (27.005: the ME assigns it, 0..255). */
  takeMr(): number {
    const mr = this.mr;
    this.mr = (mr + 1) & 0xff;
    this.commit(() => (this.mr = mr));
    return mr;
  }

  /** Persist; on a host I/O error undo the change in memory and rethrow. */
  private commit(undo: () => void): void {
    try {
      this.file.save({ format: FORMAT, nextMr: this.mr, messages: this.all() });
    } catch (err) {
      undo();
      throw err;
    }
  }
}
