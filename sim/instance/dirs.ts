/**
 * Creating a directory and its missing parents, one level at a time. Node 20's
 * mkdirSync({ recursive: true }) never returns where mkdir(2) answers ENOENT under a parent that
 * exists (/proc, /proc/self): it climbs to the parent, finds it there, retries the child, and so
 * on, at 100 % CPU on the main thread, deaf to signals. Here each failure is an answer.
 */
import { mkdirSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errnoCode } from './errors.js';

/** Why a directory cannot be had, in words a user acts on (no errno soup). */
export class DirectoryError extends Error {
  constructor(
    readonly path: string,
    readonly why: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${why}`, options);
    this.name = 'DirectoryError';
  }
}

/** statfs(2) magic numbers of the kernel's own file systems, which answer mkdir oddly. */
const KERNEL_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
]);

/** `proc`, `sysfs`, … when `dir` is on one of the kernel's file systems. */
export function kernelFileSystem(dir: string): string | undefined {
  try {
    return KERNEL_FS.get(statfsSync(dir).type);
  } catch {
    return undefined;
  }
}

function reason(code: string | undefined, dir: string, parent: string): string {
  const kernel = kernelFileSystem(parent);
  if (kernel !== undefined) return `cannot create ${dir}: ${parent} is on the kernel's ${kernel} file system, which stores no files`;
  switch (code) {
    case 'ENOENT':
      // mkdir under an existing directory said "no such file": a file system that makes none
      return `cannot create ${dir}: ${parent} takes no new directories`;
    case 'EACCES':
    case 'EPERM':
      return `cannot create ${dir}: permission denied in ${parent}`;
    case 'EROFS':
      return `cannot create ${dir}: ${parent} is on a read-only file system`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `cannot create ${dir}: no space left on ${parent}'s file system`;
    default:
      return `cannot create ${dir} (${code ?? 'unknown error'})`;
  }
}

/**
 * `path` as an existing directory (created with its parents if missing), or a DirectoryError
 * saying why not. Checks what is there before creating anything: a file in the way is named.
 */
export function makeDirs(path: string, mode = 0o777): string {
  const abs = resolve(path);
  const missing: string[] = [];
  for (let p = abs; ; p = dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (p === dirname(p)) throw new DirectoryError(abs, `no such file system root ${p}`, { cause: err });
        missing.unshift(p);
        continue;
      }
      if (code === 'EACCES') throw new DirectoryError(abs, `permission denied looking up ${p}`, { cause: err });
      throw new DirectoryError(abs, `cannot look up ${p} (${code ?? String(err)})`, { cause: err });
    }
    if (isDir) break;
    throw new DirectoryError(abs, p === abs ? 'is a file, not a directory' : `${p} is a file, not a directory`);
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST' && statSync(dir).isDirectory()) continue; // a racing process made it
      throw new DirectoryError(abs, reason(code, dir, dirname(dir)), { cause: err });
    }
  }
  return abs;
}
