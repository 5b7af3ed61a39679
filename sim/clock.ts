/**
 * Drivers of the kernel's clock. Only this file and kernel.ts read the wall clock or arm
 * host timers.
 *
 * - VirtualClock: time jumps from event to event. It stands still while real I/O is in flight
 *   (kernel holds), so a broker round trip costs zero model time plus the profile's latency.
 * - RealtimeClock: model time follows the wall clock (pty/TCP serving to real drivers).
 */
import { performance } from 'node:perf_hooks';
import { Kernel, Ns, Priority } from './kernel.js';

export interface ClockDriver {
  readonly kind: 'virtual' | 'realtime';
  readonly kernel: Kernel;
  /** Bring an outside input (host bytes, socket data) into model time at the current instant. */
  inject(label: string, fn: () => void): void;
  /**
   * Let the model run until `cond()` is true or `timeout` ns of model time pass. Virtual: steps
   * events (instantly). Realtime: waits on the wall clock. Resolves true when `cond()` held.
   */
  waitUntil(cond: () => boolean, timeout: Ns): Promise<boolean>;
  /** Let `delta` ns of model time pass. */
  advance(delta: Ns): Promise<void>;
  /** The modem is closing: outside inputs are dropped from now on, pending waits answered. */
  stop(): void;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Node's longest timer (2^31 - 1 ms, about 24.8 days): a longer delay is cut to 1 ms (with a
 * TimeoutOverflowWarning), which would turn a long model timeout (FSWRITE's <inputtime>) into a
 * busy loop. A timer capped here fires early, finds nothing due and re-arms.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;
const wallDelayMs = (ns: Ns): number => Math.min(MAX_TIMER_MS, Math.max(0, ns / 1e6));

/**
 * Whether an outside input comes from the network side (broker replies, socket closes, the
 * SMSC): in a real-time session the instant such an input entered the model is the wall
 * clock's and is recorded (`io` records) so a replay can enter it at the same instant. The
 * host's bytes and lines, faults and the serving harness's wake-ups are not: they are in the
 * trace already (`rx`, `fault`) or change nothing.
 */
export function isNetworkInput(label: string): boolean {
  return !/^(host-|fault:|serve-|far-)/.test(label);
}

/**
 * Where a replay of a real-time session enters each network input: the next recorded instant
 * of that label, in recorded order (undefined once none is left).
 */
export interface InputSchedule {
  next(label: string): Ns | undefined;
}

/** Told of each network input as it enters the model (at its instant, before it runs). */
export type NetworkInputListener = (label: string) => void;

/** `fn`, preceded by telling `listen` of it when the label is a network input. */
function noted(label: string, fn: () => void, listen: NetworkInputListener | undefined): () => void {
  if (listen === undefined || !isNetworkInput(label)) return fn;
  return () => {
    listen(label);
    fn();
  };
}

export interface VirtualClockOptions {
  /**
   * When the model is idle inside a wait, how long (wall ms) to let outside inputs (a far-side
   * MQTT client, a broker) arrive before virtual time jumps to the wait's deadline.
   */
  idleGraceMs?: number;
  /**
   * Free-running mode (serve --clock virtual): after each outside input, run until idle but never
   * further than this much model time past that input, so periodic timers cannot race ahead.
   */
  autoHorizon?: Ns;
  /** A replay of a real-time session: network inputs enter at their recorded instants. */
  schedule?: InputSchedule;
  onNetworkInput?: NetworkInputListener;
}

export class VirtualClock implements ClockDriver {
  readonly kind = 'virtual' as const;
  private running = false;
  /** Runs that arrived while another was stepping (woken, in order, when it ends). */
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  private autoLimit: Ns = -1;
  private readonly unsubscribe: () => void;
  private readonly idleGraceMs: number;

  constructor(
    readonly kernel: Kernel,
    private readonly opts: VirtualClockOptions = {},
  ) {
    this.idleGraceMs = opts.idleGraceMs ?? 1000;
    kernel.virtualTime = true;
    this.unsubscribe = kernel.onWake(() => this.onWake());
  }

  inject(label: string, fn: () => void): void {
    // a closed modem takes no more input (a socket that reports after close)
    if (this.stopped) return;
    if (this.opts.autoHorizon !== undefined) {
      this.autoLimit = Math.max(this.autoLimit, this.kernel.now + this.opts.autoHorizon);
    }
    const now = this.kernel.now;
    const { schedule, onNetworkInput } = this.opts;
    // an input the replay makes later than recorded enters now, and the comparison names it
    const at = schedule !== undefined && isNetworkInput(label) ? Math.max(now, schedule.next(label) ?? now) : now;
    this.kernel.at(at, noted(label, fn, onNetworkInput), label, Priority.io);
  }

  waitUntil(cond: () => boolean, timeout: Ns): Promise<boolean> {
    return this.runWhile(() => !cond(), this.kernel.now + timeout, true);
  }

  /** Run every event due at or before `time`, then stand the clock at `time`. */
  async runUntil(time: Ns): Promise<void> {
    await this.runWhile(() => true, time, false);
    this.kernel.setTime(time);
  }

  /** Advance model time by `delta` ns, running everything due. */
  advance(delta: Ns): Promise<void> {
    return this.runUntil(this.kernel.now + delta);
  }

  /** Run until no event is left (bounded by `limit` model time from now). */
  async runUntilIdle(limit: Ns = 3600 * 1e9): Promise<void> {
    await this.runWhile(() => true, this.kernel.now + limit, false);
  }

  /**
   * Step events while `cond()` holds, up to `deadline`. Returns true when `cond()` turned false
   * (the awaited thing happened), false at the deadline. With `graceForOutside`, an idle model
   * waits up to idleGraceMs of wall time for outside inputs before jumping to the deadline.
   */
  async runWhile(cond: () => boolean, deadline: Ns, graceForOutside = true): Promise<boolean> {
    // One run at a time: a caller that arrives while the free-running loop (or another wait)
    // is stepping waits for it, then steps on its own.
    while (this.running) await new Promise<void>((r) => this.idleWaiters.push(r));
    this.running = true;
    const timeline = this.kernel.timeline;
    // work an event does inline (a UART run) stops where this loop would stop between events
    const pause = (): boolean => !cond() || this.stopped || timeline.openHolds.size > 0;
    try {
      let sinceYield = 0;
      for (;;) {
        if (!cond()) return true;
        if (this.stopped) return false;
        if (this.kernel.holdsOpen > 0) {
          await this.kernel.whenNoHolds();
          await yieldToLoop();
          continue;
        }
        const next = this.kernel.nextTime();
        if (next !== undefined && next <= deadline) {
          timeline.pause = pause;
          try {
            this.kernel.step(deadline);
          } finally {
            timeline.pause = undefined;
          }
          if (++sinceYield >= 2000) {
            sinceYield = 0;
            await yieldToLoop();
          }
          continue;
        }
        if (graceForOutside && (await this.waitForWake(this.idleGraceMs))) continue;
        if (!cond()) return true;
        this.kernel.setTime(deadline);
        return false;
      }
    } finally {
      this.running = false;
      if (this.idleWaiters.length > 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  private waitForWake(wallMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const off = this.kernel.onWake(() => finish(true));
      const t = setTimeout(() => finish(false), wallMs);
      const finish = (woke: boolean): void => {
        if (done) return;
        done = true;
        off();
        clearTimeout(t);
        resolve(woke);
      };
    });
  }

  private onWake(): void {
    if (this.opts.autoHorizon === undefined || this.running || this.stopped) return;
    setImmediate(() => {
      if (this.running || this.stopped) return;
      void this.runWhile(() => true, this.autoLimit, false).catch(() => undefined);
    });
  }
}

const wallNs = (): Ns => Math.round(performance.now() * 1e6);

export class RealtimeClock implements ClockDriver {
  readonly kind = 'realtime' as const;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: Ns | undefined;
  private readonly origin: Ns;
  private stopped = false;
  private readonly unsubscribe: () => void;
  /** Pending waitUntil calls; `settle(true)` answers with cond() whatever it says. */
  private waiters = new Set<(settle: boolean) => void>();

  constructor(
    readonly kernel: Kernel,
    /** Told of each network input at the instant it enters (the modem records it for replays). */
    private readonly onNetworkInput?: NetworkInputListener,
  ) {
    this.origin = wallNs() - kernel.now;
    this.unsubscribe = kernel.onWake(() => this.arm());
    this.arm();
  }

  /** Model time that corresponds to this wall instant. */
  wallNow(): Ns {
    return wallNs() - this.origin;
  }

  inject(label: string, fn: () => void): void {
    // a closed modem takes no more input (a socket that reports after close)
    if (this.stopped) return;
    this.catchUp();
    this.kernel.at(this.kernel.now, noted(label, fn, this.onNetworkInput), label, Priority.io);
  }

  waitUntil(cond: () => boolean, timeout: Ns): Promise<boolean> {
    const now = cond();
    if (now || this.stopped) return Promise.resolve(now);
    return new Promise((resolve) => {
      const check = (settle: boolean): void => {
        const held = cond();
        if (!held && !settle) return;
        clearTimeout(t);
        this.waiters.delete(check);
        resolve(held);
      };
      const t = setTimeout(() => check(true), wallDelayMs(timeout));
      this.waiters.add(check);
    });
  }

  async advance(delta: Ns): Promise<void> {
    await this.waitUntil(() => false, delta);
  }

  /** Stops the clock; every pending wait is answered now, as its condition stands. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of [...this.waiters]) w(true);
  }

  /** Run everything that is due by the wall clock, then bring model time to the wall. */
  private catchUp(): void {
    const w = this.wallNow();
    while (this.kernel.step(w)) {
      /* run due events */
    }
    this.kernel.setTime(w);
    for (const check of [...this.waiters]) check(false);
  }

  private arm(): void {
    if (this.stopped) return;
    const next = this.kernel.nextTime();
    if (next === undefined) return;
    if (this.timer && this.armedFor !== undefined && this.armedFor <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.catchUp();
      this.arm();
    }, wallDelayMs(next - this.wallNow()));
  }
}

/**
 * One modem's view of a clock it shares with others on one timeline (a fleet): its own kernel
 * (a fork with its own PRNG streams) and its own closing. Waits run on the shared driver;
 * stop() ends this modem's input and answers its waits, and leaves the driver running for the
 * rest of the fleet.
 */
export class SharedClockView implements ClockDriver {
  private stopped = false;

  constructor(
    readonly kernel: Kernel,
    readonly driver: ClockDriver,
  ) {
    if (kernel.timeline !== driver.kernel.timeline) throw new Error('a clock view needs a kernel on its driver’s timeline');
  }

  get kind(): 'virtual' | 'realtime' {
    return this.driver.kind;
  }

  inject(label: string, fn: () => void): void {
    // a closed modem takes no more input (a socket that reports after close)
    if (this.stopped) return;
    const k = this.kernel;
    // the driver queues it on the timeline's own kernel: a throw still goes to this modem's handler
    this.driver.inject(
      label,
      k.onEventError === undefined
        ? fn
        : () => {
            try {
              fn();
            } catch (err) {
              k.onEventError?.(err, label);
            }
          },
    );
  }

  async waitUntil(cond: () => boolean, timeout: Ns): Promise<boolean> {
    if (this.stopped) return cond();
    const held = await this.driver.waitUntil(() => this.stopped || cond(), timeout);
    return held && this.stopped ? cond() : held;
  }

  advance(delta: Ns): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.driver.advance(delta);
  }

  stop(): void {
    this.stopped = true;
  }
}

/**
 * Model time now as services should see it. Inside an event it is the event's instant (so a
 * real-time session's events act as its replay's do); outside one, in real time, the wall may
 * be ahead of the last event.
 */
export function modelNow(clock: ClockDriver): Ns {
  const driver = clock instanceof SharedClockView ? clock.driver : clock;
  const k = clock.kernel;
  return driver instanceof RealtimeClock && !k.inEvent ? Math.max(k.now, driver.wallNow()) : k.now;
}
