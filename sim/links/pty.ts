/**
 * A pseudo-terminal a host program opens like a serial port. socat owns the pty pair and
 * creates the symlink; we talk to it over its stdin/stdout pipes:
 *   socat -d -d PTY,link=PATH,raw,echo=0 STDIO
 * `raw,echo=0` makes the pty pass bytes untouched, as a real UART does (no CR/LF mapping, no
 * line discipline echo: echo is the modem's business, ATE).
 */
import { spawn, ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, lstatSync, readlinkSync, unlinkSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Link } from './link.js';
import { WriteCoalescer } from './coalesce.js';

export const SOCAT_MISSING =
  'socat not found on PATH: install it with `apt-get install socat` (or use --serial tcp:127.0.0.1:7000)';

export class SocatMissingError extends Error {
  constructor() {
    super(SOCAT_MISSING);
    this.name = 'SocatMissingError';
  }
}

/** Absolute path of an executable on PATH, or undefined. */
export function findOnPath(cmd: string, pathVar = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export interface PtyLinkOptions {
  log?: Logger;
  /** Called when socat dies on its own (not through close): the pty is gone. */
  onLost?: (reason: string) => void;
  /** socat executable (default `socat` on PATH). */
  socat?: string;
}

type Socat = ChildProcessByStdio<Writable, Readable, Readable>;

export class PtyLink implements Link {
  readonly path: string;
  /** The pty slave socat allocated (`/dev/pts/N`), once open. */
  device: string | undefined;
  private child: Socat | undefined;
  private out: WriteCoalescer | undefined;
  private closing = false;
  private exited: Promise<void> = Promise.resolve();
  private readonly cleanupOnExit = (): void => this.cleanupSync();

  constructor(
    path: string,
    private readonly opts: PtyLinkOptions = {},
  ) {
    this.path = resolve(path);
  }

  /** socat's process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get description(): string {
    return `pty:${this.path}`;
  }

  get address(): string {
    return this.path;
  }

  open(onData: (bytes: Uint8Array) => void): Promise<void> {
    try {
      this.refuseToReplaceFile();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const log = this.opts.log;
    return new Promise<void>((resolveOpen, rejectOpen) => {
      let ready = false;
      let lastError = '';
      const child: Socat = spawn(
        this.opts.socat ?? 'socat',
        ['-d', '-d', `PTY,link=${this.path},raw,echo=0`, 'STDIO'],
        // its own process group: Ctrl-C in the terminal reaches serve, which then closes socat
        // (removing the link); socat still ends by itself on EOF if serve dies
        { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
      );
      this.child = child;
      this.exited = new Promise((r) => child.once('close', () => r()));
      child.once('error', (err: NodeJS.ErrnoException) => {
        this.child = undefined;
        if (!ready) rejectOpen(err.code === 'ENOENT' ? new SocatMissingError() : err);
        else log?.error({ err }, 'socat error');
      });
      // A host closing the pty must not kill us with EPIPE; socat's exit is reported below.
      child.stdin.on('error', (err) => log?.debug({ err }, 'socat stdin'));
      child.stdout.on('data', (chunk: Buffer) => onData(new Uint8Array(chunk)));

      let partial = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text: string) => {
        partial += text;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const pty = / N PTY is (\S+)/.exec(line);
          if (pty) this.device = pty[1];
          if (/ [EF] /.test(line)) {
            lastError = line.replace(/^.*socat\[\d+\] /, '');
            if (ready) log?.warn({ socat: lastError }, 'socat');
          }
          if (!ready && line.includes('starting data transfer loop')) {
            ready = true;
            process.on('exit', this.cleanupOnExit);
            log?.debug({ path: this.path, device: this.device }, 'pty up');
            resolveOpen();
          }
        }
      });

      child.once('exit', (code, signal) => {
        this.child = undefined;
        process.off('exit', this.cleanupOnExit);
        if (!ready) {
          rejectOpen(new Error(`socat could not open the pty at ${this.path}: ${lastError || `exit ${code ?? signal}`}`));
          return;
        }
        if (this.closing) return;
        this.removeLink();
        const reason = `socat exited (${signal ?? `code ${code}`})${lastError ? `: ${lastError}` : ''}`;
        log?.error({ path: this.path, code, signal }, reason);
        this.opts.onLost?.(reason);
      });

      this.out = new WriteCoalescer((bytes) => {
        if (this.child?.stdin.writable) this.child.stdin.write(bytes);
      });
    });
  }

  write(bytes: Uint8Array): void {
    this.out?.push(bytes);
  }

  async close(): Promise<void> {
    if (this.closing) return this.exited;
    this.closing = true;
    this.out?.flush();
    const child = this.child;
    if (child) {
      child.stdin.end();
      child.kill('SIGTERM');
      await this.exited;
    }
    process.off('exit', this.cleanupOnExit);
    this.removeLink();
  }

  /** socat would silently replace (and on exit delete) a regular file at the link path. */
  private refuseToReplaceFile(): void {
    try {
      const st = lstatSync(this.path);
      if (!st.isSymbolicLink()) {
        throw new Error(`${this.path} exists and is not a symlink; refusing to let socat replace it`);
      }
      this.opts.log?.warn({ path: this.path }, 'replacing a stale pty link');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** socat removes its link when it exits cleanly; this covers a kill or crash. */
  private removeLink(): void {
    try {
      if (!lstatSync(this.path).isSymbolicLink()) return;
      const target = readlinkSync(this.path);
      if (this.device === undefined || target === this.device) unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  /** On process exit only synchronous work is possible. */
  private cleanupSync(): void {
    this.child?.kill('SIGTERM');
    this.removeLink();
  }
}
