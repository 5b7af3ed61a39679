/**
 * Radio, SIM and registration: AT+CFUN, AT+CPIN, AT+CSQ, AT+CREG/CGREG/CEREG, AT+COPS, and the
 * state machine power-on → SIM ready → searching → registered, each step a kernel event on the
 * profile's timing. Attach and PDP contexts live in the pdp service, which this one drives.
 *
 * Network-side events (`deregister`, `register`, `changeCell`, `setSignal`) are public for the
 * fault API (modem.faults), which brings them into model time.
 */
import { command, CommandContext, CommandSpec } from '../commands.js';
import type { TimerHandle } from '../kernel.js';
import type { Cfun, ModuleControl, RadioState } from '../ports.js';
import { CommandGroup, Service, ServiceEnv, TimerSet } from '../service.js';
import { CmeCode } from '../../protocol/errors.js';
import { enumParam, intParam, stringParam } from '../../protocol/params.js';
import { CellChange, NoServiceStat, ServingNetwork } from '../network/cell.js';
import { REG_COMMANDS, RegCommand, RegStat, RegUrcMode, isRegistered, regRead, regUrc } from '../network/registration.js';
import { SignalChange, SignalLevel, SignalModel, UNKNOWN_SIGNAL } from '../network/signal.js';
import { Waiters } from '../network/waiters.js';
import type { PdpSnapshot } from '../network/pdp-context.js';

export type { Cfun } from '../ports.js';
export type SimState = 'initialising' | 'ready';
/** AT+COPS mode: 0 automatic, 1 manual, 2 deregistered by the host, 4 manual then automatic. */
export type CopsMode = 0 | 1 | 2 | 4;

/** Radio, SIM, registration and the network side; with the packet domain's part, the modem's state. */
export interface RadioSnapshot {
  cfun: Cfun;
  sim: SimState;
  registration: {
    stat: RegStat;
    registered: boolean;
    urcModes: Record<RegCommand, RegUrcMode>;
    copsMode: CopsMode;
    copsFormat: 0 | 1 | 2;
  };
  /** The network side: survives reboots. */
  network: {
    available: boolean;
    noServiceStat: NoServiceStat;
    roaming: boolean;
    lac: string;
    ci: string;
    act: number;
    operator: { longName: string; shortName: string; numeric: string };
  };
  signal: SignalLevel;
}

export type NetworkSnapshot = RadioSnapshot & PdpSnapshot;

export class NetworkService implements Service, RadioState {
  readonly name = 'network';
  readonly commands: readonly CommandSpec[];
  private readonly timers: TimerSet;
  /** The network the module sees; world state, kept across reboots. */
  readonly cell: ServingNetwork;
  readonly signal: SignalModel;
  cfun: Cfun = 1;
  sim: SimState = 'initialising';
  stat: RegStat = 0;
  readonly urcModes: Record<RegCommand, RegUrcMode> = { '+CREG': 0, '+CGREG': 0, '+CEREG': 0 };
  copsMode: CopsMode = 0;
  copsFormat: 0 | 1 | 2;
  private registering: TimerHandle | undefined;
  private readonly registrationWaiters: Waiters;
  private readonly registeredListeners: Array<() => void> = [];
  private readonly lostListeners: Array<(cause: 'network' | 'module') => void> = [];

  constructor(
    private readonly env: ServiceEnv,
    private readonly module: ModuleControl,
  ) {
    const p = env.profile.network;
    this.timers = new TimerSet(env.kernel);
    this.registrationWaiters = new Waiters(this.timers, 'cops-wait');
    this.cell = new ServingNetwork(p);
    this.signal = new SignalModel({ rssi: p.rssi, ber: p.ber, spread: p.rssiSpread });
    this.copsFormat = p.copsFormat;
    this.commands = this.declare();
  }

  onRegistered(fn: () => void): void {
    this.registeredListeners.push(fn);
  }

  onRegistrationLost(fn: (cause: 'network' | 'module') => void): void {
    this.lostListeners.push(fn);
  }

  get simReady(): boolean {
    return this.sim === 'ready';
  }

  get registered(): boolean {
    return isRegistered(this.stat);
  }

  powerOn(): void {
    this.cfun = 1;
    this.sim = 'initialising';
    this.stat = 0;
    for (const c of REG_COMMANDS) this.urcModes[c] = 0;
    this.copsMode = 0;
    this.copsFormat = this.env.profile.network.copsFormat;
    this.timers.after(
      this.draw('simReady'),
      () => {
        this.sim = 'ready';
        this.traceState('sim', 'initialising', 'ready');
        this.search();
      },
      'sim-ready',
    );
  }

  powerOff(): void {
    this.timers.cancelAll();
    this.registering = undefined;
    this.registrationWaiters.clear();
    this.sim = 'initialising';
    this.stat = 0;
  }

  // ---- network-side events -------------------------------------------------------------

  /**
   * The network goes away (coverage lost, deregistered by the network): registration drops to
   * `stat` (default 2, searching) and stays there until `register()`. Active contexts are lost
   * as by a network deactivation (`+PDP DEACT`, TCPIP state `PDP DEACT`).
   */
  deregister(opts: { stat?: NoServiceStat } = {}): void {
    this.cell.available = false;
    this.cell.noServiceStat = opts.stat ?? 2;
    this.cancelRegistering();
    if (!this.onAir()) return;
    this.loseRegistration(this.cell.noServiceStat, 'network');
  }

  /**
   * The network is (back) available, optionally on another cell or roaming. A module that is
   * searching registers after the profile's registration time; one already registered reports
   * the cell change (URC with n=2).
   */
  register(change: CellChange = {}): void {
    const changed = this.cell.update(change);
    this.cell.available = true;
    if (this.registered) {
      if (changed) this.setStat(this.cell.registeredStat, true);
      return;
    }
    this.search();
  }

  /** Handover to another cell (or roaming change) without losing registration. */
  changeCell(change: CellChange): void {
    const changed = this.cell.update(change);
    if (changed && this.registered) this.setStat(this.cell.registeredStat, true);
  }

  setSignal(change: SignalChange): void {
    const from = this.signal.level;
    this.signal.set(change);
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'signal', detail: { from, to: this.signal.level } });
  }

  snapshot(): RadioSnapshot {
    const c = this.cell;
    return {
      cfun: this.cfun,
      sim: this.sim,
      registration: {
        stat: this.stat,
        registered: this.registered,
        urcModes: { ...this.urcModes },
        copsMode: this.copsMode,
        copsFormat: this.copsFormat,
      },
      network: {
        available: c.available,
        noServiceStat: c.noServiceStat,
        roaming: c.roaming,
        lac: c.lac,
        ci: c.ci,
        act: c.act,
        operator: { ...c.operator },
      },
      signal: this.signal.level,
    };
  }

  // ---- the registration state machine ---------------------------------------------------

  /** Radio on, SIM ready and not deregistered by AT+COPS=2: the module takes part in the network. */
  private onAir(): boolean {
    return this.cfun === 1 && this.sim === 'ready' && this.copsMode !== 2;
  }

  private search(): void {
    if (!this.onAir() || this.registered) return;
    if (!this.cell.available) {
      this.setStat(this.cell.noServiceStat);
      return;
    }
    this.setStat(2);
    if (this.registering) return;
    this.registering = this.timers.after(
      this.draw('register'),
      () => {
        this.registering = undefined;
        this.completeRegistration();
      },
      'net-register',
    );
  }

  private completeRegistration(): void {
    if (!this.onAir() || !this.cell.available) return;
    const { spellings } = this.env.profile;
    this.setStat(this.cell.registeredStat);
    for (const u of spellings.registered) this.env.host.urc(u);
    if (spellings.nitz.length > 0) {
      this.timers.after(
        this.draw('nitz'),
        () => {
          if (this.registered) for (const u of spellings.nitz) this.env.host.urc(u);
        },
        'net-nitz',
      );
    }
    this.registrationWaiters.settle(true);
    for (const f of this.registeredListeners) f();
  }

  private cancelRegistering(): void {
    this.timers.cancel(this.registering);
    this.registering = undefined;
  }

  /** Registration ends: the status URC first, then the contexts go (network: with +PDP DEACT). */
  private loseRegistration(stat: RegStat, cause: 'network' | 'module'): void {
    const was = this.registered;
    this.cancelRegistering();
    this.setStat(stat);
    if (!was) return;
    for (const u of this.env.profile.spellings.deregistered) this.env.host.urc(u);
    for (const f of this.lostListeners) f(cause);
  }

  /** Set the status; URCs for n=1 on a status change, for n=2 also on a cell change. */
  private setStat(stat: RegStat, cellChanged = false): void {
    const from = this.stat;
    if (from === stat && !cellChanged) return;
    this.stat = stat;
    if (from !== stat) this.traceState('stat', from, stat);
    for (const cmd of REG_COMMANDS) {
      const n = this.urcModes[cmd];
      if (from === stat && n !== 2) continue;
      const u = regUrc(cmd, n, stat, this.cell);
      if (u !== undefined) this.env.host.urc(u);
    }
  }

  private setFunctionality(fun: Cfun, done: () => void): void {
    if (fun === this.cfun) return done();
    const from = this.cfun;
    if (from === 1) {
      this.timers.after(
        this.env.latency('cfun.off'),
        () => {
          this.cfun = fun;
          this.traceState('cfun', from, fun);
          this.registrationWaiters.settle(false);
          this.loseRegistration(0, 'module');
          done();
        },
        'cfun-off',
      );
    } else if (fun === 1) {
      this.timers.after(
        this.env.latency('cfun.on'),
        () => {
          this.cfun = 1;
          this.traceState('cfun', from, 1);
          done();
          this.search();
        },
        'cfun-on',
      );
    } else {
      this.cfun = fun;
      this.traceState('cfun', from, fun);
      done();
    }
  }

  /** Final result once registered (COPS=0/1/4), or +CME ERROR: 30 after the procedure timeout. */
  private answerWhenRegistered(ctx: CommandContext): void {
    if (this.registered) return ctx.ok();
    this.registrationWaiters.add(this.env.profile.network.procedureTimeout, (ok) => (ok ? ctx.ok() : ctx.cme(CmeCode.noNetworkService)));
    this.search();
  }

  private draw(key: 'simReady' | 'register' | 'nitz'): number {
    return this.env.draw(this.env.profile.network[key], `net:${key}`);
  }

  private traceState(what: string, from: unknown, to: unknown): void {
    const { trace, kernel } = this.env;
    if (trace.enabled) trace.record({ t: kernel.now, ev: 'state', what: `network.${what}`, from, to });
  }

  private operatorName(format: 0 | 1 | 2): string {
    const o = this.cell.operator;
    return format === 0 ? o.longName : format === 1 ? o.shortName : o.numeric;
  }

  // ---- commands -------------------------------------------------------------------------

  private declare(): CommandSpec[] {
    const { env, module } = this;
    const reg = (cmd: RegCommand, summary: string, source: string): CommandSpec =>
      command({
        name: cmd,
        summary,
        source,
        params: [enumParam('n', [0, 1, 2] satisfies RegUrcMode[], true)],
        test: [`${cmd}: (0-2)`],
        read: (ctx) => {
          ctx.info(regRead(cmd, this.urcModes[cmd], this.stat, this.cell));
          ctx.ok();
        },
        set: (ctx, [n]) => {
          this.urcModes[cmd] = n ?? 0;
          ctx.ok();
        },
      });
    return [
      command({
        name: '+CFUN',
        summary: 'Functionality: 0 minimum, 1 full, 4 flight; `,1` reboots',
        source: 'M p.42; behaviour §7',
        params: [intParam('fun', 0, 4), intParam('rst', 0, 1, true)],
        test: ['+CFUN: (0,1,4),(0,1)'],
        read: (ctx) => {
          ctx.info(`+CFUN: ${this.cfun}`);
          ctx.ok();
        },
        set: (ctx, [fun, rst]) => {
          // 2 and 3 pass the range check but are no functionality of this module
          if (fun !== 0 && fun !== 1 && fun !== 4) return ctx.cme(CmeCode.invalidInput);
          if (rst === 1) {
            this.timers.after(
              env.latency('reset'),
              () => {
                env.host.afterLine(() => module.reboot());
                ctx.ok();
              },
              'cfun-reset',
            );
            return;
          }
          this.setFunctionality(fun, () => ctx.ok());
        },
      }),
      command({
        name: '+CPIN',
        summary: 'SIM state: +CPIN: READY, or +CME ERROR: 14 while the SIM starts',
        source: 'M p.43',
        params: [stringParam('pin', 8), stringParam('newpin', 8, { optional: true })],
        test: [],
        read: (ctx) => {
          if (!this.simReady) return ctx.cme(CmeCode.simBusy);
          ctx.info('+CPIN: READY');
          ctx.ok();
        },
        // The modelled SIM has no PIN: entering one is not possible in state READY.
        set: (ctx) => ctx.cme(this.simReady ? CmeCode.operationFailed : CmeCode.simBusy),
      }),
      {
        name: '+CSQ',
        summary: 'Signal quality: +CSQ: <rssi>,<ber> (99,99 with the radio off or no network)',
        source: 'M p.67',
        test: ['+CSQ: (0-31,99),(0-7,99)'],
        exec: (ctx) => {
          const s = this.cfun === 1 && this.cell.available ? this.signal.read(env.kernel.prng.stream('signal')) : UNKNOWN_SIGNAL;
          ctx.info(`+CSQ: ${s.rssi},${s.ber}`);
          ctx.ok();
        },
      },
      reg('+CREG', 'Network registration and its URC mode', 'M AT+CREG'),
      reg('+CGREG', 'Packet-domain registration and its URC mode', 'M p.130; seed'),
      reg('+CEREG', 'EPS registration and its URC mode', 'M AT+CEREG'),
      command({
        name: '+COPS',
        summary: 'Operator selection; read: +COPS: <mode>,<format>,"<oper>",<act>',
        source: 'M AT+COPS',
        params: [
          enumParam('mode', [0, 1, 2, 3, 4]),
          enumParam('format', [0, 1, 2], true),
          stringParam('oper', 16, { optional: true }),
          intParam('act', 0, 7, true),
        ],
        test: (ctx) => {
          if (this.cfun !== 1) return ctx.cme(CmeCode.cfunOff);
          this.timers.after(
            env.latency('cops.scan'),
            () => {
              const o = this.cell.operator;
              const found = this.cell.available
                ? `(${this.registered ? 2 : 1},"${o.longName}","${o.shortName}","${o.numeric}",${this.cell.act})`
                : '';
              ctx.info(`+COPS: ${found},,(0-4),(0-2)`);
              ctx.ok();
            },
            'cops-scan',
          );
        },
        read: (ctx) => {
          ctx.info(
            this.registered
              ? `+COPS: ${this.copsMode},${this.copsFormat},"${this.operatorName(this.copsFormat)}",${this.cell.act}`
              : `+COPS: ${this.copsMode}`,
          );
          ctx.ok();
        },
        set: (ctx, [mode, fmt, oper]) => {
          if (mode === 3) {
            if (fmt !== undefined) this.copsFormat = fmt;
            return ctx.ok();
          }
          if (this.cfun !== 1) return ctx.cme(CmeCode.cfunOff);
          if ((mode === 1 || mode === 4) && oper === undefined) return ctx.cme(CmeCode.invalidInput);
          if (fmt !== undefined) this.copsFormat = fmt;
          if (mode === 2) {
            this.timers.after(
              env.latency('cops'),
              () => {
                this.copsMode = 2;
                this.loseRegistration(0, 'module');
                ctx.ok();
              },
              'cops-deregister',
            );
            return;
          }
          if (mode === 1 && oper !== this.operatorName(fmt ?? this.copsFormat)) {
            // No such network here: the module keeps what it has and reports no service.
            this.timers.after(env.latency('cops'), () => ctx.cme(CmeCode.noNetworkService), 'cops-manual');
            return;
          }
          this.copsMode = mode;
          this.answerWhenRegistered(ctx);
        },
      }),
    ];
  }
}

export const networkGroup: CommandGroup<NetworkService> = {
  name: 'network',
  manual: ['+CFUN', '+CPIN', '+CSQ', '+CREG', '+CGREG', '+CEREG', '+COPS'],
  needs: ['module'],
  create: ({ env, ports }) => {
    const s = new NetworkService(env, ports.need('module', 'network'));
    ports.provide('radio', s);
    return s;
  },
};

