/**
 * The data directory of one serve: checked, created and locked before anything else touches it.
 * Two modems writing one flash image and one AT&W file would corrupt both, so the second serve
 * on a directory refuses, naming the first one's pid.
 */
import { join } from 'node:path';
import { DirectoryError, kernelFileSystem, makeDirs } from './dirs.js';
import { EnvironmentError, errnoCode, flagValue } from './errors.js';
import { acquirePidLock, LockHeldError, PidLock } from './lock.js';

export const DATA_DIR_LOCK = 'modemsim.lock';

export interface LockedDataDir {
  /** Absolute path. */
  readonly path: string;
  readonly lock: PidLock;
}

/** `flag` names the option the directory came from, for the error line. */
export function lockDataDir(dir: string, flag = '--data-dir'): LockedDataDir {
  const what = flagValue(flag, dir);
  let path: string;
  try {
    path = makeDirs(dir);
  } catch (err) {
    if (!(err instanceof DirectoryError)) throw err;
    throw new EnvironmentError(`${what}: ${err.why}; pass a writable directory (it is created if missing)`, { cause: err });
  }
  const lockPath = join(path, DATA_DIR_LOCK);
  try {
    return { path, lock: acquirePidLock(lockPath) };
  } catch (err) {
    if (err instanceof LockHeldError) {
      const holder = err.ours ? 'another serve in this process' : `modemsim pid ${err.pid}`;
      throw new EnvironmentError(
        `${what}: in use by ${holder} (lock ${lockPath}); stop that one, or pass another ${flag}` +
          (err.ours ? '' : ` (if pid ${err.pid} is no modemsim, delete the lock)`),
        { cause: err },
      );
    }
    // the lock is the first file written there: this is where /proc/self or a read-only mount shows
    const code = errnoCode(err);
    const kernel = kernelFileSystem(path);
    const why =
      kernel !== undefined
        ? `${path} is on the kernel's ${kernel} file system, which stores no files`
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EROFS'
            ? 'read-only file system'
            : (code ?? String(err));
    throw new EnvironmentError(`${what}: cannot write ${lockPath}: ${why}; pass a writable directory`, { cause: err });
  }
}
