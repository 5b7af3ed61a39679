/**
 * The AT engine: turns received bytes into command executions and results into framed bytes.
 * Byte-level syntax and formatting live in protocol/; this file adds time (per-command latency
 * from the profile), the command queue, URC ordering and raw-data prompts.
 */
import { LineAssembler, LineEvent } from '../protocol/line.js';
import { ERROR, Final, LineSettings, OK, cme, formatFinal, formatInfo } from '../protocol/format.js';
import { parseCommandLine, ParsedCommand, RawParam } from '../protocol/parse.js';
import { parseParams, ParamValue } from '../protocol/params.js';
import { CmeCode } from '../protocol/errors.js';
import { CommandContext, CommandSpec, CommandTable, Handler, RawInput } from './commands.js';
import { Kernel, TimerHandle } from './kernel.js';
import type { PrngStream } from './prng.js';
import { Profile, Latency, LatencyKey, latencyOf } from './profile.js';
import type { HostOutput, LineControl } from './service.js';
import { Trace } from './trace.js';
import { Uart } from './uart.js';
import type { Logger } from 'pino';

export type EngineSettings = LineSettings;

/** What the engine asks of the module before it takes a byte or runs a command. */
export interface EngineGate {
  /** False while the module boots: bytes are dropped, as by a UART not yet up. */
  readonly accepting: boolean;
  /** For needsRadio commands: AT+CFUN is 1. */
  readonly radioOn: boolean;
}

const OPEN_GATE: EngineGate = { accepting: true, radioOn: true };

type QueuedLine = { kind: 'line'; text: string } | { kind: 'error' };

const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** A test form declared as its lines: print them, then OK. */
const testLines =
  (lines: readonly string[]): Handler =>
  (ctx) => {
    for (const line of lines) ctx.info(line);
    ctx.ok();
  };

/** URCs kept while a command line runs; past this the oldest is dropped (and traced). */
const MAX_HELD_URCS = 256;

export class AtEngine implements HostOutput, LineControl {
  readonly table = new CommandTable();
  private readonly current: EngineSettings;
  private readonly assembler: LineAssembler;
  private readonly queue: QueuedLine[] = [];
  private busy = false;
  /** Bumped on reboot so callbacks of a command from before the reboot do nothing. */
  private generation = 0;
  private heldUrcs: Uint8Array[] = [];
  private rawReq: { req: RawInput; ctx: CommandContext; timers: TimerHandle[] } | undefined;
  /** Set once the groups are built (the modem wires it from their ports). */
  gate: EngineGate = OPEN_GATE;
  /** URCs dropped from a full held queue since creation. */
  urcsDropped = 0;
  /** The `slow` fault's scale of every latency drawn (the PRNG draws stay the same). */
  latencyFactor = 1;
  /** Each command line as the host completes it, before it queues (faults that fire `on` a command). */
  onLine: ((text: string) => void) | undefined;
  private lineDone: Array<() => void> = [];
  /** The PRNG stream of each latency key, looked up once (not by a built string per draw). */
  private readonly latencyStreams = new Map<string, PrngStream>();

  constructor(
    private readonly kernel: Kernel,
    private readonly uart: Uart,
    private readonly trace: Trace,
    private readonly profile: Profile,
    private readonly log: Logger,
  ) {
    this.current = {
      echo: profile.defaults.echo,
      verbose: true,
      quiet: false,
      cmee: profile.defaults.cmee,
      s3: 13,
      s4: 10,
      s5: 8,
    };
    this.assembler = new LineAssembler({ s3: 13, s5: 8, echo: this.current.echo, maxLine: profile.limits.lineBuffer });
    uart.toModem = (b) => this.onByte(b);
    uart.toModemRun = (bytes) => this.onBytes(bytes);
  }

  get settings(): Readonly<EngineSettings> {
    return this.current;
  }

  update(patch: Partial<LineSettings>): void {
    Object.assign(this.current, patch);
    this.syncLineSettings();
  }

  restore(saved: Partial<LineSettings>): void {
    this.restoreSettings(saved);
  }

  /** The line assembler follows the settings (ATE, S3, S5). */
  private syncLineSettings(): void {
    const s = this.current;
    this.assembler.settings = { s3: s.s3, s5: s.s5, echo: s.echo, maxLine: this.profile.limits.lineBuffer };
  }

  /** Reboot: forget the partial line, queued lines, the running command and held URCs. */
  reset(settings: Partial<LineSettings>): void {
    if (this.busy || this.queue.length > 0 || this.heldUrcs.length > 0) {
      // what dies with the reboot: the host sees RDY instead
      this.trace.record({
        t: this.kernel.now,
        ev: 'fault',
        what: 'output-lost-at-reboot',
        detail: { command: this.busy, lines: this.queue.length, urcs: this.heldUrcs.length },
      });
    }
    this.generation++;
    this.assembler.reset();
    this.queue.length = 0;
    this.busy = false;
    this.heldUrcs = [];
    this.lineDone = [];
    if (this.rawReq) for (const t of this.rawReq.timers) t.cancel();
    this.rawReq = undefined;
    this.restoreSettings(settings);
  }

  /**
   * ATZ, AT&F and reboot: the profile's defaults overlaid with `settings` (those saved with
   * AT&W). Unlike `reset`, the command line that asked for it runs on to its final result.
   */
  restoreSettings(settings: Partial<LineSettings>): void {
    Object.assign(this.current, {
      echo: this.profile.defaults.echo,
      verbose: true,
      quiet: false,
      cmee: this.profile.defaults.cmee,
      s3: 13,
      s4: 10,
      s5: 8,
      ...settings,
    });
    this.syncLineSettings();
  }

  /** Print an unsolicited result code; held back while a command line is executing. */
  urc(text: string): void {
    if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'urc', text });
    this.emitUrc(latin1(formatInfo(text, this.settings)));
  }

  /** An unsolicited line whose tail is raw bytes (the payload of +MSUB). */
  urcWithPayload(head: string, payload: Uint8Array): void {
    if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'urc', text: head + Buffer.from(payload).toString('latin1') });
    const nl = String.fromCharCode(this.settings.s3, this.settings.s4);
    const pre = this.settings.verbose ? nl + head : head;
    this.emitUrc(Buffer.concat([latin1(pre), payload, latin1(nl)]));
  }

  private emitUrc(bytes: Uint8Array): void {
    if (this.busy) {
      if (this.heldUrcs.length >= MAX_HELD_URCS) {
        // bounded memory under a long prompt; the trace names every URC the host never saw
        const lost = this.heldUrcs.shift()!;
        this.urcsDropped++;
        const text = Buffer.from(lost.subarray(0, 120)).toString('latin1');
        this.trace.record({ t: this.kernel.now, ev: 'fault', what: 'urc-overflow', detail: { dropped: this.urcsDropped, text } });
      }
      this.heldUrcs.push(bytes);
    } else {
      this.uart.send(bytes);
    }
  }

  /**
   * Run `fn` once the command line now running has sent its final result code, before the next
   * queued line starts (at once when no line runs). AT+RESET's reboot waits for the rest of
   * its line (`AT+RESET;+CSQ`), so the line still gets its one final result.
   */
  afterLine(fn: () => void): void {
    if (this.busy) this.lineDone.push(fn);
    else fn();
  }

  /** Bytes of output not yet on the wire: the UART's TX FIFO plus URCs held behind a command. */
  get outputBacklog(): number {
    let n = this.uart.txBacklog;
    for (const u of this.heldUrcs) n += u.length;
    return n;
  }

  /** URCs held behind the running command line. */
  get heldUrcCount(): number {
    return this.heldUrcs.length;
  }

  /** Send raw text to the host, outside any command (boot lines). */
  sendRaw(bytes: Uint8Array): void {
    this.uart.send(bytes);
  }

  drawLatency(l: Latency, key: string): number {
    if (l.jitter <= 0) return this.latencyFactor === 1 ? l.base : Math.round(l.base * this.latencyFactor);
    let stream = this.latencyStreams.get(key);
    if (stream === undefined) {
      stream = this.kernel.prng.stream(`latency:${key}`);
      this.latencyStreams.set(key, stream);
    }
    const d = l.base + stream.int(0, l.jitter);
    return this.latencyFactor === 1 ? d : Math.round(d * this.latencyFactor);
  }

  latency(key: LatencyKey): number {
    return this.drawLatency(latencyOf(this.profile, key), key);
  }

  /**
   * Bytes that arrive together (unpaced, untraced): what onByte does for each, with the plain
   * bytes of a line taken in one go. Only push() can run anything (a raw-data handler), so the
   * gate is asked again after each.
   */
  private onBytes(bytes: Uint8Array): void {
    const a = this.assembler;
    let i = 0;
    while (i < bytes.length) {
      if (!this.gate.accepting) return;
      const j = a.takeOrdinaryRun(bytes, i, bytes.length);
      if (j > i) {
        if (a.settings.echo) this.uart.send(bytes.subarray(i, j));
        i = j;
        continue;
      }
      for (const e of a.push(bytes[i++]!)) this.onLineEvent(e);
    }
  }

  private onByte(b: number): void {
    if (!this.gate.accepting) return;
    if (this.assembler.takeOrdinary(b)) {
      if (this.assembler.settings.echo) this.uart.sendByte(b);
      return;
    }
    const events = this.assembler.push(b);
    for (const e of events) this.onLineEvent(e);
  }

  private onLineEvent(e: LineEvent): void {
    switch (e.kind) {
      case 'echo':
        this.uart.send(e.bytes);
        return;
      case 'overflow':
        this.log.debug({ length: e.length }, 'command line too long, discarded');
        this.enqueue({ kind: 'error' });
        return;
      case 'line':
        this.onLine?.(e.text);
        this.enqueue({ kind: 'line', text: e.text });
        return;
      case 'raw':
        this.finishRaw(e.data, e.end);
        return;
    }
  }

  private enqueue(l: QueuedLine): void {
    if (this.queue.length >= this.profile.limits.pendingLines) {
      // Keep memory bounded but still answer: collapse into one ERROR.
      const last = this.queue[this.queue.length - 1];
      if (last?.kind !== 'error') this.queue.push({ kind: 'error' });
      return;
    }
    this.queue.push(l);
    if (!this.busy) this.nextLine();
  }

  private nextLine(): void {
    const l = this.queue.shift();
    if (!l) return;
    this.busy = true;
    const gen = this.generation;
    if (l.kind === 'error') {
      this.kernel.after(this.latency('simple'), () => gen === this.generation && this.endLine(ERROR), 'at-error');
      return;
    }
    if (this.trace.enabled) this.trace.record({ t: this.kernel.now, ev: 'cmd', line: l.text });
    const parsed = parseCommandLine(l.text);
    if (!parsed.ok) {
      this.kernel.after(this.latency('simple'), () => gen === this.generation && this.endLine(ERROR), 'at-error');
      return;
    }
    if (parsed.commands.length === 0) {
      // bare `AT`
      this.kernel.after(this.latency('simple'), () => gen === this.generation && this.endLine(OK), 'at');
      return;
    }
    this.runChain(parsed.commands, 0, gen);
  }

  private runChain(cmds: ParsedCommand[], i: number, gen: number): void {
    const cmd = cmds[i]!;
    const spec = this.table.get(cmd.name);
    const delay = this.latency(spec?.latency ?? 'simple');
    this.kernel.after(
      delay,
      () => {
        if (gen !== this.generation) return;
        this.execute(cmd, spec, gen, (f) => {
          if (gen !== this.generation) return;
          if (f.kind === 'ok' && i + 1 < cmds.length) this.runChain(cmds, i + 1, gen);
          else this.endLine(f);
        });
      },
      `at:${cmd.name}`,
    );
  }

  private execute(cmd: ParsedCommand, spec: CommandSpec | undefined, gen: number, done: (f: Final) => void): void {
    if (!spec) return done(ERROR);
    let handler: Handler | undefined;
    let raw: RawParam[] = [];
    switch (cmd.form) {
      case 'test': {
        const t = spec.test;
        handler = typeof t === 'function' ? t : t && testLines(t);
        break;
      }
      case 'read':
        handler = spec.read;
        break;
      case 'exec':
        handler = spec.exec;
        break;
      case 'set': {
        const set = spec.set;
        if (!set) break;
        let values: ParamValue[] = [cmd.args];
        if (spec.params) {
          const r = parseParams(spec.params, cmd.args);
          if (!r.ok) {
            this.log.debug({ cmd: cmd.source, reason: r.reason }, 'bad parameters');
            return done(spec.badParam ? spec.badParam() : cme(spec.badParamCode ?? CmeCode.invalidInput));
          }
          values = r.values;
          raw = r.raw;
        }
        handler = (ctx) => set.call(spec, ctx, values);
        break;
      }
    }
    if (!handler) return done(ERROR);
    if (spec.needsRadio && cmd.form !== 'test' && !this.gate.radioOn) return done(cme(CmeCode.cfunOff));
    const ctx = this.makeContext(cmd, raw, gen, done);
    try {
      handler(ctx);
    } catch (err) {
      this.log.error({ err, cmd: cmd.source }, 'command handler threw');
      this.trace.record({ t: this.kernel.now, ev: 'fault', what: 'handler-threw', detail: String(err) });
      if (!ctx.done) ctx.error();
    }
  }

  private makeContext(cmd: ParsedCommand, raw: RawParam[], gen: number, done: (f: Final) => void): CommandContext {
    return new CommandRun(this.runOwner, cmd.name, cmd.form, raw, gen, done);
  }

  /** What every command's context asks of the engine; one object for all of them. */
  private readonly runOwner: RunOwner = ((engine: AtEngine): RunOwner => ({
    get generation() {
      return engine.generation;
    },
    get settings() {
      return engine.settings;
    },
    send: (bytes) => engine.uart.send(bytes),
    startRaw: (req, ctx, gen) => engine.startRaw(req, ctx, gen),
  }))(this);

  private startRaw(req: RawInput, ctx: CommandContext, gen: number): void {
    this.assembler.enterRaw({ length: req.length, ctrlZ: req.length === undefined, maxLength: req.maxLength ?? req.length ?? 0 });
    const timers: TimerHandle[] = [];
    const state = { req, ctx, timers };
    this.rawReq = state;
    const promptAt = req.promptDelay ?? 0;
    timers.push(
      this.kernel.after(
        promptAt,
        () => {
          if (gen !== this.generation) return;
          const nl = String.fromCharCode(this.settings.s3, this.settings.s4);
          this.uart.send(latin1(req.prompt ?? nl + '>'));
          if (req.timeout !== undefined) {
            timers.push(this.kernel.after(req.timeout, () => this.rawTimedOut(state, 'timeout'), 'raw-timeout'));
          }
        },
        'raw-prompt',
      ),
    );
    if (req.idleGap !== undefined) this.armIdle(state);
  }

  private armIdle(state: { req: RawInput; ctx: CommandContext; timers: TimerHandle[] }): void {
    const gap = state.req.idleGap;
    if (gap === undefined) return;
    const seen = this.assembler.rawReceived;
    const t = this.kernel.after(
      gap,
      () => {
        if (this.rawReq !== state) return;
        if (this.assembler.rawReceived !== seen) this.armIdle(state);
        else this.rawTimedOut(state, 'idle');
      },
      'raw-idle',
    );
    state.timers.push(t);
  }

  private rawTimedOut(state: { req: RawInput; ctx: CommandContext; timers: TimerHandle[] }, why: 'timeout' | 'idle'): void {
    if (this.rawReq !== state) return;
    this.rawReq = undefined;
    for (const t of state.timers) t.cancel();
    const partial = this.assembler.abortRaw();
    state.req.onTimeout(state.ctx, partial, why);
  }

  private finishRaw(data: Uint8Array, end: 'length' | 'ctrl-z' | 'cancel' | 'overflow'): void {
    const state = this.rawReq;
    if (!state) return;
    this.rawReq = undefined;
    for (const t of state.timers) t.cancel();
    state.req.onData(state.ctx, data, end);
  }

  private endLine(f: Final): void {
    const bytes = formatFinal(f, this.settings);
    if (bytes) this.uart.send(latin1(bytes));
    this.busy = false;
    const held = this.heldUrcs;
    this.heldUrcs = [];
    for (const u of held) this.uart.send(u);
    const done = this.lineDone;
    this.lineDone = [];
    for (const f of done) f();
    this.nextLine();
  }
}

/** What a command's context needs of the engine that runs it. */
interface RunOwner {
  readonly generation: number;
  readonly settings: Readonly<EngineSettings>;
  send(bytes: Uint8Array): void;
  startRaw(req: RawInput, ctx: CommandContext, gen: number): void;
}

/**
 * The context a handler gets: one object per command, its methods on the prototype (a command
 * costs no closures). Anything after the final result, or from before a reboot, is dropped.
 */
class CommandRun implements CommandContext {
  private out: Uint8Array[] | undefined;
  private finished = false;

  constructor(
    private readonly owner: RunOwner,
    readonly name: string,
    readonly form: CommandContext['form'],
    readonly raw: readonly RawParam[],
    private readonly gen: number,
    private readonly onFinal: (f: Final) => void,
  ) {}

  get done(): boolean {
    return this.finished;
  }

  private get live(): boolean {
    return this.gen === this.owner.generation && !this.finished;
  }

  info(line: string): void {
    if (!this.live) return;
    (this.out ??= []).push(latin1(formatInfo(line, this.owner.settings)));
  }

  data(bytes: Uint8Array): void {
    if (!this.live) return;
    (this.out ??= []).push(bytes);
  }

  ok(): void {
    this.final(OK);
  }

  error(): void {
    this.final(ERROR);
  }

  cme(code: number): void {
    this.final(cme(code));
  }

  final(f: Final): void {
    if (!this.live) return;
    this.finished = true;
    this.flush();
    this.onFinal(f);
  }

  rawInput(req: RawInput): void {
    if (!this.live) return;
    this.flush();
    this.owner.startRaw(req, this, this.gen);
  }

  private flush(): void {
    const out = this.out;
    this.out = undefined;
    if (out !== undefined && out.length > 0) this.owner.send(out.length === 1 ? out[0]! : Buffer.concat(out));
  }
}
