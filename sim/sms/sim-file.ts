/**
 * A record of the SIM card's content (EF_SMS, the phonebook) kept as one JSON file under
 * `<data-dir>/sim/`, replaced atomically on every change, so a message the module said it
 * stored survives a kill of the simulator. Without a data directory it lives in memory only
 * (and still survives the module's reboots, as the SIM does).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFileSync } from '../../fs-model/atomic.js';
import type { Logger } from '../log.js';

export class SimFile {
  private readonly path: string | undefined;

  constructor(
    dataDir: string | undefined,
    name: string,
    private readonly log: Logger,
  ) {
    this.path = dataDir === undefined ? undefined : join(dataDir, 'sim', name);
  }

  /** The parsed file, or undefined when there is none (or it is unreadable: a fresh SIM). */
  load(): unknown {
    if (this.path === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      this.log.warn({ err, file: this.path }, 'SIM file is not JSON; starting from an empty SIM');
      return undefined;
    }
  }

  /** Replace the file; throws on a host I/O error (the command then answers memory failure). */
  save(value: unknown): void {
    if (this.path === undefined) return;
    mkdirSync(join(this.path, '..'), { recursive: true });
    atomicWriteFileSync(this.path, JSON.stringify(value, null, 1) + '\n');
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
