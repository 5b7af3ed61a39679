/**
 * Parameter schemas for set forms. A command declares its parameters once; this checks count,
 * type, range and quoting and returns typed values, or the reason the module would refuse.
 */
import { RawParam, splitParams } from './parse.js';

interface BaseSpec<O extends boolean> {
  name: string;
  /** Omitted trailing parameters are allowed from the first optional one on. */
  optional?: O;
}

export interface IntSpec<O extends boolean = boolean, V extends number = number> extends BaseSpec<O> {
  type: 'int';
  min: number;
  max: number;
  /** Only these values (within min..max). */
  values?: readonly V[];
}

export interface StringSpec<O extends boolean = boolean> extends BaseSpec<O> {
  type: 'string';
  maxLength: number;
  minLength?: number;
  /** `required`: must be in double quotes (MPUB message); default: quotes optional. */
  quotes?: 'required' | 'optional';
  /** Accept an empty value even when not quoted (`AT+SSLCFG="cacert",88,`). */
  allowEmpty?: boolean;
}

export type ParamSpec = IntSpec | StringSpec;

// Overloads, not a generic `optional`: a generic would be inferred from the declaration's
// context (`boolean`) and every value would turn `| undefined`.

/** An integer parameter `min..max` (the tables' shorthand). */
export function intParam(name: string, min: number, max: number): IntSpec<false>;
export function intParam(name: string, min: number, max: number, optional: true): IntSpec<true>;
export function intParam(name: string, min: number, max: number, optional = false): IntSpec {
  return { name, type: 'int', min, max, optional };
}

/** An integer parameter that takes only `values` (`AT+CFUN=<fun>`: 0, 1, 4); the handler sees their union. */
export function enumParam<const V extends number>(name: string, values: readonly V[]): IntSpec<false, V>;
export function enumParam<const V extends number>(name: string, values: readonly V[], optional: true): IntSpec<true, V>;
export function enumParam<const V extends number>(name: string, values: readonly V[], optional = false): IntSpec<boolean, V> {
  return { name, type: 'int', min: Math.min(...values), max: Math.max(...values), values, optional };
}

type StringExtra = Partial<Omit<StringSpec, 'name' | 'type' | 'maxLength' | 'optional'>>;

/** A string parameter of at most `maxLength` bytes, quotes optional unless `quotes: 'required'`. */
export function stringParam(name: string, maxLength: number, extra?: StringExtra & { optional?: false }): StringSpec<false>;
export function stringParam(name: string, maxLength: number, extra: StringExtra & { optional: true }): StringSpec<true>;
export function stringParam(name: string, maxLength: number, extra: StringExtra & { optional?: boolean } = {}): StringSpec {
  return { name, type: 'string', maxLength, ...extra, optional: extra.optional ?? false };
}

export type ParamValue = number | string | undefined;

/** The value a parameter of spec `S` has in a handler: omitted optional ones are undefined. */
export type ValueOf<S> =
  S extends IntSpec<infer O, infer V> ? (O extends true ? V | undefined : V) : S extends StringSpec<infer O> ? (O extends true ? string | undefined : string) : never;

/** The typed tuple a handler receives for a parameter schema declared `as const` (or inferred by `command`). */
export type ParamValues<P extends readonly ParamSpec[]> = { -readonly [K in keyof P]: ValueOf<P[K]> };

export type ParamsResult<P extends readonly ParamSpec[] = readonly ParamSpec[]> =
  | { ok: true; values: ParamValues<P>; raw: RawParam[] }
  | { ok: false; reason: string };

/** Check `args` against `specs`; the values come back typed by the schema they were checked against. */
export function parseParams<const P extends readonly ParamSpec[]>(specs: P, args: string): ParamsResult<P> {
  const raw = splitParams(args);
  if (!raw) return { ok: false, reason: 'malformed quoting' };
  if (raw.length > specs.length) return { ok: false, reason: 'too many parameters' };
  const values: ParamValue[] = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const p = raw[i];
    if (!p) {
      if (!spec.optional) return { ok: false, reason: `missing ${spec.name}` };
      values.push(undefined);
      continue;
    }
    const v = checkOne(spec, p);
    if (typeof v === 'object') return { ok: false, reason: v.reason };
    values.push(v);
  }
  // each value was checked against the spec at its position just above: the tuple type holds
  return { ok: true, values: values as ParamValues<P>, raw };
}

function checkOne(spec: ParamSpec, p: RawParam): ParamValue | { reason: string } {
  if (spec.type === 'int') {
    if (p.text === '' && spec.optional) return undefined;
    if (!/^\d+$/.test(p.text)) return { reason: `${spec.name} is not a number` };
    const n = Number(p.text);
    if (n < spec.min || n > spec.max) return { reason: `${spec.name} out of range` };
    if (spec.values && !spec.values.includes(n)) return { reason: `${spec.name} not allowed` };
    return n;
  }
  if (spec.quotes === 'required' && !p.quoted) return { reason: `${spec.name} must be quoted` };
  if (p.text === '' && !p.quoted && !spec.allowEmpty) {
    if (spec.optional) return undefined;
    return { reason: `${spec.name} is empty` };
  }
  if (p.text.length > spec.maxLength) return { reason: `${spec.name} too long` };
  if (spec.minLength !== undefined && p.text.length < spec.minLength) return { reason: `${spec.name} too short` };
  return p.text;
}
