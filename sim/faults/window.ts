/**
 * A fault that lasts (slow, uartFragment, brokerSlow): it opens for `for` of model time; a new
 * one of its kind replaces the running one, whose end then never comes. The end may be traced
 * as a `<kind>-over` fault record (a replay makes it again from the fault's own record).
 */
import type { Kernel, Ns, TimerHandle } from '../kernel.js';
import type { Trace } from '../trace.js';

export class FaultWindow {
  private timer: TimerHandle | undefined;

  constructor(
    private readonly kernel: Pick<Kernel, 'now' | 'after'>,
    private readonly trace: Pick<Trace, 'record'>,
    private readonly kind: string,
    /** Undoes the fault. */
    private readonly end: () => void,
    /** Whether the end is traced (slow's never was: its traces stay as they were). */
    private readonly traced: boolean,
  ) {}

  /** The fault took effect now; it ends `forNs` later unless replaced. */
  open(forNs: Ns): void {
    this.timer?.cancel();
    this.timer = this.kernel.after(forNs, () => this.close(), `fault:${this.kind}-over`);
  }

  private close(): void {
    this.timer = undefined;
    if (this.traced) this.trace.record({ t: this.kernel.now, ev: 'fault', what: `${this.kind}-over`, detail: {} });
    this.end();
  }
}
