/**
 * The MQTT command set (manual chapter 16; at-commands.md §4; decisions §10–18) over the one
 * MqttLink the module has. Commands answer at once (`OK` means accepted); what the broker says
 * comes later as URCs (CONNECT OK, CONNACK OK, SUBACK, PUBACK, +MSUB, CLOSED …).
 */
import { CmeCode } from '../../protocol/errors.js';
import { intParam, stringParam } from '../../protocol/params.js';
import type { SessionConfig } from '../bridge/client.js';
import { RealtimeClock } from '../clock.js';
import { CommandContext, CommandSpec, RawInput } from '../commands.js';
import { sec } from '../kernel.js';
import { LinkEnv, MqttLink, QoS } from '../mqtt/link.js';
import { MessageCache } from '../mqtt/message-cache.js';
import { decodeAsciiMessage, decodeMessage, utf8FromWire, validPublishTopic, validTopicFilter, wireFromUtf8 } from '../mqtt/payload.js';
import { BrokerEndpoint, MqttRoute, RouteTable } from '../mqtt/routes.js';
import { ModuleSslContext, SslContext } from '../mqtt/ssl-context.js';
import type { Modem } from '../modem.js';
import { Service, TimerSet } from '../service.js';

export type { BrokerEndpoint, MqttRoute } from '../mqtt/routes.js';
export type { SslContext } from '../mqtt/ssl-context.js';

/** Where the modem's MQTT links go (decisions §12). */
export interface MqttServiceOptions {
  /** The broker serving every destination (default: none — MIPSTART then ends in CONNECT FAIL). */
  broker?: BrokerEndpoint;
  /** Rules tried first, in order. */
  routes?: MqttRoute[];
  /** Connect to whatever the host asked for (after routes). */
  passThrough?: boolean;
  /** TLS settings for SSLMIPSTART (default: SSL context 88 of AT+SSLCFG). */
  sslContext?: SslContext;
}

/** AT+MCONFIG's settings (RAM). */
interface ClientSettings {
  clientId: string;
  username: string;
  password: Buffer;
  will: SessionConfig['will'];
}

/** MPUBEX without <len>: input ends after this long with no new byte [M p.241]. */
const MPUBEX_IDLE_GAP = sec(5);

export class MqttService implements Service {
  readonly name = 'mqtt';
  readonly commands: readonly CommandSpec[];
  readonly link: MqttLink;
  readonly cache: MessageCache;
  /** Context 88; replaceable at run time (AT+SSLCFG). */
  sslContext: SslContext;
  private readonly routes: RouteTable;
  private readonly timers: TimerSet;
  private settings: ClientSettings;
  /** AT+MQTTMODE: 0 ASCII, 1 HEX (what the host sends only). */
  mode: 0 | 1 = 0;
  /** AT+MQTTMSGSET: 0 direct URC, 1 cache. */
  msgSet: 0 | 1 = 0;

  constructor(
    readonly modem: Modem,
    readonly options: MqttServiceOptions = {},
  ) {
    this.timers = new TimerSet(modem.kernel);
    this.routes = new RouteTable(options.broker, options.routes ?? [], options.passThrough ?? false);
    this.sslContext = options.sslContext ?? new ModuleSslContext((id, name) => modem.ssl.tlsOptionsFor(id, name));
    this.cache = new MessageCache(modem.profile.limits.cacheSlots);
    this.settings = this.defaultSettings();
    const env: LinkEnv = {
      kernel: modem.kernel,
      clock: modem.clock,
      trace: modem.trace,
      log: modem.log.child({ component: 'mqtt' }),
      latency: (key) => modem.engine.latency(key),
      now: () => (modem.clock instanceof RealtimeClock ? Math.max(modem.kernel.now, modem.clock.wallNow()) : modem.kernel.now),
      urc: (text) => modem.engine.urc(text),
      deliver: (topic, payload) => this.deliver(topic, payload),
      outputBacklog: () => modem.engine.outputBacklog,
      heldUrcs: () => modem.engine.heldUrcCount,
      sslContext: () => this.sslContext,
      connectFailState: modem.profile.spellings.mqttConnectFailState,
    };
    this.link = new MqttLink(env);
    modem.pdp.onBearerLost(() => this.link.drop('pdp-lost'));
    // AT+CIPSHUT closes every IP connection of the module, the MQTT link included
    modem.pdp.onShut(() => this.link.drop('cipshut'));
    this.commands = this.declare();
  }

  powerOn(): void {
    this.settings = this.defaultSettings();
    this.mode = 0;
    this.msgSet = 0;
    this.cache.clear();
  }

  powerOff(): void {
    this.timers.cancelAll();
    this.link.drop('power-off');
  }

  async close(): Promise<void> {
    this.link.drop('shutdown');
  }

  private defaultSettings(): ClientSettings {
    // with no AT+MCONFIG the module connects anonymously; the IMEI keeps ids unique
    return { clientId: this.modem.profile.identity.imei, username: '', password: Buffer.alloc(0), will: undefined };
  }

  /** An inbound PUBLISH: printed raw (direct) or stored (cache), never dropped (decisions §16). */
  private deliver(topic: string, payload: Buffer): void {
    const engine = this.modem.engine;
    if (this.msgSet === 0) {
      engine.urcWithPayload(`+MSUB: "${wireFromUtf8(topic)}",${payload.length} byte,`, payload);
      return;
    }
    const r = this.cache.store(topic, payload);
    if (r.overwritten) {
      this.modem.trace.record({
        t: this.modem.kernel.now,
        ev: 'fault',
        what: 'mqtt-cache-overwrite',
        detail: { slot: r.slot, lostTopic: r.overwritten.topic, lostBytes: r.overwritten.payload.length, overwrites: this.cache.overwrites },
      });
    }
    engine.urc(`+MSUB: ${r.slot}`);
  }

  private sessionConfig(clean: number, keepalive: number): SessionConfig {
    const s = this.settings;
    const cfg: SessionConfig = { clientId: s.clientId, clean: clean === 1, keepalive };
    // MQTT 3.1.1 §3.1.2.9: no password without a user name
    if (s.username !== '') {
      cfg.username = s.username;
      if (s.password.length > 0) cfg.password = s.password;
    }
    if (s.will) cfg.will = s.will;
    return cfg;
  }

  private mipstart(ctx: CommandContext, host: string, port: number, secure: boolean): void {
    if (!this.modem.pdp.dataReady) return ctx.cme(CmeCode.operationFailed);
    if (this.link.phase !== 'offline') {
      ctx.ok();
      this.timers.after(this.modem.engine.latency('simple'), () => this.modem.engine.urc('ALREADY CONNECT'), 'mqtt-already');
      return;
    }
    ctx.ok();
    this.link.open(this.routes.resolve(host, port, secure));
  }

  private publish(ctx: CommandContext, topic: string, payload: Buffer, qos: number, retain: number): void {
    if (payload.length > this.modem.profile.limits.mqttPayload) return ctx.cme(CmeCode.invalidInput);
    const accepted = this.link.publish(topic, payload, qos as QoS, retain === 1, (ok) => (ok ? ctx.ok() : ctx.cme(CmeCode.operationFailed)));
    if (!accepted) ctx.cme(CmeCode.operationFailed);
  }

  private declare(): CommandSpec[] {
    const lim = this.modem.profile.limits;
    const field = lim.mqttClientField;
    const topicMax = lim.mqttTopic;
    const bad = (ctx: CommandContext): void => ctx.cme(CmeCode.invalidInput);
    const topicOf = (v: unknown, filter: boolean): string | undefined => {
      const t = utf8FromWire(String(v));
      if (t === undefined) return undefined;
      return (filter ? validTopicFilter(t) : validPublishTopic(t)) ? t : undefined;
    };
    const mipstart = (name: '+MIPSTART' | '+SSLMIPSTART', secure: boolean): CommandSpec => ({
      name,
      group: 'mqtt',
      summary: `Open the ${secure ? 'TLS (SSL context 88)' : 'TCP'} link: OK, then CONNECT OK | ALREADY CONNECT | STATE + CONNECT FAIL`,
      source: 'M p.239; decisions §11, §12',
      needsRadio: true,
      params: [stringParam('svraddr', 255), intParam('port', 1, 65535)],
      test: [`${name}:"(0,255).(0,255).(0,255).(0,255)",(1-65535)`, `${name}:"DOMAIN NAME",(1-65535)`],
      set: (ctx, [host, port]) => this.mipstart(ctx, String(host), port as number, secure),
    });
    const pubexInput = (topic: string, qos: number, retain: number, len: number | undefined): RawInput => {
      const send = (ctx: CommandContext, data: Uint8Array): void => {
        if (data.length === 0) return bad(ctx);
        this.publish(ctx, topic, Buffer.from(data), qos, retain);
      };
      const req: RawInput = {
        maxLength: lim.mqttPayload,
        promptDelay: this.modem.engine.latency('mqtt.pubex.prompt'),
        idleGap: MPUBEX_IDLE_GAP,
        onData: (ctx, data, end) => {
          if (end === 'length' || end === 'ctrl-z') return send(ctx, data);
          if (end === 'cancel') {
            this.modem.trace.record({ t: this.modem.kernel.now, ev: 'net', what: 'mqtt-pubex-cancelled', detail: data.length });
            return ctx.ok();
          }
          bad(ctx);
        },
        onTimeout: (ctx, partial) => {
          // without <len> the 5 s gap ends the input; with <len> a short payload is refused
          if (len === undefined) return send(ctx, partial);
          this.modem.trace.record({ t: this.modem.kernel.now, ev: 'fault', what: 'mqtt-pubex-short', detail: { expected: len, got: partial.length } });
          bad(ctx);
        },
      };
      if (len !== undefined) req.length = len;
      return req;
    };
    return [
      {
        name: '+MCONFIG',
        group: 'mqtt',
        summary: 'Client id, user name, password and will (RAM; used by the next MCONNECT)',
        source: 'M p.238; at-commands §4',
        params: [
          stringParam('clientid', field, { allowEmpty: true }),
          stringParam('username', field, { optional: true, allowEmpty: true }),
          stringParam('password', field, { optional: true, allowEmpty: true }),
          intParam('will_qos', 0, 2, true),
          intParam('will_retain', 0, 1, true),
          stringParam('will_topic', topicMax, { optional: true, quotes: 'required' }),
          stringParam('will_message', lim.mqttPayload, { optional: true, quotes: 'required' }),
        ],
        test: ['+MCONFIG: <clientid>[,<username>,<password>[,(0-2),(0,1),<will_topic>,<will_message>]]'],
        set: (ctx, [id, user, pass, wq, wr, wt, wm]) => {
          const n = ctx.raw.length;
          if (n !== 1 && n !== 3 && n !== 7) return bad(ctx);
          const clientId = utf8FromWire(String(id ?? ''));
          const username = utf8FromWire(String(user ?? ''));
          if (clientId === undefined || username === undefined) return bad(ctx);
          const next: ClientSettings = { clientId, username, password: Buffer.from(String(pass ?? ''), 'latin1'), will: undefined };
          if (n === 7) {
            if (wq === undefined || wr === undefined || wt === undefined || wm === undefined) return bad(ctx);
            const topic = String(wt);
            if (topic === '') {
              if (wr !== 0) return bad(ctx);
            } else {
              const t = topicOf(topic, false);
              if (t === undefined) return bad(ctx);
              next.will = { topic: t, payload: decodeAsciiMessage(String(wm)), qos: wq as QoS, retain: wr === 1 };
            }
          }
          this.settings = next;
          ctx.ok();
        },
      },
      mipstart('+MIPSTART', false),
      mipstart('+SSLMIPSTART', true),
      {
        name: '+MCONNECT',
        group: 'mqtt',
        summary: 'MQTT CONNECT over the open link: OK, then CONNACK OK, or a bare ERROR if refused',
        source: 'M p.240; decisions §13',
        // the third parameter (keepalive > 300 s mode) of later manuals is accepted and ignored
        params: [intParam('clean', 0, 1), intParam('keepalive', 1, 65535), intParam('mode', 0, 1, true)],
        test: ['+MCONNECT:(0-1),(1-65535)'],
        set: (ctx, [clean, keepalive]) => {
          if (!this.link.connect(this.sessionConfig(clean as number, keepalive as number))) return ctx.cme(CmeCode.operationFailed);
          ctx.ok();
        },
      },
      {
        name: '+MPUB',
        group: 'mqtt',
        summary: 'Publish a quoted message (ASCII escapes, or hex with MQTTMODE=1); PUBACK / PUBREC+PUBCOMP follow',
        source: 'M p.241; decisions §14, §15',
        params: [stringParam('topic', topicMax), intParam('qos', 0, 2), intParam('retain', 0, 1), stringParam('message', lim.lineBuffer, { quotes: 'required', allowEmpty: true })],
        test: ['+MPUB:<topic>,(0-2),(0-1),<message>'],
        set: (ctx, [topic, qos, retain, message]) => {
          const t = topicOf(topic, false);
          const p = decodeMessage(String(message), this.mode);
          if (t === undefined || !p.ok) return bad(ctx);
          this.publish(ctx, t, p.bytes, qos as number, retain as number);
        },
      },
      {
        name: '+MPUBEX',
        group: 'mqtt',
        summary: 'Publish raw bytes after a > prompt: <len> bytes, or until Ctrl-Z / 5 s without input',
        source: 'M p.241',
        params: [stringParam('topic', topicMax), intParam('qos', 0, 2), intParam('retain', 0, 1), intParam('len', 1, lim.mqttPayload, true)],
        test: ['+MPUBEX:<topic>,(0-2),(0-1),<len>'],
        set: (ctx, [topic, qos, retain, len]) => {
          const t = topicOf(topic, false);
          if (t === undefined) return bad(ctx);
          if (this.link.status !== 1) return ctx.cme(CmeCode.operationFailed);
          ctx.rawInput(pubexInput(t, qos as number, retain as number, len as number | undefined));
        },
      },
      {
        name: '+MSUB',
        group: 'mqtt',
        summary: 'Subscribe: OK, then SUBACK',
        source: 'M p.242',
        params: [stringParam('topic', topicMax), intParam('qos', 0, 2)],
        test: ['+MSUB:<topic>,(0-2)'],
        set: (ctx, [topic, qos]) => {
          const t = topicOf(topic, true);
          if (t === undefined) return bad(ctx);
          if (!this.link.subscribe(t, qos as QoS)) return ctx.cme(CmeCode.operationFailed);
          ctx.ok();
        },
      },
      {
        name: '+MUNSUB',
        group: 'mqtt',
        summary: 'Unsubscribe: OK, then UNSUBACK',
        source: 'M p.243',
        params: [stringParam('topic', topicMax)],
        test: ['+MUNSUB:<topic>'],
        set: (ctx, [topic]) => {
          const t = topicOf(topic, true);
          if (t === undefined) return bad(ctx);
          if (!this.link.unsubscribe(t)) return ctx.cme(CmeCode.operationFailed);
          ctx.ok();
        },
      },
      {
        name: '+MQTTMODE',
        group: 'mqtt',
        summary: 'MPUB message encoding: 0 ASCII (default), 1 HEX',
        source: 'M p.245; decisions §14',
        params: [intParam('mode', 0, 1)],
        test: ['+MQTTMODE: (0,1)'],
        read: (ctx) => {
          ctx.info(`+MQTTMODE: ${this.mode}`);
          ctx.ok();
        },
        set: (ctx, [mode]) => {
          this.mode = mode as 0 | 1;
          ctx.ok();
        },
      },
      {
        name: '+MQTTMSGSET',
        group: 'mqtt',
        summary: 'Received messages: 0 direct +MSUB URC (default), 1 cache (+MSUB: <slot>)',
        source: 'M p.244; decisions §16',
        params: [intParam('mode', 0, 1)],
        test: ['+MQTTMSGSET:(0,1)'],
        read: (ctx) => {
          ctx.info(`+MQTTMSGSET:${this.msgSet}`);
          ctx.ok();
        },
        set: (ctx, [mode]) => {
          this.msgSet = mode as 0 | 1;
          ctx.ok();
        },
      },
      {
        name: '+MQTTMSGGET',
        group: 'mqtt',
        summary: 'Read the cache: valid slots oldest first as +MSUB: <topic>,<len> byte,<payload>, then free them',
        source: 'M p.244; decisions §16',
        test: [],
        read: (ctx) => {
          for (let i = 0; i < this.cache.size; i++) ctx.info(`+MQTTMSGGET: ${i},${this.cache.isValid(i) ? 'VALID' : 'INVALID'}`);
          ctx.ok();
        },
        exec: (ctx) => {
          for (const m of this.cache.drain()) {
            ctx.info(`+MSUB: ${wireFromUtf8(m.topic)},${m.payload.length} byte,${m.payload.toString('latin1')}`);
          }
          ctx.ok();
        },
      },
      {
        name: '+MDISCONNECT',
        group: 'mqtt',
        summary: 'Send MQTT DISCONNECT; the link stays at state 2, no CLOSED follows',
        source: 'M p.246; decisions §17',
        test: [],
        exec: (ctx) => {
          if (!this.link.disconnect(() => ctx.ok())) ctx.cme(CmeCode.operationFailed);
        },
      },
      {
        name: '+MIPCLOSE',
        group: 'mqtt',
        summary: 'Close the link: OK from state 1 or 2, +CME ERROR: 767 from state 0',
        source: 'M p.246; decisions §17',
        test: [],
        exec: (ctx) => (this.link.close() ? ctx.ok() : ctx.cme(CmeCode.operationFailed)),
      },
      {
        name: '+MQTTSTATU',
        group: 'mqtt',
        summary: 'Link state: +MQTTSTATU :<n> (0 offline, 1 session up, 2 TCP up)',
        source: 'M p.246; decisions §10',
        test: [],
        exec: (ctx) => {
          ctx.info(`+MQTTSTATU :${this.link.status}`);
          ctx.ok();
        },
      },
    ];
  }
}
