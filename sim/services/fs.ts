/** The flash file system commands (stub; the flash issue fills it in). */
import { CommandSpec } from '../commands.js';
import type { Modem } from '../modem.js';
import { Service } from '../service.js';

export class FsService implements Service {
  readonly name = 'fs';
  readonly commands: readonly CommandSpec[] = [];
  constructor(readonly modem: Modem) {}
  powerOn(): void {}
  powerOff(): void {}
}
