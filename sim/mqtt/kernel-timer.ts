/**
 * The `mqtt` client's interval timer (its `timerVariant` option) on the kernel clock, so the
 * keepalive PINGREQ schedule runs in model time: a minute of keepalive costs nothing in
 * virtual time and follows the wall in real time, exactly like every other model timer.
 * One instance per MQTT session: `stop()` silences a session the model has let go of, even if
 * the library tries to re-arm its timer afterwards.
 */
import type { Timer } from 'mqtt';
import { Kernel, ms, Ns, TimerHandle } from '../kernel.js';

export class KernelTimer implements Timer {
  private nextId = 1;
  private readonly live = new Map<number, TimerHandle>();
  private stopped = false;

  /**
   * `now` matters in real time: the library re-arms its timer from socket callbacks, outside
   * any kernel event, when the kernel's clock may still stand at its last event.
   */
  constructor(
    private readonly kernel: Kernel,
    private readonly now: () => Ns = () => kernel.now,
    private readonly label = 'mqtt-keepalive',
  ) {}

  /** setInterval semantics: `fn` runs every `delayMs` of model time until cleared. */
  readonly set = (fn: () => void, delayMs?: number): number => {
    const id = this.nextId++;
    if (this.stopped) return id;
    const period = Math.max(1, ms(delayMs ?? 0));
    const tick = (): void => {
      if (this.stopped) return;
      // re-arm first: the callback may clear this very interval
      this.live.set(id, this.kernel.after(period, tick, this.label));
      fn();
    };
    this.live.set(id, this.kernel.at(this.now() + period, tick, this.label));
    return id;
  };

  readonly clear = (id: number): void => {
    this.live.get(id)?.cancel();
    this.live.delete(id);
  };

  /** Cancel every interval and refuse new ones. */
  stop(): void {
    this.stopped = true;
    for (const h of this.live.values()) h.cancel();
    this.live.clear();
  }

  get active(): number {
    return this.live.size;
  }
}
