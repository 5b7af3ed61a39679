/**
 * `modemsim serve` as a child process for the trace tests: its stderr read as JSON log lines
 * until the one `ready` record, its exit awaited. Killed (SIGKILL) by `kill()`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { WallWaits } from './helpers.js';

const ROOT = join(import.meta.dirname, '..');

export interface ReadyRecord {
  serial: string;
  [k: string]: unknown;
}

export class ServedChild {
  readonly child: ChildProcess;
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly waits = new WallWaits();
  private gone = false;

  /** With `control`, the control endpoint on a free loopback port (its address in the ready record). */
  constructor(args: readonly string[], opts: { control?: boolean } = {}) {
    // parallel test files must not fight over the embedded broker's default ports
    const control = opts.control === true ? 'tcp:127.0.0.1:0' : 'off';
    this.child = spawn(process.execPath, ['--import', 'tsx', 'sim/cli.ts', 'serve', ...args, '--broker-port', '0', '--broker-tls-port', '0', '--control', control], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (t: string) => {
      this.stderr += t;
      this.waits.notify();
    });
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
    this.child.once('close', () => {
      this.gone = true;
      this.waits.notify();
    });
  }

  ready(timeoutMs = 20_000): Promise<ReadyRecord> {
    return this.waits.until(
      () => {
        for (const line of this.stderr.split('\n')) {
          if (!line.startsWith('{')) continue;
          const r = JSON.parse(line) as { msg?: string; serial?: unknown };
          if (r.msg === 'ready' && typeof r.serial === 'string') return { ...r, serial: r.serial };
        }
        if (this.gone) throw new Error(`serve exited before ready: ${this.stderr}`);
        return undefined;
      },
      timeoutMs,
      () => `no ready record from serve: ${this.stderr}`,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}
