/**
 * One simulated module: kernel, UART, AT engine, services, trace. `createModem` builds one for
 * in-process use (tests, fixtures); the CLI builds one and attaches a link (pty, TCP, stdio).
 */
import { mkdirSync } from 'node:fs';
import { Kernel } from './kernel.js';
import { ClockDriver, RealtimeClock, VirtualClock } from './clock.js';
import { FreeRunningClock, type FreeClockOptions } from './free-clock.js';
import { Uart } from './uart.js';
import { AtEngine } from './engine.js';
import { Trace } from './trace.js';
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
import { Nvram } from '../fs-model/nvram.js';
import { HostPort } from './host.js';
import type { Link } from './links/link.js';
import { VcdWriter } from './vcd.js';
import { ModemFaults, type FaultBroker } from './faults/index.js';

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
  private links: Link[] = [];
  private readonly vcd: VcdWriter | undefined;
  bootGeneration = 0;
  private closed = false;

  constructor(opts: ModemOptions = {}) {
    this.profile = resolveProfile(opts.profile, opts.profileOverrides);
    this.kernel = new Kernel({ seed: opts.seed ?? 1 });
    this.log = opts.log ?? silentLogger();
    this.trace = new Trace({
      file: opts.traceFile,
      memory: opts.traceMemory,
      onWriteError: (err) => this.log.error({ err, file: opts.traceFile }, 'trace file write failed; the file stops here, the modem runs on'),
    });
    this.dataDir = opts.dataDir;
    if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
    this.nvram = new Nvram(opts.dataDir);
    this.clock =
      opts.clock === 'realtime'
        ? new RealtimeClock(this.kernel)
        : opts.clock === 'free'
          ? new FreeRunningClock(this.kernel, opts.freeRun)
          : new VirtualClock(this.kernel, { autoHorizon: opts.autoHorizonNs, idleGraceMs: opts.idleGraceMs });
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
    this.uart.toHost = (bytes) => this.deliverToHost(bytes);
    const { kernel, clock } = this;
    const env: ServiceEnv = {
      kernel,
      clock,
      trace: this.trace,
      log: this.log,
      profile: this.profile,
      latency: (key) => engine.latency(key),
      draw: (l, stream) => engine.drawLatency(l, stream),
      now: () => (clock instanceof RealtimeClock ? Math.max(kernel.now, clock.wallNow()) : kernel.now),
      host: engine,
      line: engine,
      dataDir: opts.dataDir,
    };
    const ports = new Ports();
    ports.provide('module', {
      reboot: () => this.reboot(),
      savedSettings: () => this.savedSettings(),
      saveSettings: (s) => this.nvram.save({ ...s, baud: this.uart.baud }),
      uart: this.uart,
    });
    ports.provide('bridge', opts.mqtt ?? {});
    this.services = [];
    for (const group of opts.groups ?? COMMAND_GROUPS) {
      const service = group.create({ env, ports });
      this.built.set(group, service);
      this.services.push(service);
      engine.table.add(group.name, service.commands);
    }
    const input = ports.has('inputGate') ? ports.need('inputGate', 'engine') : undefined;
    const radio = ports.has('radio') ? ports.need('radio', 'engine') : undefined;
    engine.gate = {
      get accepting() {
        return input?.accepting ?? true;
      },
      get radioOn() {
        return radio === undefined || radio.cfun === 1;
      },
    };
    this.faults = new ModemFaults(this, opts.broker);
    this.restoreSavedSettings();
    this.powerOn();
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

  /** Connect a serial link (pty, TCP, stdio); its input enters model time via the clock. */
  async attach(link: Link): Promise<void> {
    await link.open((bytes) => this.clock.inject('host-rx', () => this.uart.receive(bytes)));
    this.links.push(link);
    // the link is the host now; the in-process port would only pile up what it sends
    this.host.recording = false;
  }

  private deliverToHost(bytes: Uint8Array): void {
    this.host.deliver(bytes, this.kernel.now);
    for (const l of this.links) l.write(bytes);
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
