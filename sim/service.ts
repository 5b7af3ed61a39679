/**
 * What a command group is and what it may see. A group module exports one `CommandGroup`: its
 * name, the manual commands it covers and a factory. The factory gets the model's environment
 * (clock, trace, log, profile, latency draws, output to the host, line settings) and the ports
 * of the peers it declared it needs — never the whole modem (the shape of Cuttlefish
 * modem_simulator's SetupDependency). The registry (groups.ts) builds the modem and the docs.
 */
import type { ClockDriver } from './clock.js';
import type { CommandSpec } from './commands.js';
import { Kernel, Ns, Priority, TimerHandle } from './kernel.js';
import type { Logger } from './log.js';
import type { PortName, Ports } from './ports.js';
import type { Latency, LatencyKey, Profile } from './profile.js';
import type { Trace } from './trace.js';
import type { LineSettings } from '../protocol/format.js';

/** One command group's state and behaviour (system, network, pdp, mqtt, ssl, fs …). */
export interface Service {
  readonly name: string;
  readonly commands: readonly CommandSpec[];
  /** Power-on, first boot and every reboot: start from the module's RAM defaults. */
  powerOn(): void;
  /** Power-off before a reboot: stop timers, drop links, forget RAM state. */
  powerOff(): void;
  /** Simulator shutdown: release host resources (sockets, files). */
  close?(): Promise<void>;
}

/** Output towards the host: URCs are held while a command line runs, then printed in order. */
export interface HostOutput {
  urc(text: string): void;
  /** An unsolicited line whose tail is raw bytes (the payload of +MSUB). */
  urcWithPayload(head: string, payload: Uint8Array): void;
  /** Bytes outside any command (boot lines). */
  sendRaw(bytes: Uint8Array): void;
  /** Run `fn` once the running command line has its final result (at once when none runs). */
  afterLine(fn: () => void): void;
  /** Bytes of output not yet on the wire (UART FIFO plus held URCs). */
  readonly outputBacklog: number;
  readonly heldUrcCount: number;
}

export type { LineSettings } from '../protocol/format.js';

/** The line settings, changed only through here (the engine implements it). */
export interface LineControl {
  readonly settings: Readonly<LineSettings>;
  /** Change some settings; the line assembler follows at once. */
  update(patch: Partial<LineSettings>): void;
  /** ATZ, AT&F and reboot: the profile's defaults overlaid with `saved` (AT&W). */
  restore(saved: Partial<LineSettings>): void;
}

/** What every group gets from the model. */
export interface ServiceEnv {
  readonly kernel: Kernel;
  readonly clock: ClockDriver;
  readonly trace: Trace;
  readonly log: Logger;
  readonly profile: Profile;
  /** A draw of the profile's latency for `key` (seeded, per-key stream). */
  latency(key: LatencyKey): Ns;
  /** A draw of any latency value, on the stream named `stream`. */
  draw(l: Latency, stream: string): Ns;
  /** Model time now, also when called outside a kernel event (real time: the wall). */
  now(): Ns;
  readonly host: HostOutput;
  readonly line: LineControl;
  /** Host folder of the flash image and saved settings; undefined = memory only. */
  readonly dataDir: string | undefined;
}

/** What a group's factory gets: the environment, and the ports it may ask for and offer. */
export interface GroupContext {
  readonly env: ServiceEnv;
  readonly ports: Ports;
}

/**
 * A command group as registered: adding one is a new file exporting this, and one line in
 * groups.ts (or `createModem({ groups })` for a group of the user's own).
 */
export interface CommandGroup<S extends Service = Service> {
  readonly name: string;
  /** The manual's commands this group is meant to cover (the coverage report counts them). */
  readonly manual: readonly string[];
  /** Ports of peers it reads, provided by groups earlier in the registry (checked at build). */
  readonly needs?: readonly PortName[];
  create(ctx: GroupContext): S;
}

/** Timers a service owns, cancelled together at power-off. */
export class TimerSet {
  private readonly live = new Set<TimerHandle>();
  constructor(private readonly kernel: Kernel) {}

  after(delay: Ns, fn: () => void, label: string, priority: number = Priority.normal): TimerHandle {
    const h = this.kernel.after(
      delay,
      () => {
        this.live.delete(h);
        fn();
      },
      label,
      priority,
    );
    this.live.add(h);
    return h;
  }

  cancel(h: TimerHandle | undefined): void {
    if (!h) return;
    h.cancel();
    this.live.delete(h);
  }

  cancelAll(): void {
    for (const h of this.live) h.cancel();
    this.live.clear();
  }
}
