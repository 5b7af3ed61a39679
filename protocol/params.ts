/**
 * Parameter schemas for set forms. A command declares its parameters once; this checks count,
 * type, range and quoting and returns typed values, or the reason the module would refuse.
 */
import { RawParam, splitParams } from './parse.js';

interface BaseSpec {
  name: string;
  /** Omitted trailing parameters are allowed from the first optional one on. */
  optional?: boolean;
}

export interface IntSpec extends BaseSpec {
  type: 'int';
  min: number;
  max: number;
  /** Only these values (within min..max). */
  values?: readonly number[];
}

export interface StringSpec extends BaseSpec {
  type: 'string';
  maxLength: number;
  minLength?: number;
  /** `required`: must be in double quotes (MPUB message); default: quotes optional. */
  quotes?: 'required' | 'optional';
  /** Accept an empty value even when not quoted (`AT+SSLCFG="cacert",88,`). */
  allowEmpty?: boolean;
}

export type ParamSpec = IntSpec | StringSpec;

/** An integer parameter `min..max` (the tables' shorthand). */
export function intParam(name: string, min: number, max: number, optional = false): IntSpec {
  return { name, type: 'int', min, max, optional };
}

/** A string parameter of at most `maxLength` bytes, quotes optional unless `quotes: 'required'`. */
export function stringParam(name: string, maxLength: number, extra: Omit<StringSpec, 'name' | 'type' | 'maxLength'> = {}): StringSpec {
  return { name, type: 'string', maxLength, ...extra };
}

export type ParamValue = number | string | undefined;

export type ParamsResult = { ok: true; values: ParamValue[]; raw: RawParam[] } | { ok: false; reason: string };

export function parseParams(specs: readonly ParamSpec[], args: string): ParamsResult {
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
  return { ok: true, values, raw };
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
