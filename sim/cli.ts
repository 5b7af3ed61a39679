#!/usr/bin/env node
/**
 * The `modemsim` command. `modemsim` alone prints help (it never starts serving, or creates a
 * pty or data directory, by surprise); `modemsim serve` runs a modem until SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger, Logger } from './log.js';
import { profiles } from './profiles/index.js';
import { parseSerialSpec } from './links/spec.js';
import { serve, Served, ServeOptions } from './serve.js';
import { RunFlags, runScenarioFiles } from './scenario/run-files.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The package version, from the package.json above this file (src via tsx, or dist/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'modemsim' && pkg.version) return pkg.version;
    } catch {
      /* keep looking upwards */
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

function intArg(what: string, min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`${what} must be an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${what} must be in ${min}..${max}`);
    return n;
  };
}

function serialArg(v: string): string {
  try {
    parseSerialSpec(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return v;
}

interface ServeFlags extends ServeOptions {
  logLevel: string;
}

/** `serve` options: the serial side, then the broker side (read by serve() and setupMqtt()). */
function addServeOptions(cmd: Command): Command {
  return cmd
    .option('--serial <spec>', 'pty:PATH | tcp:HOST:PORT (port 0 = any free port) | stdio (default: pty:./ttyMODEM0 when socat is installed, else tcp:127.0.0.1:7000)', serialArg)
    .addOption(new Option('--profile <name>', 'module profile').choices(Object.keys(profiles)).default('air724ug'))
    .addOption(new Option('--clock <kind>', 'realtime: model time follows the wall clock; virtual: runs ahead by events, at most 10 s past the last host input').choices(['realtime', 'virtual']).default('realtime'))
    .option('--seed <n>', 'seed for latency jitter', intArg('--seed', 0, 2 ** 31 - 1), 1)
    .option('--data-dir <dir>', 'flash image and AT&W settings', './.modemsim')
    .option('--trace <file>', 'write the trace (every byte, command and state change, with model ns) as JSON lines')
    .option('--vcd <file>', 'write the UART lines (TXD, RXD) as a VCD waveform, bit by bit')
    .option('--control <spec>', 'fault-injection endpoint, JSON lines: tcp:HOST:PORT or off (default tcp:127.0.0.1:0)')
    .option('--baud <rate>', 'UART rate at power-on (the profile default is 115200; a rate saved with AT&W wins)', intArg('--baud', 1, 10_000_000))
    .addOption(new Option('--log-level <level>', 'log level (logs go to stderr)').choices(LOG_LEVELS).default('info'))
    .option('--broker-port <port>', 'embedded broker, plain listener on loopback (0 = any free port)', intArg('--broker-port', 0, 65535), 1883)
    .option('--broker-tls-port <port>', 'embedded broker, TLS listener on loopback (0 = any free port)', intArg('--broker-tls-port', 0, 65535), 8883)
    .option('--broker <url>', 'external broker instead of the embedded one: mqtt://HOST:PORT and/or mqtts://HOST:PORT (repeatable)', collect, [])
    .option('--route <from=to>', 'send MIPSTART destinations elsewhere: FROM = HOST:PORT | HOST | *:PORT | *; TO = HOST:PORT or URL; first match wins (repeatable)', collect, [])
    .option('--pass-through', 'connect to the host:port the driver asked for (after routes)')
    .option('--mtls', 'the embedded TLS listener requires client certificates signed by its CA')
    .option('--broker-connect-timeout <seconds>', 'the embedded broker closes a link that sends no CONNECT in this time', floatArg('--broker-connect-timeout', 0.05, 3600), 5)
    .option('--broker-auth <user:pass>', "the embedded broker refuses other credentials (bare ERROR after MCONNECT's OK)");
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function floatArg(what: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${what} must be a number in ${min}..${max}`);
    return n;
  };
}

async function runServe(flags: ServeFlags): Promise<void> {
  const log = createLogger(flags.logLevel);
  let served: Served | undefined;
  let stopping = false;
  const shutdown = async (code: number, why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'shutting down');
    try {
      await served?.close();
    } catch (err) {
      log.error({ err }, 'error while closing');
      code = code || 1;
    }
    await flushed(log);
    process.exit(code);
  };
  // SIGHUP too: closing the terminal (or tmux) that runs serve must still remove the pty link
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) process.exit(1); // a second signal: stop waiting for a clean close
      void shutdown(0, sig);
    });
  }
  try {
    served = await serve(flags, log, {
      onLost: (reason) => void shutdown(1, reason),
      onHostGone: () => void shutdown(0, 'stdin ended'),
    });
  } catch (err) {
    // One line, no stack: start-up errors are the user's to fix (missing socat, busy port).
    log.fatal(err instanceof Error ? err.message : String(err));
    await flushed(log);
    process.exit(1);
  }
  log.info(served.readyInfo, 'ready');
}

/** The pretty transport writes from a worker thread: let it finish before exiting. */
function flushed(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}

interface RunCliFlags extends RunFlags {
  logLevel: string;
}

async function runScenarios(files: string[], flags: RunCliFlags): Promise<void> {
  const log = createLogger(flags.logLevel);
  let code: number;
  try {
    code = await runScenarioFiles(files, flags, log, (line) => process.stdout.write(line + '\n'));
  } catch (err) {
    log.fatal(err instanceof Error ? err.message : String(err));
    code = 1;
  }
  await flushed(log);
  process.exitCode = code;
}

function buildProgram(): Command {
  const program = new Command('modemsim')
    .description('Simulated Luat Air724UG / Air780E 4G module: its AT firmware on a serial port')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)');
  const serveCmd = program.command('serve').description('run a modem on a serial link (pty, TCP or stdio)');
  addServeOptions(serveCmd).action((flags: ServeFlags) => runServe(flags));
  program
    .command('run')
    .description('play scenario files (YAML timelines of host exchanges, faults and expectations) in virtual time; exit 0 when every expectation holds, 1 otherwise')
    .argument('<scenario...>', 'scenario files (see scenarios/README.md)')
    .addOption(new Option('--profile <name>', "module profile (overrides the scenario's)").choices(Object.keys(profiles)))
    .option('--seed <n>', "seed for latency jitter (overrides the scenario's)", intArg('--seed', 0, 2 ** 31 - 1))
    .option('--trace <file>', 'write every trace (model ns; broker ports symbolic) as JSON lines')
    .option('--transcript <file>', 'write a Markdown transcript in the manual\'s →/← table form')
    .addOption(new Option('--log-level <level>', 'log level (logs go to stderr)').choices(LOG_LEVELS).default('silent'))
    .action((files: string[], flags: RunCliFlags) => runScenarios(files, flags));
  return program;
}

const program = buildProgram();
if (process.argv.length <= 2) program.help();
await program.parseAsync(process.argv);
