/**
 * Radio and SIM (minimal for the foundation; the cellular network model extends it).
 */
import { CommandSpec } from '../commands.js';
import type { Modem } from '../modem.js';
import { Service, TimerSet } from '../service.js';

export class NetworkService implements Service {
  readonly name = 'network';
  readonly commands: readonly CommandSpec[];
  private readonly timers: TimerSet;
  cfun: 0 | 1 | 4 = 1;
  simReady = false;
  rssi: number;
  ber: number;

  constructor(private readonly modem: Modem) {
    this.timers = new TimerSet(modem.kernel);
    this.rssi = modem.profile.network.rssi;
    this.ber = modem.profile.network.ber;
    modem.engine.radioOn = () => this.cfun === 1;
    this.commands = this.declare();
  }

  powerOn(): void {
    this.cfun = 1;
    this.simReady = false;
    const p = this.modem.profile.network;
    this.timers.after(this.modem.engine.drawLatency(p.simReady, 'sim-ready'), () => (this.simReady = true), 'sim-ready');
  }

  powerOff(): void {
    this.timers.cancelAll();
    this.simReady = false;
  }

  private declare(): CommandSpec[] {
    return [
      {
        name: '+CSQ',
        group: 'network',
        summary: 'Signal quality: +CSQ: <rssi>,<ber>',
        source: 'M p.67',
        test: ['+CSQ: (0-31,99),(0-7,99)'],
        exec: (ctx) => {
          const on = this.cfun === 1;
          ctx.info(`+CSQ: ${on ? this.rssi : 99},${on ? this.ber : 99}`);
          ctx.ok();
        },
      },
      {
        name: '+CPIN',
        group: 'network',
        summary: 'SIM state',
        source: 'M p.43',
        test: [],
        read: (ctx) => {
          if (!this.simReady) return ctx.cme(14);
          ctx.info('+CPIN: READY');
          ctx.ok();
        },
      },
    ];
  }
}
