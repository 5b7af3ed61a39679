/**
 * How a command is declared: once, in its group's table, with its forms, parameter schema,
 * latency key and handlers (the shape of ESP-AT's test/read/set/exec handlers). The engine runs
 * these; the docs generator prints them.
 */
import type { Final } from '../protocol/format.js';
import { enumParam, type IntSpec, type ParamSpec, type ParamValues } from '../protocol/params.js';
import type { RawParam } from '../protocol/parse.js';
import type { Ns } from './kernel.js';
import type { LatencyKey } from './profile.js';

export interface RawInput {
  /** Exact byte count; absent means "until Ctrl-Z" (or idle gap, handled by the command). */
  length?: number;
  /** Upper bound when no exact length is given. */
  maxLength?: number;
  /** Prompt text printed before the data is taken (default `>` framed as `\r\n>`). */
  prompt?: string;
  /** Delay before the prompt appears (profile latency). */
  promptDelay?: Ns;
  /** Give up after this model time from the prompt; `onTimeout` then decides the answer. */
  timeout?: Ns;
  /** Give up after this much model time without a new byte (MPUBEX's 5 s gap). */
  idleGap?: Ns;
  onData(ctx: CommandContext, data: Uint8Array, end: 'length' | 'ctrl-z' | 'cancel' | 'overflow'): void;
  onTimeout(ctx: CommandContext, partial: Uint8Array, why: 'timeout' | 'idle'): void;
}

/**
 * What a handler uses to answer. A handler that does not call a final result synchronously
 * keeps the command running (the engine queues further lines) until it does.
 */
export interface CommandContext {
  readonly name: string;
  readonly form: 'test' | 'read' | 'set' | 'exec';
  /** Raw parameters of the set form, for commands that need their quoting. */
  readonly raw: readonly RawParam[];
  info(line: string): void;
  /** Bytes sent as they are (FSREAD data). */
  data(bytes: Uint8Array): void;
  ok(): void;
  error(): void;
  cme(code: number): void;
  final(f: Final): void;
  /** Enter raw-data mode (FSWRITE, MPUBEX). */
  rawInput(req: RawInput): void;
  /** True once a final result was given. */
  readonly done: boolean;
}

export type Handler = (ctx: CommandContext) => void;

/**
 * A command's declaration. `P` is its parameter schema; declared through `command()` the set
 * handler receives the values as the schema's typed tuple. A set form without a schema gets the
 * raw argument text as its one value.
 */
export interface CommandSpec<P extends readonly ParamSpec[] | undefined = readonly ParamSpec[]> {
  /** `+CGREG`, `E`, `&W`, `S3`: as the parser names it. */
  name: string;
  summary: string;
  /** Source of the behaviour, e.g. `M p.130`, `seed`, `behaviour §9`. */
  source?: string;
  /** Parameters of the set form. */
  params?: P;
  /** Key into profile.latency applied before the handler runs (default `simple`). */
  latency?: LatencyKey;
  /** Refused with +CME ERROR: 797 while AT+CFUN is 0 or 4. */
  needsRadio?: boolean;
  /** A set form whose parameters do not match answers this code (default 765). */
  badParamCode?: number;
  /**
   * A set form whose parameters do not match answers this final instead, chosen when it
   * happens (the SMS commands: `+CMS ERROR: 304` in PDU mode, 305 in text mode).
   */
  badParam?: () => Final;
  test?: Handler | readonly string[];
  read?: Handler;
  /** Method syntax on purpose: a typed declaration is still a `CommandSpec` of the table. */
  set?(ctx: CommandContext, values: SetValues<P>): void;
  exec?: Handler;
}

/** With a schema, its typed tuple; without one, `[args]`: the raw text after `=`. */
export type SetValues<P extends readonly ParamSpec[] | undefined> = P extends readonly ParamSpec[] ? ParamValues<P> : readonly [string];

/**
 * Declare a command with its parameter schema inferred, so the set handler's values are typed
 * (`CommandSpec` with no type argument is the table's view, values untyped).
 */
export function command<const P extends readonly ParamSpec[] | undefined = undefined>(spec: CommandSpec<P>): CommandSpec<P> {
  return spec;
}

/**
 * A 0/1 setting of the module (AT+MQTTMODE, AT+MQTTMSGSET, AT+CIPHEAD, AT+FSREADHEAD): the set
 * form takes 0 or 1 (else 765), the read form prints `show(value)` then OK.
 */
export function switchCommand(spec: {
  name: string;
  summary: string;
  source: string;
  /** The parameter's name in the command reference. */
  param?: string;
  test: readonly string[];
  show: (value: 0 | 1) => string;
  get: () => 0 | 1;
  set: (value: 0 | 1) => void;
}): CommandSpec<readonly [IntSpec<false, 0 | 1>]> {
  return command({
    name: spec.name,
    summary: spec.summary,
    source: spec.source,
    params: [enumParam<0 | 1>(spec.param ?? 'mode', [0, 1])],
    test: spec.test,
    read: (ctx) => {
      ctx.info(spec.show(spec.get()));
      ctx.ok();
    },
    set: (ctx, [value]) => {
      spec.set(value);
      ctx.ok();
    },
  });
}

/** A command as the table holds it, with the group that declared it. */
export interface TableEntry {
  readonly group: string;
  readonly spec: CommandSpec;
}

export class CommandTable {
  private readonly byName = new Map<string, TableEntry>();

  add(group: string, specs: readonly CommandSpec[]): void {
    for (const spec of specs) {
      if (this.byName.has(spec.name)) throw new Error(`command ${spec.name} declared twice`);
      this.byName.set(spec.name, { group, spec });
    }
  }

  get(name: string): CommandSpec | undefined {
    return this.byName.get(name)?.spec;
  }

  all(): CommandSpec[] {
    return [...this.byName.values()].map((e) => e.spec);
  }

  entries(): TableEntry[] {
    return [...this.byName.values()];
  }
}
