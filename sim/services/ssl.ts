/** SSL configuration contexts, AT+SSLCFG (stub; the flash/TLS issue fills it in). */
import { CommandSpec } from '../commands.js';
import type { Modem } from '../modem.js';
import { Service } from '../service.js';

export class SslService implements Service {
  readonly name = 'ssl';
  readonly commands: readonly CommandSpec[] = [];
  constructor(readonly modem: Modem) {}
  powerOn(): void {}
  powerOff(): void {}
}
