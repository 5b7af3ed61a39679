/**
 * The line faults that act on the module's UART directly: a freeze (the firmware hangs: input
 * lost, output held) and noise (garbage into its RX and/or out to the host; or, for a window,
 * each byte crossing the line corrupted with a chance).
 */
import type { Kernel, Ns, TimerHandle } from '../kernel.js';
import type { Trace } from '../trace.js';
import type { Fault, NoiseDirection } from './spec.js';

/** What the line faults act on (a Modem is one). */
export interface LineFaultTarget {
  readonly kernel: Pick<Kernel, 'now' | 'after' | 'prng'>;
  readonly trace: Pick<Trace, 'record'>;
  readonly uart: { txPaused: boolean; receive(bytes: Uint8Array): void; send(frame: Uint8Array): void };
}

export class Freeze {
  /** A freeze in progress: its end, the timer that ends it, and the output hold it found. */
  private freezing: { until: Ns; timer: TimerHandle; wasPaused: boolean } | undefined;

  constructor(private readonly m: LineFaultTarget) {}

  get running(): boolean {
    return this.freezing !== undefined;
  }

  start(forNs: Ns): void {
    const m = this.m;
    const until = m.kernel.now + forNs;
    const running = this.freezing;
    // overlapping freezes: the module resumes when the later one ends
    if (running !== undefined && running.until >= until) return;
    running?.timer.cancel();
    const wasPaused = running?.wasPaused ?? m.uart.txPaused;
    m.uart.txPaused = true;
    this.freezing = { until, wasPaused, timer: m.kernel.after(forNs, () => this.end(), 'fault:freeze-over') };
  }

  /** The module carries on (its time ran out, or the power went: a hung firmware does not outlive it). */
  end(): void {
    const running = this.freezing;
    if (running === undefined) return;
    this.freezing = undefined;
    running.timer.cancel();
    const m = this.m;
    m.trace.record({ t: m.kernel.now, ev: 'fault', what: 'freeze-over', detail: {} });
    // what flow control held before the freeze stays held
    m.uart.txPaused = running.wasPaused;
  }
}

/**
 * Seeded streams of their own, so a replay that feeds the RX part from the trace (`rxFromTrace`)
 * draws the same toHost bytes.
 */
export function injectNoise(m: LineFaultTarget, f: Extract<Fault, { kind: 'noise' }>, rxFromTrace: boolean): void {
  const rx: number[] = [];
  if (f.burst !== undefined) for (let i = 0; i < f.burst.length; i += 2) rx.push(parseInt(f.burst.slice(i, i + 2), 16));
  if (f.bytes !== undefined) {
    const s = m.kernel.prng.stream('fault:noise:rx');
    for (let i = 0; i < f.bytes; i++) rx.push(s.int(0, 255));
  }
  if (rx.length > 0 && !rxFromTrace) m.uart.receive(Uint8Array.from(rx));
  if (f.toHost !== undefined) {
    const s = m.kernel.prng.stream('fault:noise:host');
    const out = new Uint8Array(f.toHost);
    for (let i = 0; i < out.length; i++) out[i] = s.int(0, 255);
    m.uart.send(out);
  }
}

/** What a noisy line acts on: the UART's corruption hooks (a Uart has them). */
export interface NoisyUart {
  rxCorrupt: ((b: number) => number) | undefined;
  txCorrupt: ((b: number) => number) | undefined;
}

/**
 * A noisy line for a window: each byte crossing it, in the directions asked, has one bit
 * flipped with chance `rate` (seeded, a stream per direction). A replay that feeds the RX from
 * the trace (`rxFromTrace`) gets the corrupted bytes there already, so only the host's side is
 * corrupted again; its stream is its own, so it draws as the recording did.
 */
export function corruptLine(m: Pick<LineFaultTarget, 'kernel'>, uart: NoisyUart, rate: number, dir: NoiseDirection, rxFromTrace: boolean): void {
  const corrupter = (stream: string): ((b: number) => number) => {
    const s = m.kernel.prng.stream(stream);
    return (b) => (s.next() < rate ? b ^ (1 << s.int(0, 7)) : b);
  };
  uart.rxCorrupt = dir !== 'tx' && !rxFromTrace ? corrupter('fault:noise:line-rx') : undefined;
  uart.txCorrupt = dir !== 'rx' ? corrupter('fault:noise:line-tx') : undefined;
}
