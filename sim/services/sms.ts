/**
 * SMS (3GPP 27.005; behaviour §26–§29): the message format (CMGF), the TE character set (CSCS),
 * the SIM's message storage (CPMS, CMGR, CMGL, CMGD, CMGW), sending (CMGS, CMSS) after the
 * `\r\n> ` prompt, new-message indications (CNMI: +CMTI or +CMT), status reports of messages
 * sent with TP-SRR (CNMI <ds>: +CDS or +CDSI) and the simulated SMSC on the far side
 * (`center`). Messages live on the SIM ("SM"): `<data-dir>/sim/sms.json`.
 */
import { CmsCode } from '../../protocol/errors.js';
import { Final, cms } from '../../protocol/format.js';
import { enumParam, intParam, stringParam } from '../../protocol/params.js';
import { command, CommandContext, CommandSpec, RawInput } from '../commands.js';
import type { TimerHandle } from '../kernel.js';
import type { RadioState, TeCharset } from '../ports.js';
import type { Cscs, SmsStorage } from '../profile.js';
import { CommandGroup, Service, ServiceEnv, TimerSet } from '../service.js';
import { SmsCenter, SmsTerminal } from '../sms/center.js';
import { CHARSETS, fromTe, hexOctets, toTe } from '../sms/charset.js';
import { networkDate } from '../sms/network-time.js';
import {
  Address,
  DIAL_STRING,
  MessagePdu,
  Pdu,
  ReportPdu,
  StatusReportTpdu,
  Tpdu,
  buildSubmitTpdu,
  dcsCoding,
  defaultToa,
  encodeSca,
  gsm7Encodable,
  gsm7Length,
  isStatusReport,
  parsePdu,
  tpduHexOf,
  withDestination,
  withMr,
} from '../sms/pdu.js';
import { MessageStore, STAT_TEXT, SmsStat, StoredSms } from '../sms/store.js';
import { SimFile } from '../sms/sim-file.js';

/** AT+CNMI: <mode>,<mt>,<bm>,<ds>,<bfr>. */
interface Cnmi {
  mode: number;
  mt: number;
  bm: number;
  ds: number;
  bfr: number;
}

const STAT_BY_TEXT: ReadonlyMap<string, SmsStat | 4> = new Map<string, SmsStat | 4>([
  ['REC UNREAD', 0],
  ['REC READ', 1],
  ['STO UNSENT', 2],
  ['STO SENT', 3],
  ['ALL', 4],
]);

const STAT_BY_NUMBER: ReadonlyMap<string, SmsStat | 4> = new Map<string, SmsStat | 4>([
  ['0', 0],
  ['1', 1],
  ['2', 2],
  ['3', 3],
  ['4', 4],
]);

/** TP-UDL limits of one message (23.040 §9.2.3.16). */
const MAX_SEPTETS = 160;
const MAX_OCTETS = 140;
/** The longest TPDU of an SMS-SUBMIT (23.040): what AT+CMGS=<length> may announce. */
const MAX_TPDU = 164;

export class SmsService implements Service, TeCharset, SmsTerminal {
  readonly name = 'sms';
  readonly commands: readonly CommandSpec[];
  /** The simulated SMSC: `center.sent`, `center.deliver({ from, text })`. */
  readonly center: SmsCenter;
  /** One store per storage the profile lists ("SM": the SIM). */
  readonly stores: ReadonlyMap<SmsStorage, MessageStore>;
  private readonly timers: TimerSet;
  private readonly cmee0: 'cms' | 'error';
  cmgf: 0 | 1 = 0;
  cscs: Cscs;
  private csmp: [number, number, number, number];
  private cnmi: Cnmi;
  private csdh: 0 | 1 = 0;
  private csms: 0 | 1 = 0;
  private mem: [SmsStorage, SmsStorage, SmsStorage];
  private sca: Address;
  /** After SMS READY: the SIM's SMS records can be used. */
  private ready = false;
  /** Indications kept while CNMI <mode> is 0 (bounded). */
  private buffered: string[] = [];
  /** A +CMT waiting for AT+CNMA (AT+CSMS=1). */
  private ackTimer: TimerHandle | undefined;

  constructor(
    private readonly env: ServiceEnv,
    private readonly radio: RadioState,
  ) {
    const { profile } = env;
    const p = profile.sms;
    this.cmee0 = p.cmsUnderCmee0;
    this.cscs = p.cscs;
    this.csmp = [...p.csmp];
    this.cnmi = this.defaultCnmi();
    const first = p.storages[0] ?? 'SM';
    this.mem = [first, first, first];
    this.sca = { number: p.sca.address, type: p.sca.type };
    const stores = new Map<SmsStorage, MessageStore>();
    for (const s of p.storages) {
      const file = new SimFile(env.dataDir, s === 'SM' ? 'sms.json' : 'me-sms.json', env.log);
      stores.set(s, new MessageStore(file, profile.limits.smsSlots, p.firstMr, env.log));
    }
    this.stores = stores;
    this.timers = new TimerSet(env.kernel);
    this.center = new SmsCenter({
      kernel: env.kernel,
      clock: env.clock,
      trace: env.trace,
      log: env.log.child({ component: 'smsc' }),
      address: { number: p.sca.address, type: p.sca.type },
      time: () => ({ date: networkDate(profile, env.now()), zoneQuarters: profile.network.time.zoneQuarters }),
      deliveryLatency: () => env.latency('sms.deliver'),
      reportLatency: () => env.latency('sms.statusReport'),
      nextRef: () => env.kernel.prng.stream('sms:concat-ref').int(0, 0xffff),
    });
    this.center.attach(this);
    radio.onRegistered(() => this.center.wake());
    this.commands = this.declare();
  }

  get reachable(): boolean {
    return this.ready && this.radio.cfun === 1 && this.radio.registered;
  }

  powerOn(): void {
    const p = this.env.profile.sms;
    this.cmgf = 0;
    this.cscs = p.cscs;
    this.csmp = [...p.csmp];
    this.cnmi = this.defaultCnmi();
    this.csdh = 0;
    this.csms = 0;
    const first = p.storages[0] ?? 'SM';
    this.mem = [first, first, first];
    this.sca = { number: p.sca.address, type: p.sca.type };
    this.buffered = [];
    this.ready = false;
    this.timers.after(this.readyAt(), () => {
      this.ready = true;
      this.center.wake();
    }, 'sms-ready');
  }

  powerOff(): void {
    this.timers.cancelAll();
    this.ackTimer = undefined;
    this.ready = false;
  }

  private defaultCnmi(): Cnmi {
    const [mode, mt, bm, ds, bfr] = this.env.profile.sms.cnmi;
    return { mode, mt, bm, ds, bfr };
  }

  /** When the SIM's SMS records are readable: the profile's `SMS READY` line, else SIM ready. */
  private readyAt(): number {
    const line = this.env.profile.boot.urcs.find((u) => u.text === 'SMS READY');
    return line?.at ?? this.env.profile.network.simReady.base;
  }

  // ---- the SMSC delivers ----------------------------------------------------------------

  receive(pdu: Pdu): { ok: true; stored: { mem: string; index: number } | undefined } | { ok: false; cause: 'memory-full' } {
    if (isStatusReport(pdu)) return this.receiveReport(pdu);
    const t = pdu.tpdu;
    const { mt } = this.cnmi;
    const direct = t.msgClass !== 2 && (mt === 2 || (mt === 3 && t.msgClass === 3));
    if (direct) {
      this.indicate(this.cmtText(pdu));
      if (this.csms === 1) this.expectAck();
      return { ok: true, stored: undefined };
    }
    const stored = this.storeReceived(pdu);
    if (!stored.ok) return stored;
    if (mt !== 0) this.indicate(`+CMTI: "${stored.mem}",${stored.index}`);
    return { ok: true, stored: { mem: stored.mem, index: stored.index } };
  }

  /**
   * An SMS-STATUS-REPORT, per CNMI <ds> (27.005 §3.4.1): 0 taken and dropped, nothing printed;
   * 1 shown as +CDS, not stored (with AT+CSMS=1 it needs AT+CNMA, as +CMT does); 2 stored in
   * <mem3> as REC UNREAD and announced with +CDSI.
   */
  private receiveReport(pdu: ReportPdu): { ok: true; stored: { mem: string; index: number } | undefined } | { ok: false; cause: 'memory-full' } {
    const { ds } = this.cnmi;
    if (ds === 1) {
      this.indicate(this.cdsText(pdu));
      if (this.csms === 1) this.expectAck();
      return { ok: true, stored: undefined };
    }
    if (ds !== 2) {
      this.env.trace.record({ t: this.env.kernel.now, ev: 'net', what: 'sms-status-report-dropped', detail: { mr: pdu.tpdu.mr, st: pdu.tpdu.st } });
      return { ok: true, stored: undefined };
    }
    const stored = this.storeReceived(pdu);
    if (!stored.ok) return stored;
    this.indicate(`+CDSI: "${stored.mem}",${stored.index}`);
    return { ok: true, stored: { mem: stored.mem, index: stored.index } };
  }

  /** Keep a received PDU in <mem3> as REC UNREAD; a full storage prints `spellings.smsFull` and refuses. */
  private storeReceived(pdu: Pdu): { ok: true; mem: SmsStorage; index: number } | { ok: false; cause: 'memory-full' } {
    const mem = this.mem[2];
    const store = this.stores.get(mem);
    let index: number | undefined;
    try {
      index = store?.add(0, pdu.hex);
    } catch (err) {
      this.env.log.error({ err }, 'SIM write failed; the message stays at the SMSC');
    }
    if (index === undefined) {
      for (const u of this.env.profile.spellings.smsFull) this.env.host.urc(u);
      return { ok: false, cause: 'memory-full' };
    }
    return { ok: true, mem, index };
  }

  /** A new-message indication: printed, or kept in the TA while CNMI <mode> is 0. */
  private indicate(text: string): void {
    if (this.cnmi.mode !== 0) return this.env.host.urc(text);
    this.buffered.push(text);
    // 27.005 §3.4.1: a full TA buffer drops the oldest indication
    if (this.buffered.length > this.env.profile.limits.smsSlots) this.buffered.shift();
  }

  /** With AT+CSMS=1 a +CMT or +CDS needs AT+CNMA; unacknowledged, the TA stops routing (27.005 §3.4.1, §3.4.4). */
  private expectAck(): void {
    this.timers.cancel(this.ackTimer);
    this.ackTimer = this.timers.after(
      this.env.profile.sms.cnmaTimeout,
      () => {
        this.ackTimer = undefined;
        this.cnmi.mt = 0;
        this.cnmi.ds = 0;
        this.env.trace.record({ t: this.env.kernel.now, ev: 'state', what: 'sms.cnmi', from: 'routing', to: 'no +CNMA: mt=0,ds=0' });
      },
      'sms-cnma-timeout',
    );
  }

  // ---- text and PDU presentation ------------------------------------------------------

  private nl(): string {
    const s = this.env.line.settings;
    return String.fromCharCode(s.s3, s.s4);
  }

  private te(text: string): string {
    return toTe(text, this.cscs);
  }

  /** <data> of text mode: the text in the TE set (7-bit), else the user data as hex. */
  private dataText(t: Tpdu): string {
    return t.alphabet === 'gsm7' ? this.te(t.text) : t.dataHex;
  }

  /** <length> of text mode: characters of a 7-bit text, octets otherwise. */
  private textLength(t: Tpdu): number {
    return t.alphabet === 'gsm7' ? t.text.length : t.dataHex.length / 2;
  }

  private scaFields(p: MessagePdu): string {
    const sca = p.sca ?? this.sca;
    return `"${this.te(sca.number)}",${sca.type}`;
  }

  private cmtText(p: MessagePdu): string {
    const t = p.tpdu;
    if (this.cmgf === 0) return `+CMT: ,${t.octets}${this.nl()}${p.hex}`;
    const head = `+CMT: "${this.te(t.address.number)}",,"${t.scts ?? ''}"`;
    const detail = this.csdh === 1 ? `,${t.address.type},${t.fo},${t.pid},${t.dcs},${this.scaFields(p)},${this.textLength(t)}` : '';
    return `${head}${detail}${this.nl()}${this.dataText(t)}`;
  }

  /**
   * The fields of a status report in text mode (27.005 §3.4.1, §3.4.3):
   * `<fo>,<mr>,"<ra>",<tora>,"<scts>","<dt>",<st>`. AT+CSDH changes none of them.
   */
  private reportFields(t: StatusReportTpdu): string {
    return `${t.fo},${t.mr},"${this.te(t.address.number)}",${t.address.type},"${t.scts}","${t.dt}",${t.st}`;
  }

  /** +CDS: PDU mode `<length>` (TPDU octets) and the PDU (SCA included) on the next line; text mode the fields. */
  private cdsText(p: ReportPdu): string {
    if (this.cmgf === 0) return `+CDS: ${p.tpdu.octets}${this.nl()}${p.hex}`;
    return `+CDS: ${this.reportFields(p.tpdu)}`;
  }

  /** The +CMGR answer (header and data lines; a status report in text mode is the header alone). */
  private cmgrText(m: StoredSms, p: Pdu): string {
    if (this.cmgf === 0) return `+CMGR: ${m.stat},,${p.tpdu.octets}${this.nl()}${p.hex}`;
    const stat = `"${STAT_TEXT[m.stat]}"`;
    if (isStatusReport(p)) return `+CMGR: ${stat},${this.reportFields(p.tpdu)}`;
    const t = p.tpdu;
    const addr = `"${this.te(t.address.number)}"`;
    let head: string;
    if (t.kind === 'deliver') {
      head = `+CMGR: ${stat},${addr},,"${t.scts ?? ''}"`;
      if (this.csdh === 1) head += `,${t.address.type},${t.fo},${t.pid},${t.dcs},${this.scaFields(p)},${this.textLength(t)}`;
    } else {
      head = `+CMGR: ${stat},${addr},`;
      if (this.csdh === 1) head += `,${t.address.type},${t.fo},${t.pid},${t.dcs},${t.vp ?? ''},${this.scaFields(p)},${this.textLength(t)}`;
    }
    return `${head}${this.nl()}${this.dataText(t)}`;
  }

  private cmglText(m: StoredSms, p: Pdu): string {
    if (this.cmgf === 0) return `+CMGL: ${m.index},${m.stat},,${p.tpdu.octets}${this.nl()}${p.hex}`;
    if (isStatusReport(p)) return `+CMGL: ${m.index},"${STAT_TEXT[m.stat]}",${this.reportFields(p.tpdu)}`;
    const t = p.tpdu;
    let head = `+CMGL: ${m.index},"${STAT_TEXT[m.stat]}","${this.te(t.address.number)}",,${t.kind === 'deliver' ? `"${t.scts ?? ''}"` : ''}`;
    if (this.csdh === 1) head += `,${t.address.type},${this.textLength(t)}`;
    return `${head}${this.nl()}${this.dataText(t)}`;
  }

  // ---- answers ----------------------------------------------------------------------------

  private cmsFinal(code: number): Final {
    return cms(code, this.cmee0);
  }

  private fail(ctx: CommandContext, code: number): void {
    ctx.final(this.cmsFinal(code));
  }

  /** 304 in PDU mode, 305 in text mode: a parameter the mode cannot take. */
  private badParam = (): Final => this.cmsFinal(this.cmgf === 0 ? CmsCode.invalidPduParameter : CmsCode.invalidTextParameter);

  private bad(ctx: CommandContext): void {
    ctx.final(this.badParam());
  }

  /** The SIM's records are not readable before SMS READY. */
  private notReady(ctx: CommandContext): boolean {
    if (this.ready) return false;
    this.fail(ctx, CmsCode.operationNotAllowed);
    return true;
  }

  /** Run a store change; a host I/O error answers memory failure. */
  private guard(ctx: CommandContext, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.env.log.error({ err, cmd: ctx.name }, 'SIM write failed');
      this.fail(ctx, CmsCode.memoryFailure);
    }
  }

  private store(i: 0 | 1 | 2): MessageStore {
    const s = this.stores.get(this.mem[i]);
    if (s === undefined) throw new Error(`no store ${this.mem[i]}`);
    return s;
  }

  private parseStored(m: StoredSms): Pdu | undefined {
    const r = parsePdu(m.pdu, { withSca: true });
    return r.ok ? r.pdu : undefined;
  }

  /** A string parameter in the TE set (addresses, the SCA), checked as a dial string. */
  private dialString(v: string): string | undefined {
    const s = fromTe(v, this.cscs);
    return s !== undefined && DIAL_STRING.test(s) ? s : undefined;
  }

  private intOf(v: string | undefined, quoted: boolean | undefined): number | undefined {
    if (v === undefined || quoted || !/^\d{1,5}$/.test(v)) return undefined;
    return Number(v);
  }

  // ---- sending ------------------------------------------------------------------------------

  /**
   * The `\r\n> ` prompt and the input up to Ctrl-Z (ESC cancels with OK); `take` turns the
   * input into a message, or answers and returns undefined.
   */
  private promptFor(take: (ctx: CommandContext, data: string) => void): RawInput {
    const { env } = this;
    return {
      maxLength: env.profile.limits.smsInput,
      prompt: `${this.nl()}> `,
      promptDelay: env.latency('sms.prompt'),
      timeout: env.profile.sms.inputTimeout,
      onData: (ctx, data, end) => {
        if (end === 'cancel') {
          env.trace.record({ t: env.kernel.now, ev: 'net', what: 'sms-input-cancelled', detail: data.length });
          return ctx.ok();
        }
        if (end !== 'ctrl-z') return this.bad(ctx);
        take(ctx, Buffer.from(data).toString('latin1'));
      },
      onTimeout: (ctx, partial) => {
        env.log.debug({ cmd: ctx.name, got: partial.length }, 'SMS input timed out');
        ctx.error();
      },
    };
  }

  /** A host PDU (SCA + TPDU) of `length` TPDU octets, or undefined after answering 304. */
  private hostPdu(ctx: CommandContext, data: string, length: number, kinds: ReadonlyArray<Tpdu['kind']>): MessagePdu | undefined {
    const r = parsePdu(data.trim(), { withSca: true, tpduOctets: length });
    if (!r.ok || isStatusReport(r.pdu) || !kinds.includes(r.pdu.tpdu.kind)) {
      this.env.log.debug({ cmd: ctx.name, reason: r.ok ? r.pdu.tpdu.kind : r.reason }, 'PDU refused');
      this.fail(ctx, CmsCode.invalidPduParameter);
      return undefined;
    }
    return r.pdu;
  }

  /** A text-mode message typed at the prompt, as an SMS-SUBMIT TPDU per AT+CSMP; undefined after answering 305. */
  private textSubmit(ctx: CommandContext, data: string, to: Address): string | undefined {
    const [fo, vp, pid, dcs] = this.csmp;
    const coding = dcsCoding(dcs);
    const refuse = (): undefined => {
      this.fail(ctx, CmsCode.invalidTextParameter);
      return undefined;
    };
    if (coding === undefined) return refuse();
    if (coding.alphabet === 'gsm7') {
      const text = fromTe(data, this.cscs);
      if (text === undefined || !gsm7Encodable(text) || gsm7Length(text) > MAX_SEPTETS) return refuse();
      return buildSubmitTpdu({ fo, mr: 0, to, pid, dcs, vp, ud: { text } });
    }
    // 27.005 §3.1: 8-bit and UCS2 user data is typed as hex
    const octets = hexOctets(data);
    if (octets === undefined || octets.length > MAX_OCTETS || (coding.alphabet === 'ucs2' && octets.length % 2 !== 0)) return refuse();
    return buildSubmitTpdu({ fo, mr: 0, to, pid, dcs, vp, ud: { octets } });
  }

  /**
   * Hand an SMS-SUBMIT to the network: the module's TP-MR in it, the SIM's SCA unless the host
   * gave one; after `sms.submit` the SMSC has it and `answer(mr)` prints the result line.
   */
  private submit(ctx: CommandContext, tpdu: string, sca: Address | undefined, answer: (mr: number) => void): void {
    const { env } = this;
    if (!this.radio.registered || this.radio.cfun !== 1) return this.fail(ctx, CmsCode.noNetworkService);
    let mr: number;
    try {
      mr = this.store(1).takeMr();
    } catch (err) {
      env.log.error({ err }, 'SIM write failed (TP-MR)');
      return this.fail(ctx, CmsCode.memoryFailure);
    }
    const via = sca ?? this.sca;
    const parsed = parsePdu(encodeSca(via) + withMr(tpdu, mr), { withSca: true });
    if (!parsed.ok || isStatusReport(parsed.pdu)) return this.fail(ctx, CmsCode.invalidPduParameter);
    const pdu = parsed.pdu;
    this.timers.after(
      env.latency('sms.submit'),
      () => {
        if (!this.radio.registered) return this.fail(ctx, CmsCode.networkTimeout);
        this.center.accept(pdu, via.number);
        answer(mr);
      },
      'sms-submit',
    );
  }

  // ---- commands -----------------------------------------------------------------------------

  private declare(): CommandSpec[] {
    const { env } = this;
    const { profile } = env;
    const slots = profile.limits.smsSlots;
    const storages = profile.sms.storages;
    const storageList = `(${storages.map((s) => `"${s}"`).join(',')})`;
    const storageOf = (v: string | undefined): SmsStorage | undefined => storages.find((s) => s === v);
    const cpmsCounts = (): string =>
      this.mem.map((m) => {
        const s = this.stores.get(m);
        return `${s?.used ?? 0},${s?.capacity ?? 0}`;
      }).join(',');
    const badParam = this.badParam;
    return [
      command({
        name: '+CMGF',
        summary: 'Message format: 0 PDU (default), 1 text',
        source: 'LM-SMS CMGF; 27.005 §3.2.3; behaviour §26',
        params: [enumParam('mode', [0, 1], true)],
        badParam,
        test: ['+CMGF: (0-1)'],
        read: (ctx) => {
          ctx.info(`+CMGF: ${this.cmgf}`);
          ctx.ok();
        },
        set: (ctx, [mode]) => {
          this.cmgf = mode ?? 0;
          ctx.ok();
        },
      }),
      command({
        name: '+CSCS',
        summary: 'TE character set: "GSM", "IRA", "UCS2" (strings of SMS text mode, phonebook, USSD)',
        source: 'LM-CFG CSCS; 27.007 §5.5; behaviour §27',
        params: [stringParam('chset', 8)],
        test: (ctx) => {
          ctx.info(profile.spellings.cscsTest);
          ctx.ok();
        },
        read: (ctx) => {
          ctx.info(`+CSCS: "${this.cscs}"`);
          ctx.ok();
        },
        set: (ctx, [chset]) => {
          const cs = CHARSETS.find((c) => c === chset);
          if (cs === undefined) return ctx.cme(765);
          this.cscs = cs;
          ctx.ok();
        },
      }),
      command({
        name: '+CSCA',
        summary: 'Service centre address (the SIM\'s; RAM until reboot)',
        source: 'LM-SMS CSCA; 27.005 §3.3.1',
        params: [stringParam('sca', 80), intParam('tosca', 0, 255, true)],
        badParam,
        test: [],
        read: (ctx) => {
          if (this.notReady(ctx)) return;
          ctx.info(`+CSCA: "${this.te(this.sca.number)}",${this.sca.type}`);
          ctx.ok();
        },
        set: (ctx, [sca, tosca]) => {
          if (this.notReady(ctx)) return;
          const number = this.dialString(sca);
          if (number === undefined) return this.bad(ctx);
          this.sca = { number, type: tosca ?? defaultToa(number) };
          ctx.ok();
        },
      }),
      command({
        name: '+CSMP',
        summary: 'Text-mode parameters <fo>,<vp>,<pid>,<dcs> of messages sent and written',
        source: 'LM-SMS CSMP; 27.005 §3.3.2',
        params: [intParam('fo', 0, 255, true), intParam('vp', 0, 255, true), intParam('pid', 0, 255, true), intParam('dcs', 0, 255, true)],
        badParam,
        test: ['+CSMP: (17,21,33,37,49,53),(0-255),(0-255),(0-255)'],
        read: (ctx) => {
          ctx.info(`+CSMP: ${this.csmp.join(',')}`);
          ctx.ok();
        },
        set: (ctx, [fo, vp, pid, dcs]) => {
          const next: [number, number, number, number] = [fo ?? this.csmp[0], vp ?? this.csmp[1], pid ?? this.csmp[2], dcs ?? this.csmp[3]];
          // an SMS-SUBMIT first octet, and a coding the module can send
          if ((next[0] & 0x03) !== 1 || dcsCoding(next[3]) === undefined) return this.bad(ctx);
          this.csmp = next;
          ctx.ok();
        },
      }),
      command({
        name: '+CSMS',
        summary: 'Message service: 0 (phase 2), 1 (phase 2+: +CMT and +CDS need AT+CNMA); +CSMS: <mt>,<mo>,<bm>',
        source: 'LM-SMS CSMS; 27.005 §3.2.1',
        params: [enumParam('service', [0, 1])],
        badParam,
        test: ['+CSMS: (0,1)'],
        read: (ctx) => {
          ctx.info(`+CSMS: ${this.csms},1,1,1`);
          ctx.ok();
        },
        set: (ctx, [service]) => {
          this.csms = service;
          ctx.info('+CSMS: 1,1,1');
          ctx.ok();
        },
      }),
      command({
        name: '+CPMS',
        summary: 'Storages <mem1> (read, delete), <mem2> (write, send), <mem3> (receive): +CPMS: <used>,<total> ×3',
        source: 'LM-SMS CPMS; 27.005 §3.2.2; behaviour §27',
        params: [stringParam('mem1', 4), stringParam('mem2', 4, { optional: true }), stringParam('mem3', 4, { optional: true })],
        latency: 'sms.cpms',
        badParam,
        test: (ctx) => {
          ctx.info(`+CPMS: ${storageList},${storageList},${storageList}`);
          ctx.ok();
        },
        read: (ctx) => {
          if (this.notReady(ctx)) return;
          ctx.info(
            '+CPMS: ' +
              this.mem.map((m) => {
                const s = this.stores.get(m);
                return `"${m}",${s?.used ?? 0},${s?.capacity ?? 0}`;
              }).join(','),
          );
          ctx.ok();
        },
        set: (ctx, mems) => {
          if (this.notReady(ctx)) return;
          const next: [SmsStorage, SmsStorage, SmsStorage] = [...this.mem];
          for (let i = 0; i < 3; i++) {
            const v = mems[i];
            if (v === undefined) continue;
            const s = storageOf(v);
            if (s === undefined) return this.fail(ctx, CmsCode.operationNotSupported);
            next[i] = s;
          }
          this.mem = next;
          ctx.info(`+CPMS: ${cpmsCounts()}`);
          ctx.ok();
        },
      }),
      command({
        name: '+CNMI',
        summary: 'New-message indications <mode>,<mt>,<bm>,<ds>,<bfr>: mt 1 → +CMTI: "SM",<i>, mt 2 → +CMT; status reports ds 1 → +CDS, ds 2 → +CDSI: "SM",<i>',
        source: 'LM-SMS CNMI; 27.005 §3.4.1; behaviour §28',
        params: [
          intParam('mode', 0, 3, true),
          intParam('mt', 0, 3, true),
          intParam('bm', 0, 3, true),
          // 27.005 <ds> 0..2; the test form stays the manual's literal, which lists (0-1) (behaviour §28)
          intParam('ds', 0, 2, true),
          intParam('bfr', 0, 1, true),
        ],
        badParam,
        test: ['+CNMI: (0-3),(0-3),(0-3),(0-1),(0-1)'],
        read: (ctx) => {
          const c = this.cnmi;
          ctx.info(`+CNMI: ${c.mode},${c.mt},${c.bm},${c.ds},${c.bfr}`);
          ctx.ok();
        },
        set: (ctx, [mode, mt, bm, ds, bfr]) => {
          const c = this.cnmi;
          this.cnmi = { mode: mode ?? c.mode, mt: mt ?? c.mt, bm: bm ?? c.bm, ds: ds ?? c.ds, bfr: bfr ?? c.bfr };
          if (this.cnmi.mode !== 0 && this.buffered.length > 0) {
            const held = this.buffered;
            this.buffered = [];
            // bfr 0: the TA flushes what it kept once the command has answered; 1: it is cleared
            if (this.cnmi.bfr === 0) env.host.afterLine(() => held.forEach((u) => env.host.urc(u)));
          }
          ctx.ok();
        },
      }),
      command({
        name: '+CSDH',
        summary: 'Text mode: show (1) or hide (0) the header fields of +CMGR, +CMGL, +CMT',
        source: 'LM-SMS CSDH; 27.005 §3.3.3',
        params: [enumParam('show', [0, 1], true)],
        badParam,
        test: ['+CSDH: (0,1)'],
        read: (ctx) => {
          ctx.info(`+CSDH: ${this.csdh}`);
          ctx.ok();
        },
        set: (ctx, [show]) => {
          this.csdh = show ?? 0;
          ctx.ok();
        },
      }),
      command({
        name: '+CNMA',
        summary: 'Acknowledge a +CMT or +CDS (needed after AT+CSMS=1); +CMS ERROR: 340 when none waits',
        source: 'LM-SMS CNMA; 27.005 §3.4.4',
        params: [enumParam('n', [0, 1, 2], true), intParam('length', 0, 0, true)],
        badParam,
        test: [],
        exec: (ctx) => this.acknowledge(ctx),
        set: (ctx) => this.acknowledge(ctx),
      }),
      command({
        name: '+CMGR',
        summary: 'Read a message of <mem1>; REC UNREAD becomes REC READ',
        source: 'LM-SMS CMGR; 27.005 §3.4.3; behaviour §27, §28',
        params: [intParam('index', 0, 0xffff)],
        latency: 'sms.read',
        badParam,
        test: [],
        set: (ctx, [index]) => {
          if (this.notReady(ctx)) return;
          const store = this.store(0);
          const m = store.get(index);
          const p = m && this.parseStored(m);
          if (m === undefined || p === undefined) return this.fail(ctx, CmsCode.invalidIndex);
          this.guard(ctx, () => {
            ctx.info(this.cmgrText(m, p));
            if (m.stat === 0) store.setStat(index, 1);
            ctx.ok();
          });
        },
      }),
      command({
        name: '+CMGL',
        summary: 'List messages of <mem1> by <stat> (PDU 0..4, text "REC UNREAD" … "ALL"); REC UNREAD become REC READ',
        source: 'LM-SMS CMGL; 27.005 §3.4.2; behaviour §27, §28',
        params: [stringParam('stat', 10, { optional: true })],
        latency: 'sms.list',
        badParam,
        test: (ctx) => {
          ctx.info(this.cmgf === 0 ? '+CMGL: (0-4)' : '+CMGL: "REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL"');
          ctx.ok();
        },
        exec: (ctx) => this.list(ctx, 0),
        set: (ctx, [stat]) => {
          const quoted = ctx.raw[0]?.quoted ?? false;
          // PDU mode takes the number unquoted; text mode the upper-case name, quotes optional
          const which = this.cmgf === 0 ? STAT_BY_NUMBER.get(quoted ? '' : (stat ?? '0')) : STAT_BY_TEXT.get(stat ?? 'REC UNREAD');
          if (which === undefined) return this.bad(ctx);
          this.list(ctx, which);
        },
      }),
      command({
        name: '+CMGD',
        summary: 'Delete message <index> of <mem1>, or by <delflag>: 1 read, 2 read+sent, 3 read+sent+unsent, 4 all',
        source: 'LM-SMS CMGD; 27.005 §3.5.4',
        params: [intParam('index', 0, 0xffff), enumParam('delflag', [0, 1, 2, 3, 4], true)],
        latency: 'sms.delete',
        badParam,
        test: [`+CMGD: (1-${slots}),(0-4)`],
        set: (ctx, [index, delflag]) => {
          if (this.notReady(ctx)) return;
          const store = this.store(0);
          const flag = delflag ?? 0;
          if (flag === 0 && store.get(index) === undefined) return this.fail(ctx, CmsCode.invalidIndex);
          const pick: (m: StoredSms) => boolean =
            flag === 0 ? (m) => m.index === index : flag === 1 ? (m) => m.stat === 1 : flag === 2 ? (m) => m.stat === 1 || m.stat === 3 : flag === 3 ? (m) => m.stat !== 0 : () => true;
          this.guard(ctx, () => {
            const wasFull = store.full;
            store.deleteWhere(pick);
            ctx.ok();
            // memory available again: the module tells the network (SMMA), the SMSC retries
            if (wasFull && !store.full) this.center.wake();
          });
        },
      }),
      command({
        name: '+CMGS',
        summary: 'Send: PDU `=<length>` / text `="<da>"[,<toda>]`, then the `\\r\\n> ` prompt, Ctrl-Z sends, ESC cancels; +CMGS: <mr>',
        source: 'LM-SMS CMGS; 27.005 §3.5.1; behaviour §26',
        params: [stringParam('da', 80), intParam('toda', 0, 255, true)],
        badParam,
        test: [],
        set: (ctx, [da, toda]) => {
          if (this.notReady(ctx)) return;
          const answer = (c: CommandContext) => (mr: number) => {
            c.info(`+CMGS: ${mr}`);
            c.ok();
          };
          if (this.cmgf === 0) {
            const length = this.intOf(da, ctx.raw[0]?.quoted);
            if (length === undefined || length < 1 || length > MAX_TPDU || toda !== undefined) return this.bad(ctx);
            return ctx.rawInput(
              this.promptFor((c, data) => {
                const p = this.hostPdu(c, data, length, ['submit']);
                if (p) this.submit(c, tpduHexOf(p), p.sca, answer(c));
              }),
            );
          }
          const number = this.dialString(da);
          if (number === undefined) return this.bad(ctx);
          const to = { number, type: toda ?? defaultToa(number) };
          ctx.rawInput(
            this.promptFor((c, data) => {
              const tpdu = this.textSubmit(c, data, to);
              if (tpdu !== undefined) this.submit(c, tpdu, undefined, answer(c));
            }),
          );
        },
      }),
      command({
        name: '+CMGW',
        summary: 'Write a message to <mem2> after the prompt: PDU `=<length>[,<stat>]`, text `[="<da>"[,<toda>[,<stat>]]]`; +CMGW: <index>',
        source: 'LM-SMS CMGW; 27.005 §3.5.3',
        params: [stringParam('da', 80, { optional: true }), stringParam('toda', 10, { optional: true }), stringParam('stat', 10, { optional: true })],
        badParam,
        test: [],
        exec: (ctx) => this.write(ctx, undefined, undefined, undefined),
        set: (ctx, [da, toda, stat]) => this.write(ctx, da, toda, stat),
      }),
      command({
        name: '+CMSS',
        summary: 'Send message <index> of <mem2> (optionally to another <da>); +CMSS: <mr>; STO UNSENT becomes STO SENT',
        source: 'LM-SMS CMSS; 27.005 §3.5.2',
        params: [intParam('index', 0, 0xffff), stringParam('da', 80, { optional: true }), intParam('toda', 0, 255, true)],
        badParam,
        test: [],
        set: (ctx, [index, da, toda]) => {
          if (this.notReady(ctx)) return;
          const store = this.store(1);
          const m = store.get(index);
          const p = m && this.parseStored(m);
          if (m === undefined || p === undefined) return this.fail(ctx, CmsCode.invalidIndex);
          if (p.tpdu.kind !== 'submit') return this.fail(ctx, CmsCode.operationNotAllowed);
          let tpdu = tpduHexOf(p);
          if (da !== undefined) {
            const number = this.dialString(da);
            if (number === undefined) return this.bad(ctx);
            tpdu = withDestination(tpdu, { number, type: toda ?? defaultToa(number) });
          }
          this.submit(ctx, tpdu, p.sca, (mr) =>
            this.guard(ctx, () => {
              if (m.stat === 2) store.setStat(index, 3);
              ctx.info(`+CMSS: ${mr}`);
              ctx.ok();
            }),
          );
        },
      }),
    ];
  }

  private acknowledge(ctx: CommandContext): void {
    if (this.ackTimer === undefined) return this.fail(ctx, CmsCode.noCnmaExpected);
    this.timers.cancel(this.ackTimer);
    this.ackTimer = undefined;
    ctx.ok();
  }

  private list(ctx: CommandContext, which: SmsStat | 4): void {
    if (this.notReady(ctx)) return;
    const store = this.store(0);
    const shown = store.all().filter((m) => which === 4 || m.stat === which);
    this.guard(ctx, () => {
      for (const m of shown) {
        const p = this.parseStored(m);
        if (p !== undefined) ctx.info(this.cmglText(m, p));
      }
      for (const m of shown) if (m.stat === 0) store.setStat(m.index, 1);
      ctx.ok();
    });
  }

  /** AT+CMGW: check the storage before the prompt, store what is typed, answer +CMGW: <index>. */
  private write(ctx: CommandContext, a: string | undefined, b: string | undefined, c: string | undefined): void {
    if (this.notReady(ctx)) return;
    const store = this.store(1);
    const raw = ctx.raw;
    const keep = (cc: CommandContext, stat: SmsStat, pdu: string): void => {
      this.timers.after(
        this.env.latency('sms.store'),
        () =>
          this.guard(cc, () => {
            const index = store.add(stat, pdu);
            if (index === undefined) return this.fail(cc, CmsCode.memoryFull);
            cc.info(`+CMGW: ${index}`);
            cc.ok();
          }),
        'sms-store',
      );
    };
    if (this.cmgf === 0) {
      const length = this.intOf(a, raw[0]?.quoted);
      const st = b === undefined ? 2 : STAT_BY_NUMBER.get(raw[1]?.quoted ? '' : b);
      if (length === undefined || length < 1 || length > MAX_TPDU || st === undefined || st === 4 || c !== undefined) return this.bad(ctx);
      if (store.full) return this.fail(ctx, CmsCode.memoryFull);
      return ctx.rawInput(
        this.promptFor((cc, data) => {
          const p = this.hostPdu(cc, data, length, ['submit', 'deliver']);
          if (p) keep(cc, st, p.sca === undefined ? encodeSca(this.sca) + tpduHexOf(p) : p.hex);
        }),
      );
    }
    let to: Address = { number: '', type: 129 };
    if (a !== undefined) {
      const number = a === '' ? '' : this.dialString(a);
      if (number === undefined) return this.bad(ctx);
      const toda = b === undefined ? defaultToa(number) : this.intOf(b, raw[1]?.quoted);
      if (toda === undefined || toda > 255) return this.bad(ctx);
      to = { number, type: toda };
    }
    const stat = STAT_BY_TEXT.get(c ?? 'STO UNSENT');
    if (stat === undefined || stat === 4) return this.bad(ctx);
    if (store.full) return this.fail(ctx, CmsCode.memoryFull);
    ctx.rawInput(
      this.promptFor((cc, data) => {
        const tpdu = this.textSubmit(cc, data, to);
        if (tpdu !== undefined) keep(cc, stat, encodeSca(this.sca) + tpdu);
      }),
    );
  }
}

export const smsGroup: CommandGroup<SmsService> = {
  name: 'sms',
  manual: ['+CMGF', '+CSCS', '+CSCA', '+CSMP', '+CSMS', '+CPMS', '+CNMI', '+CSDH', '+CNMA', '+CMGR', '+CMGL', '+CMGD', '+CMGS', '+CMGW', '+CMSS'],
  needs: ['radio'],
  create: ({ env, ports }) => {
    const s = new SmsService(env, ports.need('radio', 'sms'));
    ports.provide('charset', s);
    ports.provide('smsCenter', s.center);
    return s;
  },
};
