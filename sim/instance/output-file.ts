/**
 * Files serve writes on request (`--trace`, `--vcd`), checked before anything starts so that a
 * bad path is one line naming the flag, not an ENOENT from deep inside the modem after the
 * broker has already come up. Nothing is created here: the modem opens the file itself.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EnvironmentError, errnoCode, flagValue } from './errors.js';

export function checkOutputFile(flag: string, path: string): string {
  const abs = resolve(path);
  const what = flagValue(flag, path);
  const parent = dirname(abs);
  let parentIsDir = false;
  try {
    parentIsDir = statSync(parent).isDirectory();
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new EnvironmentError(`${what}: cannot look up ${parent} (${code ?? String(err)}); pass a path in a directory you can write`, { cause: err });
  }
  if (!parentIsDir) throw new EnvironmentError(`${what}: directory ${parent} does not exist; create it, or pass a path in an existing directory`);
  try {
    if (statSync(abs).isDirectory()) throw new EnvironmentError(`${what}: is a directory; pass a file path`);
    accessSync(abs, constants.W_OK);
    return abs;
  } catch (err) {
    if (err instanceof EnvironmentError) throw err;
    const code = errnoCode(err);
    if (code !== 'ENOENT') throw new EnvironmentError(`${what}: cannot write it (${code ?? String(err)}); pass a file you can write`, { cause: err });
  }
  try {
    accessSync(parent, constants.W_OK);
  } catch (err) {
    throw new EnvironmentError(`${what}: cannot create files in ${parent} (${errnoCode(err) ?? String(err)}); pass a path in a directory you can write`, { cause: err });
  }
  return abs;
}
