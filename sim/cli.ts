#!/usr/bin/env node
/**
 * The `modemsim` command. `modemsim` alone prints help (it never starts serving, or creates a
 * pty or data directory, by surprise); `modemsim serve` runs a modem until SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { createLogger, Logger } from './log.js';
import { profiles } from './profiles/index.js';
import { serve, Served, ServeOptions } from './serve.js';
import { RunFlags, runScenarioFiles } from './scenario/run-files.js';
import { replayCli } from './replay/command.js';
import { viewCli } from './view/command.js';
import { TRACE_LEVELS } from './trace.js';
import { oneLine, StartupError } from './instance/errors.js';
import { brokerAuthFlag, brokerFlags, choiceFlag, controlFlag, intFlag, numberFlag, portFlag, routeFlag, serialFlag } from './instance/flags.js';

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

// Flag parsers throw UsageError, which commander passes through untouched (it rewraps only its
// own InvalidArgumentError): the line printed is ours, naming flag, value and fix.
const intArg = (flag: string, min: number, max: number) => (v: string): number => intFlag(flag, v, min, max);
const portArg = (flag: string) => (v: string): number => portFlag(flag, v);
const floatArg = (flag: string, min: number, max: number, unit: string) => (v: string): number => numberFlag(flag, v, min, max, unit);
const choiceArg = (flag: string, choices: readonly string[]) => (v: string): string => choiceFlag(flag, v, choices);

function serialArg(v: string): string {
  serialFlag(v);
  return v;
}

function controlArg(v: string): string {
  controlFlag(v);
  return v;
}

/** A repeatable flag, each value checked as it comes. */
const collectChecked = (check: (v: string) => void) => (v: string, prev: string[]): string[] => {
  check(v);
  return [...prev, v];
};

interface ServeFlags extends ServeOptions {
  logLevel: string;
}

/** `serve` options: the serial side, then the broker side (read by serve() and setupMqtt()). */
function addServeOptions(cmd: Command): Command {
  return cmd
    .option('--serial <spec>', 'pty:PATH | tcp:HOST:PORT (port 0 = any free port) | stdio (default: pty:./ttyMODEM0 when socat is installed, else tcp:127.0.0.1:7000)', serialArg)
    .addOption(profileOption('module profile').default('air724ug'))
    .addOption(new Option('--clock <kind>', 'realtime: model time follows the wall clock; virtual: runs ahead by events, at most 10 s past the last host input').choices(CLOCKS).argParser(choiceArg('--clock', CLOCKS)).default('realtime'))
    .option('--seed <n>', 'seed for latency jitter', intArg('--seed', 0, 2 ** 31 - 1), 1)
    .option('--data-dir <dir>', 'flash image and AT&W settings', './.modemsim')
    .option('--trace <file>', 'write the trace (every byte, command and state change, with model ns) as JSON lines')
    .addOption(new Option('--trace-level <level>', 'bytes: a record per UART byte, and one per line; lines: one per line, the host\'s input in runs (several times smaller)').choices(TRACE_LEVELS).argParser(choiceArg('--trace-level', TRACE_LEVELS)).default('bytes'))
    .option('--vcd <file>', 'write the UART lines (TXD, RXD) as a VCD waveform, bit by bit')
    .option('--faults <file>', 'play a driver: external fault timeline (scenario YAML) from power-on against the host on the link')
    .option('--count <n>', 'serve N modems on one timeline and one broker, modem i on --serial tcp:HOST:PORT+i or pty:PATH<i> (the control endpoint takes "modem": i)', intArg('--count', 1, 10_000), 1)
    .option('--control <spec>', 'fault-injection endpoint, JSON lines: tcp:HOST:PORT or off (default tcp:127.0.0.1:0)', controlArg)
    .option('--baud <rate>', 'UART rate at power-on (the profile default is 115200; a rate saved with AT&W wins)', intArg('--baud', 1, 10_000_000))
    .addOption(logLevelOption('info'))
    .option('--broker-port <port>', 'embedded broker, plain listener on loopback (0 = any free port)', portArg('--broker-port'), 1883)
    .option('--broker-tls-port <port>', 'embedded broker, TLS listener on loopback (0 = any free port)', portArg('--broker-tls-port'), 8883)
    .option('--broker <url>', 'external broker instead of the embedded one: mqtt://HOST:PORT and/or mqtts://HOST:PORT (repeatable)', collectChecked((v) => brokerFlags([v])), [])
    .option('--route <from=to>', 'send MIPSTART destinations elsewhere: FROM = HOST:PORT | HOST | *:PORT | *; TO = HOST:PORT or URL; first match wins (repeatable)', collectChecked(routeFlag), [])
    .option('--pass-through', 'connect to the host:port the driver asked for (after routes)')
    .option('--mtls', 'the embedded TLS listener requires client certificates signed by its CA')
    .option('--broker-connect-timeout <seconds>', 'the embedded broker closes a link that sends no CONNECT in this time', floatArg('--broker-connect-timeout', 0.05, 3600, 'seconds'), 15)
    .option('--broker-auth <user:pass>', "the embedded broker refuses other credentials (bare ERROR after MCONNECT's OK)", (v: string) => {
      brokerAuthFlag(v);
      return v;
    });
}

const CLOCKS = ['realtime', 'virtual'];

// .choices() lists the values in --help; the parser after it words the refusal
function profileOption(description: string): Option {
  const names = Object.keys(profiles);
  return new Option('--profile <name>', description).choices(names).argParser(choiceArg('--profile', names));
}

function logLevelOption(level: string): Option {
  return new Option('--log-level <level>', 'log level (logs go to stderr)').choices(LOG_LEVELS).argParser(choiceArg('--log-level', LOG_LEVELS)).default(level);
}

/**
 * The one plain line for a start-up failure (not a JSON record: it is for the person at the
 * terminal, and scripts wait for "ready", not for error records).
 */
function failLine(message: string): void {
  process.stderr.write(`modemsim: ${oneLine(message)}\n`);
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
    await flushed(log);
    failLine(err instanceof Error ? err.message : String(err));
    process.exit(err instanceof StartupError ? err.exitCode : 1);
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
    if (err instanceof StartupError) {
      failLine(err.message);
      code = err.exitCode;
    } else {
      log.fatal(err instanceof Error ? err.message : String(err));
      code = 1;
    }
  }
  await flushed(log);
  process.exitCode = code;
}

function buildProgram(): Command {
  const program = new Command('modemsim')
    .description('Simulated Luat Air724UG / Air780E 4G module: its AT firmware on a serial port')
    .version(packageVersion(), '-V, --version')
    // commander's own refusals (unknown option, missing value) come back to main() as errors,
    // to be printed as one line like ours; help and version still go to stdout
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  const serveCmd = program.command('serve').description('run a modem on a serial link (pty, TCP or stdio)');
  addServeOptions(serveCmd).action((flags: ServeFlags) => runServe(flags));
  program
    .command('run')
    .description('play scenario files (YAML timelines of host exchanges, faults and expectations) in virtual time; exit 0 when every expectation holds, 1 otherwise')
    .argument('<scenario...>', 'scenario files (see scenarios/README.md)')
    .addOption(profileOption("module profile (overrides the scenario's)"))
    .option('--seed <n>', "seed for latency jitter (overrides the scenario's)", intArg('--seed', 0, 2 ** 31 - 1))
    .option('--trace <file>', 'write every trace (model ns; broker ports symbolic) as JSON lines')
    .option('--transcript <file>', 'write a Markdown transcript in the manual\'s →/← table form')
    .option('--view <dir>', 'write a timeline page (one self-contained HTML file) per scenario into this directory')
    .addOption(logLevelOption('silent'))
    .action((files: string[], flags: RunCliFlags) => runScenarios(files, flags));
  program
    .command('replay')
    .description('feed a trace\'s recorded input (host bytes, broker replies, far-side messages, faults) into a fresh modem in virtual time and check every record it makes; exit 0 when all match, 1 naming the first difference')
    .argument('<trace>', 'a trace written by serve --trace or run --trace')
    .addOption(logLevelOption('silent'))
    .action((file: string, flags: { logLevel: string }) => replayCli(file, createLogger(flags.logLevel)));
  program
    .command('view')
    .description('write a trace as a timeline page: one self-contained HTML file with lanes on the model-time axis, zoomable, the bytes of any line on click')
    .argument('<trace>', 'a trace written by serve --trace or run --trace')
    .requiredOption('-o, --out <file>', 'the HTML file to write')
    .addOption(logLevelOption('silent'))
    .action((file: string, flags: { out: string; logLevel: string }) => viewCli(file, flags.out, createLogger(flags.logLevel)));
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    if (argv.length <= 2) program.help();
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0); // --help, --version: already printed
      const named = argv[2];
      const sub = program.commands.some((c) => c.name() === named) ? ` ${named}` : '';
      failLine(`${err.message.replace(/^error: /, '')} (see modemsim${sub} --help)`);
      process.exit(2);
    }
    if (err instanceof StartupError) {
      failLine(err.message);
      process.exit(err.exitCode);
    }
    throw err;
  }
}

await main(process.argv);
