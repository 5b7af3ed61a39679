/**
 * A pseudo-terminal a host program opens like a serial port. socat owns the pty pair and
 * creates the symlink; we talk to it over its stdin/stdout pipes:
 *   socat -d -d PTY,link=PATH,raw,echo=0,unlink-close=0 STDIO
 * `raw,echo=0` makes the pty pass bytes untouched, as a real UART does (no CR/LF mapping, no
 * line discipline echo: echo is the modem's business, ATE). `unlink-close=0`: socat would
 * delete whatever is at PATH when it exits, even a link that is no longer its own; removing the
 * link is left to us, who check first.
 *
 * The path is claimed with a pid lock next to it (`PATH.lock`): a second modemsim asking for a
 * path that a live one serves is refused instead of stealing the link from under its host.
 */
import { spawn, ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Link } from './link.js';
import { WriteCoalescer } from './coalesce.js';
import { acquirePidLock, LockHeldError, PidLock, readLockPid } from '../instance/lock.js';

export const SOCAT_MISSING =
  'socat not found on PATH: install it with `apt-get install socat` (or use --serial tcp:127.0.0.1:7000)';

export class SocatMissingError extends Error {
  constructor() {
    super(SOCAT_MISSING);
    this.name = 'SocatMissingError';
  }
}

/** The pty path is served by a live process: taking the link over would cut off its host. */
export class PtyInUseError extends Error {
  constructor(
    readonly path: string,
    readonly pid: number,
    /** How we know: our lock file, or a socat found serving that link without one. */
    readonly evidence: string,
  ) {
    super(`${path} is served by pid ${pid} (${evidence})`);
    this.name = 'PtyInUseError';
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

/** The lock file that claims a pty link path. */
export function ptyLockPath(path: string): string {
  return `${resolve(path)}.lock`;
}

/**
 * The pid of a socat (or anything with the same address syntax) serving a pty link at `path`,
 * found in /proc: a link left by a socat that runs without our lock is still live. Undefined
 * where /proc cannot tell (not Linux) or nobody serves it.
 */
export function socatServing(path: string): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    } catch {
      continue; // gone, or not ours to read
    }
    for (const arg of args) {
      if (!/^pty,/i.test(arg)) continue;
      for (const opt of arg.split(',').slice(1)) {
        const m = /^(?:link|symbolic-link)=(.+)$/i.exec(opt);
        if (!m?.[1]) continue;
        let target = m[1];
        if (!isAbsolute(target)) {
          try {
            target = join(readlinkSync(`/proc/${pid}/cwd`), target);
          } catch {
            continue;
          }
        }
        if (resolve(target) === path) return Number(pid);
      }
    }
  }
  return undefined;
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
  private lock: PidLock | undefined;

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

  /**
   * Takes the path, or throws: a regular file there (socat would replace it), or a live process
   * serving a link there (PtyInUseError). open() claims by itself; serve claims first, so a
   * refusal comes before the broker has started.
   */
  claim(): void {
    if (this.lock?.isOurs()) return;
    this.refuseToReplaceFile();
    const lockPath = ptyLockPath(this.path);
    let lock: PidLock;
    try {
      lock = acquirePidLock(lockPath);
    } catch (err) {
      if (err instanceof LockHeldError) throw new PtyInUseError(this.path, err.pid, err.ours ? 'another link in this process' : `lock ${lockPath}`);
      throw err;
    }
    if (this.linkExists()) {
      const pid = socatServing(this.path);
      if (pid !== undefined) {
        lock.release();
        throw new PtyInUseError(this.path, pid, 'a socat serving that link');
      }
      this.opts.log?.warn({ path: this.path, ...(lock.tookOverFrom !== undefined && { deadPid: lock.tookOverFrom }) }, 'replacing a stale pty link');
    }
    this.lock = lock;
  }

  open(onData: (bytes: Uint8Array) => void): Promise<void> {
    try {
      this.claim();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const log = this.opts.log;
    return new Promise<void>((resolveOpen, rejectOpen) => {
      let ready = false;
      let lastError = '';
      const child: Socat = spawn(
        this.opts.socat ?? 'socat',
        ['-d', '-d', `PTY,link=${this.path},raw,echo=0,unlink-close=0`, 'STDIO'],
        // its own process group: Ctrl-C in the terminal reaches serve, which then closes socat
        // (removing the link); socat still ends by itself on EOF if serve dies
        { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
      );
      this.child = child;
      this.exited = new Promise((r) => child.once('close', () => r()));
      child.once('error', (err: NodeJS.ErrnoException) => {
        this.child = undefined;
        if (!ready) this.releaseLock();
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
          this.releaseLock();
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
    this.releaseLock();
  }

  /** socat would silently replace (and on exit delete) a regular file at the link path. */
  private refuseToReplaceFile(): void {
    try {
      const st = lstatSync(this.path);
      if (!st.isSymbolicLink()) {
        throw new Error(`${this.path} exists and is not a symlink; refusing to let socat replace it`);
      }
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) throw err;
    }
  }

  private linkExists(): boolean {
    try {
      return lstatSync(this.path).isSymbolicLink();
    } catch {
      return false;
    }
  }

  /**
   * Only our own link: it must still point at the pty socat gave us, and no other process may
   * have claimed the path since. Anything else at the path belongs to whoever put it there.
   */
  private removeLink(): void {
    if (this.device === undefined) return;
    // a lock deleted by hand still leaves the link ours; a lock naming another pid does not
    const holder = readLockPid(ptyLockPath(this.path));
    if (holder !== undefined && holder !== process.pid) return;
    try {
      if (!lstatSync(this.path).isSymbolicLink()) return;
      if (readlinkSync(this.path) === this.device) unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  private releaseLock(): void {
    this.lock?.release();
    this.lock = undefined;
  }

  /** On process exit only synchronous work is possible. */
  private cleanupSync(): void {
    this.child?.kill('SIGTERM');
    this.removeLink();
    this.releaseLock();
  }
}
