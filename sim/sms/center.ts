/**
 * The far side of SMS: a simulated SMSC in-process. It records every message the module
 * submits, and delivers messages to the module after the network's latency, one part at a
 * time, as +CMTI/+CMT per AT+CNMI. A submit with TP-SRR set gets an SMS-STATUS-REPORT once
 * the SMSC has "delivered" it to its recipient (`sms.statusReport`), sent to the module the same
 * way (+CDS/+CDSI per AT+CNMI <ds>); `failDeliveries` makes a recipient's deliveries fail.
 * Like the cell it is world state: it survives the module's reboots; a message the module
 * cannot take (switched off, not registered, storage full) waits at the SMSC until it can
 * (23.040 §3.2.5: memory available, SMMA, triggers the retry).
 *
 * Callable from anywhere (a test, the control endpoint): `deliver` brings itself into model
 * time.
 */
import type { ClockDriver } from '../clock.js';
import { Kernel, Ns } from '../kernel.js';
import type { Logger } from '../log.js';
import type { Trace } from '../trace.js';
import { Address, Concat, DIAL_STRING, MessagePdu, Pdu, buildDeliverParts, buildStatusReport, defaultToa, deliverWithSca, parsePdu, tpduHexOf } from './pdu.js';

/** A message as the SMSC received it from the module (one record per part). */
export interface SentSms {
  /** Model time the SMSC acknowledged it (the module prints +CMGS then). */
  readonly at: Ns;
  readonly mr: number;
  /** Destination: digits, `+` first for an international number. */
  readonly to: string;
  readonly toa: number;
  readonly dcs: number;
  readonly alphabet: 'gsm7' | '8bit' | 'ucs2';
  /** The part's text ('' for 8-bit data; then see `tpdu`). */
  readonly text: string;
  readonly concat: Concat | undefined;
  /** The TPDU as it reached the SMSC (hex, the module's TP-MR in it). */
  readonly tpdu: string;
  /** The service centre address the module used (AT+CSCA, or the one in the host's PDU). */
  readonly sca: string;
  /** TP-SRR was set: the SMSC sends a status report (see `reports`). */
  readonly srr: boolean;
}

/** What the SMSC sends the module (a message or a status report), and how far it got. */
export interface OutboundSms {
  readonly id: number;
  /** The PDUs, SCA included, one per part (a status report is one). */
  readonly parts: readonly string[];
  /** Parts the module has taken (stored, or shown with +CMT/+CDS). */
  delivered: number;
  /** `waiting-memory`: the module answered memory capacity exceeded; retried on SMMA. */
  state: 'pending' | 'waiting-memory' | 'delivered';
  /** Where each stored part went (`+CMTI`/`+CDSI: "<mem>",<index>`); empty when shown directly. */
  readonly stored: Array<{ mem: string; index: number }>;
}

/** A message towards the module, and how far its delivery got. */
export interface InboundSms extends OutboundSms {
  readonly from: string;
  readonly text: string;
}

/** An SMS-STATUS-REPORT towards the module (23.040 §9.2.2.3), and how far it got. */
export interface StatusReportSms extends OutboundSms {
  /** TP-MR of the submit it reports on (the module's `+CMGS: <mr>`). */
  readonly mr: number;
  /** TP-RA: that submit's destination, as `sent` names it. */
  readonly to: string;
  /** TP-ST: 0 delivered, else the failure `failDeliveries` set for `to`. */
  readonly st: number;
  /** Model time the SMSC took the submit (TP-SCTS) and discharged it (TP-DT). */
  readonly submittedAt: Ns;
  readonly dischargedAt: Ns;
}

/** What the SMSC asks of the module it delivers to (the SMS service implements it). */
export interface SmsTerminal {
  /** Registered, SMS service ready: a delivery can be attempted now. */
  readonly reachable: boolean;
  /** One part arrives: taken (where it was stored, if it was), or refused for memory. */
  receive(pdu: Pdu): { ok: true; stored: { mem: string; index: number } | undefined } | { ok: false; cause: 'memory-full' };
}

export type DeliverRequest =
  /** A text from a number: GSM 7-bit or UCS2 as the text needs, split into parts when long. */
  | { from: string; text: string; time?: Date }
  /** An SMS-DELIVER TPDU of your own (hex, without SCA: the SMSC puts its own in front). */
  | { pdu: string };

/**
 * A `failDeliveries` rule from JSON-like input (for a control endpoint or scenario step):
 * `{to, status}` with `status` a TP-ST 0..255 (0 delivers normally again). Returns the rule, or
 * why it is not one.
 */
export function deliveryRuleOf(v: unknown): { to: string; status: number } | { error: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected {to, status}' };
  const o: Readonly<Record<string, unknown>> = Object.fromEntries(Object.entries(v));
  const extra = Object.keys(o).filter((k) => k !== 'to' && k !== 'status');
  if (extra.length > 0) return { error: `unknown field ${extra.join(', ')}: expected {to, status}` };
  const { to, status } = o;
  if (typeof to !== 'string' || !DIAL_STRING.test(to)) return { error: 'to: expected a number as the module sends to it, e.g. "+8613912345678"' };
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 255) return { error: 'status: expected a TP-ST 0..255 (0 delivered, 70 validity period expired)' };
  return { to, status };
}

/**
 * A DeliverRequest from JSON-like input (the control endpoint, a scenario step): `{from, text,
 * time?}` with `time` an ISO date, or `{pdu}`. Returns the request, or why it is not one.
 */
export function deliverRequestOf(v: unknown): DeliverRequest | { error: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected {from, text} or {pdu}' };
  const o: Readonly<Record<string, unknown>> = Object.fromEntries(Object.entries(v));
  const extra = Object.keys(o).filter((k) => !['from', 'text', 'time', 'pdu'].includes(k));
  if (extra.length > 0) return { error: `unknown field ${extra.join(', ')}: expected {from, text, time?} or {pdu}` };
  if (typeof o['pdu'] === 'string' && o['from'] === undefined && o['text'] === undefined) return { pdu: o['pdu'] };
  const { from, text, time } = o;
  if (typeof from !== 'string' || typeof text !== 'string') return { error: 'expected from and text as strings (or pdu as hex)' };
  if (time === undefined) return { from, text };
  const date = typeof time === 'string' ? new Date(time) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) return { error: 'time: expected an ISO date, e.g. 2024-08-23T06:52:50Z' };
  return { from, text, time: date };
}

export interface SmsCenterOptions {
  kernel: Kernel;
  clock: ClockDriver;
  trace: Trace;
  log: Logger;
  /** The SMSC's own address (what the SIM's CSCA names). */
  address: Address;
  /** The network's clock now (stamps of the messages it sends). */
  time(): { date: Date; zoneQuarters: number };
  /** One delivery's network latency. */
  deliveryLatency(): Ns;
  /** From the SMSC taking a submit with TP-SRR to its discharge at the recipient (the report's TP-DT). */
  reportLatency(): Ns;
  /** Seeded 16-bit concatenation references. */
  nextRef(): number;
}

/** Records kept of sent and finished messages (the oldest go first: bounded memory). */
const KEEP = 1000;
/** Longest text `deliver` takes: ten concatenated UCS2 parts. */
const MAX_TEXT = 670;

export class SmsCenter {
  /** Every part the module submitted, oldest first (the last 1000). */
  readonly sent: SentSms[] = [];
  /** Messages towards the module: waiting, and the last 1000 delivered. */
  readonly inbound: InboundSms[] = [];
  /** Status reports towards the module (submits with TP-SRR): waiting, and the last 1000 delivered. */
  readonly reports: StatusReportSms[] = [];
  private readonly queue: OutboundSms[] = [];
  /** TP-ST of the deliveries to a recipient (`failDeliveries`); absent: 0, delivered. */
  private readonly outcomes = new Map<string, number>();
  private nextId = 1;
  private inFlight = false;
  private terminal: SmsTerminal | undefined;
  private readonly sentListeners: Array<(s: SentSms) => void> = [];
  private deliveringListeners: Array<(req: DeliverRequest) => void> = [];
  private ruleListeners: Array<(to: string, st: number) => void> = [];

  constructor(private readonly o: SmsCenterOptions) {}

  /** The module side; set once by the SMS service. */
  attach(t: SmsTerminal): void {
    this.terminal = t;
  }

  /**
   * Told of every message about to be delivered, as a request that makes it again to the byte
   * (a text's service-centre time stamp fixed); a recording keeps it for its replay.
   */
  onDelivering(fn: (req: DeliverRequest) => void): () => void {
    this.deliveringListeners.push(fn);
    return () => {
      this.deliveringListeners = this.deliveringListeners.filter((f) => f !== fn);
    };
  }

  /** Called for every part the module submits, when the SMSC has it. */
  onSent(fn: (s: SentSms) => void): void {
    this.sentListeners.push(fn);
  }

  /** Submitted texts with their concatenated parts joined, by destination and reference, oldest first. */
  sentMessages(): Array<{ to: string; text: string; parts: number }> {
    const out: Array<{ to: string; text: string; parts: number }> = [];
    const open = new Map<string, { to: string; text: string; parts: number }>();
    for (const s of this.sent) {
      if (s.concat === undefined) {
        out.push({ to: s.to, text: s.text, parts: 1 });
        continue;
      }
      const key = `${s.to}/${s.concat.ref}/${s.concat.total}`;
      let m = open.get(key);
      if (m === undefined || s.concat.seq === 1) {
        m = { to: s.to, text: '', parts: 0 };
        open.set(key, m);
        out.push(m);
      }
      m.text += s.text;
      m.parts++;
    }
    return out;
  }

  /**
   * Send a message to the module. It enters model time at once and arrives after the network's
   * latency (`sms.deliver`) per part. Throws on a request no SMSC would send (a bad number, a
   * text of more than 670 characters, a PDU that is no SMS-DELIVER).
   */
  deliver(req: DeliverRequest): InboundSms {
    if (this.queue.length >= KEEP) throw new Error(`SmsCenter.deliver: ${KEEP} messages already wait for the module`);
    let from: string;
    let text: string;
    let parts: string[];
    let again: DeliverRequest = req;
    if ('pdu' in req) {
      const r = deliverWithSca(req.pdu, this.o.address);
      if (!r.ok) throw new Error(`SmsCenter.deliver: ${r.reason}`);
      from = r.pdu.tpdu.address.number;
      text = r.pdu.tpdu.text;
      parts = [r.pdu.hex];
    } else {
      if (!DIAL_STRING.test(req.from)) throw new Error(`SmsCenter.deliver: bad sender ${JSON.stringify(req.from)}`);
      if (req.text.length > MAX_TEXT) throw new Error(`SmsCenter.deliver: text longer than ${MAX_TEXT} characters`);
      from = req.from;
      text = req.text;
      const now = this.o.time();
      const time = req.time ?? now.date;
      again = { from, text, time };
      parts = buildDeliverParts({
        from: { number: req.from, type: defaultToa(req.from) },
        text: req.text,
        sca: this.o.address,
        time,
        zoneQuarters: now.zoneQuarters,
        ref: this.o.nextRef(),
      });
    }
    for (const f of [...this.deliveringListeners]) f(again);
    const m: InboundSms = { id: this.nextId++, from, text, parts, delivered: 0, state: 'pending', stored: [] };
    this.keep(this.inbound, m);
    this.o.clock.inject('smsc-deliver', () => {
      this.queue.push(m);
      this.trace('smsc-queued', { id: m.id, from, parts: parts.length });
      this.pump();
    });
    return m;
  }

  /**
   * From now on every message the SMSC takes for `to` (the destination as `sent` names it,
   * `+8613912345678` or national digits) fails: its status report carries TP-ST `st`
   * (23.040 §9.2.3.15; default 0x46 = 70, validity period expired). `st` 0 delivers normally
   * again. Only messages sent with TP-SRR tell the module anything.
   */
  failDeliveries(to: string, st = 0x46): void {
    if (!DIAL_STRING.test(to)) throw new Error(`SmsCenter.failDeliveries: bad recipient ${JSON.stringify(to)}`);
    if (!Number.isInteger(st) || st < 0 || st > 255) throw new Error(`SmsCenter.failDeliveries: TP-ST ${st} is not 0..255`);
    if (st === 0) this.outcomes.delete(to);
    else this.outcomes.set(to, st);
    for (const f of [...this.ruleListeners]) f(to, st);
  }

  /** Told of each `failDeliveries` rule as it is set (a recording keeps it for its replay). */
  onRule(fn: (to: string, st: number) => void): () => void {
    this.ruleListeners.push(fn);
    return () => {
      this.ruleListeners = this.ruleListeners.filter((f) => f !== fn);
    };
  }

  /** Every recipient's deliveries succeed again. */
  clearFailures(): void {
    this.outcomes.clear();
  }

  /** The module became reachable, or has memory again (SMMA): try what waits. */
  wake(): void {
    for (const m of this.queue) if (m.state === 'waiting-memory') m.state = 'pending';
    this.pump();
  }

  /** Messages not yet wholly delivered. */
  get waiting(): number {
    return this.queue.length;
  }

  /** The module's submit reached the SMSC (called by the SMS service when the network acknowledged it). */
  accept(pdu: MessagePdu, sca: string): SentSms {
    const t = pdu.tpdu;
    const s: SentSms = {
      at: this.o.kernel.now,
      mr: t.mr ?? 0,
      to: t.address.number,
      toa: t.address.type,
      dcs: t.dcs,
      alphabet: t.alphabet,
      text: t.text,
      concat: t.concat,
      tpdu: tpduHexOf(pdu),
      sca,
      // 23.040 §9.2.3.5: TP-SRR, bit 5 of an SMS-SUBMIT's first octet
      srr: (t.fo & 0x20) !== 0,
    };
    this.keep(this.sent, s);
    this.o.log.info({ to: s.to, mr: s.mr, text: s.text, alphabet: s.alphabet, concat: s.concat, tpdu: s.tpdu, srr: s.srr }, 'sms sent');
    this.trace('smsc-received', { to: s.to, mr: s.mr, text: s.text });
    for (const f of this.sentListeners) f(s);
    if (s.srr) this.scheduleReport(s);
    return s;
  }

  /** After `sms.statusReport` the recipient has it (or the SMSC gave up): the report goes to the module. */
  private scheduleReport(s: SentSms): void {
    const st = this.outcomes.get(s.to) ?? 0;
    const submitted = this.o.time().date;
    this.o.kernel.after(
      this.o.reportLatency(),
      () => {
        const now = this.o.time();
        const pdu = buildStatusReport({
          sca: this.o.address,
          mr: s.mr,
          to: { number: s.to, type: s.toa },
          submitted,
          discharged: now.date,
          zoneQuarters: now.zoneQuarters,
          st,
        });
        const r: StatusReportSms = {
          id: this.nextId++,
          mr: s.mr,
          to: s.to,
          st,
          submittedAt: s.at,
          dischargedAt: this.o.kernel.now,
          parts: [pdu],
          delivered: 0,
          state: 'pending',
          stored: [],
        };
        this.keep(this.reports, r);
        this.queue.push(r);
        this.trace('smsc-status-report', { id: r.id, mr: r.mr, to: r.to, st });
        this.pump();
      },
      'smsc-status-report',
    );
  }

  private pump(): void {
    const t = this.terminal;
    const head = this.queue[0];
    if (this.inFlight || t === undefined || head === undefined || head.state !== 'pending' || !t.reachable) return;
    this.inFlight = true;
    this.o.kernel.after(this.o.deliveryLatency(), () => this.attempt(), 'smsc-attempt');
  }

  private attempt(): void {
    this.inFlight = false;
    const t = this.terminal;
    const m = this.queue[0];
    if (t === undefined || m === undefined) return;
    if (!t.reachable) return;
    const hex = m.parts[m.delivered]!;
    const parsed = parsePdu(hex, { withSca: true });
    if (!parsed.ok) {
      // built or checked by deliver(): cannot happen, but never loop on it
      this.o.log.error({ id: m.id, reason: parsed.reason }, 'SMSC holds an unreadable PDU; dropped');
      this.queue.shift();
      return this.pump();
    }
    const r = t.receive(parsed.pdu);
    if (!r.ok) {
      m.state = 'waiting-memory';
      this.trace('smsc-refused', { id: m.id, part: m.delivered + 1, cause: r.cause });
      return;
    }
    if (r.stored) m.stored.push(r.stored);
    m.delivered++;
    this.trace('smsc-delivered', { id: m.id, part: m.delivered, of: m.parts.length, stored: r.stored });
    if (m.delivered === m.parts.length) {
      m.state = 'delivered';
      this.queue.shift();
    }
    this.pump();
  }

  private keep<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
  }

  private trace(what: string, detail: unknown): void {
    if (this.o.trace.enabled) this.o.trace.record({ t: this.o.kernel.now, ev: 'net', what, detail });
  }
}
