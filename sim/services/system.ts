/**
 * System commands: V.250 basics (E, V, Q, I, Z, &F, &W, S3/S4/S5), identity, AT+CMEE, AT+IPR and
 * AT+RESET, and the boot sequence that prints the profile's start-up lines.
 */
import { intParam } from '../../protocol/params.js';
import { CommandSpec } from '../commands.js';
import type { Modem } from '../modem.js';
import { Service, TimerSet } from '../service.js';

export class SystemService implements Service {
  readonly name = 'system';
  readonly commands: readonly CommandSpec[];
  private readonly timers: TimerSet;

  constructor(private readonly modem: Modem) {
    this.timers = new TimerSet(modem.kernel);
    this.commands = this.declare();
  }

  powerOn(): void {
    const { engine, profile } = this.modem;
    engine.accepting = false;
    for (const u of profile.boot.urcs) {
      this.timers.after(
        u.at,
        () => {
          if (u.text === 'RDY') engine.accepting = true;
          engine.urc(u.text);
        },
        'boot-urc',
      );
    }
    if (!profile.boot.urcs.some((u) => u.text === 'RDY')) engine.accepting = true;
  }

  powerOff(): void {
    this.timers.cancelAll();
  }

  private declare(): CommandSpec[] {
    const m = this.modem;
    const s = () => m.engine.settings;
    const id = m.profile.identity;
    const basic = (name: string, summary: string, max: number, apply: (v: number) => void): CommandSpec => ({
      name,
      group: 'system',
      summary,
      source: 'V.250',
      set: (ctx, [v]) => {
        const n = v === '' || v === undefined ? 0 : Number(v);
        if (!Number.isInteger(n) || n > max) return ctx.error();
        apply(n);
        ctx.ok();
      },
    });
    const sreg = (n: 3 | 4 | 5, summary: string): CommandSpec => ({
      name: `S${n}`,
      group: 'system',
      summary,
      source: 'M §3.8',
      read: (ctx) => {
        ctx.info(String(s()[`s${n}`]).padStart(3, '0'));
        ctx.ok();
      },
      test: ['S' + n + ': (0-127)'],
      set: (ctx, [v]) => {
        const x = Number(v);
        if (v === '' || !Number.isInteger(x) || x > 127) return ctx.error();
        s()[`s${n}`] = x;
        m.engine.syncLineSettings();
        ctx.ok();
      },
    });
    const identity = (name: string, summary: string, value: () => string): CommandSpec => ({
      name,
      group: 'system',
      summary,
      test: [],
      exec: (ctx) => {
        ctx.info(value());
        ctx.ok();
      },
    });
    return [
      basic('E', 'Echo off (E0) / on (E1)', 1, (v) => {
        s().echo = v === 1;
        m.engine.syncLineSettings();
      }),
      basic('V', 'Numeric (V0) / verbose (V1) result codes', 1, (v) => (s().verbose = v === 1)),
      basic('Q', 'Result codes on (Q0) / quiet (Q1)', 1, (v) => (s().quiet = v === 1)),
      {
        name: 'I',
        group: 'system',
        summary: 'Product identification',
        set: (ctx) => {
          for (const l of id.ati) ctx.info(l);
          ctx.ok();
        },
      },
      basic('Z', 'Restore the settings saved with &W', 0, () => m.engine.restoreSettings(m.savedSettings())),
      basic('&F', 'Restore factory settings', 0, () => m.engine.restoreSettings({})),
      {
        name: '&W',
        group: 'system',
        summary: 'Save echo, result-code format, CMEE and baud rate',
        source: 'M §2 ATE',
        set: (ctx) => {
          const st = s();
          m.nvram.save({ echo: st.echo, verbose: st.verbose, quiet: st.quiet, cmee: st.cmee, baud: m.uart.baud });
          ctx.ok();
        },
      },
      sreg(3, 'Command line termination character'),
      sreg(4, 'Response formatting character'),
      sreg(5, 'Command line editing character'),
      {
        name: '+CMEE',
        group: 'system',
        summary: 'Error result format: 0 ERROR, 1 numeric, 2 verbose',
        source: 'M p.36; decisions §2',
        params: [intParam('n', 0, 2, true)],
        test: ['+CMEE: (0-2)'],
        read: (ctx) => {
          ctx.info(`${m.profile.spellings.cmeeRead}${s().cmee}`);
          ctx.ok();
        },
        set: (ctx, [n]) => {
          s().cmee = ((n as number | undefined) ?? 0) as 0 | 1 | 2;
          ctx.ok();
        },
      },
      {
        name: '+IPR',
        group: 'system',
        summary: 'UART baud rate; answers OK at the old rate, then switches',
        source: 'M p.47; decisions §6',
        params: [intParam('rate', 0, 921600)],
        test: [`+IPR: (0),(${m.profile.uart.rates.join(',')})`],
        read: (ctx) => {
          ctx.info(`+IPR: ${m.uart.baud}`);
          ctx.ok();
        },
        set: (ctx, [rate]) => {
          const r = rate as number;
          if (r !== 0 && !m.profile.uart.rates.includes(r)) return ctx.cme(765);
          ctx.ok();
          // rate 0 (auto-baud) keeps the current rate: the model has no baud detection
          if (r !== 0) m.uart.whenTxDrained(() => m.uart.setBaud(r));
        },
      },
      identity('+CGMI', 'Manufacturer', () => id.manufacturer),
      identity('+CGMM', 'Model', () => id.model),
      identity('+CGMR', 'Firmware revision', () => id.revision),
      identity('+CGSN', 'IMEI', () => id.imei),
      identity('+GSN', 'IMEI', () => id.imei),
      identity('+CIMI', 'IMSI', () => id.imsi),
      identity('+ICCID', 'SIM ICCID', () => `+ICCID: ${id.iccid}`),
      {
        name: '+RESET',
        group: 'system',
        summary: 'Reboot: OK, then the boot lines; RAM state is lost, flash survives',
        source: 'M p.20; decisions §7',
        latency: 'reset',
        test: [],
        exec: (ctx) => {
          m.engine.afterLine(() => m.reboot());
          ctx.ok();
        },
      },
    ];
  }
}
