/**
 * Free-running virtual time, for code under test that talks to the modem through a stream or a
 * serialport binding and never calls `advance`.
 *
 * When model time may move: only when the host side is quiet — no kernel hold open (real I/O in
 * flight) and `graceTurns` macrotask turns (setImmediate) have passed since the last thing that
 * happened on either side (a host write, a modem output, an I/O reply). Then the clock jumps to
 * the next event, runs every event due at that instant, delivers the output, and waits for quiet
 * again. A driver that reacts to a byte within those turns (promise chains, stream handlers,
 * `process.nextTick`) writes at the model instant that byte arrived, on every machine: the run
 * is deterministic for a deterministic driver. A driver that waits on a wall-clock timer is
 * "silent and waiting": model time runs on meanwhile, at no wall cost, which is what makes a
 * simulated hour pass in well under a second.
 *
 * This file arms host callbacks (setImmediate, an optional grace timer) but never reads the
 * wall clock: model time depends on the order of events only.
 */
import type { ClockDriver } from './clock.js';
import { Kernel, Ns, Priority } from './kernel.js';

export interface FreeClockOptions {
  /** Macrotask turns of quiet before model time moves (default 2). */
  graceTurns?: number;
  /**
   * Extra wall milliseconds of quiet before model time moves (default 0). For drivers that
   * answer through a short real timer (a serial library's write queue): larger is safer, slower.
   */
  graceMs?: number;
}

type Waiter = { cond: () => boolean; deadline: Ns; resolve: (held: boolean) => void };

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export class FreeRunningClock implements ClockDriver {
  readonly kind = 'virtual' as const;
  private stopped = false;
  private readonly waiters = new Set<Waiter>();
  private readonly graceTurns: number;
  private readonly graceMs: number;
  /** Bumped by anything that happens; a quiet period is one in which it does not change. */
  private activity = 0;
  private wakeUp: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    readonly kernel: Kernel,
    opts: FreeClockOptions = {},
  ) {
    kernel.virtualTime = true;
    this.graceTurns = Math.max(1, opts.graceTurns ?? 2);
    this.graceMs = Math.max(0, opts.graceMs ?? 0);
    this.unsubscribe = kernel.onWake(() => this.poke());
    void this.loop();
  }

  inject(label: string, fn: () => void): void {
    if (this.stopped) return;
    this.kernel.at(this.kernel.now, fn, label, Priority.io);
  }

  /** Something happened outside the kernel (the host read or wrote): quiet starts again. */
  poke(): void {
    this.activity++;
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  waitUntil(cond: () => boolean, timeout: Ns): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const deadline = this.kernel.now + timeout;
      this.waiters.add({ cond, deadline, resolve });
      // the deadline is an instant the loop must reach even with nothing else scheduled
      this.kernel.at(deadline, () => undefined, 'free-wait-deadline', Priority.normal);
    });
  }

  async advance(delta: Ns): Promise<void> {
    await this.waitUntil(() => false, delta);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    this.poke();
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      w.resolve(w.cond());
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (this.kernel.holdsOpen > 0) {
        await this.kernel.whenNoHolds();
        this.activity++;
        continue;
      }
      if (!(await this.quiet())) continue;
      const next = this.kernel.nextTime();
      if (next === undefined) {
        await new Promise<void>((r) => (this.wakeUp = r));
        continue;
      }
      // everything due at that one instant, then the host gets its turns to react
      while (this.kernel.step(next)) {
        /* run the instant's events */
      }
      this.settleWaiters();
    }
  }

  /** True after `graceTurns` turns (and `graceMs`) in which nothing happened. */
  private async quiet(): Promise<boolean> {
    const seen = this.activity;
    for (let i = 0; i < this.graceTurns; i++) {
      await turn();
      if (this.stopped || this.activity !== seen || this.kernel.holdsOpen > 0) return false;
    }
    if (this.graceMs > 0) {
      await new Promise<void>((r) => setTimeout(r, this.graceMs));
      if (this.stopped || this.activity !== seen || this.kernel.holdsOpen > 0) return false;
    }
    return true;
  }

  private settleWaiters(): void {
    for (const w of [...this.waiters]) {
      const held = w.cond();
      if (held || this.kernel.now >= w.deadline) {
        this.waiters.delete(w);
        w.resolve(held);
      }
    }
  }
}
