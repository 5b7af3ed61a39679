/**
 * Packet domain: GPRS attach (AT+CGATT), PDP contexts (AT+CGDCONT, AT+CGACT, AT+CGPADDR) and
 * the single-link TCPIP state (AT+CIPSHUT, AT+CIPSTATUS). The network service drives attach
 * from registration; like LTE, attach brings up the default context cid 1 (behaviour §8).
 *
 * Other services read `dataReady` and hear of bearer loss through `onBearerLost`. Network-side
 * events (`networkDeactivate`, `networkDetach`) are public for the scenario runner and the
 * control API; call them inside `modem.clock.inject`.
 */
import { command, CommandContext, CommandSpec } from '../commands.js';
import type { TimerHandle } from '../kernel.js';
import type { Bearer, RadioState } from '../ports.js';
import type { Latency } from '../profile.js';
import { CommandGroup, Service, ServiceEnv, TimerSet } from '../service.js';
import { CmeCode } from '../../protocol/errors.js';
import { enumParam, intParam, stringParam } from '../../protocol/params.js';
import { DEFAULT_CID, PdpContext, PdpContextSnapshot, PdpSnapshot, TcpipState, isIpv4, pdpTypeOf } from '../network/pdp-context.js';
import { Waiters, spellFor } from '../network/waiters.js';

/** How contexts go down: by the network (URC, PDP DEACT), by AT+CGACT=0 (URC), or silently. */
type Teardown = 'network' | 'cgact' | 'silent';

const CGDCONT_TEST = [
  '+CGDCONT: (1-15),"IP",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)',
  '+CGDCONT: (1-15),"IPV6",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0)',
  '+CGDCONT: (1-15),"IPV4V6",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)',
  '+CGDCONT: (1-15),"Non-IP",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0),(0,1)',
];

export type { PdpSnapshot, TcpipState } from '../network/pdp-context.js';

export class PdpService implements Service, Bearer {
  readonly name = 'pdp';
  readonly commands: readonly CommandSpec[];
  private readonly timers: TimerSet;
  private readonly contexts = new Map<number, PdpContext>();
  attached = false;
  /** Cleared by AT+CGATT=0: registration then no longer attaches by itself. */
  private autoAttach = true;
  tcpipState: TcpipState = 'IP INITIAL';
  private attaching: TimerHandle | undefined;
  private readonly attachWaiters: Waiters;
  private lostListeners: Array<() => void> = [];
  private shutListeners: Array<() => void> = [];
  private linkState: (() => TcpipState | undefined) | undefined;
  private wasReady = false;

  constructor(
    private readonly env: ServiceEnv,
    private readonly radio: RadioState,
  ) {
    this.timers = new TimerSet(env.kernel);
    this.attachWaiters = new Waiters(this.timers, 'attach-wait');
    this.commands = this.declare();
    radio.onRegistered(() => this.onRegistered());
    radio.onRegistrationLost((cause) => this.onRegistrationLost(cause));
  }

  /**
   * True when the radio is on, the module registered and attached, a context is active with an
   * address, and the TCPIP state is not `PDP DEACT` (behaviour §9: MIPSTART may run).
   */
  get dataReady(): boolean {
    const n = this.radio;
    if (n.cfun !== 1 || !n.registered || !this.attached || this.tcpipState === 'PDP DEACT') return false;
    for (const c of this.contexts.values()) if (c.active && (c.ipv4 ?? c.ipv6) !== undefined) return true;
    return false;
  }

  /** Called when `dataReady` turns false (network deactivation, detach, CFUN=0 ...), before any URC. */
  onBearerLost(fn: () => void): void {
    this.lostListeners.push(fn);
  }

  /** Called when AT+CIPSHUT closes every IP connection. */
  onShut(fn: () => void): void {
    this.shutListeners.push(fn);
  }

  /** The TCP connection's state, shown by AT+CIPSTATUS unless the bearer is in PDP DEACT. */
  showLinkState(fn: () => TcpipState | undefined): void {
    this.linkState = fn;
  }

  context(cid: number): PdpContextSnapshot | undefined {
    return this.contexts.get(cid)?.snapshot();
  }

  snapshot(): PdpSnapshot {
    return {
      attached: this.attached,
      contexts: this.sorted().map((c) => c.snapshot()),
      tcpipState: this.tcpipState,
      dataReady: this.dataReady,
    };
  }

  powerOn(): void {
    this.contexts.clear();
    this.contexts.set(DEFAULT_CID, new PdpContext(DEFAULT_CID));
    this.attached = false;
    this.autoAttach = true;
    this.tcpipState = 'IP INITIAL';
    this.wasReady = false;
  }

  powerOff(): void {
    this.timers.cancelAll();
    this.attaching = undefined;
    this.attachWaiters.clear();
    this.attached = false;
    for (const c of this.contexts.values()) c.deactivate();
    // A reboot is not a bearer loss the MQTT side must hear of: it is powered off too.
    this.wasReady = false;
  }

  // ---- network-side events -------------------------------------------------------------

  /**
   * The network releases a context (default: the lowest active cid): the MQTT link drops
   * silently, `+PDP DEACT` (profile spelling) is printed, the TCPIP state is `PDP DEACT` until
   * AT+CIPSHUT. Returns false when no such context is active.
   */
  networkDeactivate(cid?: number): boolean {
    const target = cid ?? this.sorted().find((c) => c.active)?.cid;
    if (target === undefined || !this.contexts.get(target)?.active) return false;
    this.teardown([target], 'network');
    return true;
  }

  /** The network detaches the module: every context goes as by `networkDeactivate`. */
  networkDetach(): boolean {
    if (!this.attached && !this.attaching) return false;
    this.cancelAttaching();
    this.attached = false;
    this.trace('attached', true, false);
    this.teardown(this.activeCids(), 'network');
    for (const u of this.env.profile.spellings.nwDetach) this.env.host.urc(u);
    this.checkReady();
    return true;
  }

  // ---- driven by registration (the radio port) ------------------------------------------

  private onRegistered(): void {
    if (this.autoAttach || this.attachWaiters.size > 0) this.startAttach(this.env.profile.network.defaultPdp, 'net:defaultPdp');
  }

  /** Registration ended; `network` = the network's doing (contexts go with +PDP DEACT). */
  private onRegistrationLost(cause: 'network' | 'module'): void {
    this.cancelAttaching();
    if (this.attached) {
      this.attached = false;
      this.trace('attached', true, false);
    }
    this.teardown(this.activeCids(), cause === 'network' ? 'network' : 'silent');
    this.checkReady();
  }

  // ---- attach and contexts --------------------------------------------------------------

  /** Attach, which in LTE also activates the default context; waiters get their answer then. */
  private startAttach(latency: Latency, key: string): void {
    if (this.attached || this.attaching || !this.radio.registered) return;
    this.attaching = this.timers.after(
      this.env.draw(latency, key),
      () => {
        this.attaching = undefined;
        if (!this.radio.registered) return;
        this.attached = true;
        this.autoAttach = true;
        this.trace('attached', false, true);
        if (!this.contexts.has(DEFAULT_CID)) this.contexts.set(DEFAULT_CID, new PdpContext(DEFAULT_CID));
        this.activate([DEFAULT_CID]);
        this.attachWaiters.settle(true);
      },
      'pdp-attach',
    );
  }

  private cancelAttaching(): void {
    this.timers.cancel(this.attaching);
    this.attaching = undefined;
  }

  /** Answer `done(true)` once attached, or `done(false)` after the procedure timeout. */
  private whenAttached(done: (ok: boolean) => void): void {
    if (this.attached) return done(true);
    this.attachWaiters.add(this.env.profile.network.procedureTimeout, done);
    if (this.radio.registered) this.startAttach(this.env.profile.latency.cgatt, 'cgatt');
  }

  private activate(cids: number[]): void {
    const net = this.env.profile.network;
    const done: number[] = [];
    for (const cid of cids) {
      const c = this.contexts.get(cid);
      if (!c || c.active) continue;
      c.activate(net);
      done.push(cid);
      this.trace(`context.${cid}`, 'inactive', c.ipv4 ?? c.ipv6 ?? 'active');
    }
    for (const u of spellFor(this.env.profile.spellings.pdpAct, done)) this.env.host.urc(u);
    this.checkReady();
  }

  /** Contexts go down; listeners hear of a lost bearer before the URC is printed (behaviour §9). */
  private teardown(cids: number[], how: Teardown): void {
    const gone = cids.filter((cid) => this.contexts.get(cid)?.active);
    if (gone.length === 0) return;
    for (const cid of gone) {
      this.contexts.get(cid)!.deactivate();
      this.trace(`context.${cid}`, 'active', `inactive (${how})`);
    }
    if (how === 'network' && this.tcpipState !== 'PDP DEACT') {
      this.trace('tcpip', this.tcpipState, 'PDP DEACT');
      this.tcpipState = 'PDP DEACT';
    }
    this.checkReady();
    const { spellings } = this.env.profile;
    const lines = how === 'network' ? spellings.pdpDeact : how === 'cgact' ? spellings.mePdpDeact : [];
    for (const u of spellFor(lines, gone)) this.env.host.urc(u);
  }

  private checkReady(): void {
    const ready = this.dataReady;
    const lost = this.wasReady && !ready;
    this.wasReady = ready;
    if (!lost) return;
    this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'bearer-lost' });
    this.notify(this.lostListeners, 'bearer-lost');
  }

  private notify(listeners: Array<() => void>, what: string): void {
    for (const f of listeners) {
      try {
        f();
      } catch (err) {
        this.env.log.error({ err, what }, 'pdp listener threw');
      }
    }
  }

  private sorted(): PdpContext[] {
    return [...this.contexts.values()].sort((a, b) => a.cid - b.cid);
  }

  private activeCids(): number[] {
    return this.sorted()
      .filter((c) => c.active)
      .map((c) => c.cid);
  }

  private trace(what: string, from: unknown, to: unknown): void {
    const { trace, kernel } = this.env;
    if (trace.enabled) trace.record({ t: kernel.now, ev: 'state', what: `pdp.${what}`, from, to });
  }

  private radioOff(ctx: CommandContext): boolean {
    if (this.radio.cfun === 1) return false;
    ctx.cme(CmeCode.cfunOff);
    return true;
  }

  // ---- commands -------------------------------------------------------------------------

  private declare(): CommandSpec[] {
    const { env } = this;
    return [
      command({
        name: '+CGATT',
        summary: 'GPRS attach (1) / detach (0); 797 with the radio off',
        source: 'M p.132; seed',
        params: [enumParam('state', [0, 1])],
        test: ['+CGATT: (0-1)'],
        read: (ctx) => {
          ctx.info(`+CGATT: ${this.attached ? 1 : 0}`);
          ctx.ok();
        },
        set: (ctx, [state]) => {
          if (this.radioOff(ctx)) return;
          if (state === 1) {
            this.autoAttach = true;
            return this.whenAttached((ok) => (ok ? ctx.ok() : ctx.cme(CmeCode.noNetworkService)));
          }
          this.autoAttach = false;
          this.cancelAttaching();
          if (!this.attached) return ctx.ok();
          this.timers.after(
            env.latency('cgatt'),
            () => {
              if (this.attached) {
                this.attached = false;
                this.trace('attached', true, false);
                this.teardown(this.activeCids(), 'silent');
              }
              ctx.ok();
            },
            'cgatt-detach',
          );
        },
      }),
      command({
        name: '+CGDCONT',
        summary: 'Define PDP context <cid> 1..15: type, APN, address; `=<cid>` alone undefines it',
        source: 'M p.132',
        params: [intParam('cid', 1, 15), stringParam('type', 8, { optional: true }), stringParam('apn', 99, { optional: true }), stringParam('addr', 15, { optional: true }), intParam('d_comp', 0, 2, true), intParam('h_comp', 0, 4, true)],
        test: CGDCONT_TEST,
        read: (ctx) => {
          for (const c of this.sorted()) ctx.info(c.cgdcontLine(env.profile.spellings.cgdcontFields));
          ctx.ok();
        },
        set: (ctx, [id, type, apn, addr, dComp, hComp]) => {
          if (ctx.raw.length === 1) {
            if (this.contexts.get(id)?.active) return ctx.cme(CmeCode.operationFailed);
            this.contexts.delete(id);
            return ctx.ok();
          }
          const t = type === undefined || type === '' ? 'IP' : pdpTypeOf(type);
          if (!t) return ctx.cme(CmeCode.invalidInput);
          const a = addr ?? '';
          if (a !== '' && !isIpv4(a)) return ctx.cme(CmeCode.invalidInput);
          // A change to an active context takes effect at its next activation.
          const c = this.contexts.get(id) ?? new PdpContext(id);
          c.type = t;
          c.apn = apn ?? '';
          c.requestedAddress = a === '0.0.0.0' ? '' : a;
          c.dComp = dComp ?? 0;
          c.hComp = hComp ?? 0;
          this.contexts.set(id, c);
          ctx.ok();
        },
      }),
      command({
        name: '+CGACT',
        summary: 'Activate (1) / deactivate (0) context <cid>, or all without <cid>; attaches first',
        source: 'M p.136; seed',
        params: [enumParam('state', [0, 1]), intParam('cid', 1, 15, true)],
        test: ['+CGACT: (0,1)'],
        read: (ctx) => {
          for (const c of this.sorted()) ctx.info(`+CGACT: ${c.cid},${c.active ? 1 : 0}`);
          ctx.ok();
        },
        set: (ctx, [state, id]) => {
          if (this.radioOff(ctx)) return;
          if (id !== undefined && !this.contexts.has(id)) return ctx.cme(CmeCode.operationFailed);
          if (state === 1) return this.activateFor(ctx, id);
          const todo = (id !== undefined ? [id] : this.activeCids()).filter((c) => this.contexts.get(c)?.active);
          if (todo.length === 0) return ctx.ok();
          this.timers.after(
            env.latency('cgact'),
            () => {
              this.teardown(todo, 'cgact');
              ctx.ok();
            },
            'cgact-deactivate',
          );
        },
      }),
      command({
        name: '+CGPADDR',
        summary: 'PDP address of context <cid> (set) or of every defined context (exec)',
        source: 'M AT+CGPADDR',
        params: [intParam('cid', 1, 15)],
        test: (ctx) => {
          ctx.info(`+CGPADDR: (${this.sorted()
            .map((c) => c.cid)
            .join(',')})`);
          ctx.ok();
        },
        set: (ctx, [cid]) => {
          const c = this.contexts.get(cid);
          if (!c) return ctx.cme(CmeCode.operationFailed);
          ctx.info(c.cgpaddrLine());
          ctx.ok();
        },
        exec: (ctx) => {
          for (const c of this.sorted()) ctx.info(c.cgpaddrLine());
          ctx.ok();
        },
      }),
      {
        name: '+CIPSHUT',
        summary: 'Close every IP connection; TCPIP state back to IP INITIAL; answers SHUT OK',
        source: 'M p.173; behaviour §9',
        latency: 'cipshut',
        test: [],
        exec: (ctx) => {
          if (this.tcpipState !== 'IP INITIAL') this.trace('tcpip', this.tcpipState, 'IP INITIAL');
          this.tcpipState = 'IP INITIAL';
          this.notify(this.shutListeners, 'shut');
          this.checkReady();
          ctx.final({ kind: 'text', text: env.profile.spellings.shutOk });
        },
      },
      {
        name: '+CIPSTATUS',
        summary: 'TCPIP state: OK, then STATE: <state>',
        source: 'M p.156',
        test: [],
        exec: (ctx) => {
          const state = this.tcpipState === 'PDP DEACT' ? this.tcpipState : (this.linkState?.() ?? this.tcpipState);
          ctx.ok();
          env.host.urc(`STATE: ${state}`);
        },
      },
    ];
  }

  /** AT+CGACT=1[,cid]: attach if needed, then activate after the profile's latency. */
  private activateFor(ctx: CommandContext, cid: number | undefined): void {
    this.autoAttach = true;
    this.whenAttached((ok) => {
      if (!ok) return ctx.cme(CmeCode.noNetworkService);
      const todo = (cid !== undefined ? [cid] : this.sorted().map((c) => c.cid)).filter((c) => !this.contexts.get(c)?.active);
      if (todo.length === 0) return ctx.ok();
      this.timers.after(
        this.env.latency('cgact'),
        () => {
          if (!this.attached) return ctx.cme(CmeCode.operationFailed);
          this.activate(todo);
          ctx.ok();
        },
        'cgact-activate',
      );
    });
  }
}

export const pdpGroup: CommandGroup<PdpService> = {
  name: 'pdp',
  manual: ['+CGATT', '+CGDCONT', '+CGACT', '+CGPADDR', '+CIPSHUT', '+CIPSTATUS', '+CIPMUX'],
  needs: ['radio'],
  create: ({ env, ports }) => {
    const s = new PdpService(env, ports.need('radio', 'pdp'));
    ports.provide('bearer', s);
    return s;
  },
};
