/**
 * Settings saved with AT&W (echo, CMEE, baud rate): a small JSON record beside the flash image,
 * replaced atomically. Without a data directory it lives in memory only.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFileSync } from './atomic.js';

export interface SavedSettings {
  echo?: boolean;
  cmee?: 0 | 1 | 2;
  baud?: number;
  verbose?: boolean;
  quiet?: boolean;
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
    try {
      const v: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
      return v && typeof v === 'object' ? (v as SavedSettings) : {};
    } catch {
      return {};
    }
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
