/**
 * Packet domain: GPRS attach, PDP contexts, the TCPIP bearer state (stub for the foundation;
 * the cellular network model fills it in). Other services read `dataReady` and listen for
 * bearer loss through `onBearerLost`.
 */
import { CommandSpec } from '../commands.js';
import type { Modem } from '../modem.js';
import { Service } from '../service.js';

export class PdpService implements Service {
  readonly name = 'pdp';
  readonly commands: readonly CommandSpec[] = [];
  private lostListeners: Array<() => void> = [];

  constructor(private readonly modem: Modem) {}

  /** True when a context is active and the TCPIP state is not `PDP DEACT` (MIPSTART may run). */
  get dataReady(): boolean {
    return this.modem.network.simReady;
  }

  /** Called when the bearer goes away (network deactivation, detach, CFUN=0). */
  onBearerLost(fn: () => void): void {
    this.lostListeners.push(fn);
  }

  protected bearerLost(): void {
    for (const f of this.lostListeners) f();
  }

  powerOn(): void {}
  powerOff(): void {}
}
