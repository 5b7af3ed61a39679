/**
 * Armed faults waiting for their trigger: the host completing a command line (the engine's
 * onLine, before the line queues), the module emitting a URC (its `urc` trace record, as the
 * URC is queued for the host or held behind a running command), or the model changing a state
 * (a `state` trace record). Each counts its matches from arming and fires on the `nth`, in the
 * model event that made the match; what it fires enters model time from there (sim/faults).
 *
 * URC and state triggers listen to the trace only while one is armed: a modem nobody arms keeps
 * an untraced run as cheap as before.
 */
import type { Trace, TraceRecord } from '../trace.js';
import { type FaultTrigger, lineMatches, stateMatches, urcMatches } from './trigger-spec.js';

/** Where triggers look (a Modem is one). */
export interface TriggerSource {
  readonly engine: { onLine: ((text: string) => void) | undefined };
  readonly trace: Pick<Trace, 'onRecord'>;
}

interface Armed {
  trigger: FaultTrigger;
  left: number;
  fire: () => void;
}

export class FaultTriggers {
  private armed: Armed[] = [];
  private unlisten: (() => void) | undefined;

  constructor(private readonly src: TriggerSource) {}

  /** Call `fire` once, on the trigger's nth match from now; returns how to disarm it. */
  arm(trigger: FaultTrigger, fire: () => void): () => void {
    const entry: Armed = { trigger, left: trigger.nth ?? 1, fire };
    this.armed.push(entry);
    if ('command' in trigger) this.src.engine.onLine ??= (text) => this.saw((t) => lineMatches(t, text));
    else this.unlisten ??= this.src.trace.onRecord((r) => this.sawRecord(r));
    return () => this.drop(entry);
  }

  /** Armed and not fired yet. */
  get count(): number {
    return this.armed.length;
  }

  private sawRecord(r: TraceRecord): void {
    if (r.ev === 'urc') this.saw((t) => urcMatches(t, r.text));
    else if (r.ev === 'state') this.saw((t) => stateMatches(t, r.what, r.to));
  }

  private saw(matches: (t: FaultTrigger) => boolean): void {
    // a fired fault may arm or disarm others: walk a copy
    for (const a of [...this.armed]) {
      if (!this.armed.includes(a) || !matches(a.trigger) || --a.left > 0) continue;
      this.drop(a);
      a.fire();
    }
  }

  private drop(a: Armed): void {
    this.armed = this.armed.filter((x) => x !== a);
    if (this.unlisten !== undefined && !this.armed.some((x) => !('command' in x.trigger))) {
      this.unlisten();
      this.unlisten = undefined;
    }
  }
}
