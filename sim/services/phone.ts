/**
 * The 27.007 probes host tools (gammu, gsmlib, LuatOS-Air) send besides SMS (behaviour §30):
 * the clock (CCLK, set from the network time at registration), the battery (CBC), caller id
 * (CLIP), USSD (CUSD, answered by a profile reply as a +CUSD URC), the SIM phonebook
 * (CPBS/CPBR/CPBW), CHUP, and the command list (CLAC).
 */
import { CmeCode } from '../../protocol/errors.js';
import { enumParam, intParam, stringParam } from '../../protocol/params.js';
import { command, CommandContext, CommandSpec } from '../commands.js';
import type { Ns } from '../kernel.js';
import type { CommandNames, RadioState, TeCharset } from '../ports.js';
import { CommandGroup, Service, ServiceEnv, TimerSet } from '../service.js';
import { fromTe, fromUcs2Hex, toTe } from '../sms/charset.js';
import { clockText, networkDate, parseClockText } from '../sms/network-time.js';
import { NUMBER_MAX, Phonebooks, TEXT_MAX } from '../sms/phonebook.js';
import { SimFile } from '../sms/sim-file.js';

/** The RTC: a UTC instant at a model instant, and the zone it was set with. */
interface Rtc {
  utcMs: number;
  at: Ns;
  zoneQuarters: number;
}

/** The USSD string of 23.038 default-alphabet coding: what CUSD assumes without <dcs>. */
const USSD_DCS = 15;

export class PhoneService implements Service {
  readonly name = 'phone';
  readonly commands: readonly CommandSpec[];
  readonly phonebooks: Phonebooks;
  private readonly timers: TimerSet;
  private rtc: Rtc;
  private clip: 0 | 1 = 0;
  private cusd: 0 | 1 | 2 = 0;
  private book: string;

  constructor(
    private readonly env: ServiceEnv,
    private readonly radio: RadioState,
    private readonly charset: TeCharset,
    private readonly commandNames: CommandNames | undefined,
  ) {
    const { profile } = env;
    this.timers = new TimerSet(env.kernel);
    this.phonebooks = new Phonebooks(new SimFile(env.dataDir, 'phonebook.json', env.log), profile.phone.phonebooks, profile.limits.phonebookSlots, env.log);
    this.book = profile.phone.phonebooks[0] ?? 'SM';
    this.rtc = this.powerOnRtc();
    radio.onRegistered(() => this.nitzSoon());
    this.commands = this.declare();
  }

  powerOn(): void {
    this.rtc = this.powerOnRtc();
    this.clip = 0;
    this.cusd = 0;
    this.book = this.env.profile.phone.phonebooks[0] ?? 'SM';
  }

  powerOff(): void {
    this.timers.cancelAll();
  }

  private powerOnRtc(): Rtc {
    return { utcMs: Date.parse(this.env.profile.phone.rtcAtPowerOn), at: this.env.kernel.now, zoneQuarters: 0 };
  }

  /** NITZ: the network's time reaches the RTC a moment after registration (`network.nitz`). */
  private nitzSoon(): void {
    const { env } = this;
    this.timers.after(
      env.draw(env.profile.network.nitz, 'phone:nitz'),
      () => {
        if (!this.radio.registered) return;
        this.rtc = { utcMs: networkDate(env.profile, env.kernel.now).getTime(), at: env.kernel.now, zoneQuarters: env.profile.network.time.zoneQuarters };
      },
      'phone-nitz',
    );
  }

  private clockNow(): string {
    const r = this.rtc;
    return clockText(new Date(r.utcMs + Math.floor((this.env.now() - r.at) / 1e6)), r.zoneQuarters);
  }

  private te(s: string): string {
    return toTe(s, this.charset.cscs);
  }

  /** USSD request text: in the TE set; gammu hex-encodes as UCS2 whatever the set, so try that too. */
  private ussdRequest(s: string): string | undefined {
    return fromTe(s, this.charset.cscs) ?? fromUcs2Hex(s);
  }

  private ussd(ctx: CommandContext, request: string): void {
    const { env } = this;
    if (!this.radio.registered) return ctx.cme(CmeCode.noNetworkService);
    const replies = env.profile.phone.ussdReplies;
    const reply = replies[request] ?? replies['*'];
    const show = this.cusd === 1;
    ctx.ok();
    this.timers.after(
      env.latency('phone.ussd'),
      () => {
        if (!show) return;
        // <m> 0: no further action; 4: the network does not support the request
        env.host.urc(reply === undefined ? '+CUSD: 4' : `+CUSD: 0,"${this.te(reply)}",${USSD_DCS}`);
      },
      'phone-ussd',
    );
  }

  private entryLine(index: number): string | undefined {
    const e = this.phonebooks.get(this.book, index);
    return e && `+CPBR: ${e.index},"${e.number}",${e.type},"${this.te(e.text)}"`;
  }

  private declare(): CommandSpec[] {
    const { env } = this;
    const { profile } = env;
    const slots = profile.limits.phonebookSlots;
    const books = profile.phone.phonebooks;
    const guard = (ctx: CommandContext, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        env.log.error({ err }, 'SIM phonebook write failed');
        ctx.cme(CmeCode.operationFailed);
      }
    };
    return [
      command({
        name: '+CCLK',
        summary: 'Real-time clock "yy/MM/dd,hh:mm:ss±zz": from power-on, set by the network time (NITZ) after registration, or by the host',
        source: 'LM-CFG CCLK; 27.007 §8.15; behaviour §30',
        params: [stringParam('time', 20)],
        test: [],
        read: (ctx) => {
          ctx.info(`+CCLK: "${this.clockNow()}"`);
          ctx.ok();
        },
        set: (ctx, [time]) => {
          const t = parseClockText(time);
          if (t === undefined) return ctx.cme(CmeCode.invalidInput);
          this.rtc = { utcMs: t.utc.getTime(), at: env.now(), zoneQuarters: t.zoneQuarters };
          ctx.ok();
        },
      }),
      {
        name: '+CBC',
        summary: 'Battery: the `spellings.cbc` line (air724ug `+CBC: <bcs>,<bcl>`, air780e `+CBC: <mV>`)',
        source: '27.007 §8.4; EC618 manual CBC; behaviour §30',
        test: [],
        exec: (ctx) => {
          const b = profile.phone.battery;
          ctx.info(profile.spellings.cbc.replace('{bcs}', String(b.bcs)).replace('{bcl}', String(b.bcl)).replace('{mv}', String(b.mv)));
          ctx.ok();
        },
      },
      command({
        name: '+CLIP',
        summary: 'Calling line identification presentation: +CLIP: <n>,<m> (no calls are modelled)',
        source: '27.007 §7.6; LuatOS cc.lua',
        params: [enumParam('n', [0, 1], true)],
        test: ['+CLIP: (0,1)'],
        read: (ctx) => {
          ctx.info(`+CLIP: ${this.clip},${profile.phone.clipProvisioned}`);
          ctx.ok();
        },
        set: (ctx, [n]) => {
          this.clip = n ?? 0;
          ctx.ok();
        },
      }),
      command({
        name: '+CUSD',
        summary: 'USSD: <n> 1 shows replies; a <str> is sent and answered `+CUSD: 0,"<reply>",15` (profile `phone.ussdReplies`)',
        source: '27.007 §7.15; behaviour §30',
        params: [enumParam('n', [0, 1, 2], true), stringParam('str', 640, { optional: true }), intParam('dcs', 0, 255, true)],
        test: ['+CUSD: (0-2)'],
        read: (ctx) => {
          ctx.info(`+CUSD: ${this.cusd}`);
          ctx.ok();
        },
        set: (ctx, [n, str]) => {
          if (n === 2) {
            // 2 ends the USSD session: there is none left open here
            return ctx.ok();
          }
          this.cusd = n ?? 0;
          if (str === undefined) return ctx.ok();
          const request = this.ussdRequest(str);
          if (request === undefined || request === '') return ctx.cme(CmeCode.invalidInput);
          this.ussd(ctx, request);
        },
      }),
      command({
        name: '+CPBS',
        summary: 'Phonebook storage ("SM" SIM, "ON", "FD", "EN"): +CPBS: "<storage>",<used>,<total>',
        source: '27.007 §8.11',
        params: [stringParam('storage', 4)],
        test: [`+CPBS: (${books.map((b) => `"${b}"`).join(',')})`],
        read: (ctx) => {
          ctx.info(`+CPBS: "${this.book}",${this.phonebooks.used(this.book)},${slots}`);
          ctx.ok();
        },
        set: (ctx, [storage]) => {
          if (!this.phonebooks.has(storage)) return ctx.cme(CmeCode.operationNotSupported);
          this.book = storage;
          ctx.ok();
        },
      }),
      command({
        name: '+CPBR',
        summary: 'Read phonebook entries <index1>[..<index2>]: +CPBR: <index>,"<number>",<type>,"<text>"; empty ones print nothing',
        source: '27.007 §8.12',
        params: [intParam('index1', 0, 0xffff), intParam('index2', 0, 0xffff, true)],
        latency: 'phone.pb',
        test: [`+CPBR: (1-${slots}),${NUMBER_MAX},${TEXT_MAX}`],
        set: (ctx, [from, to]) => {
          const last = to ?? from;
          if (from < 1 || last > slots || last < from) return ctx.cme(CmeCode.invalidIndex);
          for (let i = from; i <= last; i++) {
            const line = this.entryLine(i);
            if (line !== undefined) ctx.info(line);
          }
          ctx.ok();
        },
      }),
      command({
        name: '+CPBW',
        summary: 'Write phonebook entry: `=<index>,"<number>",<type>,"<text>"`, `=,…` the first free one, `=<index>` deletes',
        source: '27.007 §8.14',
        params: [intParam('index', 0, 0xffff, true), stringParam('number', NUMBER_MAX + 1, { optional: true }), intParam('type', 0, 255, true), stringParam('text', 4 * TEXT_MAX, { optional: true, allowEmpty: true })],
        latency: 'phone.pb',
        test: [`+CPBW: (1-${slots}),${NUMBER_MAX},(129,145,161),${TEXT_MAX}`],
        set: (ctx, [index, number, type, text]) => {
          if (index !== undefined && (index < 1 || index > slots)) return ctx.cme(CmeCode.invalidIndex);
          // FD needs PIN2 and EN is the network's: the host cannot write them
          if (this.book === 'FD' || this.book === 'EN') return ctx.cme(CmeCode.operationNotAllowed);
          if (number === undefined) {
            if (index === undefined) return ctx.cme(CmeCode.invalidInput);
            return guard(ctx, () => {
              this.phonebooks.delete(this.book, index);
              ctx.ok();
            });
          }
          if (!/^\+?[0-9*#]{1,20}$/.test(number)) return ctx.cme(CmeCode.invalidDialString);
          const name = fromTe(text ?? '', this.charset.cscs);
          if (name === undefined) return ctx.cme(CmeCode.invalidInput);
          if (name.length > TEXT_MAX) return ctx.cme(CmeCode.textTooLong);
          guard(ctx, () => {
            const at = this.phonebooks.write(this.book, index, { number, type: type ?? (number.startsWith('+') ? 145 : 129), text: name });
            if (at === undefined) return ctx.cme(CmeCode.memoryFull);
            ctx.ok();
          });
        },
      }),
      {
        name: '+CHUP',
        summary: 'Hang up: OK (no call is ever up)',
        source: 'LM-CFG CHUP; 27.007 §6.5',
        test: [],
        exec: (ctx) => ctx.ok(),
      },
      {
        name: '+CLAC',
        summary: 'List the commands the module answers, one `AT<name>` per line (from the command table)',
        source: '27.007 §8.37; behaviour §30',
        test: [],
        exec: (ctx) => {
          if (this.commandNames === undefined) return ctx.error();
          for (const n of this.commandNames.names()) ctx.info(`AT${n}`);
          ctx.ok();
        },
      },
    ];
  }
}

export const phoneGroup: CommandGroup<PhoneService> = {
  name: 'phone',
  manual: ['+CCLK', '+CBC', '+CLIP', '+CUSD', '+CPBS', '+CPBR', '+CPBW', '+CHUP', '+CLAC'],
  needs: ['radio', 'charset'],
  create: ({ env, ports }) =>
    new PhoneService(env, ports.need('radio', 'phone'), ports.need('charset', 'phone'), ports.has('commandNames') ? ports.need('commandNames', 'phone') : undefined),
};
