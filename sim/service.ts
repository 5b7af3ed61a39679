import type { CommandSpec } from './commands.js';
import { Kernel, Ns, Priority, TimerHandle } from './kernel.js';

/** One command group's state and behaviour (system, network, pdp, mqtt, ssl, fs). */
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
