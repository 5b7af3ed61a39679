/**
 * One simulated module: kernel, UART, AT engine, services, trace. `createModem` builds one for
 * in-process use (tests, fixtures); the CLI builds one and attaches a link (pty, TCP, stdio).
 */
import { mkdirSync } from 'node:fs';
import { Kernel } from './kernel.js';
import { ClockDriver, RealtimeClock, VirtualClock } from './clock.js';
import { Uart } from './uart.js';
import { AtEngine, EngineSettings } from './engine.js';
import { Trace } from './trace.js';
import { Profile, DeepPartial } from './profile.js';
import { resolveProfile } from './profiles/index.js';
import { Logger, silentLogger } from './log.js';
import { Service } from './service.js';
import { SystemService } from './services/system.js';
import { NetworkService } from './services/network.js';
import { PdpService } from './services/pdp.js';
import { MqttService, MqttServiceOptions } from './services/mqtt.js';
import { FsService } from './services/fs.js';
import { SslService } from './services/ssl.js';
import { Nvram } from '../fs-model/nvram.js';
import { HostPort } from './host.js';
import type { Link } from './links/link.js';
import { VcdWriter } from './vcd.js';

export interface ModemOptions {
  profile?: string;
  profileOverrides?: DeepPartial<Profile>;
  seed?: number;
  /** `virtual` (default for in-process use) or `realtime`. */
  clock?: 'virtual' | 'realtime';
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
  readonly system: SystemService;
  readonly network: NetworkService;
  readonly pdp: PdpService;
  readonly mqtt: MqttService;
  readonly fs: FsService;
  readonly ssl: SslService;
  readonly services: Service[];
  /** In-process host side of the UART (tests, fixtures). */
  readonly host: HostPort;
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
        : new VirtualClock(this.kernel, { autoHorizon: opts.autoHorizonNs, idleGraceMs: opts.idleGraceMs });
    if (opts.clock === 'realtime' || opts.autoHorizonNs !== undefined) {
      // free-running: nobody awaits the clock to hear of a throwing event, and dying would
      // take the host's serial link with it
      this.kernel.onEventError = (err, label) => {
        this.log.error({ err, label }, 'model event threw');
        this.trace.record({ t: this.kernel.now, ev: 'fault', what: 'event-threw', detail: { label, error: String(err) } });
      };
    }
    const saved = this.nvram.get();
    this.uart = new Uart(this.kernel, this.trace, saved.baud ?? this.profile.uart.defaultBaud);
    this.uart.pacing = opts.uartPacing ?? true;
    this.vcd = opts.vcdFile
      ? new VcdWriter(this.uart, this.trace, opts.vcdFile, (err) =>
          this.log.error({ err, file: opts.vcdFile }, 'VCD file write failed; the waveform stops here, the modem runs on'),
        )
      : undefined;
    this.engine = new AtEngine(this.kernel, this.uart, this.trace, this.profile, this.log);
    this.host = new HostPort(this);
    this.uart.toHost = (bytes) => this.deliverToHost(bytes);
    this.system = new SystemService(this);
    this.network = new NetworkService(this);
    this.pdp = new PdpService(this);
    this.fs = new FsService(this);
    this.ssl = new SslService(this);
    this.mqtt = new MqttService(this, opts.mqtt);
    this.services = [this.system, this.network, this.pdp, this.fs, this.ssl, this.mqtt];
    for (const s of this.services) this.engine.table.add(s.commands);
    this.restoreSavedSettings();
    this.powerOn();
  }

  /** Settings saved with AT&W (ATZ, reboot). */
  savedSettings(): Partial<EngineSettings> {
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

  /** Reboot after the current output has left: RAM state lost, flash kept (decisions §7). */
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
