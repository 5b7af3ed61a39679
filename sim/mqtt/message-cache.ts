/**
 * The module's RAM table of received messages for AT+MQTTMSGSET=1 (behaviour §16): a fixed
 * number of slots; a new message takes the lowest free slot, else overwrites the oldest. The
 * table is lost on reboot.
 */

export interface CachedMessage {
  topic: string;
  payload: Buffer;
  /** Arrival order, for "oldest first" and "overwrite the oldest". */
  seq: number;
}

export interface StoreResult {
  slot: number;
  /** The message this one replaced, when every slot was valid. */
  overwritten?: CachedMessage;
}

export class MessageCache {
  private readonly slots: Array<CachedMessage | undefined>;
  private seq = 0;
  /** Messages lost to overwriting since power-on. */
  overwrites = 0;

  constructor(readonly size: number) {
    this.slots = new Array<CachedMessage | undefined>(size).fill(undefined);
  }

  store(topic: string, payload: Buffer): StoreResult {
    const msg: CachedMessage = { topic, payload, seq: this.seq++ };
    const free = this.slots.findIndex((s) => s === undefined);
    if (free >= 0) {
      this.slots[free] = msg;
      return { slot: free };
    }
    let oldest = 0;
    for (let i = 1; i < this.slots.length; i++) {
      if (this.slots[i]!.seq < this.slots[oldest]!.seq) oldest = i;
    }
    const overwritten = this.slots[oldest];
    this.slots[oldest] = msg;
    this.overwrites++;
    return overwritten ? { slot: oldest, overwritten } : { slot: oldest };
  }

  isValid(slot: number): boolean {
    return this.slots[slot] !== undefined;
  }

  /** Every valid message, oldest first, freeing all slots (AT+MQTTMSGGET). */
  drain(): CachedMessage[] {
    const out = this.slots.filter((s): s is CachedMessage => s !== undefined).sort((a, b) => a.seq - b.seq);
    this.slots.fill(undefined);
    return out;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.overwrites = 0;
  }
}
