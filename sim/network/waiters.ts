/**
 * Commands whose final result waits on a state change (CGATT=1 waiting for registration):
 * each waiter is answered once, by the change or by its timeout, whichever comes first.
 */
import type { Ns, TimerHandle } from '../kernel.js';
import type { TimerSet } from '../service.js';

interface Waiter {
  done: (ok: boolean) => void;
  timer: TimerHandle;
}

export class Waiters {
  private list: Waiter[] = [];

  constructor(
    private readonly timers: TimerSet,
    private readonly label: string,
  ) {}

  get size(): number {
    return this.list.length;
  }

  add(timeout: Ns, done: (ok: boolean) => void): void {
    const w: Waiter = {
      done,
      timer: this.timers.after(
        timeout,
        () => {
          this.list = this.list.filter((x) => x !== w);
          done(false);
        },
        `${this.label}-timeout`,
      ),
    };
    this.list.push(w);
  }

  settle(ok: boolean): void {
    const l = this.list;
    this.list = [];
    for (const w of l) {
      this.timers.cancel(w.timer);
      w.done(ok);
    }
  }

  /** Forget every waiter without answering (power-off: their commands died with the reboot). */
  clear(): void {
    for (const w of this.list) this.timers.cancel(w.timer);
    this.list = [];
  }
}

/** Spellings with a `{cid}` placeholder, filled for each context, duplicates printed once. */
export function spellFor(lines: readonly string[], cids: readonly number[]): string[] {
  const out: string[] = [];
  for (const cid of cids) {
    for (const l of lines) {
      const s = l.replaceAll('{cid}', String(cid));
      if (!out.includes(s)) out.push(s);
    }
  }
  return out;
}
