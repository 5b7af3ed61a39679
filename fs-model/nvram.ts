/**
 * Settings saved with AT&W (echo, result codes, CMEE, baud rate, AT&D/AT&C/AT+IFC): a small JSON record beside the flash image,
 * replaced atomically. Without a data directory it lives in memory only.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFileSync } from './atomic.js';

/** AT&D, AT&C and AT+IFC as AT&W stores them. */
export interface SavedCircuits {
  dtrDrop: 'ignore' | 'hangup';
  dcd: 0 | 1;
  rtsHoldsOutput: boolean;
  ctsFollowsRx: boolean;
}

export interface SavedSettings {
  echo?: boolean;
  cmee?: 0 | 1 | 2;
  baud?: number;
  verbose?: boolean;
  quiet?: boolean;
  circuits?: SavedCircuits;
}

export class Nvram {
  private cache: SavedSettings;
  private readonly path: string | undefined;

  constructor(dataDir: string | undefined) {
    this.path = dataDir ? join(dataDir, 'nvram.json') : undefined;
    this.cache = this.load();
  }

  private load(): SavedSettings {
    if (!this.path) return {};
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      return {};
    }
    return validSettings(v);
  }

  get(): SavedSettings {
    return { ...this.cache };
  }

  save(s: SavedSettings): void {
    this.cache = { ...s };
    if (!this.path) return;
    mkdirSync(join(this.path, '..'), { recursive: true });
    atomicWriteFileSync(this.path, JSON.stringify(this.cache, null, 2) + '\n');
  }
}

/**
 * The fields of a parsed nvram.json that are what AT&W writes; anything else (a hand-edited or
 * foreign file) is ignored rather than handed to the UART (a baud rate of "fast" would stall it).
 */
function validSettings(v: unknown): SavedSettings {
  if (typeof v !== 'object' || v === null) return {};
  const o = v as Record<string, unknown>;
  const out: SavedSettings = {};
  if (typeof o['echo'] === 'boolean') out.echo = o['echo'];
  if (typeof o['verbose'] === 'boolean') out.verbose = o['verbose'];
  if (typeof o['quiet'] === 'boolean') out.quiet = o['quiet'];
  if (o['cmee'] === 0 || o['cmee'] === 1 || o['cmee'] === 2) out.cmee = o['cmee'];
  if (typeof o['baud'] === 'number' && Number.isInteger(o['baud']) && o['baud'] > 0) out.baud = o['baud'];
  const c = savedCircuits(o['circuits']);
  if (c !== undefined) out.circuits = c;
  return out;
}

function savedCircuits(v: unknown): SavedCircuits | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { dtrDrop, dcd, rtsHoldsOutput, ctsFollowsRx } = Object.fromEntries(Object.entries(v));
  if (dtrDrop !== 'ignore' && dtrDrop !== 'hangup') return undefined;
  if (dcd !== 0 && dcd !== 1) return undefined;
  if (typeof rtsHoldsOutput !== 'boolean' || typeof ctsFollowsRx !== 'boolean') return undefined;
  return { dtrDrop, dcd, rtsHoldsOutput, ctsFollowsRx };
}
