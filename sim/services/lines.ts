/**
 * The modem-line settings: AT&D (what a DTR drop does), AT&C (what DCD follows) and AT+IFC
 * (RTS/CTS flow control). This group only keeps the settings and answers the commands; the
 * lines themselves are the modem's (sim/modem-lines.ts), which reads them here.
 */
import type { SavedCircuits } from '../../fs-model/nvram.js';
import { enumParam, type ParamValue } from '../../protocol/params.js';
import { command, CommandSpec } from '../commands.js';
import type { Profile } from '../profile.js';
import type { StoredProfile } from '../ports.js';
import type { CommandGroup, Service, ServiceEnv } from '../service.js';

/** AT+IFC's two parameters: 0 none, 2 hardware (software flow control is not modelled). */
export type FlowMode = 0 | 2;

/** The settings as AT&W stores them (fs-model's SavedCircuits: the same fields). */
export interface CircuitSettings extends SavedCircuits {
  /** AT&D: a DTR drop is ignored (&D0, &D1: there is no online data mode to leave) or hangs up (&D2). */
  dtrDrop: 'ignore' | 'hangup';
  /** AT&C: DCD always on (0) or on while the data bearer is up (1). */
  dcd: 0 | 1;
  /** AT+IFC <dce_by_dte>: 2 = RTS off holds the module's output. */
  rtsHoldsOutput: boolean;
  /** AT+IFC <dte_by_dce>: 2 = the module drops CTS while its receive buffer is near full. */
  ctsFollowsRx: boolean;
}

/** What the modem lines read of the settings. */
export interface CircuitSettingsSource {
  readonly circuits: Readonly<CircuitSettings>;
  /** Called after every change (a command, power-on); returns how to stop. */
  onCircuitsChanged(fn: () => void): () => void;
}

export function circuitDefaults(p: Profile): CircuitSettings {
  return { dtrDrop: p.lines.dtrDrop, dcd: p.lines.dcd, rtsHoldsOutput: p.lines.ifc[0] === 2, ctsFollowsRx: p.lines.ifc[1] === 2 };
}

export class LinesService implements Service, CircuitSettingsSource {
  readonly name = 'lines';
  readonly commands: readonly CommandSpec[];
  circuits: CircuitSettings;
  private listeners: Array<() => void> = [];

  constructor(
    private readonly env: ServiceEnv,
    private readonly stored: StoredProfile,
  ) {
    this.circuits = stored.saved().circuits ?? circuitDefaults(env.profile);
    this.commands = this.declare();
    // AT&W stores them with the line settings; ATZ and AT&F take them back
    stored.storeAlso(() => ({ circuits: { ...this.circuits } }));
    stored.onRestore((saved) => this.change(saved?.circuits ?? circuitDefaults(env.profile)));
  }

  onCircuitsChanged(fn: () => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((f) => f !== fn);
    };
  }

  powerOn(): void {
    this.change(this.stored.saved().circuits ?? circuitDefaults(this.env.profile));
  }

  powerOff(): void {
    /* the settings are RAM state: power-on restores what AT&W stored, else the profile's */
  }

  private change(patch: Partial<CircuitSettings>): void {
    this.circuits = { ...this.circuits, ...patch };
    for (const f of [...this.listeners]) f();
  }

  private declare(): CommandSpec[] {
    // V.250 basic syntax: `AT&D` is `AT&D0`
    const digit = (v: ParamValue, max: number): number | undefined => {
      const n = v === '' || v === undefined ? 0 : Number(v);
      return Number.isInteger(n) && n >= 0 && n <= max ? n : undefined;
    };
    return [
      command({
        name: '&D',
        summary: 'DTR drop: ignored (&D0, &D1) or hangs up the MQTT link silently (&D2)',
        source: 'V.250 §6.2.9; README "Modem lines"',
        set: (ctx, [v]) => {
          const n = digit(v, 2);
          if (n === undefined) return ctx.error();
          this.change({ dtrDrop: n === 2 ? 'hangup' : 'ignore' });
          ctx.ok();
        },
      }),
      command({
        name: '&C',
        summary: 'DCD always on (&C0) or on while the data bearer is up (&C1)',
        source: 'V.250 §6.2.8; README "Modem lines"',
        set: (ctx, [v]) => {
          const n = digit(v, 1);
          if (n === undefined) return ctx.error();
          this.change({ dcd: n === 1 ? 1 : 0 });
          ctx.ok();
        },
      }),
      command({
        name: '+IFC',
        summary: 'RTS/CTS flow control: 0 none, 2 hardware (1, XON/XOFF, is not modelled: 765)',
        source: 'Luat AT manual AT+IFC; V.250 §6.2.12',
        params: [enumParam('dce_by_dte', [0, 2]), enumParam('dte_by_dce', [0, 2], true)],
        test: ['+IFC: (0,2),(0,2)'],
        read: (ctx) => {
          const c = this.circuits;
          ctx.info(`+IFC: ${c.rtsHoldsOutput ? 2 : 0},${c.ctsFollowsRx ? 2 : 0}`);
          ctx.ok();
        },
        set: (ctx, [byDte, byDce]) => {
          this.change({ rtsHoldsOutput: byDte === 2, ctsFollowsRx: (byDce ?? (this.circuits.ctsFollowsRx ? 2 : 0)) === 2 });
          ctx.ok();
        },
      }),
    ];
  }
}

export const linesGroup: CommandGroup<LinesService> = {
  name: 'lines',
  manual: ['&D', '&C', '+IFC'],
  create: ({ env, ports }) => new LinesService(env, ports.need('storedProfile', 'lines')),
};
