/**
 * The MQTT command set (manual chapter 16; behaviour §10–18, §23) over the one
 * MqttLink the module has. Commands answer at once (`OK` means accepted); what the broker says
 * comes later as URCs (CONNECT OK, CONNACK OK, SUBACK, PUBACK, +MSUB, CLOSED …).
 */
import { CmeCode } from '../../protocol/errors.js';
import { enumParam, intParam, stringParam } from '../../protocol/params.js';
import type { SessionConfig } from '../mqtt/session-client.js';
import { command, CommandContext, CommandSpec, RawInput, switchCommand } from '../commands.js';
import { sec } from '../kernel.js';
import { LinkEnv, MqttLink, QoS } from '../mqtt/link.js';
import { MessageCache } from '../mqtt/message-cache.js';
import { decodeAsciiMessage, decodeMessage, utf8FromWire, validPublishTopic, validTopicFilter, wireFromUtf8 } from '../mqtt/payload.js';
import type { BridgeOptions } from '../bridge/options.js';
import { RouteTable } from '../bridge/routes.js';
import { ModuleSslContext, SslContext } from '../bridge/tls-context.js';
import type { Bearer, TlsProvider } from '../ports.js';
import { CommandGroup, Service, ServiceEnv, TimerSet } from '../service.js';

export type { BrokerEndpoint, MqttRoute } from '../bridge/routes.js';
export type { SslContext } from '../bridge/tls-context.js';

/** Where the modem's MQTT links go (behaviour §12). */
export type MqttServiceOptions = BridgeOptions;

/** AT+MCONFIG's settings (RAM). */
interface ClientSettings {
  clientId: string;
  username: string;
  password: Buffer;
  will: SessionConfig['will'];
}

const QOS: readonly QoS[] = [0, 1, 2];

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

  /** The client id of the session MCONNECT last started (until a reboot), for faults aimed at it. */
  private connectedAs: string | undefined;

  constructor(
    private readonly env: ServiceEnv,
    private readonly bearer: Bearer,
    tls: TlsProvider,
    readonly options: MqttServiceOptions = {},
  ) {
    this.timers = new TimerSet(env.kernel);
    this.routes = new RouteTable(options.broker, options.routes ?? [], options.passThrough ?? false);
    this.sslContext = options.sslContext ?? new ModuleSslContext((id, name) => tls.tlsOptionsFor(id, name));
    this.cache = new MessageCache(env.profile.limits.cacheSlots);
    this.settings = this.defaultSettings();
    const { host } = env;
    const linkEnv: LinkEnv = {
      kernel: env.kernel,
      clock: env.clock,
      trace: env.trace,
      log: env.log.child({ component: 'mqtt' }),
      latency: (key) => env.latency(key),
      now: () => env.now(),
      urc: (text) => host.urc(text),
      deliver: (topic, payload) => this.deliver(topic, payload),
      outputBacklog: () => host.outputBacklog,
      heldUrcs: () => host.heldUrcCount,
      sslContext: () => this.sslContext,
      connectFailState: env.profile.spellings.mqttConnectFailState,
      closedAfterDisconnect: env.profile.spellings.mqttClosedAfterDisconnect,
      ackLost: env.profile.spellings.mqttAckLost,
    };
    this.link = new MqttLink(linkEnv);
    bearer.onBearerLost(() => this.link.drop('pdp-lost'));
    // AT+CIPSHUT closes every IP connection of the module, the MQTT link included
    bearer.onShut(() => this.link.drop('cipshut'));
    this.commands = this.declare();
  }

  /** The client id the broker knows this module by: the running session's, else AT+MCONFIG's. */
  get clientId(): string {
    return this.link.status === 0 ? this.settings.clientId : (this.connectedAs ?? this.settings.clientId);
  }

  powerOn(): void {
    this.connectedAs = undefined;
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
    return { clientId: this.env.profile.identity.imei, username: '', password: Buffer.alloc(0), will: undefined };
  }

  /** An inbound PUBLISH: printed raw (direct) or stored (cache), never dropped (behaviour §16). */
  private deliver(topic: string, whole: Buffer): void {
    const { host, profile } = this.env;
    const max = profile.limits.mqttPayload;
    let payload = whole;
    if (whole.length > max) {
      // the module's RAM holds no more: the UART never carries a message past the limit
      const action = profile.limits.mqttInboundOversize;
      this.env.trace.record({ t: this.env.kernel.now, ev: 'fault', what: 'mqtt-rx-oversize', detail: { topic, bytes: whole.length, limit: max, action } });
      if (action === 'drop') return;
      payload = whole.subarray(0, max);
    }
    if (this.msgSet === 0) {
      host.urcWithPayload(`+MSUB: "${wireFromUtf8(topic)}",${payload.length} byte,`, payload);
      return;
    }
    const r = this.cache.store(topic, payload);
    if (r.overwritten) {
      this.env.trace.record({
        t: this.env.kernel.now,
        ev: 'fault',
        what: 'mqtt-cache-overwrite',
        detail: { slot: r.slot, lostTopic: r.overwritten.topic, lostBytes: r.overwritten.payload.length, overwrites: this.cache.overwrites },
      });
    }
    host.urc(`+MSUB: ${r.slot}`);
  }

  private sessionConfig(clean: 0 | 1, keepalive: number): SessionConfig {
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
    if (!this.bearer.dataReady) return ctx.cme(CmeCode.operationFailed);
    if (!this.link.canOpen) {
      ctx.ok();
      this.timers.after(this.env.latency('simple'), () => this.env.host.urc('ALREADY CONNECT'), 'mqtt-already');
      return;
    }
    ctx.ok();
    this.link.open(this.routes.resolve(host, port, secure));
  }

  private publish(ctx: CommandContext, topic: string, payload: Buffer, qos: QoS, retain: 0 | 1): void {
    if (payload.length > this.env.profile.limits.mqttPayload) return ctx.cme(CmeCode.invalidInput);
    const accepted = this.link.publish(topic, payload, qos, retain === 1, (ok) => (ok ? ctx.ok() : ctx.cme(CmeCode.operationFailed)));
    if (!accepted) ctx.cme(CmeCode.operationFailed);
  }

  private declare(): CommandSpec[] {
    const { env } = this;
    const lim = env.profile.limits;
    const field = lim.mqttClientField;
    const topicMax = lim.mqttTopic;
    const bad = (ctx: CommandContext): void => ctx.cme(CmeCode.invalidInput);
    const topicOf = (v: string, filter: boolean): string | undefined => {
      const t = utf8FromWire(v);
      if (t === undefined) return undefined;
      return (filter ? validTopicFilter(t) : validPublishTopic(t)) ? t : undefined;
    };
    const mipstart = (name: '+MIPSTART' | '+SSLMIPSTART', secure: boolean): CommandSpec =>
      command({
      name,
      summary: `Open the ${secure ? 'TLS (SSL context 88)' : 'TCP'} link: OK, then CONNECT OK | ALREADY CONNECT | STATE + CONNECT FAIL`,
      source: 'M p.239; behaviour §11, §12',
      needsRadio: true,
      params: [stringParam('svraddr', 255), intParam('port', 1, 65535)],
      test: [`${name}:"(0,255).(0,255).(0,255).(0,255)",(1-65535)`, `${name}:"DOMAIN NAME",(1-65535)`],
      set: (ctx, [host, port]) => this.mipstart(ctx, host, port, secure),
    });
    const pubexInput = (topic: string, qos: QoS, retain: 0 | 1, len: number | undefined): RawInput => {
      const send = (ctx: CommandContext, data: Uint8Array): void => {
        if (data.length === 0) return bad(ctx);
        this.publish(ctx, topic, Buffer.from(data), qos, retain);
      };
      const req: RawInput = {
        maxLength: lim.mqttPayload,
        promptDelay: env.latency('mqtt.pubex.prompt'),
        idleGap: MPUBEX_IDLE_GAP,
        onData: (ctx, data, end) => {
          if (end === 'length' || end === 'ctrl-z') return send(ctx, data);
          if (end === 'cancel') {
            env.trace.record({ t: env.kernel.now, ev: 'net', what: 'mqtt-pubex-cancelled', detail: data.length });
            return ctx.ok();
          }
          bad(ctx);
        },
        onTimeout: (ctx, partial) => {
          // without <len> the 5 s gap ends the input; with <len> a short payload is refused
          if (len === undefined) return send(ctx, partial);
          env.trace.record({ t: env.kernel.now, ev: 'fault', what: 'mqtt-pubex-short', detail: { expected: len, got: partial.length } });
          bad(ctx);
        },
      };
      if (len !== undefined) req.length = len;
      return req;
    };
    return [
      command({
        name: '+MCONFIG',
        summary: 'Client id, user name, password and will (RAM; used by the next MCONNECT)',
        source: 'M p.238; behaviour §23',
        params: [
          stringParam('clientid', field, { allowEmpty: true }),
          stringParam('username', field, { optional: true, allowEmpty: true }),
          stringParam('password', field, { optional: true, allowEmpty: true }),
          enumParam('will_qos', QOS, true),
          enumParam('will_retain', [0, 1], true),
          stringParam('will_topic', topicMax, { optional: true, quotes: 'required' }),
          stringParam('will_message', lim.mqttPayload, { optional: true, quotes: 'required' }),
        ],
        test: ['+MCONFIG: <clientid>[,<username>,<password>[,(0-2),(0,1),<will_topic>,<will_message>]]'],
        set: (ctx, [id, user, pass, wq, wr, wt, wm]) => {
          const n = ctx.raw.length;
          if (n !== 1 && n !== 3 && n !== 7) return bad(ctx);
          const clientId = utf8FromWire(id);
          const username = utf8FromWire(user ?? '');
          if (clientId === undefined || username === undefined) return bad(ctx);
          const next: ClientSettings = { clientId, username, password: Buffer.from(pass ?? '', 'latin1'), will: undefined };
          if (n === 7) {
            if (wq === undefined || wr === undefined || wt === undefined || wm === undefined) return bad(ctx);
            if (wt === '') {
              if (wr !== 0) return bad(ctx);
            } else {
              const t = topicOf(wt, false);
              if (t === undefined) return bad(ctx);
              next.will = { topic: t, payload: decodeAsciiMessage(wm), qos: wq, retain: wr === 1 };
            }
          }
          this.settings = next;
          ctx.ok();
        },
      }),
      mipstart('+MIPSTART', false),
      mipstart('+SSLMIPSTART', true),
      command({
        name: '+MCONNECT',
        summary: 'MQTT CONNECT over the open link: OK, then CONNACK OK, or a bare ERROR if refused',
        source: 'M p.240; behaviour §13',
        // the third parameter (keepalive > 300 s mode) of later manuals is accepted and ignored
        params: [enumParam('clean', [0, 1]), intParam('keepalive', 1, 65535), enumParam('mode', [0, 1], true)],
        test: ['+MCONNECT:(0-1),(1-65535)'],
        set: (ctx, [clean, keepalive]) => {
          const cfg = this.sessionConfig(clean, keepalive);
          if (!this.link.connect(cfg)) return ctx.cme(CmeCode.operationFailed);
          this.connectedAs = cfg.clientId;
          ctx.ok();
        },
      }),
      command({
        name: '+MPUB',
        summary: 'Publish a quoted message (ASCII escapes, or hex with MQTTMODE=1); PUBACK / PUBREC+PUBCOMP follow',
        source: 'M p.241; behaviour §14, §15',
        params: [stringParam('topic', topicMax), enumParam('qos', QOS), enumParam('retain', [0, 1]), stringParam('message', lim.lineBuffer, { quotes: 'required', allowEmpty: true })],
        test: ['+MPUB:<topic>,(0-2),(0-1),<message>'],
        set: (ctx, [topic, qos, retain, message]) => {
          const t = topicOf(topic, false);
          const p = decodeMessage(message, this.mode);
          if (t === undefined || !p.ok) return bad(ctx);
          this.publish(ctx, t, p.bytes, qos, retain);
        },
      }),
      command({
        name: '+MPUBEX',
        summary: 'Publish raw bytes after a > prompt: <len> bytes, or until Ctrl-Z / 5 s without input',
        source: 'M p.241',
        params: [stringParam('topic', topicMax), enumParam('qos', QOS), enumParam('retain', [0, 1]), intParam('len', 1, lim.mqttPayload, true)],
        test: ['+MPUBEX:<topic>,(0-2),(0-1),<len>'],
        set: (ctx, [topic, qos, retain, len]) => {
          const t = topicOf(topic, false);
          if (t === undefined) return bad(ctx);
          if (this.link.status !== 1) return ctx.cme(CmeCode.operationFailed);
          ctx.rawInput(pubexInput(t, qos, retain, len));
        },
      }),
      command({
        name: '+MSUB',
        summary: 'Subscribe: OK, then SUBACK',
        source: 'M p.242',
        params: [stringParam('topic', topicMax), enumParam('qos', QOS)],
        test: ['+MSUB:<topic>,(0-2)'],
        set: (ctx, [topic, qos]) => {
          const t = topicOf(topic, true);
          if (t === undefined) return bad(ctx);
          if (!this.link.subscribe(t, qos)) return ctx.cme(CmeCode.operationFailed);
          ctx.ok();
        },
      }),
      command({
        name: '+MUNSUB',
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
      }),
      switchCommand({
        name: '+MQTTMODE',
        summary: 'MPUB message encoding: 0 ASCII (default), 1 HEX',
        source: 'M p.245; behaviour §14',
        test: ['+MQTTMODE: (0,1)'],
        show: (v) => `+MQTTMODE: ${v}`,
        get: () => this.mode,
        set: (v) => (this.mode = v),
      }),
      switchCommand({
        name: '+MQTTMSGSET',
        summary: 'Received messages: 0 direct +MSUB URC (default), 1 cache (+MSUB: <slot>)',
        source: 'M p.244; behaviour §16',
        test: ['+MQTTMSGSET:(0,1)'],
        show: (v) => `+MQTTMSGSET:${v}`,
        get: () => this.msgSet,
        set: (v) => (this.msgSet = v),
      }),
      {
        name: '+MQTTMSGGET',
        summary: 'Read the cache: valid slots oldest first as +MSUB: <topic>,<len> byte,<payload>, then free them',
        source: 'M p.244; behaviour §16',
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
        summary: 'Send MQTT DISCONNECT; the broker closes the link: state 0, MIPSTART connects afresh',
        source: 'M p.246; behaviour §17',
        test: [],
        exec: (ctx) => {
          if (!this.link.disconnect(() => ctx.ok())) ctx.cme(CmeCode.operationFailed);
        },
      },
      {
        name: '+MIPCLOSE',
        summary: 'Close the link: OK from state 1 or 2 and right after MDISCONNECT, +CME ERROR: 767 from state 0',
        source: 'M p.246; behaviour §17',
        test: [],
        exec: (ctx) => (this.link.close() ? ctx.ok() : ctx.cme(CmeCode.operationFailed)),
      },
      {
        name: '+MQTTSTATU',
        summary: 'Link state: +MQTTSTATU :<n> (0 offline, 1 session up, 2 TCP up)',
        source: 'M p.246; behaviour §10',
        test: [],
        exec: (ctx) => {
          ctx.info(`+MQTTSTATU :${this.link.status}`);
          ctx.ok();
        },
      },
    ];
  }
}

export const mqttGroup: CommandGroup<MqttService> = {
  name: 'mqtt',
  manual: ['+MCONFIG', '+MIPSTART', '+SSLMIPSTART', '+MCONNECT', '+MPUB', '+MPUBEX', '+MSUB', '+MUNSUB', '+MQTTMODE', '+MQTTMSGSET', '+MQTTMSGGET', '+MDISCONNECT', '+MIPCLOSE', '+MQTTSTATU'],
  needs: ['bearer', 'tls', 'bridge'],
  create: ({ env, ports }) => new MqttService(env, ports.need('bearer', 'mqtt'), ports.need('tls', 'mqtt'), ports.need('bridge', 'mqtt')),
};
