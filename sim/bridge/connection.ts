/**
 * One IP connection of the module through the bridge, whatever runs on it (the MQTT session
 * today; a TCP/IP socket of AT+CIPSTART on the same piece later).
 *
 * Real I/O enters model time one way: while the dial runs a kernel hold is open (so virtual
 * time stands still), its result is injected as a kernel event and the hold released. An epoch,
 * bumped by every teardown, makes callbacks of an older socket do nothing. Reports to the host
 * go through `report`, which keeps them in the order the facts happened.
 *
 * Everything the peer sends (the dial's outcome, each packet, the socket's close) comes in
 * through `arrive`: at once, or, under the brokerSlow fault, `replyDelay` of model time later
 * (a kernel event, never a wall-clock wait, so runs stay deterministic), never overtaking one
 * that came before. The module's own wait for the dial runs in model time too, so a delayed
 * outcome past it is given up as an unanswered connect is.
 */
import type { ClockDriver } from '../clock.js';
import { type IoHold, type Kernel, ms, type Ns, Priority, type TimerHandle } from '../kernel.js';
import type { Logger } from '../log.js';
import { TimerSet } from '../service.js';
import type { Trace } from '../trace.js';
import { BridgeSocket, dial, Dialing, DialResult } from './dial.js';
import type { DialTarget } from './routes.js';
import type { TlsSetup } from './tls-context.js';

export interface BridgeEnv {
  kernel: Kernel;
  clock: ClockDriver;
  trace: Trace;
  log: Logger;
}

/** Wall time a connect may take before it counts as failed (a silent peer). */
export const DIAL_GUARD_MS = 15_000;

export class BridgeConnection {
  /** Bumped by every teardown: callbacks of an older socket or session do nothing. */
  private epochNow = 0;
  private currentTarget: DialTarget | undefined;
  private currentSocket: BridgeSocket | undefined;
  private dialing: Dialing | undefined;
  /** Reports of the link's state (CONNECT OK, CLOSED …): the module letting go cancels them. */
  private readonly stateTimers: TimerSet;
  /** Reports of facts that already happened (an ack that came in): only power-off loses them. */
  private readonly factTimers: TimerSet;
  private lastReportAt: Ns = 0;
  /**
   * The brokerSlow fault: what the peer sends enters the model this much after it arrived
   * (0: at once). Set by sim/faults; replies already waiting keep the delay they got.
   */
  replyDelay: Ns = 0;
  /** Where the last delayed reply enters: a later one never overtakes it. */
  private lastReplyAt: Ns = 0;
  /** The module's own wait for the dial's outcome, in model time. */
  private dialWait: TimerHandle | undefined;

  constructor(
    private readonly env: BridgeEnv,
    /** Prefix of trace records and kernel labels (`mqtt` → `mqtt-dial`, `mqtt-tls`, `mqtt-urc`). */
    private readonly name: string,
  ) {
    this.stateTimers = new TimerSet(env.kernel);
    this.factTimers = new TimerSet(env.kernel);
  }

  get epoch(): number {
    return this.epochNow;
  }

  /** True while nothing has torn down the connection since `epoch` was read. */
  current(epoch: number): boolean {
    return epoch === this.epochNow;
  }

  /** The connection is gone: what an older socket or session still reports is ignored. */
  invalidate(): void {
    this.epochNow++;
  }

  get target(): DialTarget | undefined {
    return this.currentTarget;
  }

  set target(t: DialTarget | undefined) {
    this.currentTarget = t;
  }

  get socket(): BridgeSocket | undefined {
    return this.currentSocket;
  }

  /**
   * Dial outside model time under a hold; `then` runs as a kernel event unless the connection
   * moved on meanwhile. `tls` is asked for the TLS settings now (a TLS target only).
   */
  dial(target: DialTarget, tls: () => TlsSetup, then: (r: DialResult) => void): void {
    const epoch = this.epochNow;
    let setup: Extract<TlsSetup, { ok: true }> | undefined;
    let guardMs = DIAL_GUARD_MS;
    if (target.tls) {
      let s: TlsSetup;
      try {
        s = tls();
      } catch (err) {
        s = { ok: false, reason: `TLS settings: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (!s.ok) {
        then({ ok: false, reason: s.reason });
        return;
      }
      setup = s;
      if (s.negotiateTimeoutS !== undefined) guardMs = Math.min(guardMs, Math.max(1000, s.negotiateTimeoutS * 1000));
      this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: `${this.name}-tls`, detail: s.description ?? 'bridge TLS' });
    }
    let dialing: Dialing | undefined;
    const hold = this.env.kernel.hold(`${this.name}-dial ${target.host}:${target.port}`, guardMs, () => dialing?.abort('no answer'));
    /** The outcome the model took: the dial's, or the wait's running out first. */
    let decided = false;
    const decide = (r: DialResult): void => {
      if (decided) {
        if (r.ok) r.socket.destroy();
        return;
      }
      decided = true;
      wait.cancel();
      if (this.dialWait === wait) this.dialWait = undefined;
      if (this.dialing === dialing) this.dialing = undefined;
      if (epoch !== this.epochNow) {
        if (r.ok) r.socket.destroy();
        return;
      }
      then(r);
    };
    // Model time stands still while the dial is on the wire (the hold), so this runs out only
    // in real time or when brokerSlow delays the outcome past it
    const wait = this.env.kernel.after(
      ms(guardMs),
      () => {
        dialing?.abort('no answer');
        decide({ ok: false, reason: 'no answer' });
      },
      `${this.name}-dial-wait`,
    );
    this.dialWait = wait;
    const settle = (r: DialResult): void => {
      this.arrive(`${this.name}-dial`, () => decide(r));
      hold.release();
    };
    try {
      dialing = dial(target, setup, settle);
    } catch (err) {
      // options the TLS stack refuses outright (a custom SslContext's key or cert)
      settle({ ok: false, reason: err instanceof Error ? err.message : String(err) });
      return;
    }
    this.dialing = dialing;
  }

  /**
   * Take the dialled socket. `closed` runs as a kernel event when it closes while still ours;
   * `lost` runs at once, outside model time, so holds on replies that cannot come are let go.
   */
  adopt(socket: BridgeSocket, closed: () => void, lost: () => void): void {
    this.currentSocket = socket;
    socket.once('close', () => {
      this.arrive(`${this.name}-socket-closed`, () => {
        if (socket !== this.currentSocket) return;
        this.currentSocket = undefined;
        closed();
      });
      if (this.currentSocket === socket) lost();
    });
  }

  /**
   * What the peer sent, arrived outside model time: brought in as a kernel event now, its work
   * done at once or `replyDelay` later, in arrival order either way.
   */
  arrive(label: string, fn: () => void): void {
    this.env.clock.inject(label, () => {
      const now = this.env.kernel.now;
      const at = Math.max(now + this.replyDelay, this.lastReplyAt);
      if (at <= now) return fn();
      this.lastReplyAt = at;
      this.env.kernel.at(at, fn, `${label}-delayed`, Priority.io);
    });
  }

  /** Let go of the socket and any dial; returns the socket when `keep` (the caller ends it). */
  release(why: string, keep = false): BridgeSocket | undefined {
    this.dialWait?.cancel();
    this.dialWait = undefined;
    this.dialing?.abort(why);
    this.dialing = undefined;
    const s = this.currentSocket;
    this.currentSocket = undefined;
    if (!keep) s?.destroy();
    return keep ? s : undefined;
  }

  /** A hold on real I/O of this connection. */
  hold(label: string, guardMs: number): IoHold {
    return this.env.kernel.hold(label, guardMs);
  }

  /**
   * Print a report of this connection after `delay`, never before one scheduled earlier.
   * `effect` (a state change) applies only if the connection is still the one that scheduled it.
   * A `fact` (an acknowledgement that arrived) is printed even if the module lets go of the
   * connection meanwhile: the host was told OK and must hear how it ended.
   */
  report(delay: Ns, print: () => void, effect?: () => void, kind: 'state' | 'fact' = 'state'): void {
    const epoch = this.epochNow;
    const now = this.env.kernel.now;
    const at = Math.max(now + delay, this.lastReportAt);
    this.lastReportAt = at;
    (kind === 'fact' ? this.factTimers : this.stateTimers).after(
      at - now,
      () => {
        if (effect && epoch === this.epochNow) effect();
        print();
      },
      `${this.name}-urc`,
    );
  }

  /** The module lets go: state reports still due are not printed; with `all` (power-off), none are. */
  cancelReports(all: boolean): void {
    this.stateTimers.cancelAll();
    if (all) {
      this.factTimers.cancelAll();
      this.lastReportAt = 0;
    }
  }
}
