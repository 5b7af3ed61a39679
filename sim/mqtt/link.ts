/**
 * MqttLink: the module's single MQTT connection as the host sees it (AT+MQTTSTATU 0/2/1) and
 * the `mqtt` session that runs on a bridge connection (sim/bridge/connection.ts: dial, socket,
 * epochs, in-order reports).
 *
 * On top of the connection this adds the session: a kernel hold while the model waits on the
 * broker (CONNACK, SUBACK, PUBACK/PUBCOMP, PINGRESP), the reply brought in through the
 * connection's `arrive` (at once, or brokerSlow's delay later), the URC after the profile's
 * latency, and inbound flow control. The module's wait for CONNACK runs in model time, so a
 * CONNACK delayed past it ends as one that never came: ERROR, then CLOSED.
 *
 * Teardown comes in two kinds: the peer or the network dropping the socket (`CLOSED`, after any
 * URC already due), and the module letting go itself (MIPCLOSE, MDISCONNECT, PDP loss,
 * power-off), which is silent and cancels whatever was still pending.
 */
import type { MqttClient } from 'mqtt';
import { generate } from 'mqtt-packet';
import type { ClockDriver } from '../clock.js';
import type { IoHold, Kernel, Ns, TimerHandle } from '../kernel.js';
import type { Logger } from '../log.js';
import type { LatencyKey } from '../profile.js';
import type { Trace } from '../trace.js';
import { BridgeConnection } from '../bridge/connection.js';
import type { BridgeSocket, DialResult } from '../bridge/dial.js';
import { CONNACK_WAIT, CONNACK_WALL_TIMEOUT_MS, createBridgeClient, SessionConfig } from './session-client.js';
import { KernelTimer } from './kernel-timer.js';
import { SessionStore } from './session-store.js';
import { topicMatches } from './payload.js';
import type { DialTarget, RouteResult } from '../bridge/routes.js';
import type { SslContext } from '../bridge/tls-context.js';

/**
 * offline (0) → opening (0, MIPSTART running) → open (2) → handshake (2, MCONNECT running)
 * → session (1); released (0) is "after MDISCONNECT": the broker closed the connection (MQTT
 * 3.1.1 §3.14.4), a new MIPSTART connects afresh, and MIPCLOSE still answers OK (the manual's
 * flow closes with it).
 */
export type LinkPhase = 'offline' | 'opening' | 'open' | 'handshake' | 'session' | 'released';

export interface LinkEnv {
  kernel: Kernel;
  clock: ClockDriver;
  trace: Trace;
  log: Logger;
  latency(key: LatencyKey): Ns;
  /** Model time now, also when called outside a kernel event (real time: the wall). */
  now(): Ns;
  urc(text: string): void;
  /** An inbound PUBLISH, in arrival order, when the module prints or caches it. */
  deliver(topic: string, payload: Buffer): void;
  /** Bytes the module still has to put on the UART (TX FIFO + held URCs). */
  outputBacklog(): number;
  /** URCs held behind a running command line. */
  heldUrcs(): number;
  sslContext(): SslContext;
  /** The `STATE: …` line before `CONNECT FAIL`. */
  connectFailState: string;
  /** Print `CLOSED` when the broker closes the connection after MDISCONNECT. */
  closedAfterDisconnect: boolean;
  /** URC(s) telling the host that an acknowledgement it waits for will not come. */
  ackLost: readonly string[];
}

export type QoS = 0 | 1 | 2;

/**
 * Wall time virtual time waits for an acknowledgement before moving on without it (a late
 * one is still reported when it comes); keeps a broker that never answers from freezing the model.
 */
const ACK_GUARD_MS = 5_000;
/**
 * Inbound flow control: while more than this many bytes wait for the UART, or this many
 * messages wait to be printed, the session stops reading the socket (TCP pushes back on the
 * broker), so a broker faster than the serial line cannot grow the module's memory.
 */
const BACKLOG_HIGH_BYTES = 8192;
const TAKEN_HIGH = 8;
/** Well below the engine's cap on held URCs (256), so a long prompt never drops a message. */
const HELD_URCS_HIGH = 64;
const BACKLOG_POLL: Ns = 10_000_000;
const RESUME_GUARD_MS = 1_000;
/**
 * A message the module publishes to a topic it is itself subscribed to comes back through the
 * broker: model time waits for it (this long at most), so the `+MSUB` lands at the same model
 * instant on every run.
 */
const OWN_ECHO_GUARD_MS = 5_000;

/** MQTT DISCONNECT, written on the socket directly so it leaves before the socket's end. */
const DISCONNECT_PACKET = generate({ cmd: 'disconnect' });

/** A request waiting on the broker. */
interface InFlight {
  label: string;
  hold: IoHold | undefined;
  /** Set until the command it belongs to has been answered. */
  answer: ((ok: boolean) => void) | undefined;
  messageId?: number;
}

export class MqttLink {
  phase: LinkPhase = 'offline';
  /** The bridge connection under the session: dial, socket, epoch, ordered reports. */
  private readonly conn: BridgeConnection;
  /** Bumped by the module's own teardowns only: inbound messages already taken stay valid after a peer drop. */
  private quietEpoch = 0;
  private client: MqttClient | undefined;
  private timer: KernelTimer | undefined;
  private connackSeen = false;
  /** MCONNECT's wait for CONNACK, in model time. */
  private connackWait: TimerHandle | undefined;
  private readonly ops = new Set<InFlight>();
  /** QoS 1/2 publishes not yet on the wire, in order: their packet id comes with 'packetsend'. */
  private readonly unsent: InFlight[] = [];
  private readonly byId = new Map<number, InFlight>();
  /**
   * The client side of a persistent session (MCONNECT clean=0): its store of unacknowledged
   * PUBLISHes outlives the connection, and the ack each packet id still waits for.
   */
  private persistent: { clientId: string; store: SessionStore; pending: Map<number, 'PUBACK' | 'PUBCOMP'> } | undefined;
  /** Acks of re-sent PUBLISHes that came in before the CONNACK was reported. */
  private lateAcks: Array<'PUBACK' | 'PUBCOMP'> = [];
  /** Inbound messages taken off the socket whose URC is not out yet, oldest first. */
  private readonly taken: Array<{ topic: string; payload: Buffer }> = [];
  /** Counters for the trace and tests. */
  readonly stats = { opened: 0, closedByPeer: 0, published: 0, received: 0, lostInFlight: 0, pings: 0, inboundPaused: 0 };
  /** Messages handed over by the client but not yet brought into model time. */
  private arriving = 0;
  private resumeHold: IoHold | undefined;
  private pingHold: IoHold | undefined;
  /** Filters the broker granted (SUBACK), for expecting our own publishes back. */
  private readonly granted = new Set<string>();
  private ownEchoes: Array<{ topic: string; hold: IoHold }> = [];
  /** The session stopped reading its socket because the UART is behind (inbound flow control). */
  private readingPaused = false;

  constructor(private readonly env: LinkEnv) {
    this.conn = new BridgeConnection(env, 'mqtt');
  }

  /** AT+MQTTSTATU's number. */
  get status(): 0 | 1 | 2 {
    switch (this.phase) {
      case 'offline':
      case 'opening':
      case 'released':
        return 0;
      case 'session':
        return 1;
      default:
        return 2;
    }
  }

  /** MIPSTART may open a link now (else it answers ALREADY CONNECT). */
  get canOpen(): boolean {
    return this.phase === 'offline' || this.phase === 'released';
  }

  get dialTarget(): DialTarget | undefined {
    return this.conn.target;
  }

  /** The brokerSlow fault: what the broker sends enters the model this much after it arrived. */
  get replyDelay(): Ns {
    return this.conn.replyDelay;
  }

  set replyDelay(delay: Ns) {
    this.conn.replyDelay = delay;
  }

  /** MIPSTART/SSLMIPSTART after its `OK`: `CONNECT OK`, or `STATE:` + `CONNECT FAIL`. */
  open(route: RouteResult): void {
    this.setPhase('opening');
    if (!route.ok) return this.failOpen(route.reason);
    const target = route.target;
    this.conn.target = target;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-dial', detail: { ...target, ca: target.ca !== undefined } });
    this.dialTo(target, (r) => {
      if (!r.ok) return this.failOpen(r.reason);
      this.adopt(r.socket);
      this.stats.opened++;
      this.report(this.env.latency(target.tls ? 'mqtt.connect.tls' : 'mqtt.connect.tcp'), () => this.env.urc('CONNECT OK'), () =>
        this.setPhase('open'),
      );
    });
  }

  /** AT+MCONNECT: false when there is no TCP link to run it on (767). */
  connect(cfg: SessionConfig): boolean {
    const socket = this.conn.socket;
    if (this.phase === 'open' && socket) {
      this.handshake(socket, cfg);
      return true;
    }
    return false;
  }

  /**
   * AT+MPUB/MPUBEX. Returns false when no session is up (767). Otherwise `answer(true)` once
   * the packet is written (QoS 0) or owned by the session store (QoS 1/2), `answer(false)` if
   * the link goes before that.
   */
  publish(topic: string, payload: Buffer, qos: QoS, retain: boolean, answer: (ok: boolean) => void): boolean {
    const client = this.client;
    if (this.phase !== 'session' || !client?.connected || !this.conn.socket?.writable) return false;
    this.stats.published++;
    const epoch = this.conn.epoch;
    this.expectOwnEcho(topic);
    if (qos === 0) {
      let sync = true;
      let fired = false;
      let op: InFlight | undefined;
      client.publish(topic, payload, { qos: 0, retain }, (err) => {
        fired = true;
        if (sync) return answer(!err);
        const o = op;
        // the socket took the packet: the module's own doing, not a reply of the broker
        if (o) this.complete(o, 'mqtt-pub-written', () => this.answer(o, !err), 'local');
      });
      sync = false;
      // not written yet: the socket is full and the library waits for 'drain'
      if (!fired) op = this.track('mqtt-pub-write', answer);
      return true;
    }
    const label = qos === 1 ? 'mqtt-puback' : 'mqtt-pubcomp';
    const op = this.track(label, answer);
    this.unsent.push(op);
    let sync = true;
    // the session store owns the message: that is what the host's OK means for QoS 1/2
    const owned = (): void => (sync ? this.answer(op, true) : this.env.clock.inject('mqtt-pub-owned', () => this.answer(op, true)));
    client.publish(
      topic,
      payload,
      { qos, retain, cbStorePut: owned },
      (err) =>
        this.complete(op, label, () => {
          if (op.messageId !== undefined) this.persistent?.pending.delete(op.messageId);
          if (!this.conn.current(epoch)) return;
          if (err) {
            // the library gave up on it (the connection closed first): the host was told OK
            this.env.log.info({ err: err.message }, 'publish not acknowledged');
            return this.ackLost(op);
          }
          this.report(this.env.latency(qos === 1 ? 'mqtt.puback' : 'mqtt.pubcomp'), () => this.env.urc(qos === 1 ? 'PUBACK' : 'PUBCOMP'), undefined, 'fact');
        }),
    );
    sync = false;
    return true;
  }

  /** AT+MSUB after its `OK`: `SUBACK`, or a bare `ERROR` when the broker refuses the filter. */
  subscribe(topic: string, qos: QoS): boolean {
    const client = this.client;
    if (this.phase !== 'session' || !client?.connected) return false;
    const epoch = this.conn.epoch;
    const op = this.track('mqtt-suback', undefined);
    client.subscribe(topic, { qos }, (err, granted) =>
      this.complete(op, 'mqtt-suback', () => {
        if (!this.conn.current(epoch)) return;
        const refused = err !== null || !granted || granted.some((g) => g.qos === 128);
        if (!refused) this.granted.add(topic);
        this.report(this.env.latency('mqtt.suback'), () => this.env.urc(refused ? 'ERROR' : 'SUBACK'), undefined, 'fact');
      }),
    );
    return true;
  }

  /** AT+MUNSUB after its `OK`: `UNSUBACK`. */
  unsubscribe(topic: string): boolean {
    const client = this.client;
    if (this.phase !== 'session' || !client?.connected) return false;
    const epoch = this.conn.epoch;
    const op = this.track('mqtt-unsuback', undefined);
    client.unsubscribe(topic, (err) =>
      this.complete(op, 'mqtt-unsuback', () => {
        if (!this.conn.current(epoch)) return;
        if (!err) this.granted.delete(topic);
        this.report(this.env.latency('mqtt.unsuback'), () => this.env.urc(err ? 'ERROR' : 'UNSUBACK'), undefined, 'fact');
      }),
    );
    return true;
  }

  /**
   * AT+MDISCONNECT (behaviour §17): DISCONNECT goes out and the broker closes the connection:
   * the link ends at state 0 (`CLOSED` only if the profile says so). `done()` once the packet
   * is written (at once with no session: state 2 before MCONNECT, or already released); false
   * from state 0 or while MCONNECT is still running (767).
   */
  disconnect(done: () => void): boolean {
    if (this.phase === 'open' || this.phase === 'released') {
      done();
      return true;
    }
    const socket = this.conn.socket;
    if (this.phase !== 'session' || !socket) return false;
    const hold = this.conn.hold('mqtt-disconnect', 30_000);
    this.teardownQuietly('released', 'MDISCONNECT', true);
    socket.write(DISCONNECT_PACKET, () => {
      this.env.clock.inject('mqtt-disconnect-written', () => {
        done();
        if (this.env.closedAfterDisconnect) this.report(this.env.latency('mqtt.closed'), () => this.env.urc('CLOSED'), undefined, 'fact');
      });
      hold.release();
    });
    socket.end();
    return true;
  }

  /** AT+MIPCLOSE: false from state 0 (767), but OK for the link MDISCONNECT just released. */
  close(): boolean {
    if (this.phase === 'offline') return false;
    this.teardownQuietly('offline', 'MIPCLOSE');
    return true;
  }

  /** PDP loss or power-off: the link is gone, nothing is printed (behaviour §9). */
  drop(why: string): void {
    // even from state 0: a CLOSED still due must not print after a reboot
    this.teardownQuietly('offline', why);
  }

  // ---- internals ----

  /** Dial outside model time; `then` runs as a kernel event unless the link moved on. */
  private dialTo(target: DialTarget, then: (r: DialResult) => void): void {
    this.conn.dial(target, () => this.env.sslContext().tlsOptions(target), then);
  }

  private failOpen(reason: string): void {
    this.env.log.info({ reason, target: this.conn.target }, 'MIPSTART failed');
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-dial-failed', detail: reason });
    this.report(
      this.env.latency('mqtt.connect.fail'),
      () => {
        this.env.urc(this.env.connectFailState);
        this.env.urc('CONNECT FAIL');
      },
      () => this.setPhase('offline'),
    );
  }

  private adopt(socket: BridgeSocket): void {
    this.conn.adopt(
      socket,
      () => this.onSocketClosed(),
      // no reply will come on this socket: let the model see the close (the close itself is a
      // kernel event, which no open hold would let run)
      () => {
        for (const op of this.ops) this.release(op);
        for (const e of this.ownEchoes.splice(0)) e.hold.release();
        this.resumeHold?.release();
        this.resumeHold = undefined;
        this.releasePingHold();
      },
    );
  }

  private handshake(socket: BridgeSocket, cfg: SessionConfig): void {
    this.setPhase('handshake');
    this.connackSeen = false;
    this.lateAcks = [];
    const epoch = this.conn.epoch;
    const timer = new KernelTimer(this.env.kernel, this.env.now);
    const client = createBridgeClient(socket, cfg, timer, this.sessionStore(cfg));
    this.client = client;
    this.timer = timer;
    const op = this.track('mqtt-connack', undefined, CONNACK_WALL_TIMEOUT_MS + 1000);
    // model time stands still while the CONNECT is on the wire (the hold): this runs out only
    // in real time or when brokerSlow delays the CONNACK past it
    this.connackWait = this.env.kernel.after(CONNACK_WAIT, () => this.connackTimedOut(epoch), 'mqtt-connack-wait');
    client.on('error', (err) => {
      this.env.log.info({ err: err.message }, 'MQTT session error');
      this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-error', detail: err.message });
    });
    client.on('connect', () =>
      this.complete(op, 'mqtt-connack', () => {
        if (!this.conn.current(epoch)) return;
        this.connackSeen = true;
        this.stopConnackWait();
        this.report(this.env.latency('mqtt.connack'), () => this.env.urc('CONNACK OK'), () => this.setPhase('session'));
        for (const ack of this.lateAcks.splice(0)) this.reportLateAck(ack);
      }),
    );
    client.on('packetsend', (p) => {
      if (p.cmd === 'pingreq') this.stats.pings++;
      if (p.cmd === 'pingreq' && !this.pingHold) {
        // past half a keepalive the library gives up itself; let model time run to that point
        this.pingHold = this.ioHold('mqtt-pingresp', Math.max(1000, cfg.keepalive * 500));
      } else if (p.cmd === 'publish' && (p.qos === 1 || p.qos === 2) && !p.dup && p.messageId !== undefined) {
        const q = this.unsent.shift();
        if (q) {
          q.messageId = p.messageId;
          this.byId.set(p.messageId, q);
        }
        this.persistent?.pending.set(p.messageId, p.qos === 1 ? 'PUBACK' : 'PUBCOMP');
      }
    });
    client.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp') {
        this.releasePingHold();
      } else if (p.cmd === 'pubrec' && p.messageId !== undefined) {
        const q = this.byId.get(p.messageId);
        if (q) this.conn.arrive('mqtt-pubrec', () => this.conn.current(epoch) && this.report(this.env.latency('mqtt.pubrec'), () => this.env.urc('PUBREC'), undefined, 'fact'));
      } else if ((p.cmd === 'puback' || p.cmd === 'pubcomp') && p.messageId !== undefined) {
        const id = p.messageId;
        const mine = this.byId.get(id);
        this.byId.delete(id);
        // an ack for a PUBLISH re-sent from an earlier connection of this session: no command
        // of this connection waits for it, but the host was told OK for it back then
        const late = mine === undefined ? this.persistent?.pending.get(id) : undefined;
        if (late !== undefined) {
          this.persistent?.pending.delete(id);
          this.conn.arrive('mqtt-late-ack', () => {
            if (!this.conn.current(epoch)) return;
            this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-resent-acked', detail: { messageId: id } });
            // mqtt.js re-sends the store before it reports the CONNACK: the module prints CONNACK OK first
            if (this.connackSeen) this.reportLateAck(late);
            else this.lateAcks.push(late);
          });
        }
      }
    });
    socket.once('close', () => {
      this.releasePingHold();
    });
    // mqtt.js's backpressure hook: the next packet is parsed only after `done`
    client.handleMessage = (_packet, done) => this.whenRoomForInbound(epoch, () => done());
    client.on('message', (topic, payload) => {
      const qe = this.quietEpoch;
      this.arriving++;
      const echo = this.ownEchoes.findIndex((e) => e.topic === topic);
      if (echo >= 0) this.ownEchoes.splice(echo, 1)[0]!.hold.release();
      this.resumeHold?.release();
      this.resumeHold = undefined;
      this.conn.arrive('mqtt-rx', () => {
        this.arriving--;
        if (qe !== this.quietEpoch) return;
        this.stats.received++;
        const msg = { topic, payload };
        this.taken.push(msg);
        this.report(this.env.latency('mqtt.deliver'), () => {
          this.taken.splice(this.taken.indexOf(msg), 1);
          this.env.deliver(topic, payload);
        });
      });
    });
    client.connect();
  }

  private whenRoomForInbound(epoch: number, go: () => void): void {
    const full = (): boolean =>
      this.arriving + this.taken.length >= TAKEN_HIGH ||
      this.env.outputBacklog() >= BACKLOG_HIGH_BYTES ||
      this.env.heldUrcs() >= HELD_URCS_HIGH;
    if (!full()) return go();
    this.stats.inboundPaused++;
    // Not reading the socket means acknowledgements wait too: the model must not stand still
    // for them (it is the model's own UART that has to drain). Late acks are still reported.
    this.readingPaused = true;
    for (const op of this.ops) {
      op.hold?.release();
      op.hold = undefined;
    }
    this.releasePingHold();
    for (const e of this.ownEchoes.splice(0)) e.hold.release();
    const check = (): void => {
      if (!this.conn.current(epoch)) return; // the session is gone; its parser no longer matters
      if (full()) this.env.kernel.after(BACKLOG_POLL, check, 'mqtt-inbound-backpressure');
      else {
        this.readingPaused = false;
        // the broker's next message is already on its way: hold model time until it is in
        // (or RESUME_GUARD_MS of wall time passes with nothing more to read)
        this.resumeHold?.release();
        this.resumeHold = this.env.kernel.hold('mqtt-inbound-resume', RESUME_GUARD_MS);
        go();
      }
    };
    this.env.clock.inject('mqtt-inbound-backpressure', () => this.env.kernel.after(BACKLOG_POLL, check, 'mqtt-inbound-backpressure'));
  }

  private onSocketClosed(): void {
    const was = this.phase;
    const connackSeen = this.connackSeen;
    this.conn.invalidate();
    this.detachClient();
    this.abandonOps(true);
    this.stats.closedByPeer++;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-closed-by-peer', detail: { phase: was } });
    this.setPhase('offline');
    if (was === 'handshake' && !connackSeen) this.report(this.env.latency('mqtt.connack'), () => this.env.urc('ERROR'));
    this.report(this.env.latency('mqtt.closed'), () => this.env.urc('CLOSED'));
  }

  private teardownQuietly(next: 'offline' | 'released', why: string, keepSocket = false): void {
    const down = why === 'power-off' || why === 'shutdown';
    this.conn.invalidate();
    this.quietEpoch++;
    const taken = this.taken.splice(0);
    this.conn.cancelReports(down);
    this.detachClient();
    this.conn.release(why, keepSocket);
    this.abandonOps(!down);
    // the session's store is RAM: a power-off forgets it
    if (down && this.persistent) this.discardSession(this.persistent, why, false);
    if (next === 'offline') this.conn.target = undefined;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-teardown', detail: why });
    this.setPhase(next);
    this.settleTaken(taken, why);
  }

  /**
   * Messages already taken off the socket are the module's, not the link's: closing the link
   * does not lose them (they print now, held behind a running command); only the module
   * going down does, and the trace says so.
   */
  private settleTaken(taken: Array<{ topic: string; payload: Buffer }>, why: string): void {
    if (taken.length === 0) return;
    if (why === 'power-off' || why === 'shutdown') {
      this.env.trace.record({ t: this.env.kernel.now, ev: 'fault', what: 'mqtt-rx-lost', detail: { why, messages: taken.length } });
      return;
    }
    for (const m of taken) this.env.deliver(m.topic, m.payload);
  }

  /** A publish to a topic the broker will send back to us: hold model time until it is in. */
  private expectOwnEcho(topic: string): void {
    if (this.readingPaused) return;
    for (const f of this.granted) {
      if (topicMatches(f, topic)) {
        this.ownEchoes.push({ topic, hold: this.env.kernel.hold('mqtt-own-echo', OWN_ECHO_GUARD_MS) });
        return;
      }
    }
  }

  /** Forget the session without touching the socket (the caller owns what happens to it). */
  private detachClient(): void {
    for (const e of this.ownEchoes.splice(0)) e.hold.release();
    this.granted.clear();
    this.resumeHold?.release();
    this.resumeHold = undefined;
    this.releasePingHold();
    this.readingPaused = false;
    this.stopConnackWait();
    this.timer?.stop();
    this.timer = undefined;
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    c.removeAllListeners();
    c.on('error', () => undefined);
  }

  /** A hold on the broker's reply, unless the module itself has stopped reading the socket. */
  private ioHold(label: string, guardMs: number): IoHold | undefined {
    return this.readingPaused ? undefined : this.env.kernel.hold(label, guardMs);
  }

  private releasePingHold(): void {
    this.pingHold?.release();
    this.pingHold = undefined;
  }

  private track(label: string, answer: ((ok: boolean) => void) | undefined, guardMs = ACK_GUARD_MS): InFlight {
    const op: InFlight = { label, hold: this.ioHold(label, guardMs), answer };
    this.ops.add(op);
    return op;
  }

  private answer(op: InFlight, ok: boolean): void {
    const a = op.answer;
    op.answer = undefined;
    a?.(ok);
  }

  private release(op: InFlight): void {
    op.hold?.release();
    op.hold = undefined;
  }

  /**
   * A reply arrived (outside model time): bring it in, then let the clock go. A `local`
   * completion (the socket took a packet) is the module's own and never delayed.
   */
  private complete(op: InFlight, label: string, fn: () => void, from: 'broker' | 'local' = 'broker'): void {
    const run = (): void => {
      this.ops.delete(op);
      fn();
    };
    if (from === 'local') this.env.clock.inject(label, run);
    else this.conn.arrive(label, run);
    this.release(op);
  }

  private stopConnackWait(): void {
    this.connackWait?.cancel();
    this.connackWait = undefined;
  }

  /**
   * No CONNACK within MCONNECT's wait: the module gives up as when the library does (the
   * wall-time path: it closes the socket), so the host hears ERROR, then CLOSED.
   */
  private connackTimedOut(epoch: number): void {
    this.connackWait = undefined;
    if (!this.conn.current(epoch) || this.connackSeen || this.phase !== 'handshake') return;
    this.env.log.info({ waitedNs: CONNACK_WAIT }, 'no CONNACK in time');
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-connack-timeout', detail: { waitedNs: CONNACK_WAIT } });
    this.conn.invalidate();
    this.detachClient();
    this.conn.release('no CONNACK');
    this.abandonOps(true);
    this.setPhase('offline');
    this.report(this.env.latency('mqtt.connack'), () => this.env.urc('ERROR'));
    this.report(this.env.latency('mqtt.closed'), () => this.env.urc('CLOSED'));
  }

  /**
   * Requests that will get no reply: unanswered commands fail; ones the host was told OK for
   * are traced as lost and, unless the module itself is going down (`tell` false), reported to
   * the host with the profile's ackLost spelling — nothing OK'd ends in silence.
   */
  private abandonOps(tell: boolean): void {
    for (const op of this.ops) {
      this.release(op);
      if (op.answer) {
        this.answer(op, false);
        continue;
      }
      if (op.label === 'mqtt-connack') continue;
      const kept = this.persistent !== undefined && op.messageId !== undefined && this.persistent.pending.has(op.messageId);
      if (kept) {
        // the session owns it: the next MCONNECT with clean=0 re-sends it, and its ack prints then
        this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'mqtt-inflight-kept', detail: { op: op.label, messageId: op.messageId } });
      } else this.ackLost(op, tell);
    }
    this.ops.clear();
    this.unsent.length = 0;
    this.byId.clear();
  }

  /**
   * The outgoing store for this MCONNECT: the persistent session's when it resumes (clean=0, the
   * same client id), else a fresh one. A persistent session given up for another (clean=1, or
   * another id) loses its unacknowledged PUBLISHes, and the host is told of each.
   */
  private sessionStore(cfg: SessionConfig): SessionStore | undefined {
    const p = this.persistent;
    if (p && !cfg.clean && p.clientId === cfg.clientId) {
      p.store.markResent();
      return p.store;
    }
    if (p) this.discardSession(p, 'replaced', true);
    if (cfg.clean) return undefined;
    this.persistent = { clientId: cfg.clientId, store: new SessionStore(), pending: new Map() };
    return this.persistent.store;
  }

  private discardSession(p: NonNullable<MqttLink['persistent']>, why: string, tell: boolean): void {
    this.persistent = undefined;
    for (const [messageId, ack] of p.pending) {
      this.stats.lostInFlight++;
      this.env.trace.record({ t: this.env.kernel.now, ev: 'fault', what: 'mqtt-inflight-lost', detail: { op: ack, messageId, why } });
      if (tell) this.report(this.env.latency('mqtt.closed'), () => this.env.ackLost.forEach((u) => this.env.urc(u)), undefined, 'fact');
    }
  }

  private reportLateAck(ack: 'PUBACK' | 'PUBCOMP'): void {
    this.report(this.env.latency(ack === 'PUBACK' ? 'mqtt.puback' : 'mqtt.pubcomp'), () => this.env.urc(ack), undefined, 'fact');
  }

  /** An acknowledgement the host waits for will not come: traced, and told (ackLost spelling). */
  private ackLost(op: InFlight, tell = true): void {
    this.stats.lostInFlight++;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'fault', what: 'mqtt-inflight-lost', detail: { op: op.label, messageId: op.messageId } });
    if (tell) this.report(this.env.latency('mqtt.closed'), () => this.env.ackLost.forEach((u) => this.env.urc(u)), undefined, 'fact');
  }

  /** A URC of this link, in the order the facts happened (BridgeConnection.report). */
  private report(delay: Ns, print: () => void, effect?: () => void, kind: 'state' | 'fact' = 'state'): void {
    this.conn.report(delay, print, effect, kind);
  }

  private setPhase(to: LinkPhase): void {
    if (to === this.phase) return;
    const from = this.phase;
    this.phase = to;
    if (this.env.trace.enabled) this.env.trace.record({ t: this.env.kernel.now, ev: 'state', what: 'mqtt-link', from, to });
  }
}
