/**
 * `modemsim serve`: one modem on one serial link and its broker, until a signal. Kept apart
 * from cli.ts (which only parses argv) so tests and embedders can run it in-process.
 */
import { resolve } from 'node:path';
import { createModem, Modem } from './modem.js';
import { sec } from './kernel.js';
import type { Logger } from './log.js';
import type { Link } from './links/link.js';
import { createLink, parseSerialSpec } from './links/spec.js';
import { ControlServer, startControl } from './control.js';
import { findOnPath, SocatMissingError } from './links/pty.js';
import { resolveProfile } from './profiles/index.js';
import { BrokerFlags, MqttReady, setupMqtt } from './mqtt/options.js';

export const DEFAULT_PTY = 'pty:./ttyMODEM0';
export const DEFAULT_TCP = 'tcp:127.0.0.1:7000';
/** serve --clock virtual: model time may run this far past the last host input. */
export const SERVE_AUTO_HORIZON = sec(10);
/**
 * After stdin ends the modem keeps running this much model time, so `printf 'AT\r' | modemsim
 * serve --serial stdio` still prints the answer before the process exits.
 */
export const STDIO_LINGER = sec(1);

export interface ServeOptions extends Omit<BrokerFlags, 'dataDir'> {
  /** `pty:PATH`, `tcp:HOST:PORT`, `stdio`; absent: see defaultSerial(). */
  serial?: string;
  profile: string;
  clock: 'realtime' | 'virtual';
  seed: number;
  dataDir: string;
  trace?: string;
  /** VCD waveform of the UART lines. */
  vcd?: string;
  baud?: number;
  /** Control endpoint: `tcp:HOST:PORT` (default tcp:127.0.0.1:0) or `off`. */
  control?: string;
}

/** The one `ready` record the CLI logs, broker URLs and certificate paths included. */
export interface ReadyInfo extends MqttReady {
  /** pty link path or `host:port`: where a host program connects. */
  serial: string;
  link: string;
  profile: string;
  clock: 'realtime' | 'virtual';
  baud: number;
  seed: number;
  dataDir: string;
  trace?: string;
  /** `host:port` of the control endpoint (JSON lines: faults, state). */
  control?: string;
}

export interface ServeHooks {
  /** The link died on its own (socat exited): the caller decides whether that ends the process. */
  onLost?: (reason: string) => void;
  /** The host ended the session (stdin EOF) and the linger time has passed. */
  onHostGone?: () => void;
}

export interface Served {
  readonly modem: Modem;
  readonly link: Link;
  readonly readyInfo: ReadyInfo;
  close(): Promise<void>;
}

/** pty when socat is there, else TCP with a one-line hint. */
export function defaultSerial(log: Logger): string {
  if (findOnPath('socat')) return DEFAULT_PTY;
  log.warn(`socat not found (apt-get install socat for a pty); serving on ${DEFAULT_TCP}`);
  return DEFAULT_TCP;
}

/** Where the control endpoint listens; loopback on an ephemeral port unless told otherwise. */
function controlSpec(spec = 'tcp:127.0.0.1:0'): { host: string; port: number } | undefined {
  if (spec === 'off') return undefined;
  const s = parseSerialSpec(spec);
  if (s.kind !== 'tcp') throw new Error(`--control wants tcp:HOST:PORT or off, got ${JSON.stringify(spec)}`);
  return { host: s.host, port: s.port };
}

/** Start a modem on its link. */
export async function serve(opts: ServeOptions, log: Logger, hooks: ServeHooks = {}): Promise<Served> {
  const spec = parseSerialSpec(opts.serial ?? defaultSerial(log));
  const profile = resolveProfile(opts.profile);
  if (opts.baud !== undefined && !profile.uart.rates.includes(opts.baud)) {
    throw new Error(`--baud ${opts.baud} is not a rate of ${profile.name} (${profile.uart.rates.join(', ')})`);
  }
  // fail on a missing socat before anything else starts (one fatal line, nothing to undo)
  if (spec.kind === 'pty' && !findOnPath('socat')) throw new SocatMissingError();
  const dataDir = resolve(opts.dataDir);
  // the broker first: its certificates live in <data-dir>/certs and the modem routes to it
  const mqtt = await setupMqtt({ ...opts, dataDir }, log);
  let modem: Modem;
  try {
    modem = createModem({
      mqtt: mqtt.options,
      profile: opts.profile,
      // The power-on rate; a rate saved with AT&W still wins, as on the module.
      ...(opts.baud !== undefined && { profileOverrides: { uart: { defaultBaud: opts.baud } } }),
      seed: opts.seed,
      clock: opts.clock,
      ...(opts.clock === 'virtual' && { autoHorizonNs: SERVE_AUTO_HORIZON }),
      dataDir,
      ...(opts.trace !== undefined && { traceFile: resolve(opts.trace) }),
      ...(opts.vcd !== undefined && { vcdFile: resolve(opts.vcd) }),
      log,
    });
  } catch (err) {
    await mqtt.close(); // e.g. a --trace path that cannot be opened
    throw err;
  }
  const hostEnded = (): void =>
    modem.clock.inject('host-end', () => {
      modem.kernel.after(STDIO_LINGER, () => modem.uart.whenTxDrained(() => hooks.onHostGone?.()), 'host-end-linger');
    });
  const link = createLink(spec, { log, onLost: hooks.onLost, onEnd: hostEnded });
  let control: ControlServer | undefined;
  const close = async (): Promise<void> => {
    await control?.close();
    await modem.close();
    await mqtt.close();
  };
  try {
    await modem.attach(link);
    const where = controlSpec(opts.control);
    if (where) control = await startControl(modem, mqtt.broker, where.host, where.port, log);
  } catch (err) {
    await close();
    throw err;
  }
  // A free-running virtual clock only moves after an input; this one lets the boot lines out.
  if (opts.clock === 'virtual') modem.clock.inject('serve-start', () => undefined);

  const readyInfo: ReadyInfo = {
    serial: link.address ?? link.description,
    link: link.description,
    profile: modem.profile.name,
    clock: opts.clock,
    baud: modem.uart.baud,
    seed: opts.seed,
    dataDir,
    ...(opts.trace !== undefined && { trace: resolve(opts.trace) }),
    ...(control && { control: control.address }),
    ...mqtt.ready,
  };
  return { modem, link, readyInfo, close };
}
