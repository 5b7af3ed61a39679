/**
 * Scenario files: YAML (the `yaml` package) → a validated `Scenario`. Every mistake is reported
 * with the file, the step number and its line, and unknown keys are errors, so a typo never
 * turns into a step that silently checks nothing.
 */
import { deliveryRuleOf } from '../sms/center.js';
import { readFileSync } from 'node:fs';
import { isSeq, LineCounter, parseDocument } from 'yaml';
import type { Ns } from '../kernel.js';
import { profiles } from '../profiles/index.js';
import { ByteError, bytesOf, latin1Bytes } from './bytes.js';
import { parseDuration } from './duration.js';
import { isSpecObject, SpecPlace } from '../spec-place.js';
import { FaultSpecError, parseFault, type Fault } from '../faults/spec.js';
import { parseTrigger, type FaultTrigger } from '../faults/trigger-spec.js';
import {
  BrokerSpec,
  DEFAULTS,
  FarSubscription,
  OutputExpect,
  PayloadExpect,
  Scenario,
  Step,
  StepAction,
  UNTIL_STATES,
  UntilState,
} from './types.js';

export class ScenarioError extends Error {}

const isObj = isSpecObject;

/** Where a problem is: prefixes every message. */
class Place extends SpecPlace {
  constructor(text: string) {
    super(text, (m) => new ScenarioError(m));
  }
  duration(v: unknown, what: string): Ns {
    const ns = parseDuration(v);
    if (ns === undefined) this.fail(`${what}: ${JSON.stringify(v)} is not a duration (250ms, 5s, 2min, 1h, or seconds)`);
    return ns;
  }
  bytes(v: unknown, what: string): Buffer {
    try {
      return bytesOf(v, what);
    } catch (err) {
      if (err instanceof ByteError) this.fail(err.message);
      throw err;
    }
  }
  latin1(v: string, what: string): string {
    try {
      latin1Bytes(v, what);
    } catch (err) {
      if (err instanceof ByteError) this.fail(err.message);
      throw err;
    }
    return v;
  }
  regex(v: unknown, what: string): string {
    const source = this.string(v, what);
    try {
      new RegExp(source);
    } catch (err) {
      this.fail(`${what}: ${(err as Error).message}`);
    }
    return source;
  }
}

/** Read and validate a scenario file. */
export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`${path}: ${(err as Error).message}`);
  }
  return loadScenario(text, path);
}

/** Validate scenario YAML text; `source` names it in messages. */
export function loadScenario(text: string, source = 'scenario'): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = e.linePos?.[0];
    const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ScenarioError(`${source}${at ? `:${at.line}` : ''}: ${msg}`);
  }
  const stepsNode = doc.get('steps', true);
  const stepLines: Array<number | undefined> = [];
  if (isSeq(stepsNode)) {
    for (const item of stepsNode.items) {
      const range = (item as { range?: [number, number, number] } | null)?.range;
      stepLines.push(range ? lines.linePos(range[0]).line : undefined);
    }
  }
  return scenarioFromObject(doc.toJS() as unknown, { source, stepLines });
}

const TOP_KEYS = ['name', 'description', 'driver', 'profile', 'seed', 'start', 'broker', 'far', 'steps'] as const;

/** Validate a scenario given as plain data (what the YAML parses to). */
export function scenarioFromObject(data: unknown, opts: { source?: string; stepLines?: Array<number | undefined> } = {}): Scenario {
  const source = opts.source ?? 'scenario';
  const top: Place = new Place(source);
  if (!isObj(data)) top.fail('a scenario is a mapping with name, steps, …');
  top.keys(data, TOP_KEYS);
  if (typeof data.name !== 'string' || data.name.trim() === '') top.fail('"name" is required (a string)');
  const scenario: Scenario = { name: data.name, start: 'ready', broker: {}, steps: [], source };
  if (data.description !== undefined) scenario.description = top.string(data.description, 'description');
  if (data.driver !== undefined) {
    if (data.driver !== 'external' && data.driver !== 'script') top.fail('driver must be "script" (the steps are the host) or "external" (your driver is)');
    if (data.driver === 'external') {
      scenario.driver = 'external';
      // the driver decides when it is ready; the timeline starts where it is called
      scenario.start = 'power-on';
    }
  }
  if (data.profile !== undefined) {
    const p = top.string(data.profile, 'profile');
    if (!(p in profiles)) top.fail(`profile "${p}" is not one of ${Object.keys(profiles).join(', ')}`);
    scenario.profile = p;
  }
  if (data.seed !== undefined) scenario.seed = top.int(data.seed, 'seed', 0, 2 ** 31 - 1);
  if (data.start !== undefined) {
    if (data.start !== 'ready' && data.start !== 'power-on') top.fail('start must be "ready" or "power-on"');
    scenario.start = data.start;
  }
  if (data.broker !== undefined && data.broker !== null) scenario.broker = brokerSpec(data.broker, new Place(`${source}: broker`));
  if (data.far !== undefined && data.far !== null) scenario.far = farSpec(data.far, new Place(`${source}: far`));
  if (!Array.isArray(data.steps) || data.steps.length === 0) top.fail('"steps" is required (a non-empty list)');
  data.steps.forEach((raw: unknown, i: number) => {
    const line = opts.stepLines?.[i];
    const place = new Place(`${source}: step ${i + 1}${line !== undefined ? ` (line ${line})` : ''}`);
    const step: Step = { ...stepAction(raw, place, scenario.driver === 'external'), index: i + 1 };
    if (line !== undefined) step.line = line;
    scenario.steps.push(step);
  });
  return scenario;
}

function brokerSpec(v: unknown, place: Place): BrokerSpec {
  if (!isObj(v)) place.fail('expected a mapping (connectTimeout, auth)');
  place.keys(v, ['connectTimeout', 'auth']);
  const spec: BrokerSpec = {};
  if (v.connectTimeout !== undefined) spec.connectTimeout = place.duration(v.connectTimeout, 'connectTimeout');
  if (v.auth !== undefined) {
    if (!isObj(v.auth)) place.fail('auth wants {username, password}');
    place.keys(v.auth, ['username', 'password']);
    spec.auth = { username: place.string(v.auth.username, 'auth.username'), password: place.string(v.auth.password ?? '', 'auth.password') };
  }
  return spec;
}

function qosOf(v: unknown, place: Place, what: string): 0 | 1 | 2 {
  return (v === undefined ? 0 : place.int(v, what, 0, 2)) as 0 | 1 | 2;
}

function farSpec(v: unknown, place: Place): { subscribe: FarSubscription[] } {
  if (!isObj(v)) place.fail('expected a mapping with "subscribe"');
  place.keys(v, ['subscribe']);
  const list = v.subscribe === undefined ? [] : Array.isArray(v.subscribe) ? v.subscribe : [v.subscribe];
  const subscribe = list.map((s: unknown): FarSubscription => {
    if (typeof s === 'string') return { topic: s, qos: 1 };
    if (!isObj(s)) place.fail('subscribe wants topics or {topic, qos}');
    place.keys(s, ['topic', 'qos']);
    return { topic: place.string(s.topic, 'subscribe.topic'), qos: s.qos === undefined ? 1 : qosOf(s.qos, place, 'subscribe.qos') };
  });
  return { subscribe };
}

const ACTIONS = ['send', 'raw', 'expect', 'wait', 'until', 'fault', 'far', 'note', 'expectOutput'] as const;
type Action = (typeof ACTIONS)[number];
/** A scripted scenario's steps are the host; an external driver's timeline only watches and injects. */
const SCRIPT_ACTIONS: readonly Action[] = ['send', 'raw', 'expect', 'wait', 'until', 'fault', 'far', 'note'];
const EXTERNAL_ACTIONS: readonly Action[] = ['wait', 'until', 'fault', 'far', 'note', 'expectOutput'];
const MODIFIERS: Readonly<Record<string, readonly string[]>> = {
  send: ['expect', 'within'],
  raw: ['expect', 'within'],
  expect: ['within'],
  expectOutput: ['within'],
  wait: ['silent'],
  until: ['within'],
  fault: ['on'],
  far: [],
  note: [],
};

function stepAction(raw: unknown, place: Place, external: boolean): StepAction {
  const allowed = external ? EXTERNAL_ACTIONS : SCRIPT_ACTIONS;
  if (!isObj(raw)) place.fail(`a step is a mapping with one of ${allowed.join(', ')}`);
  const action = 'send' in raw ? 'send' : 'raw' in raw ? 'raw' : ACTIONS.find((a) => a in raw);
  if (action === undefined) place.fail(`no action: expected one of ${allowed.join(', ')}`);
  if (!allowed.includes(action)) {
    place.fail(
      external
        ? `${action} is the host's, and with driver: external your driver is the host (use expectOutput for what the modem prints)`
        : 'expectOutput is for driver: external timelines (the script checks output with send/expect)',
    );
  }
  place.keys(raw, [action, ...MODIFIERS[action]!]);
  const within = (dflt: Ns): Ns => (raw.within === undefined ? dflt : place.duration(raw.within, 'within'));
  switch (action) {
    case 'send': {
      const command = place.latin1(place.string(raw.send, 'send'), 'send');
      const s: StepAction = { kind: 'send', command, within: within(DEFAULTS.sendWithin) };
      if (raw.expect !== undefined) s.expect = outputExpect(raw.expect, place);
      return s;
    }
    case 'raw': {
      const s: StepAction = { kind: 'raw', bytes: place.bytes(raw.raw, 'raw'), within: within(DEFAULTS.sendWithin) };
      if (raw.expect !== undefined) s.expect = outputExpect(raw.expect, place);
      return s;
    }
    case 'expect':
      return { kind: 'expect', expect: outputExpect(raw.expect, place), within: within(DEFAULTS.urcWithin) };
    case 'wait':
      if (raw.silent !== undefined && typeof raw.silent !== 'boolean') place.fail('silent must be true or false');
      return { kind: 'wait', ns: place.duration(raw.wait, 'wait'), silent: raw.silent === true };
    case 'until': {
      const state = place.string(raw.until, 'until');
      if (!UNTIL_STATES.includes(state as UntilState)) place.fail(`until: "${state}" is not one of ${UNTIL_STATES.join(', ')}`);
      return { kind: 'until', state: state as UntilState, within: within(DEFAULTS.untilWithin) };
    }
    case 'fault':
      return raw.on === undefined ? { kind: 'fault', fault: fault(raw.fault, place) } : { kind: 'fault', fault: fault(raw.fault, place), on: trigger(raw.on, place) };
    case 'far':
      return farStep(raw.far, place);
    case 'note':
      return { kind: 'note', text: place.string(raw.note, 'note') };
    case 'expectOutput': {
      // a bare string is the regex itself; {regex: …} reads as it does elsewhere
      let v = raw.expectOutput;
      if (isObj(v)) {
        place.keys(v, ['regex']);
        v = v.regex;
      }
      return { kind: 'expectOutput', source: place.regex(v, 'expectOutput'), within: within(DEFAULTS.urcWithin) };
    }
  }
}

/** String with a CR: exact bytes; other string: one line; list: lines; {regex}. */
function outputExpect(v: unknown, place: Place): OutputExpect {
  if (typeof v === 'string' || typeof v === 'number') {
    const s = place.latin1(String(v), 'expect');
    return s.includes('\r') ? { kind: 'exact', text: s } : { kind: 'lines', lines: [s] };
  }
  if (Array.isArray(v)) {
    if (v.length === 0) place.fail('expect: an empty list expects nothing; leave expect out instead');
    return { kind: 'lines', lines: v.map((l: unknown) => place.latin1(place.string(l, 'expect line'), 'expect line')) };
  }
  if (isObj(v)) {
    place.keys(v, ['regex']);
    return { kind: 'regex', source: place.regex(v.regex, 'expect.regex') };
  }
  return place.fail('expect wants a string, a list of lines or {regex: …}');
}

/** The fault parser's errors, as a scenario error of this step. */
function fault(v: unknown, place: Place): Fault {
  try {
    return parseFault(v, place.text);
  } catch (err) {
    if (err instanceof FaultSpecError) throw new ScenarioError(err.message);
    throw err;
  }
}

function trigger(v: unknown, place: Place): FaultTrigger {
  try {
    return parseTrigger(v, place.text);
  } catch (err) {
    if (err instanceof FaultSpecError) throw new ScenarioError(err.message);
    throw err;
  }
}

function farStep(v: unknown, place: Place): StepAction {
  if (!isObj(v) || Object.keys(v).length !== 1 || !('publish' in v || 'expect' in v || 'sms' in v || 'expectSms' in v || 'smsReports' in v)) {
    place.fail('far wants {publish: {topic, payload, qos, retain}}, {expect: {topic, payload, within}}, {sms: {from, text}}, {expectSms: {to, text, within}} or {smsReports: {to, status}}');
  }
  if ('smsReports' in v) {
    const rule = deliveryRuleOf(v.smsReports);
    if ('error' in rule) return new Place(`${place.text}: far smsReports`).fail(rule.error);
    return { kind: 'farSmsReports', to: rule.to, status: rule.status };
  }
  if ('sms' in v) {
    const p = v.sms;
    const sp: Place = new Place(`${place.text}: far sms`);
    if (!isObj(p)) sp.fail('expected {from, text}');
    sp.keys(p, ['from', 'text']);
    return { kind: 'farSms', from: sp.string(p.from, 'from'), text: sp.string(p.text, 'text') };
  }
  if ('expectSms' in v) {
    const e = v.expectSms;
    const sp: Place = new Place(`${place.text}: far expectSms`);
    if (!isObj(e)) sp.fail('expected {to, text, within}');
    sp.keys(e, ['to', 'text', 'within']);
    const step: StepAction = { kind: 'farExpectSms', within: e.within === undefined ? DEFAULTS.farWithin : sp.duration(e.within, 'within') };
    if (e.to !== undefined) step.to = sp.string(e.to, 'to');
    if (e.text !== undefined) {
      if (isObj(e.text) && 'regex' in e.text) {
        sp.keys(e.text, ['regex']);
        step.text = { kind: 'regex', source: sp.regex(e.text.regex, 'text.regex') };
      } else step.text = { kind: 'bytes', bytes: Buffer.from(sp.string(e.text, 'text'), 'utf8') };
    }
    return step;
  }
  if ('publish' in v) {
    const p = v.publish;
    const pp: Place = new Place(`${place.text}: far publish`);
    if (!isObj(p)) pp.fail('expected {topic, payload, qos, retain}');
    pp.keys(p, ['topic', 'payload', 'qos', 'retain']);
    if (p.retain !== undefined && typeof p.retain !== 'boolean') pp.fail('retain must be true or false');
    return {
      kind: 'farPublish',
      topic: pp.string(p.topic, 'topic'),
      payload: p.payload === undefined ? Buffer.alloc(0) : pp.bytes(p.payload, 'payload'),
      qos: qosOf(p.qos, pp, 'qos'),
      retain: p.retain === true,
    };
  }
  const e = v.expect;
  const ep: Place = new Place(`${place.text}: far expect`);
  if (!isObj(e)) ep.fail('expected {topic, payload, within}');
  ep.keys(e, ['topic', 'payload', 'within']);
  const step: StepAction = {
    kind: 'farExpect',
    topic: ep.string(e.topic, 'topic'),
    within: e.within === undefined ? DEFAULTS.farWithin : ep.duration(e.within, 'within'),
  };
  if (e.payload !== undefined) {
    let payload: PayloadExpect;
    if (isObj(e.payload) && 'regex' in e.payload) {
      ep.keys(e.payload, ['regex']);
      payload = { kind: 'regex', source: ep.regex(e.payload.regex, 'payload.regex') };
    } else payload = { kind: 'bytes', bytes: ep.bytes(e.payload, 'payload') };
    step.payload = payload;
  }
  return step;
}
