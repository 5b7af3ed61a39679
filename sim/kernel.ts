/**
 * The one clock. Every timer, byte and network event in the model is an event on this queue,
 * stamped in integer nanoseconds and ordered by (time, priority, sequence), so two runs with
 * the same seed and the same input replay identically.
 *
 * Time is a JS number holding an integer: exact up to 2^53 ns (about 104 days of model time).
 *
 * Several kernels may share one timeline (`kernel.fork()`): a fleet of modems on one queue and
 * one clock, each with its own PRNG streams, so a modem's draws never depend on its neighbours.
 */
import { Prng } from './prng.js';

export type Ns = number;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;
export const ms = (v: number): Ns => Math.round(v * NS_PER_MS);
export const sec = (v: number): Ns => Math.round(v * NS_PER_S);

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

/**
 * A scheduled event. It is its own handle, so a schedule costs one object besides the
 * caller's closure; an owner that re-arms the same work (a UART lane) reuses one for good.
 */
export class KernelEvent implements TimerHandle {
  time: Ns = 0;
  priority = 0;
  seq = 0;
  cancelled = false;
  /** In the queue now (a cancelled one still counts until it is dropped). */
  queued = false;

  constructor(
    readonly owner: Kernel,
    public label: string,
    public fn: () => void,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (this.queued) this.owner.timeline.noteCancelled();
  }
}

/** Binary min-heap of events on (time, priority, seq); sifts move a hole, never swap pairs. */
class EventQueue {
  private heap: KernelEvent[] = [];
  get size(): number {
    return this.heap.length;
  }
  peek(): KernelEvent | undefined {
    return this.heap[0];
  }
  push(e: KernelEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    const t = e.time;
    const p = e.priority;
    const s = e.seq;
    while (i > 0) {
      const pi = (i - 1) >> 1;
      const q = h[pi]!;
      if (q.time < t || (q.time === t && (q.priority < p || (q.priority === p && q.seq < s)))) break;
      h[i] = q;
      i = pi;
    }
    h[i] = e;
  }
  pop(): KernelEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    const n = h.length;
    if (n > 0 && last !== undefined) this.siftDown(last, 0, n);
    return top;
  }
  /** Drop every cancelled event and restore the heap (after many cancellations). */
  compact(): void {
    const live = this.heap.filter((e) => {
      if (e.cancelled) e.queued = false;
      return !e.cancelled;
    });
    this.heap = live;
    for (let i = (live.length >> 1) - 1; i >= 0; i--) this.siftDown(live[i]!, i, live.length);
  }
  private siftDown(e: KernelEvent, i: number, n: number): void {
    const h = this.heap;
    const t = e.time;
    const p = e.priority;
    const s = e.seq;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && earlier(h[r]!, h[c]!)) c = r;
      const q = h[c]!;
      if (t < q.time || (t === q.time && (p < q.priority || (p === q.priority && s < q.seq)))) break;
      h[i] = q;
      i = c;
    }
    h[i] = e;
  }
}

function earlier(a: KernelEvent, b: KernelEvent): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (a.priority !== b.priority) return a.priority < b.priority;
  return a.seq < b.seq;
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

/** Cancelled events left in the queue before it is compacted (keepalive timers re-arm often). */
const COMPACT_AFTER = 4096;

/**
 * What kernels of one timeline share: the queue, the sequence counter, the current instant,
 * the holds and the wake listeners.
 */
export class Timeline {
  readonly queue = new EventQueue();
  seq = 0;
  current: Ns = 0;
  eventsRun = 0;
  cancelledQueued = 0;
  readonly openHolds = new Set<{ label: string }>();
  holdWaiters: Array<() => void> = [];
  wakeListeners: Array<() => void> = [];
  virtualTime = false;
  /** Bound of the step now running: work done inline (see Kernel.continueAt) stays inside it. */
  stepLimit: Ns = Number.MAX_SAFE_INTEGER;
  /** An event is running (its model instant is `current`, whatever the wall clock says). */
  inEvent = false;
  /** Set by the driver while it steps: true when it would stop before running one more event. */
  pause: (() => boolean) | undefined;

  noteCancelled(): void {
    if (++this.cancelledQueued >= COMPACT_AFTER && this.cancelledQueued * 2 >= this.queue.size) {
      this.queue.compact();
      this.cancelledQueued = 0;
    }
  }

  dropCancelled(): void {
    for (let e = this.queue.peek(); e !== undefined && e.cancelled; e = this.queue.peek()) {
      this.queue.pop();
      e.queued = false;
      this.cancelledQueued--;
    }
  }

  wake(): void {
    const ls = this.wakeListeners;
    for (let i = 0; i < ls.length; i++) ls[i]!();
  }
}

export class Kernel {
  /** Shared with every kernel forked from this one. */
  readonly timeline: Timeline;
  readonly prng: Prng;
  /**
   * Where an event that throws goes. Unset, the error reaches whoever steps the kernel (a test
   * awaiting the virtual clock sees it). Set by free-running drivers, whose stepping happens in
   * timer and socket callbacks where a throw would end the process: the error is handed over
   * and the next event runs. Events go to the handler of the kernel that scheduled them.
   */
  onEventError: ((err: unknown, label: string) => void) | undefined;
  /** Told of every guard expiry of holds opened through this kernel (the modem traces it). */
  onGuardExpired: ((e: GuardExpiry) => void) | undefined;

  constructor(opts: KernelOptions = {}, timeline: Timeline = new Timeline()) {
    this.prng = new Prng(opts.seed ?? 1);
    this.timeline = timeline;
  }

  /** Another kernel on this one's timeline (same queue, clock and holds) with its own PRNG. */
  fork(opts: KernelOptions = {}): Kernel {
    return new Kernel(opts, this.timeline);
  }

  get now(): Ns {
    return this.timeline.current;
  }

  /** Count of events run on this timeline since creation; benchmarks and the trace read it. */
  get eventsRun(): number {
    return this.timeline.eventsRun;
  }

  /** Set by a virtual clock driving this timeline. */
  get virtualTime(): boolean {
    return this.timeline.virtualTime;
  }

  set virtualTime(v: boolean) {
    this.timeline.virtualTime = v;
  }

  /** Schedule `fn` at absolute time `time` (clamped to now: the past cannot be scheduled). */
  at(time: Ns, fn: () => void, label = 'event', priority: number = Priority.normal): TimerHandle {
    const e = new KernelEvent(this, label, fn);
    this.schedule(e, time, priority);
    return e;
  }

  after(delay: Ns, fn: () => void, label = 'event', priority: number = Priority.normal): TimerHandle {
    return this.at(this.timeline.current + Math.max(0, Math.round(delay)), fn, label, priority);
  }

  /** A reusable event for an owner that keeps at most one of its kind queued (schedule()). */
  event(label: string, fn: () => void): KernelEvent {
    return new KernelEvent(this, label, fn);
  }

  /**
   * Queue `e` (not queued now) at `time`; `seq` is one taken earlier with reserveSeq(), so the
   * event sorts as if it had been scheduled at that moment.
   */
  schedule(e: KernelEvent, time: Ns, priority: number, seq: number = this.timeline.seq++): void {
    const tl = this.timeline;
    if (!Number.isInteger(time)) time = Math.round(time);
    e.time = time > tl.current ? time : tl.current;
    e.priority = priority;
    e.seq = seq;
    e.cancelled = false;
    e.queued = true;
    tl.queue.push(e);
    tl.wake();
  }

  /** A sequence number, as scheduling an event now would take it. */
  reserveSeq(): number {
    return this.timeline.seq++;
  }

  /**
   * For the event now running: may it go on with work that an event at (time, priority, seq)
   * would do, here, without queueing that event? Yes when that event would be the very next
   * one to run: nothing queued sorts before it, it is inside the running step's bound, and the
   * driver would not stop before it (a condition it waits for came true, an I/O hold opened).
   * On yes the clock moves to `time`. The result is the same as queueing it, minus the queue.
   */
  continueAt(time: Ns, priority: number, seq: number): boolean {
    const tl = this.timeline;
    if (time > tl.stepLimit) return false;
    tl.dropCancelled();
    const top = tl.queue.peek();
    if (top !== undefined && (top.time < time || (top.time === time && (top.priority < priority || (top.priority === priority && top.seq < seq))))) {
      return false;
    }
    if (tl.pause !== undefined && tl.pause()) return false;
    if (time > tl.current) tl.current = time;
    return true;
  }

  /** Time of the next live event, or undefined when idle. */
  nextTime(): Ns | undefined {
    const tl = this.timeline;
    tl.dropCancelled();
    return tl.queue.peek()?.time;
  }

  get pending(): number {
    return this.timeline.queue.size;
  }

  /** Run the single next event if it is due at or before `limit`. Returns false when none is. */
  step(limit: Ns = Number.MAX_SAFE_INTEGER): boolean {
    const tl = this.timeline;
    tl.dropCancelled();
    const e = tl.queue.peek();
    if (e === undefined || e.time > limit) return false;
    tl.queue.pop();
    e.queued = false;
    tl.current = e.time;
    tl.eventsRun++;
    tl.stepLimit = limit;
    const outer = tl.inEvent;
    tl.inEvent = true;
    const onError = e.owner.onEventError;
    try {
      if (onError === undefined) {
        e.fn();
        return true;
      }
      try {
        e.fn();
      } catch (err) {
        onError(err, e.label);
      }
      return true;
    } finally {
      tl.stepLimit = Number.MAX_SAFE_INTEGER;
      tl.inEvent = outer;
    }
  }

  /** True while an event runs: its instant is `now`, whatever the wall clock says. */
  get inEvent(): boolean {
    return this.timeline.inEvent;
  }

  /**
   * Move the clock forward to `time` without running anything (drivers use this when an
   * external input arrives at a later instant than the last event).
   */
  setTime(time: Ns): void {
    const tl = this.timeline;
    if (time > tl.current) tl.current = Math.round(time);
  }

  /**
   * Open a hold on real I/O. `wallGuardMs` bounds how long a lost reply can freeze virtual time:
   * past it the hold is released and `onExpire` runs, as a dead peer would be noticed.
   */
  hold(label: string, wallGuardMs = 30_000, onExpire?: () => void): IoHold {
    const tl = this.timeline;
    const token = { label };
    tl.openHolds.add(token);
    let released = false;
    const guard = setTimeout(() => {
      if (released) return;
      const e: GuardExpiry = { label, wallGuardMs, at: tl.current, virtual: tl.virtualTime };
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
      tl.openHolds.delete(token);
      if (tl.openHolds.size === 0) {
        const w = tl.holdWaiters;
        tl.holdWaiters = [];
        for (const f of w) f();
      }
      tl.wake();
    };
    return { label, release };
  }

  get holdsOpen(): number {
    return this.timeline.openHolds.size;
  }

  holdLabels(): string[] {
    return [...this.timeline.openHolds].map((h) => h.label);
  }

  /** Resolves once no I/O hold is open. */
  whenNoHolds(): Promise<void> {
    const tl = this.timeline;
    if (tl.openHolds.size === 0) return Promise.resolve();
    return new Promise((r) => tl.holdWaiters.push(r));
  }

  /** Drivers subscribe to learn that new work was scheduled or a hold was released. */
  onWake(fn: () => void): () => void {
    const tl = this.timeline;
    tl.wakeListeners.push(fn);
    return () => {
      tl.wakeListeners = tl.wakeListeners.filter((f) => f !== fn);
    };
  }
}
