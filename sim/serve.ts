/**
 * `modemsim serve`: one modem on one serial link and its broker, until a signal. Kept apart
 * from cli.ts (which only parses argv) so tests and embedders can run it in-process.
 */
import { createModem, Modem } from './modem.js';
import { createFleet } from './fleet.js';
import type { TraceLevel } from './trace.js';
import { loadFaultTimelineFile, playServedTimeline } from './scenario/timeline.js';
import type { Scenario } from './scenario/types.js';
import { sec } from './kernel.js';
import type { Logger } from './log.js';
import type { Link } from './links/link.js';
import { createLink, SerialSpec } from './links/spec.js';
import { ControlServer, startControl } from './control.js';
import { recordFarPublishes, recordFarSms } from './replay/record.js';
import { smsGroup } from './services/sms.js';
import { findOnPath, PtyInUseError, PtyLink, SOCAT_MISSING } from './links/pty.js';
import { profiles, resolveProfile } from './profiles/index.js';
import { BrokerFlags, MqttReady, MqttSetup, setupMqtt } from './mqtt/options.js';
import { BrokerListenError, DEFAULT_BROKER_HOST, DEFAULT_BROKER_PORT, DEFAULT_BROKER_TLS_PORT } from './broker/index.js';
import { EnvironmentError, errnoCode, flagValue, oneLine, StartupError, UsageError } from './instance/errors.js';
import { baudFlag, brokerAuthFlag, brokerFlags, choiceFlag, controlFlag, ControlWhere, routeFlag, serialFlag } from './instance/flags.js';
import { checkCanListen, checkDistinctPorts, ListenWant, listenError } from './instance/ports.js';
import { lockDataDir, LockedDataDir } from './instance/data-dir.js';
import { checkOutputFile } from './instance/output-file.js';

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
  /** A `driver: external` fault timeline played from power-on against the host on the link. */
  faults?: string;
  /** `bytes` (default) or `lines` (the module's bytes left out). */
  traceLevel?: TraceLevel;
  /** VCD waveform of the UART lines. */
  vcd?: string;
  baud?: number;
  /** Control endpoint: `tcp:HOST:PORT` (default tcp:127.0.0.1:0) or `off`. */
  control?: string;
  /** Modems on one timeline and one broker (default 1); more need `--serial tcp:HOST:PORT`. */
  count?: number;
}

export const DEFAULT_CONTROL = 'tcp:127.0.0.1:0';

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
  /** With --count: each modem's serial address and IMEI, by index (the control's `"modem"`). */
  modems?: Array<{ serial: string; imei: string }>;
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

/** What the flags ask for, once every value has been found usable on any machine. */
interface Plan {
  serialText: string;
  serial: SerialSpec;
  control: ControlWhere | undefined;
  /** Every socket serve will listen on, with the flag that asked for it. */
  listen: { serial?: ListenWant; control?: ListenWant; plain?: ListenWant; tls?: ListenWant };
}

/** Usage errors (exit 2): values that cannot work anywhere, all checked before anything runs. */
function plan(opts: ServeOptions, serialText: string, serialGiven: boolean): Plan {
  const serial = serialFlag(serialText);
  const profileName = choiceFlag('--profile', opts.profile, Object.keys(profiles));
  if (opts.baud !== undefined) {
    const profile = resolveProfile(profileName);
    baudFlag(opts.baud, profile.name, profile.uart.rates);
  }
  const controlText = opts.control ?? DEFAULT_CONTROL;
  const control = controlFlag(controlText);
  for (const r of opts.route ?? []) routeFlag(r);
  const external = (opts.broker ?? []).length > 0;
  if (external) brokerFlags(opts.broker ?? []);
  if (opts.brokerAuth !== undefined) brokerAuthFlag(opts.brokerAuth);

  const listen: Plan['listen'] = {};
  if (serial.kind === 'tcp') {
    listen.serial = { flag: '--serial', value: serialGiven ? serialText : `${serialText} (the default without socat)`, host: serial.host, port: serial.port };
  }
  if (control) listen.control = { flag: '--control', value: controlText, host: control.host, port: control.port };
  if (!external) {
    const plain = opts.brokerPort ?? DEFAULT_BROKER_PORT;
    const tls = opts.brokerTlsPort ?? DEFAULT_BROKER_TLS_PORT;
    listen.plain = { flag: '--broker-port', value: String(plain), host: DEFAULT_BROKER_HOST, port: plain };
    listen.tls = { flag: '--broker-tls-port', value: String(tls), host: DEFAULT_BROKER_HOST, port: tls };
  }
  checkDistinctPorts(Object.values(listen));
  return { serialText, serial, control, listen };
}

/** A listen failure of one service after the up-front check (a port taken meanwhile), named by flag. */
function listenFailure(want: ListenWant | undefined, err: unknown): unknown {
  const code = errnoCode(err);
  if (want === undefined || code === undefined || !['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES', 'EPERM', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return err;
  return listenError([{ want, err }]);
}

/** Anything the link refused while starting, as one line naming --serial. */
function linkFailure(p: Plan, err: unknown): unknown {
  if (err instanceof StartupError) return err;
  const what = flagValue('--serial', p.serialText);
  if (err instanceof PtyInUseError) {
    return new EnvironmentError(`${what}: ${err.path} is served by pid ${err.pid} (${err.evidence}); stop that one, or pass another --serial pty:PATH`, { cause: err });
  }
  if (p.serial.kind === 'tcp') {
    const mapped = listenFailure(p.listen.serial, err);
    if (mapped !== err) return mapped;
  }
  if (p.serial.kind === 'pty' && err instanceof Error) {
    return new EnvironmentError(`${what}: ${oneLine(err.message)}; pass another --serial pty:PATH`, { cause: err });
  }
  return err;
}

/** The modem's own errors opening --trace/--vcd (checked before, but a race or a full disk remains). */
function outputFailure(err: unknown, files: ReadonlyArray<{ flag: string; path: string | undefined }>): unknown {
  if (!(err instanceof Error) || !('path' in err)) return err;
  const file = files.find((f) => f.path !== undefined && f.path === err.path);
  if (!file?.path) return err;
  return new EnvironmentError(`${flagValue(file.flag, file.path)}: cannot open it (${errnoCode(err) ?? err.message}); pass a file you can write`, { cause: err });
}

/**
 * Start a modem on its link. Everything that can be refused is checked first, in this order:
 * flag values (UsageError), socat, output files, the data directory lock, every listening port,
 * the pty path; only then do the broker, the modem and the control endpoint start. A failure
 * throws a StartupError whose message is one line, and nothing is left running or locked.
 */
export async function serve(opts: ServeOptions, log: Logger, hooks: ServeHooks = {}): Promise<Served> {
  const serialGiven = opts.serial !== undefined;
  const p = plan(opts, opts.serial ?? defaultSerial(log), serialGiven);
  if (p.serial.kind === 'pty' && !findOnPath('socat')) throw new EnvironmentError(`${flagValue('--serial', p.serialText)}: ${SOCAT_MISSING}`);
  const trace = opts.trace === undefined ? undefined : checkOutputFile('--trace', opts.trace);
  const vcd = opts.vcd === undefined ? undefined : checkOutputFile('--vcd', opts.vcd);
  const faults = opts.faults === undefined ? undefined : faultTimelineFlag(opts.faults);
  const count = opts.count ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count ${String(opts.count)}: expected a whole number of modems, 1 or more`);
  if (count > 1 && p.serial.kind !== 'tcp' && p.serial.kind !== 'pty') {
    throw new UsageError(`--count ${count}: needs --serial tcp:HOST:PORT (modem i listens on PORT+i; tcp:HOST:0 = a free port each) or --serial pty:PATH (modem i on PATH<i>)`);
  }
  if (count > 1 && faults) throw new UsageError(`--faults with --count ${count}: a fault timeline plays against one driver; serve one modem`);
  const data: LockedDataDir = lockDataDir(opts.dataDir);
  if (count > 1) return serveFleet(opts, p, count, data, trace, log);

  // undone in reverse on a failure part way
  const undo: Array<() => Promise<void> | void> = [() => data.lock.release()];
  const unwind = (): Promise<void> => undoAll(undo, log);
  let modem: Modem | undefined;
  try {
    await checkCanListen(Object.values(p.listen));
    const hostEnded = (): void => {
      const m = modem;
      if (!m) return;
      m.clock.inject('host-end', () => {
        m.kernel.after(STDIO_LINGER, () => m.uart.whenTxDrained(() => hooks.onHostGone?.()), 'host-end-linger');
      });
    };
    const link = createLink(p.serial, { log, onLost: hooks.onLost, onEnd: hostEnded });
    undo.push(() => link.close());
    if (link instanceof PtyLink) {
      try {
        link.claim();
      } catch (err) {
        throw linkFailure(p, err);
      }
    }

    // the broker first: its certificates live in <data-dir>/certs and the modem routes to it
    const mqtt = await startBroker(opts, p, data, log);
    const broker = mqtt;
    undo.push(() => broker.close());
    try {
      modem = createModem({
        mqtt: mqtt.options,
        profile: opts.profile,
        // The power-on rate; a rate saved with AT&W still wins, as on the module.
        ...(opts.baud !== undefined && { profileOverrides: { uart: { defaultBaud: opts.baud } } }),
        seed: opts.seed,
        clock: opts.clock,
        ...(opts.clock === 'virtual' && { autoHorizonNs: SERVE_AUTO_HORIZON }),
        // the instants the broker's replies came in at: a replay enters them there again
        ...(trace !== undefined && { recordNetworkInputs: true }),
        dataDir: data.path,
        ...(trace !== undefined && { traceFile: trace }),
        ...(opts.traceLevel !== undefined && { traceLevel: opts.traceLevel }),
        ...(vcd !== undefined && { vcdFile: vcd }),
        log,
      });
    } catch (err) {
      throw outputFailure(err, [{ flag: '--trace', path: trace }, { flag: '--vcd', path: vcd }]);
    }
    const m = modem;
    undo.push(() => m.close());
    // what other clients publish is the broker's input: the trace keeps it for the replay
    if (trace !== undefined && mqtt.broker !== undefined) undo.push(recordFarPublishes(m, mqtt.broker));
    if (trace !== undefined && m.hasGroup(smsGroup)) undo.push(recordFarSms(m, m.service(smsGroup).center));
    try {
      await m.attach(link);
    } catch (err) {
      throw linkFailure(p, err);
    }
    let control: ControlServer | undefined;
    if (p.control) {
      try {
        control = await startControl(m, mqtt.broker, p.control.host, p.control.port, log);
      } catch (err) {
        throw listenFailure(p.listen.control, err);
      }
    }
    // A free-running virtual clock only moves after an input; this one lets the boot lines out.
    if (opts.clock === 'virtual') m.clock.inject('serve-start', () => undefined);
    if (faults) void playServedTimeline(m, faults, { ...(mqtt.broker && { broker: mqtt.broker }), log });

    const readyInfo: ReadyInfo = {
      serial: link.address ?? link.description,
      link: link.description,
      profile: m.profile.name,
      clock: opts.clock,
      baud: m.uart.baud,
      seed: opts.seed,
      dataDir: data.path,
      ...(trace !== undefined && { trace }),
      ...(control && { control: control.address }),
      ...mqtt.ready,
    };
    const ctl = control;
    const close = async (): Promise<void> => {
      try {
        await ctl?.close();
        await m.close();
        await broker.close();
        await link.close();
      } finally {
        data.lock.release();
      }
    };
    return { modem: m, link, readyInfo, close };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** The broker (embedded, or the external one's options); a port it cannot bind names its flag. */
async function startBroker(opts: ServeOptions, p: Plan, data: LockedDataDir, log: Logger): Promise<MqttSetup> {
  try {
    return await setupMqtt({ ...opts, dataDir: data.path }, log);
  } catch (err) {
    if (!(err instanceof BrokerListenError)) throw err;
    const mapped = listenFailure(err.label === 'TLS' ? p.listen.tls : p.listen.plain, err.cause);
    throw mapped === err.cause ? err : mapped;
  }
}

/** Undo a start that failed part way, last step first. */
async function undoAll(undo: Array<() => Promise<void> | void>, log: Logger): Promise<void> {
  for (const u of undo.splice(0).reverse()) {
    try {
      await u();
    } catch (err) {
      log.debug({ err }, 'while undoing a failed start');
    }
  }
}

/**
 * `--count N`: N modems on one timeline (createFleet) and one broker, modem i on TCP port
 * PORT+i (or a free port each for port 0), one control endpoint addressing each by index.
 */
async function serveFleet(opts: ServeOptions, p: Plan, count: number, data: LockedDataDir, trace: string | undefined, log: Logger): Promise<Served> {
  const undo: Array<() => Promise<void> | void> = [() => data.lock.release()];
  try {
    await checkCanListen(Object.values(p.listen));
    const mqtt = await startBroker(opts, p, data, log);
    const broker = mqtt;
    undo.push(() => broker.close());
    const fleet = createFleet({
      count,
      mqtt: mqtt.options,
      ...(mqtt.broker && { broker: mqtt.broker }),
      profile: opts.profile,
      ...(opts.baud !== undefined && { profileOverrides: { uart: { defaultBaud: opts.baud } } }),
      seed: opts.seed,
      clock: opts.clock,
      ...(opts.clock === 'virtual' && { autoHorizonNs: SERVE_AUTO_HORIZON }),
      dataDir: data.path,
      ...(trace !== undefined && { traceFile: trace }),
      ...(opts.traceLevel !== undefined && { traceLevel: opts.traceLevel }),
      log,
    });
    undo.push(() => fleet.close());
    const links: Link[] = [];
    for (let i = 0; i < count; i++) links.push(await attachFleetLink(p, fleet.modem(i), i, undo, log));
    let control: ControlServer | undefined;
    if (p.control) {
      try {
        control = await startControl(fleet.modems, mqtt.broker, p.control.host, p.control.port, log);
      } catch (err) {
        throw listenFailure(p.listen.control, err);
      }
    }
    if (opts.clock === 'virtual') fleet.clock.inject('serve-start', () => undefined);
    const first = fleet.modem(0);
    const readyInfo: ReadyInfo = {
      serial: links[0]!.address ?? links[0]!.description,
      link: links[0]!.description,
      profile: first.profile.name,
      clock: opts.clock,
      baud: first.uart.baud,
      seed: opts.seed,
      dataDir: data.path,
      ...(trace !== undefined && { trace }),
      ...(control && { control: control.address }),
      modems: fleet.modems.map((m, i) => ({ serial: links[i]!.address ?? links[i]!.description, imei: m.profile.identity.imei })),
      ...mqtt.ready,
    };
    const ctl = control;
    const close = async (): Promise<void> => {
      try {
        await ctl?.close();
        await fleet.close();
        await broker.close();
        for (const l of links) await l.close();
      } finally {
        data.lock.release();
      }
    };
    return { modem: first, link: links[0]!, readyInfo, close };
  } catch (err) {
    await undoAll(undo, log);
    throw err;
  }
}

/**
 * Modem i of a fleet on its own link: TCP port PORT+i (a free one each for port 0), or the pty
 * PATH<i> — PATH's trailing number plus i when it has one (`ttyMODEM0` → ttyMODEM0, ttyMODEM1 …).
 */
async function attachFleetLink(p: Plan, modem: Modem, i: number, undo: Array<() => Promise<void> | void>, log: Logger): Promise<Link> {
  const s = p.serial;
  if (s.kind === 'tcp') {
    const port = s.port === 0 ? 0 : s.port + i;
    const link = createLink({ kind: 'tcp', host: s.host, port }, { log });
    undo.push(() => link.close());
    try {
      await modem.attach(link);
    } catch (err) {
      throw listenFailure({ flag: '--serial', value: `tcp:${s.host}:${port}`, host: s.host, port }, err);
    }
    return link;
  }
  if (s.kind !== 'pty') throw new UsageError(`--count: needs --serial tcp:HOST:PORT or --serial pty:PATH`);
  const path = fleetPtyPath(s.path, i);
  const link = createLink({ kind: 'pty', path }, { log });
  undo.push(() => link.close());
  const one: Plan = { ...p, serialText: `pty:${path}`, serial: { kind: 'pty', path } };
  try {
    if (link instanceof PtyLink) link.claim();
    await modem.attach(link);
  } catch (err) {
    throw linkFailure(one, err);
  }
  return link;
}

/** `PATH<i>`: a trailing number of PATH counts on by i, else i is appended. */
export function fleetPtyPath(path: string, i: number): string {
  const m = /^(.*?)(\d+)$/.exec(path);
  return m === null ? `${path}${i}` : `${m[1]!}${Number(m[2]!) + i}`;
}

/** `--faults FILE`: a timeline that loads, or one line naming the flag and the problem. */
function faultTimelineFlag(path: string): Scenario {
  try {
    return loadFaultTimelineFile(path);
  } catch (err) {
    throw new UsageError(`${flagValue('--faults', path)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export { StartupError, UsageError, EnvironmentError };
