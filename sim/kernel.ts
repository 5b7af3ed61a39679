/**
 * The one clock. Every timer, byte and network event in the model is an event on this queue,
 * stamped in integer nanoseconds and ordered by (time, priority, sequence), so two runs with
 * the same seed and the same input replay identically.
 *
 * Time is a JS number holding an integer: exact up to 2^53 ns (about 104 days of model time).
 */
import { Prng } from './prng.js';

export type Ns = number;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;
export const ms = (v: number): Ns => Math.round(v * NS_PER_MS);
export const sec = (v: number): Ns => Math.round(v * NS_PER_S);

export interface KernelEvent {
  readonly time: Ns;
  readonly priority: number;
  readonly seq: number;
  readonly label: string;
  readonly fn: () => void;
  cancelled: boolean;
}

export interface TimerHandle {
  readonly time: Ns;
  readonly label: string;
  cancel(): void;
}

/** Lower priority numbers run first among events of the same instant. */
export const Priority = {
  /** line-level physics: UART bytes */
  wire: 0,
  /** real I/O completions brought into model time */
  io: 10,
  /** service timers and command handlers */
  normal: 20,
  /** housekeeping that must see everything else of the instant */
  late: 30,
} as const;

function before(a: KernelEvent, b: KernelEvent): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (a.priority !== b.priority) return a.priority < b.priority;
  return a.seq < b.seq;
}

/** Binary min-heap of events. */
class EventQueue {
  private readonly heap: KernelEvent[] = [];
  get size(): number {
    return this.heap.length;
  }
  push(e: KernelEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  peek(): KernelEvent | undefined {
    return this.heap[0];
  }
  pop(): KernelEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

export interface KernelOptions {
  seed?: number;
}

/**
 * A real operation (socket connect, broker round trip) the model waits on. In virtual time the
 * clock does not move while any hold is open, so the instant an I/O result enters the model
 * never depends on how fast this machine is.
 */
export interface IoHold {
  readonly label: string;
  release(): void;
}

/** A wall-clock guard of an I/O hold ran out before its reply came. */
export interface GuardExpiry {
  label: string;
  wallGuardMs: number;
  /** Model time when it ran out. */
  at: Ns;
  /** The kernel was driven by a virtual clock (where an expiry means the result may depend on machine speed). */
  virtual: boolean;
}

/**
 * The last guard expiries of this process, for harnesses that forbid them in virtual time (the
 * test suite's setup file); bounded, so a long served session cannot grow it.
 */
export const recentGuardExpiries: GuardExpiry[] = [];
const RECENT_GUARD_EXPIRIES = 64;

export class Kernel {
  private readonly queue = new EventQueue();
  private seq = 0;
  private current: Ns = 0;
  private readonly openHolds = new Set<{ label: string }>();
  private holdWaiters: Array<() => void> = [];
  private wakeListeners: Array<() => void> = [];
  readonly prng: Prng;
  /** Count of events run since creation; benchmarks and the trace read it. */
  eventsRun = 0;
  /**
   * Where an event that throws goes. Unset, the error reaches whoever steps the kernel (a test
   * awaiting the virtual clock sees it). Set by free-running drivers, whose stepping happens in
   * timer and socket callbacks where a throw would end the process: the error is handed over
   * and the next event runs.
   */
  onEventError: ((err: unknown, label: string) => void) | undefined;
  /** Told of every guard expiry (the modem traces it). */
  onGuardExpired: ((e: GuardExpiry) => void) | undefined;
  /** Set by a virtual clock driving this kernel. */
  virtualTime = false;

  constructor(opts: KernelOptions = {}) {
    this.prng = new Prng(opts.seed ?? 1);
  }

  get now(): Ns {
    return this.current;
  }

  /** Schedule `fn` at absolute time `time` (clamped to now: the past cannot be scheduled). */
  at(time: Ns, fn: () => void, label = 'event', priority: number = Priority.normal): TimerHandle {
    if (!Number.isInteger(time)) time = Math.round(time);
    const e: KernelEvent = {
      time: Math.max(time, this.current),
      priority,
      seq: this.seq++,
      label,
      fn,
      cancelled: false,
    };
    this.queue.push(e);
    this.wake();
    return {
      time: e.time,
      label,
      cancel: () => {
        e.cancelled = true;
      },
    };
  }

  after(delay: Ns, fn: () => void, label = 'event', priority: number = Priority.normal): TimerHandle {
    return this.at(this.current + Math.max(0, Math.round(delay)), fn, label, priority);
  }

  /** Time of the next live event, or undefined when idle. */
  nextTime(): Ns | undefined {
    this.dropCancelled();
    return this.queue.peek()?.time;
  }

  get pending(): number {
    return this.queue.size;
  }

  /** Run the single next event if it is due at or before `limit`. Returns false when none is. */
  step(limit: Ns = Number.MAX_SAFE_INTEGER): boolean {
    this.dropCancelled();
    const e = this.queue.peek();
    if (!e || e.time > limit) return false;
    this.queue.pop();
    this.current = e.time;
    this.eventsRun++;
    if (!this.onEventError) {
      e.fn();
      return true;
    }
    try {
      e.fn();
    } catch (err) {
      this.onEventError(err, e.label);
    }
    return true;
  }

  /**
   * Move the clock forward to `time` without running anything (drivers use this when an
   * external input arrives at a later instant than the last event).
   */
  setTime(time: Ns): void {
    if (time > this.current) this.current = Math.round(time);
  }

  /**
   * Open a hold on real I/O. `wallGuardMs` bounds how long a lost reply can freeze virtual time:
   * past it the hold is released and `onExpire` runs, as a dead peer would be noticed.
   */
  hold(label: string, wallGuardMs = 30_000, onExpire?: () => void): IoHold {
    const token = { label };
    this.openHolds.add(token);
    let released = false;
    const guard = setTimeout(() => {
      if (released) return;
      const e: GuardExpiry = { label, wallGuardMs, at: this.current, virtual: this.virtualTime };
      recentGuardExpiries.push(e);
      if (recentGuardExpiries.length > RECENT_GUARD_EXPIRIES) recentGuardExpiries.shift();
      this.onGuardExpired?.(e);
      release();
      onExpire?.();
    }, wallGuardMs);
    guard.unref();
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(guard);
      this.openHolds.delete(token);
      if (this.openHolds.size === 0) {
        const w = this.holdWaiters;
        this.holdWaiters = [];
        for (const f of w) f();
      }
      this.wake();
    };
    return { label, release };
  }

  get holdsOpen(): number {
    return this.openHolds.size;
  }

  holdLabels(): string[] {
    return [...this.openHolds].map((h) => h.label);
  }

  /** Resolves once no I/O hold is open. */
  whenNoHolds(): Promise<void> {
    if (this.openHolds.size === 0) return Promise.resolve();
    return new Promise((r) => this.holdWaiters.push(r));
  }

  /** Drivers subscribe to learn that new work was scheduled or a hold was released. */
  onWake(fn: () => void): () => void {
    this.wakeListeners.push(fn);
    return () => {
      this.wakeListeners = this.wakeListeners.filter((f) => f !== fn);
    };
  }

  private wake(): void {
    for (const f of this.wakeListeners) f();
  }

  private dropCancelled(): void {
    for (let e = this.queue.peek(); e && e.cancelled; e = this.queue.peek()) this.queue.pop();
  }
}
