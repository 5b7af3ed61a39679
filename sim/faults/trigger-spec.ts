/**
 * When an armed fault fires: on the host's command, on a URC the module prints, or on a state
 * change the model traces. The one parser of the written form (`on: {…}` in a scenario, in a
 * control request, the object `modem.faults.on` takes); scenarios/README.md documents it.
 */
import { At, describeFault, type Fault } from './spec.js';
import { isSpecObject } from '../spec-place.js';

/** The value of a state record's `to`, as a trigger names it (compared as text: `1`, `true`, `session`). */
export type StateValue = string | number | boolean;

/** When an armed fault fires: the `nth` (from 1, default 1) matching event counted from arming. */
export type FaultTrigger =
  /** A command line the host completes: `+MPUB` matches `AT+MPUB=…` and `at+mpub?`, not `AT+MPUBEX=…` (any case). */
  | { command: string; nth?: number }
  /** A URC the module prints whose text begins with `urc`, as printed (`CONNACK OK`, `+MSUB:`). */
  | { urc: string; nth?: number }
  /** A `state` trace record of `what` = `state` (`mqtt-link`, `network.stat`), with `to` = `to` when given. */
  | { state: string; to?: StateValue; nth?: number };

const TRIGGER_KEYS = ['command', 'urc', 'state', 'to', 'nth'];
const MAX_NTH = 1_000_000;

/** Parse `{command: "+MPUB", nth: 2}`, `{urc: "CONNACK OK"}` or `{state: "mqtt-link", to: session}` (nth default 1). */
export function parseTrigger(value: unknown, where: string): FaultTrigger & { nth: number } {
  const at = new At(`${where}: on`);
  if (!isSpecObject(value)) return at.fail('on wants {command: "+MPUB"}, {urc: "CONNACK OK"} or {state: "mqtt-link", to: "session"}, each with nth (default 1)');
  at.keys(value, TRIGGER_KEYS);
  const given = ['command', 'urc', 'state'].filter((k) => value[k] !== undefined);
  if (given.length !== 1) at.fail(`give one of command (e.g. "+MPUB"), urc (e.g. "CONNACK OK") or state (e.g. "mqtt-link"), got ${given.length === 0 ? 'none' : given.join(' and ')}`);
  const nth = value.nth === undefined ? 1 : at.int(value.nth, 'nth', 1, MAX_NTH);
  if (value.to !== undefined && value.state === undefined) at.fail('to goes with state');
  if (value.command !== undefined) {
    const command = at.string(value.command, 'command');
    if (!/^[+&]?[A-Za-z0-9]+$/.test(command)) at.fail('command must be a command name such as "+MPUB" or "+CSQ"');
    return { command, nth };
  }
  if (value.urc !== undefined) {
    const urc = at.string(value.urc, 'urc');
    // a URC is one line: a pattern with a line end in it could never match
    if (urc === '' || /[\r\n]/.test(urc)) at.fail('urc must be the start of a URC line, such as "CONNACK OK" or "+MSUB:" (not empty, no CR or LF)');
    return { urc, nth };
  }
  const state = at.string(value.state, 'state');
  if (!/^[A-Za-z][\w-]*(\.[\w-]+)*$/.test(state)) at.fail('state must be the name of a state record, such as "mqtt-link", "network.stat" or "pdp.attached"');
  const to = value.to;
  if (to === undefined) return { state, nth };
  if (typeof to !== 'string' && typeof to !== 'number' && typeof to !== 'boolean') return at.fail('to must be a string, a number or true/false');
  return { state, to, nth };
}

/** Whether a command line completes the trigger's command (false for the other kinds). */
export function lineMatches(t: FaultTrigger, line: string): boolean {
  if (!('command' in t)) return false;
  const head = `AT${t.command}`.toUpperCase();
  if (line.length < head.length || line.slice(0, head.length).toUpperCase() !== head) return false;
  // the name ends there: +MPUB is not +MPUBEX
  return !/[A-Za-z0-9]/.test(line.charAt(head.length));
}

/** Whether a URC the module prints (its trace text) fires the trigger. */
export function urcMatches(t: FaultTrigger, text: string): boolean {
  return 'urc' in t && text.startsWith(t.urc);
}

/** Whether a state record (`what`, `to`) fires the trigger. */
export function stateMatches(t: FaultTrigger, what: string, to: unknown): boolean {
  if (!('state' in t) || t.state !== what) return false;
  return t.to === undefined || String(t.to) === String(to);
}

/** How a trigger reads in a transcript and a control reply: `AT+MPUB #2`, `URC "CONNACK OK" #1`. */
export function describeTrigger(t: FaultTrigger): string {
  const n = `#${t.nth ?? 1}`;
  if ('command' in t) return `AT${t.command} ${n}`;
  if ('urc' in t) return `URC ${JSON.stringify(t.urc)} ${n}`;
  return `state ${t.state}${t.to === undefined ? '' : ` → ${String(t.to)}`} ${n}`;
}

/** How an armed fault reads in a control reply: `powerLoss, on URC "CONNACK OK" #1`. */
export function describeArmed(trigger: FaultTrigger, fault: Fault): string {
  return `${describeFault(fault)}, on ${describeTrigger(trigger)}`;
}
