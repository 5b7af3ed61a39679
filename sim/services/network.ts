/**
 * Radio, SIM and registration: AT+CFUN, AT+CPIN, AT+CSQ, AT+CREG/CGREG/CEREG, AT+COPS, and the
 * state machine power-on → SIM ready → searching → registered, each step a kernel event on the
 * profile's timing. Attach and PDP contexts live in the pdp service, which this one drives.
 *
 * Network-side events (`deregister`, `register`, `changeCell`, `setSignal`) are public for the
 * scenario runner and the control API; call them inside `modem.clock.inject` so they happen at
 * the current model instant.
 */
import { CommandContext, CommandSpec } from '../commands.js';
import type { TimerHandle } from '../kernel.js';
import type { Modem } from '../modem.js';
import { Service, TimerSet } from '../service.js';
import { CmeCode } from '../../protocol/errors.js';
import { intParam, stringParam } from '../../protocol/params.js';
import { CellChange, NoServiceStat, ServingNetwork } from '../network/cell.js';
import { REG_COMMANDS, RegCommand, RegStat, RegUrcMode, isRegistered, regRead, regUrc } from '../network/registration.js';
import { SignalChange, SignalLevel, SignalModel, UNKNOWN_SIGNAL } from '../network/signal.js';
import { Waiters } from '../network/waiters.js';
import type { PdpSnapshot } from './pdp.js';

export type Cfun = 0 | 1 | 4;
export type SimState = 'initialising' | 'ready';
/** AT+COPS mode: 0 automatic, 1 manual, 2 deregistered by the host, 4 manual then automatic. */
export type CopsMode = 0 | 1 | 2 | 4;

export interface NetworkSnapshot extends PdpSnapshot {
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

export class NetworkService implements Service {
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

  constructor(private readonly modem: Modem) {
    const p = modem.profile.network;
    this.timers = new TimerSet(modem.kernel);
    this.registrationWaiters = new Waiters(this.timers, 'cops-wait');
    this.cell = new ServingNetwork(p);
    this.signal = new SignalModel({ rssi: p.rssi, ber: p.ber, spread: p.rssiSpread });
    this.copsFormat = p.copsFormat;
    modem.engine.radioOn = () => this.cfun === 1;
    this.commands = this.declare();
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
    this.copsFormat = this.modem.profile.network.copsFormat;
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
    this.modem.trace.record({ t: this.modem.kernel.now, ev: 'net', what: 'signal', detail: { from, to: this.signal.level } });
  }

  snapshot(): NetworkSnapshot {
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
      ...this.modem.pdp.snapshot(),
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
    const { spellings } = this.modem.profile;
    this.setStat(this.cell.registeredStat);
    for (const u of spellings.registered) this.modem.engine.urc(u);
    if (spellings.nitz.length > 0) {
      this.timers.after(
        this.draw('nitz'),
        () => {
          if (this.registered) for (const u of spellings.nitz) this.modem.engine.urc(u);
        },
        'net-nitz',
      );
    }
    this.registrationWaiters.settle(true);
    this.modem.pdp.onRegistered();
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
    for (const u of this.modem.profile.spellings.deregistered) this.modem.engine.urc(u);
    this.modem.pdp.onRegistrationLost(cause);
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
      if (u !== undefined) this.modem.engine.urc(u);
    }
  }

  private setFunctionality(fun: Cfun, done: () => void): void {
    if (fun === this.cfun) return done();
    const from = this.cfun;
    if (from === 1) {
      this.timers.after(
        this.modem.engine.latency('cfun.off'),
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
        this.modem.engine.latency('cfun.on'),
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
    this.registrationWaiters.add(this.modem.profile.network.procedureTimeout, (ok) => (ok ? ctx.ok() : ctx.cme(CmeCode.noNetworkService)));
    this.search();
  }

  private draw(key: 'simReady' | 'register' | 'nitz'): number {
    return this.modem.engine.drawLatency(this.modem.profile.network[key], `net:${key}`);
  }

  private traceState(what: string, from: unknown, to: unknown): void {
    const { trace, kernel } = this.modem;
    if (trace.enabled) trace.record({ t: kernel.now, ev: 'state', what: `network.${what}`, from, to });
  }

  private operatorName(format: 0 | 1 | 2): string {
    const o = this.cell.operator;
    return format === 0 ? o.longName : format === 1 ? o.shortName : o.numeric;
  }

  // ---- commands -------------------------------------------------------------------------

  private declare(): CommandSpec[] {
    const m = this.modem;
    const reg = (cmd: RegCommand, summary: string, source: string): CommandSpec => ({
      name: cmd,
      group: 'network',
      summary,
      source,
      params: [intParam('n', 0, 2, true)],
      test: [`${cmd}: (0-2)`],
      read: (ctx) => {
        ctx.info(regRead(cmd, this.urcModes[cmd], this.stat, this.cell));
        ctx.ok();
      },
      set: (ctx, [n]) => {
        this.urcModes[cmd] = ((n as number | undefined) ?? 0) as RegUrcMode;
        ctx.ok();
      },
    });
    return [
      {
        name: '+CFUN',
        group: 'network',
        summary: 'Functionality: 0 minimum, 1 full, 4 flight; `,1` reboots',
        source: 'M p.42; decisions §7',
        params: [intParam('fun', 0, 4), intParam('rst', 0, 1, true)],
        test: ['+CFUN: (0,1,4),(0,1)'],
        read: (ctx) => {
          ctx.info(`+CFUN: ${this.cfun}`);
          ctx.ok();
        },
        set: (ctx, [fun, rst]) => {
          if (fun !== 0 && fun !== 1 && fun !== 4) return ctx.cme(CmeCode.invalidInput);
          if (rst === 1) {
            this.timers.after(
              m.engine.latency('reset'),
              () => {
                m.engine.afterLine(() => m.reboot());
                ctx.ok();
              },
              'cfun-reset',
            );
            return;
          }
          this.setFunctionality(fun, () => ctx.ok());
        },
      },
      {
        name: '+CPIN',
        group: 'network',
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
      },
      {
        name: '+CSQ',
        group: 'network',
        summary: 'Signal quality: +CSQ: <rssi>,<ber> (99,99 with the radio off or no network)',
        source: 'M p.67',
        test: ['+CSQ: (0-31,99),(0-7,99)'],
        exec: (ctx) => {
          const s = this.cfun === 1 && this.cell.available ? this.signal.read(m.kernel.prng.stream('signal')) : UNKNOWN_SIGNAL;
          ctx.info(`+CSQ: ${s.rssi},${s.ber}`);
          ctx.ok();
        },
      },
      reg('+CREG', 'Network registration and its URC mode', 'M AT+CREG'),
      reg('+CGREG', 'Packet-domain registration and its URC mode', 'M p.130; seed'),
      reg('+CEREG', 'EPS registration and its URC mode', 'M AT+CEREG'),
      {
        name: '+COPS',
        group: 'network',
        summary: 'Operator selection; read: +COPS: <mode>,<format>,"<oper>",<act>',
        source: 'M AT+COPS',
        params: [intParam('mode', 0, 4), intParam('format', 0, 2, true), stringParam('oper', 16, { optional: true }), intParam('act', 0, 7, true)],
        test: (ctx) => {
          if (this.cfun !== 1) return ctx.cme(CmeCode.cfunOff);
          this.timers.after(
            m.engine.latency('cops.scan'),
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
        set: (ctx, [mode, format, oper]) => {
          const fmt = format as 0 | 1 | 2 | undefined;
          if (mode === 3) {
            if (fmt !== undefined) this.copsFormat = fmt;
            return ctx.ok();
          }
          if (this.cfun !== 1) return ctx.cme(CmeCode.cfunOff);
          if ((mode === 1 || mode === 4) && oper === undefined) return ctx.cme(CmeCode.invalidInput);
          if (fmt !== undefined) this.copsFormat = fmt;
          if (mode === 2) {
            this.timers.after(
              m.engine.latency('cops'),
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
            this.timers.after(m.engine.latency('cops'), () => ctx.cme(CmeCode.noNetworkService), 'cops-manual');
            return;
          }
          this.copsMode = mode as 0 | 1 | 4;
          this.answerWhenRegistered(ctx);
        },
      },
    ];
  }
}

