/**
 * A lock file holding the pid of the process that owns a resource (a data directory, a pty link
 * path). Plain files rather than flock(2): Node has no flock, and a pid in a file also tells the
 * user who holds it. A lock whose pid is no longer alive is stale and is taken over.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { errnoCode } from './errors.js';

export class LockHeldError extends Error {
  constructor(
    readonly path: string,
    /** The holder's pid. */
    readonly pid: number,
    /** The holder is this very process (a second serve in one process). */
    readonly ours: boolean,
  ) {
    super(`${path} is held by ${ours ? 'this process' : `pid ${pid}`}`);
    this.name = 'LockHeldError';
  }
}

export interface PidLock {
  readonly path: string;
  /** What the lock replaced: the pid of a dead holder, if there was one. */
  readonly tookOverFrom: number | undefined;
  /** True while the file still names this process (nobody removed or replaced it). */
  isOurs(): boolean;
  /** Removes the file, only if it still names this process. */
  release(): void;
}

/** Lock paths held by this process: its own pid in a file it did not write is a stale lock. */
const heldHere = new Set<string>();

/** The pid a lock file names, or undefined when it is missing or not a lock of ours. */
export function readLockPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+)\n?$/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it belongs to another user
    return errnoCode(err) === 'EPERM';
  }
}

function holderAlive(path: string, pid: number): boolean {
  // in a container the pid of a crashed run comes back for the next one: ours, but not held
  if (pid === process.pid) return heldHere.has(path);
  return pidAlive(pid);
}

/**
 * Takes the lock at `path` or throws LockHeldError naming the live holder. The file is written
 * aside and hard-linked into place, so a reader never sees it empty; a stale lock is first
 * renamed away, which only one of two racing processes can do.
 */
export function acquirePidLock(path: string): PidLock {
  const mine = `${process.pid}\n`;
  const aside = `${path}.${process.pid}.tmp`;
  let tookOverFrom: number | undefined;
  writeFileSync(aside, mine, { mode: 0o644 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(aside, path);
        break;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST' || attempt >= 5) throw err;
      }
      const holder = readLockPid(path);
      if (holder !== undefined && holderAlive(path, holder)) throw new LockHeldError(path, holder, holder === process.pid);
      const stale = `${path}.stale.${process.pid}`;
      try {
        renameSync(path, stale);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue; // another process moved it first
        throw err;
      }
      const moved = readLockPid(stale);
      if (moved !== holder && moved !== undefined && holderAlive(path, moved)) {
        // a racing process took the stale lock between our read and our rename: give it back
        try {
          linkSync(stale, path);
        } catch {
          /* a third process holds it now; either way it is not ours */
        }
        unlinkSync(stale);
        throw new LockHeldError(path, moved, false);
      }
      unlinkSync(stale);
      tookOverFrom = holder;
    }
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      /* nothing to tidy */
    }
  }
  heldHere.add(path);
  const isOurs = (): boolean => readLockPid(path) === process.pid;
  const release = (): void => {
    process.off('exit', release);
    if (!heldHere.delete(path)) return;
    if (!isOurs()) return; // someone removed or replaced it: theirs now
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
  // an exit that skips close() (process.exit, an uncaught error) must not strand the lock
  process.on('exit', release);
  return { path, tookOverFrom, isOurs, release };
}
