/**
 * One simulated module: kernel, UART, AT engine, services, trace. `createModem` builds one for
 * in-process use (tests, fixtures); the CLI builds one and attaches a link (pty, TCP, stdio).
 */
import { mkdirSync } from 'node:fs';
import { Kernel, type Ns } from './kernel.js';
import { ClockDriver, type InputSchedule, modelNow, RealtimeClock, VirtualClock } from './clock.js';
import { FreeRunningClock, type FreeClockOptions } from './free-clock.js';
import { Uart } from './uart.js';
import { AtEngine } from './engine.js';
import { Trace, TRACE_VERSION, type TraceLevel } from './trace.js';
import { Profile, DeepPartial } from './profile.js';
import { resolveProfile } from './profiles/index.js';
import { Logger, silentLogger } from './log.js';
import type { CommandGroup, LineSettings, Service, ServiceEnv } from './service.js';
import { Ports } from './ports.js';
import { COMMAND_GROUPS } from './groups.js';
import { SystemService, systemGroup } from './services/system.js';
import { NetworkService, NetworkSnapshot, networkGroup } from './services/network.js';
import { PdpService, pdpGroup } from './services/pdp.js';
import { MqttService, MqttServiceOptions, mqttGroup } from './services/mqtt.js';
import { FsService, fsGroup } from './services/fs.js';
import { SslService, sslGroup } from './services/ssl.js';
import { Nvram, type SavedSettings } from '../fs-model/nvram.js';
import { HostPort } from './host.js';
import type { Link } from './links/link.js';
import { VcdWriter } from './vcd.js';
import { ModemFaults, type FaultBroker } from './faults/index.js';
import { ModemLines, tapUrcs } from './modem-lines.js';
import { linesGroup } from './services/lines.js';

export interface ModemOptions {
  profile?: string;
  profileOverrides?: DeepPartial<Profile>;
  seed?: number;
  /**
   * `virtual` (default for in-process use: time moves only while a test awaits the host port),
   * `free` (virtual time that runs by itself whenever the host is quiet — for a driver under
   * test that talks through `host.stream()` or the serialport binding; see sim/free-clock.ts),
   * or `realtime`.
   */
  clock?: 'virtual' | 'free' | 'realtime';
  /** How long the host must be quiet before free-running time moves. */
  freeRun?: FreeClockOptions;
  /** Virtual clock, free-running: how far model time may run past the last outside input. */
  autoHorizonNs?: number;
  /** Wall ms an idle virtual wait gives outside inputs before jumping (see VirtualClock). */
  idleGraceMs?: number;
  /** Flash image and saved settings; absent = memory only. */
  dataDir?: string;
  /** JSON-lines trace file. */
  traceFile?: string;
  /** VCD waveform of the UART lines (TXD, RXD). */
  vcdFile?: string;
  /** Keep the trace in memory (modem.trace.records). */
  traceMemory?: boolean;
  /** `bytes` (default): every UART byte and the lines; `lines`: the lines without the bytes. */
  traceLevel?: TraceLevel;
  log?: Logger;
  /** UART pacing; off moves bytes instantly (benchmarks). */
  uartPacing?: boolean;
  /** Broker routing for MIPSTART/SSLMIPSTART. */
  mqtt?: MqttServiceOptions;
  /** The command groups, in build order (default: COMMAND_GROUPS; add your own at the end). */
  groups?: readonly CommandGroup[];
  /**
   * The embedded broker the MQTT links reach, for the broker faults (tcpDrop, brokerDown,
   * brokerUp); absent: an external broker, which faults cannot reach (see faults.useBroker).
   */
  broker?: FaultBroker;
  /**
   * Run on a timeline shared with other modems (createFleet): `kernel` is a fork of the
   * timeline's kernel seeded for this modem (`seed` is then unused), `clock` this modem's view
   * of the one driver (SharedClockView). `clock` above still says what kind drives it.
   */
  timeline?: ModemTimeline;
  /**
   * A profile resolved already, used as it is (`profile` and `profileOverrides` are then
   * unused): a fleet resolves one and shares it among its modems. Never mutated.
   */
  resolvedProfile?: Profile;
  /**
   * A replay of a served session (sim/replay): virtual time, each network input entering at
   * the instant the recording's `io` records give.
   */
  inputSchedule?: InputSchedule;
  /**
   * Write an `io` record for each network input as it enters (always in real time; serve asks
   * for it in virtual time too), so a replay can enter it at the same instant.
   */
  recordNetworkInputs?: boolean;
}

/** A modem's place on a shared timeline: its kernel fork and its view of the shared clock. */
export interface ModemTimeline {
  kernel: Kernel;
  clock: ClockDriver;
}

export class Modem {
  readonly kernel: Kernel;
  readonly clock: ClockDriver;
  readonly profile: Profile;
  readonly trace: Trace;
  readonly log: Logger;
  readonly uart: Uart;
  readonly engine: AtEngine;
  readonly nvram: Nvram;
  readonly dataDir: string | undefined;
  readonly services: Service[];
  private readonly built = new Map<CommandGroup, Service>();
  /** In-process host side of the UART (tests, fixtures). */
  readonly host: HostPort;
  /** Fault injection from anywhere: each fault brings itself into model time. */
  readonly faults: ModemFaults;
  /** DTR, RTS from the host; CTS, DSR, DCD, RI to it (sim/modem-lines.ts; the serialport binding drives them). */
  readonly lines: ModemLines;
  private readonly hostTaps = new Set<(b: number, t: Ns) => void>();
  private links: Link[] = [];
  private readonly vcd: VcdWriter | undefined;
  bootGeneration = 0;
  private closed = false;
  /** False from a power loss until the module powers on again. */
  private powered = true;

  constructor(opts: ModemOptions = {}) {
    this.profile = opts.resolvedProfile ?? resolveProfile(opts.profile, opts.profileOverrides);
    this.kernel = opts.timeline?.kernel ?? new Kernel({ seed: opts.seed ?? 1 });
    this.log = opts.log ?? silentLogger();
    this.trace = new Trace({
      file: opts.traceFile,
      memory: opts.traceMemory,
      ...(opts.traceLevel !== undefined && { level: opts.traceLevel }),
      onWriteError: (err) => this.log.error({ err, file: opts.traceFile }, 'trace file write failed; the file stops here, the modem runs on'),
    });
    this.dataDir = opts.dataDir;
    if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
    this.nvram = new Nvram(opts.dataDir);
    // in real time a network input's instant is the wall clock's: recorded, so a replay can enter it there
    const noteInput = (label: string): void => this.trace.record({ t: this.kernel.now, ev: 'io', what: label });
    const schedule = opts.inputSchedule;
    this.clock =
      opts.timeline !== undefined
        ? opts.timeline.clock
        : opts.clock === 'realtime'
          ? new RealtimeClock(this.kernel, noteInput)
          : opts.clock === 'free'
            ? new FreeRunningClock(this.kernel, opts.freeRun)
            : new VirtualClock(this.kernel, {
                autoHorizon: opts.autoHorizonNs,
                idleGraceMs: opts.idleGraceMs,
                ...(schedule !== undefined && { schedule }),
                ...((schedule !== undefined || opts.recordNetworkInputs === true) && { onNetworkInput: noteInput }),
              });
    if (opts.clock === 'realtime' || opts.clock === 'free' || opts.autoHorizonNs !== undefined) {
      // free-running: nobody awaits the clock to hear of a throwing event, and dying would
      // take the host's serial link with it
      this.kernel.onEventError = (err, label) => {
        this.log.error({ err, label }, 'model event threw');
        this.trace.record({ t: this.kernel.now, ev: 'fault', what: 'event-threw', detail: { label, error: String(err) } });
      };
    }
    // a guard that runs out lets model time move on without the reply: visible in the trace, always
    this.kernel.onGuardExpired = (e) => {
      this.trace.record({ t: this.kernel.now, ev: 'guard', what: 'expired', detail: { label: e.label, wallGuardMs: e.wallGuardMs } });
      this.log.warn({ label: e.label, wallGuardMs: e.wallGuardMs, virtual: e.virtual }, 'I/O hold guard expired; model time went on without the reply');
    };
    const saved = this.nvram.get();
    // what a replay needs to build this modem again (sim/replay)
    this.trace.header(this.kernel.now, {
      format: 'modemsim-trace',
      version: TRACE_VERSION,
      profile: this.profile.name,
      seed: opts.seed ?? 1,
      clock: opts.clock ?? 'virtual',
      level: this.trace.level,
      baud: saved.baud ?? this.profile.uart.defaultBaud,
      saved: { ...saved },
      ...(opts.profileOverrides !== undefined && { overrides: opts.profileOverrides }),
      ...(opts.uartPacing === false && { pacing: false }),
      ...(opts.groups !== undefined && { groups: opts.groups.map((g) => g.name) }),
      ...(opts.dataDir !== undefined && { dataDir: true }),
      ...(opts.timeline !== undefined && { fleet: true }),
    });
    this.uart = new Uart(this.kernel, this.trace, saved.baud ?? this.profile.uart.defaultBaud);
    this.uart.pacing = opts.uartPacing ?? true;
    this.vcd = opts.vcdFile
      ? new VcdWriter(this.uart, this.trace, opts.vcdFile, (err) =>
          this.log.error({ err, file: opts.vcdFile }, 'VCD file write failed; the waveform stops here, the modem runs on'),
        )
      : undefined;
    const engine = new AtEngine(this.kernel, this.uart, this.trace, this.profile, this.log);
    this.engine = engine;
    this.host = new HostPort(this.clock, (bytes) => this.uart.receive(bytes));
    this.uart.onTxByte = (b, t) => this.host.deliverByte(b, t);
    const { kernel, clock } = this;
    const env: ServiceEnv = {
      kernel,
      clock,
      trace: this.trace,
      log: this.log,
      profile: this.profile,
      latency: (key) => engine.latency(key),
      draw: (l, stream) => engine.drawLatency(l, stream),
      now: () => modelNow(clock),
      host: tapUrcs(engine, (text) => this.lines.urc(text)),
      line: engine,
      dataDir: opts.dataDir,
    };
    const ports = new Ports();
    const profileParts: Array<() => Partial<SavedSettings>> = [];
    const profileRestored: Array<(saved: SavedSettings | undefined) => void> = [];
    ports.provide('module', {
      reboot: () => this.reboot(),
      savedSettings: () => this.savedSettings(),
      saveSettings: (s) => this.nvram.save(Object.assign({ ...s, baud: this.uart.baud }, ...profileParts.map((p) => p()))),
      restoreProfile: (factory) => {
        const saved = factory ? undefined : this.nvram.get();
        for (const f of profileRestored) f(saved);
      },
      uart: this.uart,
    });
    ports.provide('storedProfile', {
      saved: () => this.nvram.get(),
      storeAlso: (part) => profileParts.push(part),
      onRestore: (fn) => profileRestored.push(fn),
    });
    ports.provide('bridge', opts.mqtt ?? {});
    ports.provide('commandNames', { names: () => engine.table.all().map((s) => s.name) });
    this.services = [];
    for (const group of opts.groups ?? COMMAND_GROUPS) {
      const service = group.create({ env, ports });
      this.built.set(group, service);
      this.services.push(service);
      engine.table.add(group.name, service.commands);
    }
    const input = ports.has('inputGate') ? ports.need('inputGate', 'engine') : undefined;
    const radio = ports.has('radio') ? ports.need('radio', 'engine') : undefined;
    const faulted = (): boolean => !this.powered || this.faults.frozen;
    engine.gate = {
      get accepting() {
        // a hung or unpowered firmware loses what arrives
        return !faulted() && (input?.accepting ?? true);
      },
      get radioOn() {
        return radio === undefined || radio.cfun === 1;
      },
    };
    this.faults = new ModemFaults(this, opts.broker);
    this.lines = new ModemLines({
      kernel,
      trace: this.trace,
      profile: this.profile,
      uart: this.uart,
      settings: this.built.has(linesGroup) ? this.service(linesGroup) : undefined,
      ready: () => engine.gate.accepting,
      carrier: () => ports.has('bearer') && ports.need('bearer', 'lines').dataReady,
      hangUp: () => {
        if (!this.built.has(mqttGroup) || this.mqtt.link.phase === 'offline') return undefined;
        // AT&D2: the link goes as by AT+MIPCLOSE, without a URC
        this.mqtt.link.drop('dtr-drop');
        return 'mqtt';
      },
    });
    this.restoreSavedSettings();
    this.powerOn();
  }

  /** close() was called: the clock takes no more input. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether this modem was built with `group`. */
  hasGroup(group: CommandGroup): boolean {
    return this.built.has(group);
  }

  /** The service a group built (throws when the modem was built without that group). */
  service<S extends Service>(group: CommandGroup<S>): S {
    const s = this.built.get(group);
    if (s === undefined) throw new Error(`this modem has no ${group.name} group`);
    // the map holds what this very group's create() returned
    return s as S;
  }

  get system(): SystemService {
    return this.service(systemGroup);
  }

  get network(): NetworkService {
    return this.service(networkGroup);
  }

  get pdp(): PdpService {
    return this.service(pdpGroup);
  }

  get fs(): FsService {
    return this.service(fsGroup);
  }

  get ssl(): SslService {
    return this.service(sslGroup);
  }

  get mqtt(): MqttService {
    return this.service(mqttGroup);
  }

  /** Radio, registration, network side and packet domain, as the control endpoint shows them. */
  snapshot(): NetworkSnapshot {
    return { ...this.network.snapshot(), ...this.pdp.snapshot() };
  }

  /** Settings saved with AT&W (ATZ, reboot). */
  savedSettings(): Partial<LineSettings> {
    const saved = this.nvram.get();
    return {
      ...(saved.echo !== undefined && { echo: saved.echo }),
      ...(saved.cmee !== undefined && { cmee: saved.cmee }),
      ...(saved.verbose !== undefined && { verbose: saved.verbose }),
      ...(saved.quiet !== undefined && { quiet: saved.quiet }),
    };
  }

  /** Reboot: the engine starts afresh with the saved settings. */
  restoreSavedSettings(): void {
    this.engine.reset(this.savedSettings());
  }

  private powerOn(): void {
    this.bootGeneration++;
    this.trace.record({ t: this.kernel.now, ev: 'boot', generation: this.bootGeneration });
    for (const s of this.services) s.powerOn();
  }

  /** Reboot after the current output has left: RAM state lost, flash kept (behaviour §7). */
  reboot(): void {
    this.uart.whenTxDrained(() => {
      this.kernel.after(
        this.profile.boot.resetDelay,
        () => {
          for (const s of [...this.services].reverse()) s.powerOff();
          this.restoreSavedSettings();
          const saved = this.nvram.get();
          this.uart.setBaud(saved.baud ?? this.profile.uart.defaultBaud);
          this.powerOn();
        },
        'reboot',
      );
    });
  }

  /**
   * Power cut (the powerLoss fault): unlike reboot nothing drains; output not yet on the wire
   * and what ran in RAM are gone at once, flash is kept, and the module boots after the reset delay.
   */
  powerLoss(): void {
    const lost = this.uart.discardOutput();
    this.trace.record({ t: this.kernel.now, ev: 'fault', what: 'output-lost-at-power-loss', detail: { bytes: lost } });
    this.powered = false;
    for (const s of [...this.services].reverse()) s.powerOff();
    this.restoreSavedSettings();
    const generation = this.bootGeneration;
    this.kernel.after(
      this.profile.boot.resetDelay,
      () => {
        // closed or booted meanwhile by another cut: that one's timer boots it
        if (this.closed || generation !== this.bootGeneration || this.powered) return;
        this.powered = true;
        const saved = this.nvram.get();
        this.uart.setBaud(saved.baud ?? this.profile.uart.defaultBaud);
        this.powerOn();
      },
      'power-on',
    );
  }

  /**
   * Also tell `fn` of every byte for the host, at its instant (the serialport binding); returns
   * how to stop. Without taps the UART calls the host port alone.
   */
  tapHostBytes(fn: (b: number, t: Ns) => void): () => void {
    this.hostTaps.add(fn);
    const host = this.host;
    const taps = this.hostTaps;
    this.uart.onTxByte = (b, t) => {
      host.deliverByte(b, t);
      for (const f of taps) f(b, t);
    };
    return () => {
      taps.delete(fn);
      if (taps.size === 0) this.uart.onTxByte = (b, t) => host.deliverByte(b, t);
    };
  }

  /** Connect a serial link (pty, TCP, stdio); its input enters model time via the clock. */
  async attach(link: Link): Promise<void> {
    await link.open((bytes) => this.clock.inject('host-rx', () => this.uart.receive(bytes)), {
      // the old host's unread bytes are not the new host's
      hostChanged: () => this.clock.inject('host-replaced', () => this.uart.discardInput()),
    });
    this.links.push(link);
    if (link.pauseInput && link.resumeInput) {
      const pause = link.pauseInput.bind(link);
      const resume = link.resumeInput.bind(link);
      const before = this.uart.onRxPressure;
      // back-pressure instead of overrun: TCP holds what the FIFO cannot take yet
      this.uart.onRxPressure = (high) => {
        before?.(high);
        if (high) pause();
        else resume();
      };
    }
    // the UART gathers runs of bytes for links only once there is one
    this.uart.toHost ??= (bytes) => this.deliverToHost(bytes);
    // the link is the host now; the in-process port would only pile up what it sends
    this.host.recording = false;
  }

  /** A run of bytes that left the UART (the host port took each at its instant already). */
  private deliverToHost(bytes: Uint8Array): void {
    if (this.links.length === 0) return;
    // the UART lends `bytes` for this call only; links may keep what they are given
    const own = bytes.slice();
    for (const l of this.links) l.write(own);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.services) s.powerOff();
    this.clock.stop();
    for (const l of this.links) await l.close();
    for (const s of this.services) await s.close?.();
    await this.vcd?.close();
    await this.trace.close();
  }
}

export function createModem(opts: ModemOptions = {}): Modem {
  return new Modem(opts);
}
