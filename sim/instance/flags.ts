/**
 * Checks of `serve` flag values, each failing with a UsageError whose one line names the flag,
 * the value and what would be accepted. The parsers of the services behind the flags stay the
 * judges of what is valid; these only turn their refusals into lines a user acts on.
 */
import { parseSerialSpec, SerialSpec, SerialSpecError } from '../links/spec.js';
import { parseBrokerAuth } from '../mqtt/options.js';
import { parseEndpoint, parseRouteSpec } from '../bridge/routes.js';
import { flagValue, UsageError } from './errors.js';

export function intFlag(flag: string, value: string, min: number, max: number, hint = ''): number {
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flagValue(flag, value)}: not an integer in ${min}..${max}${hint}`);
  }
  return n;
}

export function portFlag(flag: string, value: string): number {
  return intFlag(flag, value, 0, 65535, ' (0 = any free port)');
}

export function numberFlag(flag: string, value: string, min: number, max: number, unit: string): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flagValue(flag, value)}: not a number of ${unit} in ${min}..${max}`);
  return n;
}

export function choiceFlag<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === value);
  if (found === undefined) throw new UsageError(`${flagValue(flag, value)}: not one of ${choices.join(', ')}`);
  return found;
}

export function serialFlag(value: string): SerialSpec {
  try {
    return parseSerialSpec(value);
  } catch (err) {
    if (err instanceof SerialSpecError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

export interface ControlWhere {
  host: string;
  port: number;
}

export const CONTROL_FORMS = 'tcp:HOST:PORT, tcp:PORT (loopback) or off';

/** `--control`: where the fault endpoint listens, or undefined for `off`. */
export function controlFlag(value: string): ControlWhere | undefined {
  if (value === 'off') return undefined;
  let spec: SerialSpec | undefined;
  try {
    spec = parseSerialSpec(value);
  } catch {
    spec = undefined;
  }
  if (spec?.kind !== 'tcp') throw new UsageError(`${flagValue('--control', value)}: expected ${CONTROL_FORMS}, e.g. --control tcp:127.0.0.1:7100`);
  return { host: spec.host, port: spec.port };
}

/** The forms `matches()` in the route table understands for the FROM side. */
const ROUTE_FROM = /^(\[[^\]]+\]|[^:=\s]+)(?::(\d{1,5}|\*))?$/;
const ROUTE_FORMS = 'FROM=TO with FROM = HOST:PORT | HOST | *:PORT | * and TO = HOST:PORT or mqtt[s]://HOST:PORT';

export function routeFlag(value: string): void {
  const what = flagValue('--route', value);
  const eq = value.indexOf('=');
  if (eq < 0) throw new UsageError(`${what}: no "="; expected ${ROUTE_FORMS}, e.g. --route '*:1883=127.0.0.1:1884'`);
  const from = value.slice(0, eq).trim();
  const to = value.slice(eq + 1).trim();
  if (!ROUTE_FROM.test(from)) throw new UsageError(`${what}: source ${JSON.stringify(from)} is not HOST:PORT, HOST, *:PORT or *`);
  if (!parseEndpoint(to, 1883)) throw new UsageError(`${what}: target ${JSON.stringify(to)} is not HOST:PORT or mqtt[s]://HOST:PORT`);
  try {
    parseRouteSpec(value);
  } catch (err) {
    throw new UsageError(`${what}: ${err instanceof Error ? err.message : String(err)}; expected ${ROUTE_FORMS}`, { cause: err });
  }
}

/** `--broker` (repeatable): each an mqtt:// or mqtts:// URL, at most one of each. */
export function brokerFlags(values: readonly string[]): void {
  const seen: { plain?: string; tls?: string } = {};
  for (const value of values) {
    const ep = parseEndpoint(value);
    if (!ep || ep.tls === undefined) {
      throw new UsageError(`${flagValue('--broker', value)}: not mqtt://HOST:PORT or mqtts://HOST:PORT, e.g. --broker mqtt://127.0.0.1:1883`);
    }
    const kind = ep.tls ? 'tls' : 'plain';
    const earlier = seen[kind];
    if (earlier !== undefined) {
      throw new UsageError(`--broker ${JSON.stringify(earlier)} and --broker ${JSON.stringify(value)}: two ${ep.tls ? 'mqtts://' : 'mqtt://'} brokers; give at most one mqtt:// and one mqtts:// URL`);
    }
    seen[kind] = value;
  }
}

export function brokerAuthFlag(value: string): void {
  try {
    parseBrokerAuth(value);
  } catch (err) {
    throw new UsageError(`${flagValue('--broker-auth', value)}: expected USER:PASS (a non-empty user name, a colon, the password), e.g. --broker-auth modem:secret`, { cause: err });
  }
}

/** `--baud`: a rate the profile's UART has. */
export function baudFlag(baud: number, profileName: string, rates: readonly number[]): void {
  if (!rates.includes(baud)) throw new UsageError(`--baud ${baud}: not a UART rate of ${profileName}; use one of ${rates.join(', ')}`);
}
