/**
 * What keeps two serves apart and start-up failures short, in-process: pid locks, directory
 * creation that refuses what cannot be a directory (fast, where Node's recursive mkdir spins),
 * the up-front port check that names every clashing flag at once, and the one-line refusals
 * of flag values.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { acquirePidLock, LockHeldError } from '../sim/instance/lock.js';
import { DirectoryError, makeDirs } from '../sim/instance/dirs.js';
import { lockDataDir, DATA_DIR_LOCK } from '../sim/instance/data-dir.js';
import { checkCanListen, checkDistinctPorts } from '../sim/instance/ports.js';
import { EnvironmentError, UsageError } from '../sim/instance/errors.js';
import { baudFlag, brokerAuthFlag, brokerFlags, choiceFlag, controlFlag, intFlag, numberFlag, portFlag, routeFlag, serialFlag } from '../sim/instance/flags.js';
import { tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function scratch(): string {
  const d = tempDir('modemsim-inst-');
  cleanups.push(() => d.remove());
  return d.path;
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  if (r.pid === undefined) throw new Error('could not spawn node');
  return r.pid;
}

/** A live process that is not this one (a sleeping child). */
function livePid(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  cleanups.push(() => void child.kill('SIGKILL'));
  if (child.pid === undefined) throw new Error('could not spawn node');
  return child.pid;
}

describe('pid lock', () => {
  it('holds the pid, refuses a second taker in this process, and release removes it', () => {
    const path = join(scratch(), 'x.lock');
    const lock = acquirePidLock(path);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    expect(() => acquirePidLock(path)).toThrow(LockHeldError);
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a lock a live process holds, naming its pid', () => {
    const path = join(scratch(), 'x.lock');
    const pid = livePid();
    writeFileSync(path, `${pid}\n`);
    const err: unknown = (() => {
      try {
        acquirePidLock(path);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err).toMatchObject({ pid, ours: false });
    expect(readFileSync(path, 'utf8')).toBe(`${pid}\n`);
  });

  it('takes over a lock of a dead pid, or of our own pid left by an earlier process', () => {
    const dir = scratch();
    for (const stale of [deadPid(), process.pid]) {
      const path = join(dir, `${stale}.lock`);
      writeFileSync(path, `${stale}\n`);
      const lock = acquirePidLock(path);
      expect(lock.tookOverFrom).toBe(stale);
      expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
      lock.release();
    }
  });

  it('release leaves a lock that someone replaced', () => {
    const path = join(scratch(), 'x.lock');
    const lock = acquirePidLock(path);
    writeFileSync(path, '4242\n');
    lock.release();
    expect(readFileSync(path, 'utf8')).toBe('4242\n');
  });
});

describe('makeDirs', () => {
  it('creates missing parents and names a file in the way', () => {
    const dir = scratch();
    expect(makeDirs(join(dir, 'a', 'b', 'c'))).toBe(join(dir, 'a', 'b', 'c'));
    writeFileSync(join(dir, 'f'), '');
    expect(() => makeDirs(join(dir, 'f'))).toThrow(/is a file, not a directory/);
    expect(() => makeDirs(join(dir, 'f', 'sub'))).toThrow(`${join(dir, 'f')} is a file, not a directory`);
  });

  it.skipIf(!existsSync('/proc/self'))('refuses a directory under /proc at once (recursive mkdirSync never returns there)', () => {
    const t0 = performance.now();
    expect(() => makeDirs('/proc/modemsim-x/y')).toThrow(DirectoryError);
    expect(() => makeDirs('/proc/modemsim-x/y')).toThrow(/proc file system/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('data dir lock', () => {
  it('a second lock on one data dir names the holder; a released one can be taken again', () => {
    const dir = join(scratch(), 'data');
    const first = lockDataDir(dir);
    expect(first.path).toBe(dir);
    expect(existsSync(join(dir, DATA_DIR_LOCK))).toBe(true);
    expect(() => lockDataDir(dir)).toThrow(EnvironmentError);
    expect(() => lockDataDir(dir)).toThrow(/^--data-dir ".*": in use by another serve in this process/);
    first.lock.release();
    lockDataDir(dir).lock.release();
  });
});

describe('listen check', () => {
  async function taken(): Promise<number> {
    const s: Server = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
    const a = s.address();
    if (a === null || typeof a !== 'object') throw new Error('no address');
    return a.port;
  }

  it('names every flag whose port is taken, in one error', async () => {
    const [p1, p2] = [await taken(), await taken()];
    const err = await checkCanListen([
      { flag: '--broker-port', value: String(p1), host: '127.0.0.1', port: p1 },
      { flag: '--broker-tls-port', value: '0', host: '127.0.0.1', port: 0 },
      { flag: '--control', value: `tcp:127.0.0.1:${p2}`, host: '127.0.0.1', port: p2 },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    const msg = err instanceof Error ? err.message : '';
    expect(msg).toContain(`--broker-port ${p1}: port ${p1} is in use`);
    expect(msg).toContain(`--control tcp:127.0.0.1:${p2}: port ${p2} is in use`);
    expect(msg).not.toContain('--broker-tls-port');
    expect(msg).not.toContain('\n');
  });

  it('two flags on one fixed port are a usage error', () => {
    expect(() =>
      checkDistinctPorts([
        { flag: '--broker-port', value: '7000', host: '127.0.0.1', port: 7000 },
        { flag: '--serial', value: 'tcp:7000', host: '127.0.0.1', port: 7000 },
        { flag: '--control', value: 'tcp:127.0.0.1:0', host: '127.0.0.1', port: 0 },
        { flag: '--broker-tls-port', value: '0', host: '127.0.0.1', port: 0 },
      ]),
    ).toThrow(new UsageError('--broker-port 7000 and --serial tcp:7000 ask for the same port; give each its own (0 = any free port)'));
  });
});

describe('flag values', () => {
  const refusal = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return err instanceof Error ? err.message : String(err);
    }
    throw new Error('accepted');
  };

  it('each refusal is one line naming the flag, the value and what is accepted', () => {
    const lines = [
      refusal(() => baudFlag(7, 'air724ug', [9600, 115200])),
      refusal(() => routeFlag('bad')),
      refusal(() => routeFlag('a:b:c=127.0.0.1:1884')),
      refusal(() => routeFlag('*=nowhere:99999')),
      refusal(() => brokerFlags(['http://x'])),
      refusal(() => brokerFlags(['mqtt://a:1', 'mqtt://b:2'])),
      refusal(() => brokerAuthFlag('nocolon')),
      refusal(() => controlFlag('nonsense')),
      refusal(() => controlFlag('pty:/x')),
      refusal(() => serialFlag('com1')),
      refusal(() => intFlag('--seed', 'x', 0, 2 ** 31 - 1)),
      refusal(() => portFlag('--broker-port', '99999')),
      refusal(() => numberFlag('--broker-connect-timeout', '0', 0.05, 3600, 'seconds')),
      refusal(() => choiceFlag('--profile', 'nope', ['air724ug', 'air780e'])),
    ];
    expect(lines).toEqual([
      '--baud 7: not a UART rate of air724ug; use one of 9600, 115200',
      `--route "bad": no "="; expected FROM=TO with FROM = HOST:PORT | HOST | *:PORT | * and TO = HOST:PORT or mqtt[s]://HOST:PORT, e.g. --route '*:1883=127.0.0.1:1884'`,
      '--route "a:b:c=127.0.0.1:1884": source "a:b:c" is not HOST:PORT, HOST, *:PORT or *',
      '--route "*=nowhere:99999": target "nowhere:99999" is not HOST:PORT or mqtt[s]://HOST:PORT',
      '--broker "http://x": not mqtt://HOST:PORT or mqtts://HOST:PORT, e.g. --broker mqtt://127.0.0.1:1883',
      '--broker "mqtt://a:1" and --broker "mqtt://b:2": two mqtt:// brokers; give at most one mqtt:// and one mqtts:// URL',
      '--broker-auth "nocolon": expected USER:PASS (a non-empty user name, a colon, the password), e.g. --broker-auth modem:secret',
      '--control "nonsense": expected tcp:HOST:PORT, tcp:PORT (loopback) or off, e.g. --control tcp:127.0.0.1:7100',
      '--control "pty:/x": expected tcp:HOST:PORT, tcp:PORT (loopback) or off, e.g. --control tcp:127.0.0.1:7100',
      '--serial "com1": unknown kind; expected pty:PATH, tcp:HOST:PORT or stdio (tcp:PORT = loopback)',
      '--seed "x": not an integer in 0..2147483647',
      '--broker-port "99999": not an integer in 0..65535 (0 = any free port)',
      '--broker-connect-timeout "0": not a number of seconds in 0.05..3600',
      '--profile "nope": not one of air724ug, air780e',
    ]);
  });

  it('accepts the documented forms', () => {
    routeFlag('*:1883=127.0.0.1:1884');
    routeFlag('broker.emqx.io=mqtts://127.0.0.1:8883');
    brokerFlags(['mqtt://127.0.0.1:1883', 'mqtts://127.0.0.1:8883']);
    brokerAuthFlag('user:pa:ss');
    expect(controlFlag('off')).toBeUndefined();
    expect(controlFlag('tcp:7100')).toEqual({ host: '127.0.0.1', port: 7100 });
  });
});
