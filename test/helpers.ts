import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModem, Modem, ModemOptions } from '../sim/modem.js';
import { sec } from '../sim/kernel.js';

/** A modem in virtual time, booted, with the boot lines consumed. */
export async function bootedModem(opts: ModemOptions = {}): Promise<Modem> {
  const m = createModem(opts);
  await m.host.expect('RDY', sec(30));
  await m.host.advance(sec(10));
  m.host.take();
  return m;
}

export function tempDir(prefix = 'modemsim-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
