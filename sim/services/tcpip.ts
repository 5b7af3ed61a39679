/**
 * The TCP/IP data plane of the SIMCom-style command set (Luat 4G AT manual, TCPIP chapter;
 * behaviour §33): one TCP connection in non-transparent mode (AT+CIPMUX=0). AT+CIPSTART answers
 * `OK` at once and reports `CONNECT OK` / `CONNECT FAIL` later; AT+CIPSEND takes the data after
 * a `> ` prompt and ends with `SEND OK` once the socket took it; received bytes are printed as
 * they came (AT+CIPHEAD=0) or after `+IPD,<len>:` (AT+CIPHEAD=1); AT+CIPCLOSE answers
 * `CLOSE OK`; the peer closing prints `CLOSED`. The SIMCom bring-up steps before CIPSTART
 * (AT+CSTT → IP START, AT+CIICR → IP GPRSACT, AT+CIFSR → IP STATUS) are optional: the default
 * context is already up, so CIPSTART runs from IP INITIAL too. AT+CIPSTATUS and AT+CIPSHUT stay
 * in the pdp group: this group shows its state there and resets on its shut.
 */
import { CmeCode } from '../../protocol/errors.js';
import { enumParam, intParam, stringParam } from '../../protocol/params.js';
import { command, CommandContext, CommandSpec, RawInput, switchCommand } from '../commands.js';
import type { BridgeOptions } from '../bridge/options.js';
import { RouteTable } from '../bridge/routes.js';
import type { Bearer } from '../ports.js';
import { CommandGroup, Service, ServiceEnv, TimerSet } from '../service.js';
import { TcpLink } from '../tcpip/link.js';
import type { TcpipState } from '../network/pdp-context.js';

/** How far the SIMCom-style bring-up got (AT+CSTT, AT+CIICR, AT+CIFSR); undefined: IP INITIAL. */
type BringUp = 'IP START' | 'IP GPRSACT' | 'IP STATUS';

/**
 * Most bytes one AT+CIPSEND takes (`AT+CIPSEND?` prints it). Guess: one TCP segment of a
 * 1500-byte MTU; the Luat manual gives no figure for the Air724UG.
 */
export const CIPSEND_MAX = 1460;

export class TcpipService implements Service {
  readonly name = 'tcpip';
  readonly commands: readonly CommandSpec[];
  readonly link: TcpLink;
  private readonly routes: RouteTable;
  private readonly timers: TimerSet;
  private bringUp: BringUp | undefined;
  /** AT+CSTT's APN, user and password (RAM: cleared at power-on). */
  private cstt = { apn: '', user: '', pwd: '' };
  /** AT+CIPHEAD: 1 prefixes received data with `+IPD,<len>:`. */
  private ipHead: 0 | 1 = 0;

  constructor(
    private readonly env: ServiceEnv,
    private readonly bearer: Bearer,
    options: BridgeOptions = {},
  ) {
    this.timers = new TimerSet(env.kernel);
    // no broker fallback: a TCP socket goes only where a route or pass-through sends it (§33)
    this.routes = new RouteTable(undefined, options.routes ?? [], options.passThrough ?? false);
    const { host } = env;
    // every line and byte of this connection goes out after the running command line, in the
    // order it was reported (held URCs of other groups first)
    this.link = new TcpLink({
      kernel: env.kernel,
      clock: env.clock,
      trace: env.trace,
      log: env.log.child({ component: 'tcpip' }),
      latency: (key) => env.latency(key),
      urc: (text) => host.afterLine(() => host.urc(text)),
      data: (bytes) =>
        host.afterLine(() => {
          if (env.trace.enabled) env.trace.record({ t: env.kernel.now, ev: 'urc', text: Buffer.from(bytes).toString('latin1') });
          host.sendRaw(this.ipHead === 1 ? Buffer.concat([Buffer.from(`+IPD,${bytes.length}:`, 'latin1'), bytes]) : bytes);
        }),
      connectFailState: env.profile.spellings.mqttConnectFailState,
    });
    bearer.onBearerLost(() => {
      this.link.drop('pdp-lost');
      this.setBringUp(undefined);
    });
    bearer.onShut(() => {
      this.link.drop('cipshut');
      this.setBringUp(undefined);
    });
    bearer.showLinkState(() => this.link.tcpipState ?? this.bringUp);
    this.commands = this.declare();
  }

  powerOn(): void {
    this.bringUp = undefined;
    this.cstt = { apn: '', user: '', pwd: '' };
    this.ipHead = 0;
  }

  /** The state AT+CIPSTATUS shows (PDP DEACT wins, then the connection, then the bring-up). */
  private get state(): TcpipState {
    const pdp = this.bearer.snapshot().tcpipState;
    if (pdp === 'PDP DEACT') return pdp;
    return this.link.tcpipState ?? this.bringUp ?? pdp;
  }

  private setBringUp(to: BringUp | undefined): void {
    if (to === this.bringUp) return;
    const { trace, kernel } = this.env;
    if (trace.enabled) trace.record({ t: kernel.now, ev: 'state', what: 'tcpip.bringup', from: this.bringUp ?? 'IP INITIAL', to: to ?? 'IP INITIAL' });
    this.bringUp = to;
  }

  /** The address AT+CIFSR prints: the lowest active context's IPv4 address. */
  private localAddress(): string | undefined {
    return this.bearer.snapshot().contexts.find((c) => c.active && c.ipv4 !== undefined)?.ipv4;
  }

  /** AT+CSTT (set or exec): only in IP INITIAL, then IP START. */
  private startTask(ctx: CommandContext, apn: string | undefined, user: string | undefined, pwd: string | undefined): void {
    if (this.state !== 'IP INITIAL') return ctx.error();
    // exec (firmware V980 on): the APN the network gave the default context
    this.cstt = { apn: apn ?? this.bearer.snapshot().contexts.find((c) => c.cid === 1)?.apn ?? '', user: user ?? '', pwd: pwd ?? '' };
    this.setBringUp('IP START');
    ctx.ok();
  }

  powerOff(): void {
    this.timers.cancelAll();
    this.link.drop('power-off');
  }

  async close(): Promise<void> {
    this.link.drop('shutdown');
  }

  private cipstart(ctx: CommandContext, host: string, port: number): void {
    if (!this.bearer.dataReady) return ctx.cme(CmeCode.operationFailed);
    ctx.ok();
    if (!this.link.canOpen) {
      this.timers.after(this.env.latency('simple'), () => this.env.host.afterLine(() => this.env.host.urc('ALREADY CONNECT')), 'tcp-already');
      return;
    }
    this.link.open(this.routes.resolve(host, port, false));
  }

  private sendInput(len: number | undefined): RawInput {
    const { env } = this;
    const nl = String.fromCharCode(env.line.settings.s3, env.line.settings.s4);
    const send = (ctx: CommandContext, data: Uint8Array): void => {
      if (data.length === 0) return ctx.error();
      const accepted = this.link.send(data, (ok) =>
        this.timers.after(env.latency('tcp.send'), () => ctx.final({ kind: 'text', text: ok ? 'SEND OK' : 'SEND FAIL' }), 'tcp-send-ok'),
      );
      if (!accepted) ctx.final({ kind: 'text', text: 'SEND FAIL' });
    };
    const req: RawInput = {
      maxLength: CIPSEND_MAX,
      prompt: `${nl}> `,
      promptDelay: env.latency('tcp.send.prompt'),
      onData: (ctx, data, end) => {
        if (end === 'length' || end === 'ctrl-z') return send(ctx, data);
        if (end === 'cancel') {
          env.trace.record({ t: env.kernel.now, ev: 'net', what: 'tcp-send-cancelled', detail: data.length });
          return ctx.ok();
        }
        ctx.error();
      },
      onTimeout: (ctx) => ctx.error(),
    };
    if (len !== undefined) req.length = len;
    return req;
  }

  private declare(): CommandSpec[] {
    return [
      command({
        name: '+CSTT',
        summary: 'Start the task, set APN, user, password: only in IP INITIAL (else ERROR); state → IP START',
        source: 'Luat Air724 AT TCP/UDP guide (CSTT); behaviour §33',
        params: [stringParam('apn', 128), stringParam('user', 32, { optional: true }), stringParam('pwd', 32, { optional: true })],
        test: ['+CSTT: "APN","USER","PWD"'],
        read: (ctx) => {
          const { apn, user, pwd } = this.cstt;
          ctx.info(`+CSTT: "${apn}","${user}","${pwd}"`);
          ctx.ok();
        },
        set: (ctx, [apn, user, pwd]) => this.startTask(ctx, apn, user, pwd),
        exec: (ctx) => this.startTask(ctx, undefined, undefined, undefined),
      }),
      command({
        name: '+CIICR',
        summary: 'Bring up the wireless connection: only in IP START with a data bearer (else ERROR); OK, state → IP GPRSACT',
        source: 'Luat Air724 AT TCP/UDP guide (CIICR); behaviour §33',
        needsRadio: true,
        test: [],
        exec: (ctx) => {
          if (this.state !== 'IP START' || !this.bearer.dataReady) return ctx.error();
          this.timers.after(
            this.env.latency('tcp.ciicr'),
            () => {
              if (this.state !== 'IP START' || !this.bearer.dataReady) return ctx.error();
              this.setBringUp('IP GPRSACT');
              ctx.ok();
            },
            'tcp-ciicr',
          );
        },
      }),
      command({
        name: '+CIFSR',
        summary: 'The local IP address, with no OK (SIMCom); ERROR before IP GPRSACT; state IP GPRSACT → IP STATUS',
        source: 'SIMCom TCP/IP flow (CIFSR), as the Luat guide copies it; behaviour §33',
        test: [],
        exec: (ctx) => {
          const s = this.state;
          const ip = this.localAddress();
          if (s === 'IP INITIAL' || s === 'IP START' || s === 'PDP DEACT' || ip === undefined) return ctx.error();
          if (this.bringUp === 'IP GPRSACT' && this.link.tcpipState === undefined) this.setBringUp('IP STATUS');
          // SIMCom's quirk: the address line is the whole answer, no OK (protocol/results.ts)
          ctx.final({ kind: 'address', ip });
        },
      }),
      switchCommand({
        name: '+CIPHEAD',
        summary: 'Prefix received data with +IPD,<len>: (1) or not (0, the default)',
        source: 'Luat 4G AT manual / SIMCom (CIPHEAD); behaviour §33',
        test: ['+CIPHEAD: (0,1)'],
        show: (v) => `+CIPHEAD: ${v}`,
        get: () => this.ipHead,
        set: (v) => (this.ipHead = v),
      }),
      command({
        name: '+CIPSTART',
        summary: 'Open the TCP connection: OK, then CONNECT OK | ALREADY CONNECT | STATE + CONNECT FAIL',
        source: 'Luat 4G AT manual (CIPSTART); behaviour §33',
        needsRadio: true,
        params: [stringParam('mode', 3), stringParam('addr', 255), intParam('port', 1, 65535)],
        test: ['+CIPSTART: ("TCP"),("(0-255).(0-255).(0-255).(0-255)"),(1-65535)', '+CIPSTART: ("TCP"),("DOMAIN NAME"),(1-65535)'],
        set: (ctx, [mode, host, port]) => {
          // UDP is not modelled (behaviour §33)
          if (mode.toUpperCase() !== 'TCP') return ctx.cme(CmeCode.invalidInput);
          this.cipstart(ctx, host, port);
        },
      }),
      command({
        name: '+CIPSEND',
        summary: 'Send data after a "> " prompt: <len> bytes, or until Ctrl-Z (ESC cancels); SEND OK once the socket took them',
        source: 'Luat 4G AT manual (CIPSEND); behaviour §33',
        params: [intParam('length', 1, CIPSEND_MAX)],
        test: [`+CIPSEND: (1-${CIPSEND_MAX})`],
        read: (ctx) => {
          ctx.info(`+CIPSEND: ${CIPSEND_MAX}`);
          ctx.ok();
        },
        set: (ctx, [len]) => {
          if (!this.link.connected) return ctx.cme(CmeCode.operationFailed);
          ctx.rawInput(this.sendInput(len));
        },
        exec: (ctx) => {
          if (!this.link.connected) return ctx.cme(CmeCode.operationFailed);
          ctx.rawInput(this.sendInput(undefined));
        },
      }),
      command({
        name: '+CIPCLOSE',
        summary: 'Close the TCP connection: CLOSE OK (ERROR when none is open)',
        source: 'Luat 4G AT manual (CIPCLOSE); behaviour §33',
        params: [enumParam('n', [0, 1], true)],
        test: ['+CIPCLOSE: (0,1)'],
        set: (ctx) => (this.link.close() ? ctx.final({ kind: 'text', text: 'CLOSE OK' }) : ctx.error()),
        exec: (ctx) => (this.link.close() ? ctx.final({ kind: 'text', text: 'CLOSE OK' }) : ctx.error()),
      }),
    ];
  }
}

export const tcpipGroup: CommandGroup<TcpipService> = {
  name: 'tcpip',
  manual: ['+CIPSTART', '+CIPSEND', '+CIPCLOSE', '+CSTT', '+CIICR', '+CIFSR', '+CIPHEAD'],
  needs: ['bearer', 'bridge'],
  create: ({ env, ports }) => new TcpipService(env, ports.need('bearer', 'tcpip'), ports.need('bridge', 'tcpip')),
};
