/**
 * A scenario as the runner sees it, after loading and validation (load.ts turns the YAML into
 * this; scenarios/README.md documents the YAML). Times are model nanoseconds; byte strings are
 * Buffers, so payloads with any byte value round-trip.
 */
import type { Ns } from '../kernel.js';
import type { Fault } from '../faults/spec.js';
import type { FaultTrigger } from '../faults/trigger-spec.js';

// the fault API owns faults; a scenario step only carries one
export type { Fault, FaultKind } from '../faults/spec.js';

/**
 * What output must be: a command's answer (through its final result code or prompt), or the
 * unsolicited output that comes next.
 */
export type OutputExpect =
  /** Exactly these bytes (a YAML string with a CR in it); for `send`, echo included. */
  | { kind: 'exact'; text: string }
  /** Each line framed `\r\n<line>\r\n` (a last `>` is the raw-data prompt `\r\n>`), after the echo for `send`. */
  | { kind: 'lines'; lines: string[] }
  /** A match in what arrived (for a URC: consumed through the match). */
  | { kind: 'regex'; source: string };

export type PayloadExpect = { kind: 'bytes'; bytes: Buffer } | { kind: 'regex'; source: string };

export type UntilState = 'simReady' | 'registered' | 'attached' | 'dataReady';
export const UNTIL_STATES: readonly UntilState[] = ['simReady', 'registered', 'attached', 'dataReady'];

export type StepAction =
  | { kind: 'send'; command: string; expect?: OutputExpect; within: Ns }
  | { kind: 'raw'; bytes: Buffer; expect?: OutputExpect; within: Ns }
  | { kind: 'expect'; expect: OutputExpect; within: Ns }
  | { kind: 'wait'; ns: Ns; silent: boolean }
  | { kind: 'until'; state: UntilState; within: Ns }
  /** With `on`: armed now, applied when the trigger fires (a host command, a URC, a state change). */
  | { kind: 'fault'; fault: Fault; on?: FaultTrigger }
  | { kind: 'farPublish'; topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }
  | { kind: 'farExpect'; topic: string; payload?: PayloadExpect; within: Ns }
  /** An SMS to the module through the simulated SMSC. */
  | { kind: 'farSms'; from: string; text: string }
  /** The SMSC is told deliveries to `to` end in TP-ST `status` (0: delivered again). */
  | { kind: 'farSmsReports'; to: string; status: number }
  /** The next SMS the module sent: to this number, with this text (UTF-8) or a match. */
  | { kind: 'farExpectSms'; to?: string; text?: PayloadExpect; within: Ns }
  | { kind: 'note'; text: string }
  /** `driver: external`: a match for `source` in what the modem printed since the last one (or the start). */
  | { kind: 'expectOutput'; source: string; within: Ns };

export type Step = StepAction & {
  /** 1-based position in the scenario's `steps`. */
  index: number;
  /** Line in the YAML file, when loaded from text. */
  line?: number;
};

export interface BrokerSpec {
  /** The embedded broker's connect window (behaviour §13); default 5 s. */
  connectTimeout?: Ns;
  /** CONNECT with other credentials is refused. */
  auth?: { username: string; password: string };
}

export interface FarSubscription {
  topic: string;
  qos: 0 | 1 | 2;
}

export interface Scenario {
  name: string;
  description?: string;
  /**
   * `external`: no host script — the steps are a fault timeline with expectations, played by
   * runFaultTimeline() (or `serve --faults`) while the user's own driver is the host.
   */
  driver?: 'external';
  profile?: string;
  seed?: number;
  /** `ready` (default): steps start 1 s after the data bearer is up, boot lines consumed. `power-on`: at t = 0. */
  start: 'ready' | 'power-on';
  broker: BrokerSpec;
  far?: { subscribe: FarSubscription[] };
  steps: Step[];
  /** Where it was loaded from (messages). */
  source?: string;
}

export const DEFAULTS = {
  /** A command's answer; the manual's longest maximum response time is 108 s. */
  sendWithin: 120_000_000_000,
  urcWithin: 10_000_000_000,
  untilWithin: 60_000_000_000,
  farWithin: 10_000_000_000,
} as const;
