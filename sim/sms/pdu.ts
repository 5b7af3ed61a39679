/**
 * SMS PDUs (3GPP 23.040) as the module sees them: what a host hands to AT+CMGS/AT+CMGW in PDU
 * mode, what the SIM keeps, and what +CMT/+CMGR/+CMGL print. The structure (lengths, fields,
 * user-data header) is checked here, octet by octet, because a host's PDU must be refused with
 * +CMS ERROR: 304 rather than half-read; the GSM 7-bit and UCS2 codecs, the building of
 * SMS-DELIVER PDUs (with concatenation) and the fields of an SMS-STATUS-REPORT are node-pdu's.
 */
import { Deliver, utils } from 'node-pdu';

export type Alphabet = 'gsm7' | '8bit' | 'ucs2';

/** An address as 23.040 carries it: digits (with `+` when the type of number is international) and TOA. */
export interface Address {
  number: string;
  type: number;
}

/** The concatenation information element of a part (IEI 0x00 8-bit or 0x08 16-bit reference). */
export interface Concat {
  ref: number;
  total: number;
  seq: number;
}

export interface Tpdu {
  kind: 'deliver' | 'submit';
  /** First octet (MTI, MMS/RD, VPF, SRI/SRR, UDHI, RP). */
  fo: number;
  /** TP-MR of an SMS-SUBMIT. */
  mr: number | undefined;
  /** Originating (deliver) or destination (submit) address. */
  address: Address;
  pid: number;
  dcs: number;
  /** Relative validity period octet (VPF 10) of an SMS-SUBMIT. */
  vp: number | undefined;
  /** Service centre time stamp of an SMS-DELIVER, as 27.005 text mode prints it. */
  scts: string | undefined;
  alphabet: Alphabet;
  /** Message class 0..3 when the DCS gives one. */
  msgClass: number | undefined;
  /** TP-UDL: septets (GSM 7-bit) or octets. */
  udl: number;
  concat: Concat | undefined;
  /** The message text (GSM 7-bit and UCS2); 8-bit data is not text and comes as ''. */
  text: string;
  /** The user data after the header, as hex, for 8-bit and UCS2 (what text mode prints). */
  dataHex: string;
  /** Octets of the TPDU (the <length> of +CMGS, +CMGR, +CMT). */
  octets: number;
}

/** An SMS-STATUS-REPORT (23.040 §9.2.2.3): what the SMSC tells of a message sent with TP-SRR. */
export interface StatusReportTpdu {
  kind: 'status-report';
  /** First octet (MTI 10, MMS, LP, SRQ, UDHI). */
  fo: number;
  /** TP-MR of the SMS-SUBMIT it reports on. */
  mr: number;
  /** TP-RA: the recipient of that message. */
  address: Address;
  /** TP-SCTS (the SMSC took the message) and TP-DT (discharge), as 27.005 text mode prints them. */
  scts: string;
  dt: string;
  /** TP-ST (23.040 §9.2.3.15): 0 received by the SME; 0x20.. still trying; 0x40.. permanent; 0x60.. gave up. */
  st: number;
  /** Octets of the TPDU (the <length> of +CDS, +CMGR, +CMGL). */
  octets: number;
}

export interface PduOf<T extends Tpdu | StatusReportTpdu> {
  /** The SCA in front of the TPDU; undefined for a `00` (use the SIM's). */
  sca: Address | undefined;
  tpdu: T;
  /** The whole PDU as hex, upper case, SCA included. */
  hex: string;
}

/** A PDU that carries a message (SMS-DELIVER or SMS-SUBMIT). */
export type MessagePdu = PduOf<Tpdu>;
/** A PDU that carries an SMS-STATUS-REPORT. */
export type ReportPdu = PduOf<StatusReportTpdu>;
export type Pdu = MessagePdu | ReportPdu;

export function isStatusReport(p: Pdu): p is ReportPdu {
  return p.tpdu.kind === 'status-report';
}

export type PduResult = { ok: true; pdu: Pdu } | { ok: false; reason: string };

/** Type of number "international" (TON 001) in a TOA octet. */
const TON_INTERNATIONAL = 0x10;
const TON_MASK = 0x70;
const TON_ALPHANUMERIC = 0x50;

/** The TOA a number gets when the host gives none (27.005: 145 with `+`, else 129). */
export function defaultToa(number: string): number {
  return number.startsWith('+') ? 145 : 129;
}

const HEX = /^(?:[0-9A-Fa-f]{2})*$/;

/** Dial strings 23.040 can carry as semi-octets. */
export const DIAL_STRING = /^\+?[0-9*#]{1,20}$/;

/**
 * Parse a PDU. `withSca`: the hex starts with the SCA octets (what CMGS/CMGW and the SIM hold).
 * `tpduOctets`: the host's <length>, which must match the TPDU exactly.
 */
export function parsePdu(hex: string, opts: { withSca: boolean; tpduOctets?: number }): PduResult {
  if (!HEX.test(hex) || hex.length === 0) return { ok: false, reason: 'not hex octets' };
  const b = Buffer.from(hex, 'hex');
  let o = 0;
  let sca: Address | undefined;
  if (opts.withSca) {
    const len = b[0] ?? 0;
    if (len > 11 || 1 + len > b.length) return { ok: false, reason: 'bad SCA length' };
    if (len > 0) {
      const type = b[1] ?? 0;
      sca = { number: decodeSemiOctets(b.subarray(2, 1 + len), (len - 1) * 2, type), type };
    }
    o = 1 + len;
  }
  const tpduOctets = b.length - o;
  if (opts.tpduOctets !== undefined && opts.tpduOctets !== tpduOctets) {
    return { ok: false, reason: `length ${opts.tpduOctets} but ${tpduOctets} TPDU octets` };
  }
  let t: Tpdu | StatusReportTpdu | string;
  try {
    t = parseTpdu(b.subarray(o));
  } catch (err) {
    // the codec met user data it cannot read: the host's PDU is refused, never a throw
    t = `undecodable user data (${String(err)})`;
  }
  if (typeof t === 'string') return { ok: false, reason: t };
  const up = hex.toUpperCase();
  // one literal per kind: TypeScript does not spread an object over the union of its field
  const pdu: Pdu = t.kind === 'status-report' ? { sca, tpdu: t, hex: up } : { sca, tpdu: t, hex: up };
  return { ok: true, pdu };
}

function parseTpdu(b: Buffer): Tpdu | StatusReportTpdu | string {
  let o = 0;
  const need = (n: number): boolean => o + n <= b.length;
  if (!need(1)) return 'empty TPDU';
  const fo = b[o++]!;
  const mti = fo & 0x03;
  if (mti === 2) return parseStatusReport(b);
  if (mti !== 0 && mti !== 1) return 'neither SMS-DELIVER, SMS-SUBMIT nor SMS-STATUS-REPORT';
  const kind = mti === 0 ? 'deliver' : 'submit';
  let mr: number | undefined;
  if (kind === 'submit') {
    if (!need(1)) return 'no TP-MR';
    mr = b[o++]!;
  }
  const addr = readAddress(b, o, 'no address');
  if (typeof addr === 'string') return addr;
  const { number, type } = addr;
  o = addr.next;
  if (!need(2)) return 'no PID/DCS';
  const pid = b[o++]!;
  const dcs = b[o++]!;
  let vp: number | undefined;
  let scts: string | undefined;
  if (kind === 'submit') {
    const vpf = (fo >> 3) & 0x03;
    const vpOctets = vpf === 0 ? 0 : vpf === 2 ? 1 : 7;
    if (!need(vpOctets)) return 'no validity period';
    if (vpf === 2) vp = b[o];
    o += vpOctets;
  } else {
    if (!need(7)) return 'no SCTS';
    scts = sctsText(b.subarray(o, o + 7));
    o += 7;
  }
  if (!need(1)) return 'no TP-UDL';
  const udl = b[o++]!;
  const coding = dcsCoding(dcs);
  if (coding === undefined) return 'unsupported DCS';
  const udOctets = coding.alphabet === 'gsm7' ? Math.ceil((udl * 7) / 8) : udl;
  if (udl > (coding.alphabet === 'gsm7' ? 160 : 140)) return 'TP-UDL too large';
  if (o + udOctets !== b.length) return `user data ${b.length - o} octets, TP-UDL says ${udOctets}`;
  const ud = b.subarray(o);
  let concat: Concat | undefined;
  let headerOctets = 0;
  if (fo & 0x40) {
    const udhl = ud[0] ?? 0;
    headerOctets = udhl + 1;
    if (headerOctets > ud.length) return 'bad UDH length';
    const c = concatOf(ud.subarray(1, headerOctets));
    if (typeof c === 'string') return c;
    concat = c;
  }
  let text = '';
  let dataHex: string;
  if (coding.alphabet === 'gsm7') {
    const headerSeptets = Math.ceil((headerOctets * 8) / 7);
    const fill = headerSeptets * 7 - headerOctets * 8;
    const septets = udl - headerSeptets;
    if (septets < 0) return 'UDH longer than the user data';
    const body = ud.subarray(headerOctets).toString('hex');
    text = septets === 0 ? '' : utils.Helper.decode7Bit(body, septets, fill);
    dataHex = '';
  } else {
    const body = ud.subarray(headerOctets);
    dataHex = body.toString('hex').toUpperCase();
    if (coding.alphabet === 'ucs2') {
      if (body.length % 2 !== 0) return 'odd UCS2 user data';
      text = body.length === 0 ? '' : utils.Helper.decode16Bit(dataHex);
    }
  }
  return { kind, fo, mr, address: { number, type }, pid, dcs, vp, scts, alphabet: coding.alphabet, msgClass: coding.msgClass, udl, concat, text, dataHex, octets: b.length };
}

/**
 * SMS-STATUS-REPORT (23.040 §9.2.2.3): fo, MR, RA, SCTS, DT, ST, then optionally TP-PI and the
 * PID, DCS and user data it announces (checked for length, not shown: 27.005 prints none of them).
 */
/** A TP address at `o` (digit count, type, semi-octets): the number, its type and where the next field starts. */
function readAddress(b: Buffer, o: number, missing: string): { number: string; type: number; next: number } | string {
  if (o + 2 > b.length) return missing;
  const digits = b[o]!;
  const type = b[o + 1]!;
  const octets = Math.ceil(digits / 2);
  if (digits > 20 || o + 2 + octets > b.length) return 'bad address length';
  return { number: decodeSemiOctets(b.subarray(o + 2, o + 2 + octets), digits, type), type, next: o + 2 + octets };
}

function parseStatusReport(b: Buffer): StatusReportTpdu | string {
  let o = 1;
  const need = (n: number): boolean => o + n <= b.length;
  const fo = b[0]!;
  if (!need(1)) return 'no TP-MR';
  const mr = b[o++]!;
  const addr = readAddress(b, o, 'no recipient address');
  if (typeof addr === 'string') return addr;
  const { number, type } = addr;
  o = addr.next;
  if (!need(15)) return 'no SCTS, discharge time or status';
  const scts = sctsText(b.subarray(o, o + 7));
  const dt = sctsText(b.subarray(o + 7, o + 14));
  o += 14;
  const st = b[o++]!;
  if (need(1)) {
    const pi = b[o++]!;
    if (pi & 0x01) o++;
    let dcs = 0;
    if (pi & 0x02) dcs = b[o++] ?? 0;
    if (pi & 0x04) {
      const udl = b[o++];
      const coding = dcsCoding(dcs);
      if (udl === undefined || coding === undefined) return 'bad TP-UDL or DCS after TP-PI';
      o += coding.alphabet === 'gsm7' ? Math.ceil((udl * 7) / 8) : udl;
    }
    if (o !== b.length) return `status report ${b.length} octets, its TP-PI says ${o}`;
  }
  return { kind: 'status-report', fo, mr, address: { number, type }, scts, dt, st, octets: b.length };
}

/** Alphabet and class of a DCS (23.038 §4); undefined for the compressed and reserved groups. */
export function dcsCoding(dcs: number): { alphabet: Alphabet; msgClass: number | undefined } | undefined {
  const group = dcs >> 4;
  const alphabetOf = (bits: number): Alphabet | undefined => (bits === 0 ? 'gsm7' : bits === 1 ? '8bit' : bits === 2 ? 'ucs2' : undefined);
  if (group <= 0x7) {
    if (dcs & 0x20) return undefined;
    const alphabet = alphabetOf((dcs >> 2) & 0x03);
    if (alphabet === undefined) return undefined;
    return { alphabet, msgClass: dcs & 0x10 ? dcs & 0x03 : undefined };
  }
  if (group === 0xc || group === 0xd) return { alphabet: 'gsm7', msgClass: undefined };
  if (group === 0xe) return { alphabet: 'ucs2', msgClass: undefined };
  if (group === 0xf) return { alphabet: dcs & 0x04 ? '8bit' : 'gsm7', msgClass: dcs & 0x03 };
  return undefined;
}

function concatOf(ies: Buffer): Concat | undefined | string {
  let o = 0;
  let found: Concat | undefined;
  while (o < ies.length) {
    if (o + 2 > ies.length) return 'bad UDH element';
    const iei = ies[o]!;
    const len = ies[o + 1]!;
    const v = ies.subarray(o + 2, o + 2 + len);
    if (v.length !== len) return 'bad UDH element length';
    if (iei === 0x00 && len === 3) found = { ref: v[0]!, total: v[1]!, seq: v[2]! };
    if (iei === 0x08 && len === 4) found = { ref: (v[0]! << 8) | v[1]!, total: v[2]!, seq: v[3]! };
    o += 2 + len;
  }
  return found;
}

function decodeSemiOctets(b: Buffer, digits: number, type: number): string {
  if ((type & TON_MASK) === TON_ALPHANUMERIC) {
    return utils.Helper.decode7Bit(b.toString('hex'), Math.floor((digits * 4) / 7));
  }
  let s = '';
  for (const x of b) {
    for (const nibble of [x & 0x0f, x >> 4]) {
      // 0xF fills the last octet of an odd number of digits
      if (s.length >= digits || nibble === 0x0f) break;
      s += nibble < 10 ? String(nibble) : '*#abc'.charAt(nibble - 10);
    }
  }
  return (type & TON_MASK) === TON_INTERNATIONAL ? '+' + s : s;
}

function encodeSemiOctets(digits: string): string {
  const map = (c: string): number => (c === '*' ? 0x0a : c === '#' ? 0x0b : Number(c));
  let out = '';
  for (let i = 0; i < digits.length; i += 2) {
    const lo = map(digits[i]!);
    const hi = i + 1 < digits.length ? map(digits[i + 1]!) : 0x0f;
    out += ((hi << 4) | lo).toString(16).padStart(2, '0');
  }
  return out.toUpperCase();
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0').toUpperCase();

/** The address field of 23.040 §9.1.2.5 (digits count, TOA, semi-octets). */
export function encodeAddress(a: Address): string {
  const digits = a.number.replace(/^\+/, '');
  return hex2(digits.length) + hex2(a.type) + encodeSemiOctets(digits);
}

/** The SCA field in front of a TPDU (`00` for none). */
export function encodeSca(a: Address | undefined): string {
  if (a === undefined) return '00';
  const digits = a.number.replace(/^\+/, '');
  const body = hex2(a.type) + encodeSemiOctets(digits);
  return hex2(body.length / 2) + body;
}

/** 23.040 §9.2.3.11: yy MM dd hh mm ss zz, each as swapped BCD; the zone's sign in bit 3. */
function sctsText(b: Buffer): string {
  const bcd = (x: number): string => String(x & 0x0f) + String((x >> 4) & 0x0f);
  const parts = [...b.subarray(0, 6)].map(bcd);
  const z = b[6]!;
  const quarters = (z & 0x07) * 10 + (z >> 4);
  const sign = z & 0x08 ? '-' : '+';
  return `${parts[0]}/${parts[1]}/${parts[2]},${parts[3]}:${parts[4]}:${parts[5]}${sign}${String(quarters).padStart(2, '0')}`;
}

/** GSM default alphabet (with its extension table): which characters a 7-bit message can carry. */
export function gsm7Encodable(text: string): boolean {
  const { ALPHABET_7BIT, EXTENDED_TABLE } = utils.Helper;
  for (const ch of text) {
    if (ALPHABET_7BIT.includes(ch)) continue;
    if (ch !== '`' && EXTENDED_TABLE.includes(ch)) continue;
    return false;
  }
  return true;
}

/** Septets a 7-bit text takes (extension characters take two). */
export function gsm7Length(text: string): number {
  return utils.Helper.encode7Bit(text).length;
}

export interface SubmitFields {
  fo: number;
  mr: number;
  to: Address;
  pid: number;
  dcs: number;
  vp: number;
  /** The user data: text (GSM 7-bit) or octets (8-bit, UCS2). */
  ud: { text: string } | { octets: Buffer };
}

/** An SMS-SUBMIT TPDU built from 27.005 text-mode parameters (CSMP) and the typed message. */
export function buildSubmitTpdu(f: SubmitFields): string {
  const vpf = (f.fo >> 3) & 0x03;
  const vp = vpf === 0 ? '' : vpf === 2 ? hex2(f.vp) : '00'.repeat(7);
  let udl: number;
  let ud: string;
  if ('text' in f.ud) {
    const e = utils.Helper.encode7Bit(f.ud.text);
    udl = e.length;
    ud = e.length === 0 ? '' : e.result;
  } else {
    udl = f.ud.octets.length;
    ud = f.ud.octets.toString('hex');
  }
  // a text-mode message has no user-data header
  const fo = f.fo & ~0x40;
  return (hex2(fo) + hex2(f.mr) + encodeAddress(f.to) + hex2(f.pid) + hex2(f.dcs) + vp + hex2(udl) + ud).toUpperCase();
}

/** TP-MR of an SMS-SUBMIT set to the module's own (27.005: the ME assigns it). */
export function withMr(tpduHex: string, mr: number): string {
  return tpduHex.slice(0, 2) + hex2(mr) + tpduHex.slice(4);
}

/**
 * node-pdu's SCTS with the zone given in quarter hours. node-pdu takes the zone in minutes and
 * falls back to the host's own zone for 0 (`tzOff || -getTimezoneOffset()`): a date that says
 * it is UTC keeps a zero zone from depending on the machine.
 */
function scts(date: Date, zoneQuarters: number): InstanceType<typeof utils.SCTS> {
  if (zoneQuarters !== 0) return new utils.SCTS(date, zoneQuarters * 15);
  const utc = new Date(date.getTime());
  utc.getTimezoneOffset = () => 0;
  return new utils.SCTS(utc, 0);
}

/** An address (OA, DA, RA) or the SCA as node-pdu writes it. */
function pduAddress(a: Address, isAddress: boolean): InstanceType<typeof utils.SCA> {
  const out = new utils.SCA(isAddress, { type: new utils.SCAType(a.type) });
  out.setPhone(a.number.replace(/^\+/, ''), false, !isAddress);
  return out;
}

export interface StatusReportFields {
  /** The SMSC's address (in front of the TPDU). */
  sca: Address;
  /** TP-MR of the SMS-SUBMIT reported on. */
  mr: number;
  /** TP-RA: that message's destination. */
  to: Address;
  /** When the SMSC took the message (TP-SCTS) and when it was discharged (TP-DT). */
  submitted: Date;
  discharged: Date;
  zoneQuarters: number;
  /** TP-ST. */
  st: number;
}

/**
 * An SMS-STATUS-REPORT PDU (SCA included) as the SMSC sends it: first octet 0x06 (MTI 10,
 * TP-MMS no more messages, TP-SRQ result of an SMS-SUBMIT), no TP-PI. node-pdu writes every
 * field (its `Report` has no writer of its own, only a reader); they go in the order of
 * 23.040 §9.2.2.3.
 */
export function buildStatusReport(f: StatusReportFields): string {
  const hex =
    pduAddress(f.sca, false).toString() +
    new utils.ReportType({ mms: 1 }).toString() +
    utils.Helper.toStringHex(f.mr & 0xff) +
    pduAddress(f.to, true).toString() +
    scts(f.submitted, f.zoneQuarters).toString() +
    scts(f.discharged, f.zoneQuarters).toString() +
    utils.Helper.toStringHex(f.st & 0xff);
  return hex.toUpperCase();
}

export interface DeliverFields {
  from: Address;
  text: string;
  sca: Address;
  /** The SMSC's clock at delivery. */
  time: Date;
  zoneQuarters: number;
  /** Concatenation reference of a long message (node-pdu draws one at random: ours is seeded). */
  ref: number;
}

/**
 * The SMS-DELIVER PDUs (SCA included) of a text as the SMSC sends it: GSM 7-bit when every
 * character has a 7-bit code, else UCS2; split into concatenated parts (16-bit reference UDH,
 * node-pdu's) when it does not fit one. TP-MMS is set: no more messages waiting.
 */
export function buildDeliverParts(f: DeliverFields): string[] {
  const from = new utils.SCA(true, { type: new utils.SCAType(f.from.type) });
  from.setPhone(f.from.number.replace(/^\+/, ''), false);
  const d = new Deliver(from, f.text, { type: new utils.DeliverType({ mms: 1 }) });
  const sca = new utils.SCA(false, { type: new utils.SCAType(f.sca.type) });
  sca.setPhone(f.sca.number.replace(/^\+/, ''), false, true);
  d.setServiceCenterAddress(sca);
  d.setServiceCenterTimeStamp(scts(f.time, f.zoneQuarters));
  const parts = d.getPartStrings().map((p) => p.toUpperCase());
  if (parts.length < 2) return parts;
  return parts.map((p) => withConcatRef(p, f.ref));
}

/** Replace the 16-bit concatenation reference in a DELIVER PDU's UDH (`06 08 04 <ref16> …`). */
function withConcatRef(hex: string, ref: number): string {
  const parsed = parsePdu(hex, { withSca: true });
  if (!parsed.ok) throw new Error(`node-pdu built a PDU we cannot read: ${parsed.reason}`);
  if (isStatusReport(parsed.pdu)) throw new Error('node-pdu built a status report for a text');
  const udhAt = hex.length - (parsed.pdu.tpdu.octets - headerStart(parsed.pdu.tpdu)) * 2;
  if (hex.slice(udhAt, udhAt + 6) !== '060804') throw new Error('node-pdu concatenation header not where expected');
  return hex.slice(0, udhAt + 6) + ref.toString(16).padStart(4, '0').toUpperCase() + hex.slice(udhAt + 10);
}

/** Octets of a DELIVER TPDU before its user data. */
function headerStart(t: Tpdu): number {
  const digits = t.address.number.replace(/^\+/, '').length;
  return 1 + 2 + Math.ceil(digits / 2) + 2 + 7 + 1;
}

/** A DELIVER TPDU given as hex by an API user, checked and put behind the SMSC's SCA. */
export function deliverWithSca(tpduHex: string, sca: Address): { ok: true; pdu: MessagePdu } | { ok: false; reason: string } {
  const r = parsePdu(encodeSca(sca) + tpduHex, { withSca: true });
  if (!r.ok) return r;
  if (isStatusReport(r.pdu) || r.pdu.tpdu.kind !== 'deliver') return { ok: false, reason: 'not an SMS-DELIVER' };
  return { ok: true, pdu: r.pdu };
}

/** An SMS-SUBMIT TPDU with its destination replaced (AT+CMSS=<index>,<da>). */
export function withDestination(tpduHex: string, to: Address): string {
  const digits = parseInt(tpduHex.slice(4, 6), 16);
  const end = 8 + 2 * Math.ceil(digits / 2);
  return tpduHex.slice(0, 4) + encodeAddress(to) + tpduHex.slice(end);
}

/** The TPDU of a whole PDU's hex (what follows the SCA). */
export function tpduHexOf(p: Pdu): string {
  return p.hex.slice(p.hex.length - 2 * p.tpdu.octets);
}
