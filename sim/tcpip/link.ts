/**
 * TcpLink: the module's single TCP connection of AT+CIPSTART (non-transparent mode, CIPMUX=0)
 * on a bridge connection (sim/bridge/connection.ts: dial under a kernel hold, epochs, `arrive`
 * for what the peer sends, in-order `report`s). Behaviour §33.
 *
 * The host hears of it only through `print` (the group's URC path): CONNECT OK, STATE: +
 * CONNECT FAIL, CLOSED, and the received bytes. A write runs under a hold until the socket took
 * the bytes, so SEND OK lands at the same model instant on every run. What the peer sends
 * enters through `arrive` at the instant it came in (no hold: the module cannot know whether
 * the peer will answer).
 *
 * Teardown comes in two kinds, as for the MQTT link: the peer closing (`CLOSED`, after any
 * report already due) and the module letting go itself (CIPCLOSE, CIPSHUT, PDP loss, power-off),
 * which is silent and cancels what was still pending.
 */
import type { ClockDriver } from '../clock.js';
import type { IoHold, Kernel, Ns } from '../kernel.js';
import type { Logger } from '../log.js';
import type { LatencyKey } from '../profile.js';
import type { Trace } from '../trace.js';
import type { TcpipState } from '../network/pdp-context.js';
import { BridgeConnection } from '../bridge/connection.js';
import type { BridgeSocket } from '../bridge/dial.js';
import type { RouteResult } from '../bridge/routes.js';

/** idle (no CIPSTART since power-on/CIPSHUT) → connecting → connected → closed. */
export type TcpPhase = 'idle' | 'connecting' | 'connected' | 'closed';

export interface TcpLinkEnv {
  kernel: Kernel;
  clock: ClockDriver;
  trace: Trace;
  log: Logger;
  latency(key: LatencyKey): Ns;
  /** A URC line of this connection, in order with the received bytes. */
  urc(text: string): void;
  /** Bytes the peer sent, printed as they are (AT+CIPHEAD=0). */
  data(bytes: Uint8Array): void;
  /** The `STATE: …` line before `CONNECT FAIL`. */
  connectFailState: string;
}

/** Wall time a write may take before the model moves on without its completion. */
const SEND_GUARD_MS = 5_000;
/** Wall time a peer that `answers` may take to reply before the model moves on (traced). */
const REPLY_GUARD_MS = 5_000;

export class TcpLink {
  phase: TcpPhase = 'idle';
  private readonly conn: BridgeConnection;
  /** A send to a peer that answers: model time stands still until its reply (or close) is in. */
  private replyHold: IoHold | undefined;
  readonly stats = { opened: 0, closedByPeer: 0, sent: 0, received: 0 };

  constructor(private readonly env: TcpLinkEnv) {
    this.conn = new BridgeConnection(env, 'tcp');
  }

  /** What AT+CIPSTATUS shows for the connection; undefined before any CIPSTART. */
  get tcpipState(): TcpipState | undefined {
    switch (this.phase) {
      case 'idle':
        return undefined;
      case 'connecting':
        return 'TCP CONNECTING';
      case 'connected':
        return 'CONNECT OK';
      default:
        return 'TCP CLOSED';
    }
  }

  /** CIPSTART may open a connection now (else ALREADY CONNECT). */
  get canOpen(): boolean {
    return this.phase === 'idle' || this.phase === 'closed';
  }

  get connected(): boolean {
    return this.phase === 'connected' && this.conn.socket !== undefined;
  }

  /** The brokerSlow-style delay of what the peer sends (BridgeConnection.replyDelay). */
  set replyDelay(d: Ns) {
    this.conn.replyDelay = d;
  }

  /** CIPSTART after its `OK`: `CONNECT OK`, or `STATE: TCP CLOSED` + `CONNECT FAIL`. */
  open(route: RouteResult): void {
    this.setPhase('connecting');
    if (!route.ok) return this.failOpen(route.reason);
    const target = route.target;
    this.conn.target = target;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'tcp-dial', detail: { ...target, ca: target.ca !== undefined } });
    this.conn.dial(
      target,
      () => ({ ok: false, reason: 'TLS is not offered on AT+CIPSTART' }),
      (r) => {
        if (!r.ok) return this.failOpen(r.reason);
        this.adopt(r.socket);
        this.stats.opened++;
        this.conn.report(this.env.latency('tcp.connect'), () => this.env.urc('CONNECT OK'), () => this.setPhase('connected'));
      },
    );
  }

  /**
   * CIPSEND's data: false when there is no connection (the command answers 767). Otherwise
   * `done(true)` once the socket took the bytes, `done(false)` if it failed or went first.
   */
  send(data: Uint8Array, done: (ok: boolean) => void): boolean {
    const socket = this.conn.socket;
    if (!this.connected || !socket?.writable) return false;
    const epoch = this.conn.epoch;
    const hold = this.conn.hold('tcp-send', SEND_GUARD_MS);
    this.stats.sent++;
    socket.write(Buffer.from(data), (err) => {
      this.env.clock.inject('tcp-sent', () => done(!err && this.conn.current(epoch)));
      // opened before the send's hold goes, so model time cannot move in between
      if (!err && this.conn.target?.answers === true) this.replyHold ??= this.conn.hold('tcp-reply', REPLY_GUARD_MS);
      hold.release();
    });
    return true;
  }

  /** AT+CIPCLOSE: false when nothing is open or connecting (the command answers ERROR). */
  close(): boolean {
    if (this.phase !== 'connected' && this.phase !== 'connecting') return false;
    this.teardownQuietly('closed', 'CIPCLOSE');
    return true;
  }

  /** CIPSHUT, PDP loss or power-off: the connection is gone, nothing is printed. */
  drop(why: string): void {
    if (this.phase === 'idle') {
      // nothing open: leave the trace as it was before this group existed
      this.conn.cancelReports(why === 'power-off' || why === 'shutdown');
      return;
    }
    this.teardownQuietly('idle', why);
  }

  // ---- internals ----

  private failOpen(reason: string): void {
    this.env.log.info({ reason, target: this.conn.target }, 'CIPSTART failed');
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'tcp-dial-failed', detail: reason });
    this.conn.report(
      this.env.latency('tcp.connect.fail'),
      () => {
        this.env.urc(this.env.connectFailState);
        this.env.urc('CONNECT FAIL');
      },
      () => this.setPhase('closed'),
    );
  }

  private adopt(socket: BridgeSocket): void {
    const epoch = this.conn.epoch;
    this.conn.adopt(
      socket,
      () => this.onSocketClosed(),
      () => this.releaseReply(),
    );
    socket.on('data', (chunk: Buffer) => {
      this.conn.arrive('tcp-rx', () => {
        if (!this.conn.current(epoch)) return;
        this.stats.received++;
        this.conn.report(this.env.latency('tcp.deliver'), () => this.env.data(chunk), undefined, 'fact');
      });
      // after its event is queued: the reply enters at the instant model time stood at
      this.releaseReply();
    });
  }

  private onSocketClosed(): void {
    const was = this.phase;
    this.conn.invalidate();
    this.stats.closedByPeer++;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'tcp-closed-by-peer', detail: { phase: was } });
    this.setPhase('closed');
    this.conn.report(this.env.latency('tcp.closed'), () => this.env.urc('CLOSED'), undefined, 'fact');
  }

  /** The reply came in (its event is queued), or none can come now. */
  private releaseReply(): void {
    this.replyHold?.release();
    this.replyHold = undefined;
  }

  private teardownQuietly(next: 'idle' | 'closed', why: string): void {
    this.releaseReply();
    const down = why === 'power-off' || why === 'shutdown';
    this.conn.invalidate();
    this.conn.cancelReports(down);
    this.conn.release(why);
    this.conn.target = undefined;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'tcp-teardown', detail: why });
    this.setPhase(next);
  }

  private setPhase(to: TcpPhase): void {
    if (to === this.phase) return;
    const from = this.phase;
    this.phase = to;
    if (this.env.trace.enabled) this.env.trace.record({ t: this.env.kernel.now, ev: 'state', what: 'tcp-link', from, to });
  }
}
