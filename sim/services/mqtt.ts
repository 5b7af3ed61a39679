/**
 * MQTT commands and the session bridged to a real broker (stub for the foundation; the MQTT
 * issue fills it in).
 */
import { CommandSpec } from '../commands.js';
import type { Modem } from '../modem.js';
import { Service } from '../service.js';

/** Where the modem's MQTT links go (embedded broker, external broker, routes). */
export interface MqttServiceOptions {
  placeholder?: never;
}

export class MqttService implements Service {
  readonly name = 'mqtt';
  readonly commands: readonly CommandSpec[] = [];

  constructor(
    readonly modem: Modem,
    readonly options: MqttServiceOptions = {},
  ) {}

  powerOn(): void {}
  powerOff(): void {}
}
