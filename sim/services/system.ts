/**
 * System commands: V.250 basics (E, V, Q, I, Z, &F, &W, S3/S4/S5), identity, AT+CMEE, AT+IPR and
 * AT+RESET, and the boot sequence that prints the profile's start-up lines.
 */
import { enumParam, intParam } from '../../protocol/params.js';
import { command, CommandSpec } from '../commands.js';
import type { InputGate, ModuleControl } from '../ports.js';
import { CommandGroup, LineSettings, Service, ServiceEnv, TimerSet } from '../service.js';

export class SystemService implements Service, InputGate {
  readonly name = 'system';
  readonly commands: readonly CommandSpec[];
  private readonly timers: TimerSet;
  /** False while the module boots (until RDY): the UART drops what it receives. */
  accepting = true;

  constructor(
    private readonly env: ServiceEnv,
    private readonly module: ModuleControl,
  ) {
    this.timers = new TimerSet(env.kernel);
    this.commands = this.declare();
  }

  powerOn(): void {
    const { host, profile } = this.env;
    this.accepting = false;
    for (const u of profile.boot.urcs) {
      this.timers.after(
        u.at,
        () => {
          if (u.text === 'RDY') this.accepting = true;
          host.urc(u.text);
        },
        'boot-urc',
      );
    }
    if (!profile.boot.urcs.some((u) => u.text === 'RDY')) this.accepting = true;
  }

  powerOff(): void {
    this.timers.cancelAll();
  }

  private declare(): CommandSpec[] {
    const { line, host, profile } = this.env;
    const mod = this.module;
    const id = profile.identity;
    const basic = (name: string, summary: string, max: number, apply: (v: number) => void): CommandSpec => ({
      name,
      summary,
      source: 'V.250',
      set: (ctx, [v]) => {
        const n = v === '' || v === undefined ? 0 : Number(v);
        if (!Number.isInteger(n) || n > max) return ctx.error();
        apply(n);
        ctx.ok();
      },
    });
    const sreg = (key: 's3' | 's4' | 's5', summary: string): CommandSpec => ({
      name: key.toUpperCase(),
      summary,
      source: 'M §3.8',
      read: (ctx) => {
        ctx.info(String(line.settings[key]).padStart(3, '0'));
        ctx.ok();
      },
      test: [`${key.toUpperCase()}: (0-127)`],
      set: (ctx, [v]) => {
        const x = Number(v);
        if (v === '' || !Number.isInteger(x) || x > 127) return ctx.error();
        const patch: Partial<LineSettings> = {};
        patch[key] = x;
        line.update(patch);
        ctx.ok();
      },
    });
    const identity = (name: string, summary: string, value: () => string): CommandSpec => ({
      name,
      summary,
      test: [],
      exec: (ctx) => {
        ctx.info(value());
        ctx.ok();
      },
    });
    return [
      basic('E', 'Echo off (E0) / on (E1)', 1, (v) => line.update({ echo: v === 1 })),
      basic('V', 'Numeric (V0) / verbose (V1) result codes', 1, (v) => line.update({ verbose: v === 1 })),
      basic('Q', 'Result codes on (Q0) / quiet (Q1)', 1, (v) => line.update({ quiet: v === 1 })),
      {
        name: 'I',
        summary: 'Product identification',
        set: (ctx) => {
          for (const l of id.ati) ctx.info(l);
          ctx.ok();
        },
      },
      basic('Z', 'Restore the settings saved with &W', 0, () => {
        line.restore(mod.savedSettings());
        mod.restoreProfile(false);
      }),
      basic('&F', 'Restore factory settings', 0, () => {
        line.restore({});
        mod.restoreProfile(true);
      }),
      {
        name: '&W',
        summary: 'Save echo, result-code format, CMEE, baud rate, &D, &C and +IFC',
        source: 'M §2 ATE',
        set: (ctx) => {
          const st = line.settings;
          mod.saveSettings({ echo: st.echo, verbose: st.verbose, quiet: st.quiet, cmee: st.cmee });
          ctx.ok();
        },
      },
      sreg('s3', 'Command line termination character'),
      sreg('s4', 'Response formatting character'),
      sreg('s5', 'Command line editing character'),
      command({
        name: '+CMEE',
        summary: 'Error result format: 0 ERROR, 1 numeric, 2 verbose',
        source: 'M p.36; behaviour §2',
        params: [enumParam('n', [0, 1, 2], true)],
        test: ['+CMEE: (0-2)'],
        read: (ctx) => {
          ctx.info(`${profile.spellings.cmeeRead}${line.settings.cmee}`);
          ctx.ok();
        },
        set: (ctx, [n]) => {
          line.update({ cmee: n ?? 0 });
          ctx.ok();
        },
      }),
      command({
        name: '+IPR',
        summary: 'UART baud rate; answers OK at the old rate, then switches',
        source: 'M p.47; behaviour §6',
        params: [intParam('rate', 0, 921600)],
        test: [`+IPR: (0),(${profile.uart.rates.join(',')})`],
        read: (ctx) => {
          ctx.info(`+IPR: ${mod.uart.baud}`);
          ctx.ok();
        },
        set: (ctx, [rate]) => {
          if (rate !== 0 && !profile.uart.rates.includes(rate)) return ctx.cme(765);
          ctx.ok();
          // rate 0 (auto-baud) keeps the current rate: the model has no baud detection
          if (rate !== 0) mod.uart.whenTxDrained(() => mod.uart.setBaud(rate));
        },
      }),
      identity('+CGMI', 'Manufacturer', () => id.manufacturer),
      identity('+CGMM', 'Model', () => id.model),
      identity('+CGMR', 'Firmware revision', () => id.revision),
      identity('+CGSN', 'IMEI', () => id.imei),
      identity('+GSN', 'IMEI', () => id.imei),
      identity('+CIMI', 'IMSI', () => id.imsi),
      identity('+ICCID', 'SIM ICCID', () => `+ICCID: ${id.iccid}`),
      {
        name: '+RESET',
        summary: 'Reboot: OK, then the boot lines; RAM state is lost, flash survives',
        source: 'M p.20; behaviour §7',
        latency: 'reset',
        test: [],
        exec: (ctx) => {
          host.afterLine(() => mod.reboot());
          ctx.ok();
        },
      },
    ];
  }
}

export const systemGroup: CommandGroup<SystemService> = {
  name: 'system',
  manual: ['E', 'V', 'Q', 'I', 'Z', '&F', '&W', 'S3', 'S4', 'S5', '+CMEE', '+IPR', '+RESET', '+RSTSET', '+CGMI', '+CGMM', '+CGMR', '+CGSN', '+CIMI', '+ICCID', '+CSDT'],
  needs: ['module'],
  create: ({ env, ports }) => {
    const s = new SystemService(env, ports.need('module', 'system'));
    ports.provide('inputGate', s);
    return s;
  },
};
