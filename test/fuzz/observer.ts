/**
 * What the fuzzer watches of a modem besides the bytes on the wire: every frame the module
 * hands its UART (so a final result code is told apart from echo and from raw data by where
 * it starts and ends, not guessed from a byte stream), every URC the services raise, every
 * kernel event scheduled (for "no timers left when idle") and every fault record of the
 * trace. Input still goes only through the serial endpoint; this only looks.
 */
import { FINAL_PREFIXES, FINAL_WORDS, type FinalWord, isAddressFinal } from '../../protocol/results.js';
import { formatInfo, type LineSettings } from '../../protocol/format.js';
import type { KernelEvent } from '../../sim/kernel.js';
import type { Modem } from '../../sim/modem.js';
import type { TraceRecord } from '../../sim/trace.js';

/** Text a JS bug leaks onto the line (a template over undefined, NaN, an object, an Error). */
export const JS_MARKERS = ['undefined', 'NaN', '[object', 'Error:', 'Infinity'] as const;

/** Final words an answer can end with (CONNECT only starts data on this module, results.ts). */
const ENDING: readonly FinalWord[] = (Object.keys(FINAL_WORDS) as FinalWord[]).filter((w) => w !== 'CONNECT');

/** Guards of modems already closed that ran out afterwards (the campaign fails on any). */
export const lateGuardExpiries: string[] = [];

/** Fault records that mean the simulator itself broke (a handler or an event threw). */
const BROKEN = new Set(['handler-threw', 'event-threw']);

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** Is this frame a final result code as the engine formats one under `s`? */
export function isFinalFrame(frame: string, s: Readonly<LineSettings>): boolean {
  const nl = String.fromCharCode(s.s3, s.s4);
  const word = (text: string): boolean =>
    (ENDING as readonly string[]).includes(text) || FINAL_PREFIXES.some((p) => text.startsWith(p) && !text.includes(nl)) || isAddressFinal(text);
  if (s.verbose) {
    if (frame.length <= 2 * nl.length || !frame.startsWith(nl) || !frame.endsWith(nl)) return false;
    return word(frame.slice(nl.length, frame.length - nl.length));
  }
  const cr = String.fromCharCode(s.s3);
  for (const w of ENDING) {
    const code = FINAL_WORDS[w];
    if (code !== undefined && frame === code + cr) return true;
  }
  if (!frame.endsWith(nl)) return false;
  const text = frame.slice(0, frame.length - nl.length);
  // words with a V0 digit print the digit; the others, and +CME/+CMS, stay text
  return word(text) && FINAL_WORDS[text as FinalWord] === undefined;
}

/** The raw-data prompt (`\r\n>` of FSWRITE/MPUBEX, `\r\n> ` of CMGS/CMGW). */
export function isPromptFrame(frame: string, s: Readonly<LineSettings>): boolean {
  const nl = String.fromCharCode(s.s3, s.s4);
  return frame === `${nl}>` || frame === `${nl}> ` || frame === '\r\n>' || frame === '\r\n> ';
}

export interface StepObservation {
  /** Final result codes the engine printed (ERROR URCs subtracted). */
  finals: number;
  /** Raw-data prompts printed. */
  prompts: number;
  /** `+MQTTSTATU :1` printed, and the link phase at that instant. */
  statu1: Array<{ phase: string }>;
  /** Broken invariants seen while the step ran. */
  problems: string[];
  frames: number;
}

export class Observer {
  private step: StepObservation = Observer.fresh();
  /** The last prompt has had no final result yet. */
  promptOpen = false;
  /**
   * Set for a line with AT+FSREAD: its data goes out as one frame right before the final, and
   * a file holding exactly `OK` reads back as a frame no different from a final. Two finals in
   * a row at one instant then count as data + final.
   */
  dataMayLookFinal = false;
  private lastFinalAt = -1;
  /** Bytes of frames recorded for a failure message, bounded. */
  private transcript: string[] = [];
  private transcriptBytes = 0;
  /** URC frames formatted like a final (`ERROR` after MCONNECT, SUBACK refused, ackLost) not yet sent. */
  private readonly urcFinals = new Map<string, number>();
  private readonly events = new Set<KernelEvent>();
  /** Fault records by name, over the modem's life. */
  readonly faultRecords = new Map<string, number>();
  /** Invariant checks made, by name. */
  readonly checks = new Map<string, number>();
  private readonly boots: number;

  constructor(
    private readonly m: Modem,
    private readonly cacheSlots: number,
    private readonly fsCapacity: number,
  ) {
    this.boots = m.bootGeneration;
    const uart = m.uart;
    const send = uart.send.bind(uart);
    uart.send = (frame: Uint8Array): void => {
      this.onFrame(latin1(frame));
      send(frame);
    };
    const engine = m.engine;
    const urc = engine.urc.bind(engine);
    engine.urc = (text: string): void => {
      this.onUrc(text);
      urc(text);
    };
    const kernel = m.kernel;
    const schedule = kernel.schedule.bind(kernel);
    kernel.schedule = (e: KernelEvent, time: number, priority: number, seq?: number): void => {
      this.events.add(e);
      schedule(e, time, priority, seq);
    };
    const trace = m.trace;
    const record = trace.record.bind(trace);
    trace.record = (r: TraceRecord): void => {
      if (r.ev === 'fault') this.onFault(r.what, r.detail);
      else if (r.ev === 'guard') this.onGuard(r.detail.label, r.detail.wallGuardMs);
      record(r);
    };
  }

  private static fresh(): StepObservation {
    return { finals: 0, prompts: 0, statu1: [], problems: [], frames: 0 };
  }

  /** Start watching a new step. */
  begin(): void {
    this.step = Observer.fresh();
    this.transcript = [];
    this.transcriptBytes = 0;
  }

  get current(): Readonly<StepObservation> {
    return this.step;
  }

  /** What the module printed during the step (bounded), for failure messages. */
  printed(): string {
    return this.transcript.join('');
  }

  count(check: string, n = 1): void {
    this.checks.set(check, (this.checks.get(check) ?? 0) + n);
  }

  problem(text: string): void {
    this.step.problems.push(text);
  }

  /** The module rebooted: URCs held for printing died with it. */
  rebooted(): void {
    this.urcFinals.clear();
    this.promptOpen = false;
  }

  private probe: { boot: number } | undefined;

  /**
   * A command line is running (waiting for its latency, a reply, or a prompt's data). Asked of
   * the engine's afterLine(), which runs a callback at once when no line runs; one probe at a
   * time stays queued otherwise (a reboot forgets it).
   */
  lineRunning(): boolean {
    if (this.probe !== undefined && this.probe.boot === this.m.bootGeneration) return true;
    let ran = false;
    const probe = { boot: this.m.bootGeneration };
    this.m.engine.afterLine(() => {
      ran = true;
      if (this.probe === probe) this.probe = undefined;
    });
    if (ran) {
      // no line runs, so no prompt is open (one that ended under ATQ1 printed no final)
      this.promptOpen = false;
      return false;
    }
    this.probe = probe;
    return true;
  }

  /** No event is queued but ones with these labels (cheap: stops at the first other one). */
  onlyTimers(allowed: readonly string[]): boolean {
    for (const e of this.events) {
      if (!e.queued) this.events.delete(e);
      else if (!e.cancelled && !allowed.includes(e.label)) return false;
    }
    return true;
  }

  /** Labels of events still queued and not cancelled. */
  liveTimers(): string[] {
    const out: string[] = [];
    for (const e of this.events) {
      if (!e.queued) this.events.delete(e);
      else if (!e.cancelled) out.push(e.label);
    }
    return out;
  }

  private onFrame(frame: string): void {
    const s = this.m.engine.settings;
    const st = this.step;
    st.frames++;
    if (this.transcriptBytes < 4096) {
      this.transcript.push(frame);
      this.transcriptBytes += frame.length;
    }
    // one byte is echo or a lone byte of data: no marker, no final, no prompt fits in it
    if (frame.length === 1) {
      this.lastFinalAt = -1;
      return;
    }
    this.count('js-text');
    for (const mk of JS_MARKERS) if (frame.includes(mk)) this.problem(`JS text ${JSON.stringify(mk)} on the serial line: ${JSON.stringify(frame.slice(0, 200))}`);
    const pending = this.urcFinals.get(frame);
    if (pending !== undefined) {
      if (pending <= 1) this.urcFinals.delete(frame);
      else this.urcFinals.set(frame, pending - 1);
      return;
    }
    if (isFinalFrame(frame, s)) {
      const now = this.m.kernel.now;
      if (!(this.dataMayLookFinal && this.lastFinalAt === now && st.frames >= 2)) st.finals++;
      this.lastFinalAt = now;
      this.promptOpen = false;
      return;
    }
    this.lastFinalAt = -1;
    if (isPromptFrame(frame, s)) {
      st.prompts++;
      this.promptOpen = true;
      return;
    }
    if (frame.includes('+MQTTSTATU :1')) st.statu1.push({ phase: this.m.mqtt.link.phase });
    const mem = /\+FSMEM: (\d+) bytes/.exec(frame);
    if (mem) {
      this.count('fsmem-within-capacity');
      const free = Number(mem[1]);
      if (!(free >= 0 && free <= this.fsCapacity)) this.problem(`+FSMEM reports ${free} bytes free of a ${this.fsCapacity}-byte flash`);
    }
  }

  private onUrc(text: string): void {
    const s = this.m.engine.settings;
    const bytes = formatInfo(text, s);
    if (isFinalFrame(bytes, s)) this.urcFinals.set(bytes, (this.urcFinals.get(bytes) ?? 0) + 1);
    const slot = /^\+MSUB: (\d+)$/.exec(text);
    if (slot) {
      this.count('cache-slot-in-range');
      if (Number(slot[1]) >= this.cacheSlots) this.problem(`+MSUB: ${slot[1]} names a slot past the ${this.cacheSlots} of the cache`);
    }
  }

  private onFault(what: string, detail: unknown): void {
    this.faultRecords.set(what, (this.faultRecords.get(what) ?? 0) + 1);
    if (BROKEN.has(what)) this.problem(`the simulator broke: ${what} ${JSON.stringify(detail)}`);
  }

  /** The modem was closed: a guard of its that runs out later is reported to the campaign. */
  closed = false;
  /** Names this modem in a late report. */
  name = '';
  /** What the current step is, for a late report. */
  stepText = '';

  private onGuard(label: string, wallGuardMs: number): void {
    const text = `a wall-clock guard expired in virtual time: ${label} (${wallGuardMs} ms), model time went on without the reply`;
    if (this.closed) lateGuardExpiries.push(`${this.name}, after it was closed (last step: ${this.stepText}): ${text}`);
    else this.problem(text);
  }

  /** Reboots seen since the observer was attached. */
  get bootsSeen(): number {
    return this.m.bootGeneration - this.boots;
  }
}
