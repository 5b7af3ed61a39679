/**
 * SMS status reports (27.005 §3.4.1 <ds>, 23.040 SMS-STATUS-REPORT) through the serial
 * endpoint in virtual time: a submit with TP-SRR (AT+CSMP first octet 49, or a PDU with 0x31)
 * gets a report from the simulated SMSC after `sms.statusReport` (the discharge at the
 * recipient) and `sms.deliver` (the report's way to the module), shown as +CDS (ds 1), stored
 * with +CDSI (ds 2) or dropped (ds 0). The report PDUs are decoded independently with node-pdu.
 */
import { describe, expect, it } from 'vitest';
import { Report, Submit, parse, utils } from 'node-pdu';
import { Modem, ModemOptions } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { smsGroup } from '../sim/services/sms.js';
import { deliveryRuleOf } from '../sim/sms/center.js';
import { parsePdu } from '../sim/sms/pdu.js';
import { FINAL_RESULT } from '../protocol/results.js';
import { bootedModem, cleanupsAfterEach } from './helpers.js';

const cleanups = cleanupsAfterEach();

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await bootedModem(opts);
  cleanups.push(() => m.close());
  return m;
}

const center = (m: Modem) => m.service(smsGroup).center;


/** Send a command that prompts, then the data: the final answer (echo and prompt dropped). */
async function prompted(m: Modem, line: string, data: string): Promise<string> {
  m.host.write(line + '\r');
  await m.host.expect(/\r\n> |\r\n(ERROR|\+CM[ES] ERROR: [^\r]*)\r\n/, sec(5));
  m.host.write(data);
  return (await m.host.expect(FINAL_RESULT, sec(20))).text;
}

/** The network's clock at model time `ns` as 27.005 prints a time stamp: "yy/MM/dd,hh:mm:ss±zz". */
function stamp(m: Modem, ns: number): string {
  const { utc, zoneQuarters } = m.profile.network.time;
  const local = new Date(Date.parse(utc) + Math.floor(ns / 1e6) + zoneQuarters * 15 * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  const zone = `${zoneQuarters < 0 ? '-' : '+'}${p(Math.abs(zoneQuarters))}`;
  return `${p(local.getUTCFullYear() % 100)}/${p(local.getUTCMonth() + 1)}/${p(local.getUTCDate())},${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}${zone}`;
}

/** node-pdu's reading of a status report PDU (SCA included). */
function report(hex: string): Report {
  const r = parse(hex);
  if (!(r instanceof Report)) throw new Error(`${hex} is no status report`);
  return r;
}

/** gammu's PDU to 10086 ("hi"), its first octet given: 0x11 plain, 0x31 with TP-SRR. */
const pduTo10086 = (fo: '11' | '31') => `0891683108200105F0${fo}0005810180F60000FF02E834\x1a`;

/** node-pdu's SMS-SUBMIT with TP-SRR (SCA 00): the AT+CMGS line and the prompt input. */
function srrSubmit(to: string, text: string): { line: string; data: string } {
  const hex = new Submit(to, text, { type: new utils.SubmitType({ statusReportRequest: 1 }) }).getPartStrings()[0]!;
  return { line: `AT+CMGS=${hex.length / 2 - 1}`, data: `${hex}\x1a` };
}

/** Both latencies of a report's way: the discharge at the recipient, then the delivery to the module. */
function reportWindow(m: Modem): { min: number; max: number } {
  const a = m.profile.latency['sms.statusReport'];
  const b = m.profile.latency['sms.deliver'];
  return { min: a.base + b.base, max: a.base + a.jitter + b.base + b.jitter + ms(20) };
}

describe('status reports shown directly (CNMI <ds> 1)', () => {
  it('text mode: AT+CSMP=49,167,0,0 + AT+CMGS gives +CDS: 6,<mr>,"<ra>",145,"<scts>","<dt>",0 after sms.statusReport + sms.deliver', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CMGF=1;+CNMI=2,1,0,1,0')).toBe('AT+CMGF=1;+CNMI=2,1,0,1,0\r\r\nOK\r\n');
    expect(await m.host.command('AT+CSMP=49,167,0,0')).toBe('AT+CSMP=49,167,0,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS="+8613912345678"', 'delivery please\x1a')).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    const [sent] = center(m).sent;
    // 0x31: SMS-SUBMIT, relative VP, TP-SRR
    expect(sent).toMatchObject({ mr: 0, to: '+8613912345678', toa: 145, srr: true });
    expect(sent!.tpdu.slice(0, 2)).toBe('31');
    const u = await m.host.expect(/\r\n\+CDS: [^\r]*\r\n/, sec(20));
    const [r] = center(m).reports;
    expect(r).toMatchObject({ mr: 0, to: '+8613912345678', st: 0, state: 'delivered', stored: [] });
    expect(u.text).toBe(`\r\n+CDS: 6,0,"+8613912345678",145,"${stamp(m, sent!.at)}","${stamp(m, r!.dischargedAt)}",0\r\n`);
    const lat = m.profile.latency['sms.statusReport'];
    expect(r!.dischargedAt - sent!.at).toBeGreaterThanOrEqual(lat.base);
    expect(r!.dischargedAt - sent!.at).toBeLessThanOrEqual(lat.base + lat.jitter);
    const w = reportWindow(m);
    expect(u.at - sent!.at).toBeGreaterThanOrEqual(w.min);
    expect(u.at - sent!.at).toBeLessThanOrEqual(w.max);
    // a report is no message: nothing stored, and the TE charset applies to <ra>
    expect(await m.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",0,50,"SM",0,50,"SM",0,50\r\n\r\nOK\r\n');
    expect(center(m).inbound).toEqual([]);
  });

  it('text mode: AT+CSDH=1 changes no field and AT+CSCS="UCS2" prints <ra> as UCS2 hex', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CMGF=1;+CNMI=2,1,0,1,0;+CSMP=49;+CSDH=1;+CSCS="UCS2"')).toBe('AT+CMGF=1;+CNMI=2,1,0,1,0;+CSMP=49;+CSDH=1;+CSCS="UCS2"\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS="00310030003000380036"', '00680069\x1a')).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    const u = await m.host.expect(/\r\n\+CDS: [^\r]*\r\n/, sec(20));
    const [r] = center(m).reports;
    expect(u.text).toBe(`\r\n+CDS: 6,0,"00310030003000380036",129,"${stamp(m, r!.submittedAt)}","${stamp(m, r!.dischargedAt)}",0\r\n`);
  });

  it('PDU mode: +CDS: <length> and the PDU, which node-pdu reads as a Report with the +CMGS <mr>, the recipient and TP-ST 0', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,1,0,1,0')).toBe('AT+CNMI=2,1,0,1,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
    const reports: string[] = [];
    for (let i = 0; i < 2; i++) {
      const u = await m.host.expect(/\r\n\+CDS: (\d+)\r\n([0-9A-F]+)\r\n/, sec(20));
      const pdu = u.groups[1]!;
      // <length> counts the TPDU: fo, MR, RA (5 digits), SCTS, DT, ST = 22 octets; the SCA is 9 more
      expect(u.text).toBe(`\r\n+CDS: 22\r\n${pdu}\r\n`);
      expect(pdu.length / 2).toBe(9 + 22);
      reports.push(pdu);
    }
    expect(reports).toEqual(center(m).reports.map((r) => r.parts[0]));
    const decoded = reports.map(report);
    expect(decoded.map((d) => [d.reference, d.status, d.address.phone, d.address.type.getValue(), d.serviceCenterAddress.phone])).toEqual([
      [0, 0, '10086', 129, '8613800210500'],
      [1, 0, '10086', 129, '8613800210500'],
    ]);
    // the first octet: SMS-STATUS-REPORT (MTI 10), no more messages (MMS), result of an SMS-SUBMIT
    expect(reports[0]!.slice(18, 20)).toBe('06');
    const [sent0] = center(m).sent;
    expect(decoded[0]!.dateTime.getIsoString()).toBe(isoLocal(m, sent0!.at));
    expect(decoded[0]!.discharge.getIsoString()).toBe(isoLocal(m, center(m).reports[0]!.dischargedAt));
    // the module's own reader agrees
    const own = parsePdu(reports[1]!, { withSca: true });
    expect(own.ok && own.pdu.tpdu).toMatchObject({ kind: 'status-report', fo: 6, mr: 1, address: { number: '10086', type: 129 }, st: 0, octets: 22 });
  });

  it('AT+CSMS=1: a +CDS needs AT+CNMA (OK, then 340); one left unacknowledged drops <mt>,<ds> to 0 after sms.cnmaTimeout', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CSMS=1;+CNMI=2,1,0,1,0')).toBe('AT+CSMS=1;+CNMI=2,1,0,1,0\r\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    await m.host.expect(/\r\n\+CDS: 22\r\n[0-9A-F]+\r\n/, sec(20));
    expect(await m.host.command('AT+CNMA')).toBe('AT+CNMA\r\r\nOK\r\n');
    expect(await m.host.command('AT+CNMA')).toBe('AT+CNMA\r\r\n+CMS ERROR: 340\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
    await m.host.expect(/\r\n\+CDS: 22\r\n[0-9A-F]+\r\n/, sec(20));
    await m.host.advance(m.profile.sms.cnmaTimeout + ms(10));
    expect(await m.host.command('AT+CNMI?')).toBe('AT+CNMI?\r\r\n+CNMI: 2,0,0,0,0\r\n\r\nOK\r\n');
  });

  it('with AT+CSMS=0 (the default) a +CDS needs no AT+CNMA: routing stays, CNMA answers 340', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,1,0,1,0')).toBe('AT+CNMI=2,1,0,1,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    await m.host.expect(/\r\n\+CDS: 22\r\n[0-9A-F]+\r\n/, sec(20));
    await m.host.advance(m.profile.sms.cnmaTimeout + ms(10));
    expect(await m.host.command('AT+CNMA')).toBe('AT+CNMA\r\r\n+CMS ERROR: 340\r\n');
    expect(await m.host.command('AT+CNMI?')).toBe('AT+CNMI?\r\r\n+CNMI: 2,1,0,1,0\r\n\r\nOK\r\n');
  });
});

describe('no report, or none shown', () => {
  it('no status report when TP-SRR is not set (CSMP 17, PDU first octet 0x11), even with CNMI ds=1', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,1,0,1,0')).toBe('AT+CNMI=2,1,0,1,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('11'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS="10086"', 'no report\x1a')).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
    await m.host.advance(sec(30));
    expect(m.host.take()).toBe('');
    expect(center(m).sent.map((s) => s.srr)).toEqual([false, false]);
    expect(center(m).reports).toEqual([]);
  });

  it('CNMI ds=0 (the default): the report reaches the module, which prints and stores nothing', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI?')).toBe('AT+CNMI?\r\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    await m.host.advance(sec(30));
    expect(m.host.take()).toBe('');
    expect(center(m).reports).toMatchObject([{ mr: 0, st: 0, state: 'delivered', delivered: 1, stored: [] }]);
    expect(await m.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",0,50,"SM",0,50,"SM",0,50\r\n\r\nOK\r\n');
  });

  it('AT+CNMI takes <ds> 0..2 (27.005); 3 answers 304; the test form stays the manual literal', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,1,0,2,0')).toBe('AT+CNMI=2,1,0,2,0\r\r\nOK\r\n');
    expect(await m.host.command('AT+CNMI=2,1,0,3,0')).toBe('AT+CNMI=2,1,0,3,0\r\r\n+CMS ERROR: 304\r\n');
    expect(await m.host.command('AT+CNMI?')).toBe('AT+CNMI?\r\r\n+CNMI: 2,1,0,2,0\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CNMI=?')).toBe('AT+CNMI=?\r\r\n+CNMI: (0-3),(0-3),(0-3),(0-1),(0-1)\r\n\r\nOK\r\n');
  });
});

describe('status reports stored (CNMI <ds> 2)', () => {
  it('+CDSI: "SM",<index>; AT+CMGR reads it back in 27.005 status-report form (text: no data line; PDU: <stat>,,<length>)', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,1,0,2,0')).toBe('AT+CNMI=2,1,0,2,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect((await m.host.expect(/\r\n\+CDSI: [^\r]*\r\n/, sec(20))).text).toBe('\r\n+CDSI: "SM",1\r\n');
    const [r] = center(m).reports;
    expect(r).toMatchObject({ state: 'delivered', stored: [{ mem: 'SM', index: 1 }] });
    const pdu = r!.parts[0]!;
    const scts = stamp(m, r!.submittedAt);
    const dt = stamp(m, r!.dischargedAt);
    expect(await m.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",1,50,"SM",1,50,"SM",1,50\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    // +CMGR: <stat>,<fo>,<mr>,[<ra>],[<tora>],<scts>,<dt>,<st>
    expect(await m.host.command('AT+CMGR=1')).toBe(`AT+CMGR=1\r\r\n+CMGR: "REC UNREAD",6,0,"10086",129,"${scts}","${dt}",0\r\n\r\nOK\r\n`);
    expect(await m.host.command('AT+CMGL="ALL"')).toBe(`AT+CMGL="ALL"\r\r\n+CMGL: 1,"REC READ",6,0,"10086",129,"${scts}","${dt}",0\r\n\r\nOK\r\n`);
    expect(await m.host.command('AT+CMGF=0')).toBe('AT+CMGF=0\r\r\nOK\r\n');
    expect(await m.host.command('AT+CMGR=1')).toBe(`AT+CMGR=1\r\r\n+CMGR: 1,,22\r\n${pdu}\r\n\r\nOK\r\n`);
    expect(report(pdu)).toMatchObject({ reference: 0, status: 0 });
    // a stored report is no message to send; CMGD takes it like any REC READ
    expect(await m.host.command('AT+CMSS=1')).toBe('AT+CMSS=1\r\r\n+CMS ERROR: 302\r\n');
    expect(await m.host.command('AT+CMGD=0,1')).toBe('AT+CMGD=0,1\r\r\nOK\r\n');
    expect(await m.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",0,50,"SM",0,50,"SM",0,50\r\n\r\nOK\r\n');
  });

  it('a full SIM refuses the report (the SMSC keeps it); a CMGD frees a slot and +CDSI follows', async () => {
    const m = await modem({ profileOverrides: { limits: { smsSlots: 1 } } });
    expect(await m.host.command('AT+CNMI=2,1,0,2,0')).toBe('AT+CNMI=2,1,0,2,0\r\r\nOK\r\n');
    center(m).deliver({ from: '10086', text: 'fills the SIM' });
    await m.host.expect('\r\n+CMTI: "SM",1\r\n', sec(10));
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    await m.host.advance(sec(30));
    expect(m.host.take()).toBe('');
    expect(center(m).reports[0]!.state).toBe('waiting-memory');
    expect(await m.host.command('AT+CMGD=1')).toBe('AT+CMGD=1\r\r\nOK\r\n');
    expect((await m.host.expect(/\r\n\+CDSI: [^\r]*\r\n/, sec(10))).text).toBe('\r\n+CDSI: "SM",1\r\n');
    expect(center(m).reports[0]).toMatchObject({ state: 'delivered', stored: [{ mem: 'SM', index: 1 }] });
  });
});

describe('the far side decides the outcome', () => {
  it('center.failDeliveries(to, 70): that recipient gets TP-ST 70 (0x46, validity period expired) in text and PDU; others 0; st 0 restores', async () => {
    const m = await modem();
    center(m).failDeliveries('+8613912345678', 70);
    expect(await m.host.command('AT+CMGF=1;+CNMI=2,1,0,1,0;+CSMP=49,167,0,0')).toBe('AT+CMGF=1;+CNMI=2,1,0,1,0;+CSMP=49,167,0,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS="+8613912345678"', 'will fail\x1a')).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    const failed = await m.host.expect(/\r\n\+CDS: [^\r]*\r\n/, sec(20));
    const [r0] = center(m).reports;
    expect(failed.text).toBe(`\r\n+CDS: 6,0,"+8613912345678",145,"${stamp(m, r0!.submittedAt)}","${stamp(m, r0!.dischargedAt)}",70\r\n`);
    expect(report(r0!.parts[0]!).status).toBe(0x46);
    expect(r0!.parts[0]!.slice(-2)).toBe('46');
    // another recipient is delivered as usual; PDU mode shows the same TP-ST
    expect(await prompted(m, 'AT+CMGS="10086"', 'fine\x1a')).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
    expect((await m.host.expect(/\r\n\+CDS: [^\r]*\r\n/, sec(20))).match).toMatch(/^\r\n\+CDS: 6,1,"10086",129,"[^"]+","[^"]+",0\r\n$/);
    expect(await m.host.command('AT+CMGF=0')).toBe('AT+CMGF=0\r\r\nOK\r\n');
    const sub = srrSubmit('+8613912345678', 'fail');
    expect(sub.data.slice(0, 4)).toBe('0021');
    expect(await prompted(m, sub.line, sub.data)).toBe('\r\n+CMGS: 2\r\n\r\nOK\r\n');
    const pduFail = await m.host.expect(/\r\n\+CDS: (\d+)\r\n([0-9A-F]+)\r\n/, sec(20));
    expect(report(pduFail.groups[1]!)).toMatchObject({ reference: 2, status: 70 });
    center(m).failDeliveries('+8613912345678', 0);
    expect(await prompted(m, sub.line, sub.data)).toBe('\r\n+CMGS: 3\r\n\r\nOK\r\n');
    const pduOk = await m.host.expect(/\r\n\+CDS: (\d+)\r\n([0-9A-F]+)\r\n/, sec(20));
    expect(report(pduOk.groups[1]!)).toMatchObject({ reference: 3, status: 0 });
    expect(center(m).reports.map((r) => [r.mr, r.to, r.st])).toEqual([
      [0, '+8613912345678', 70],
      [1, '10086', 0],
      [2, '+8613912345678', 70],
      [3, '+8613912345678', 0],
    ]);
  });

  it('the outcome is fixed when the SMSC takes the submit; failDeliveries refuses a bad number or TP-ST', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,1,0,1,0')).toBe('AT+CNMI=2,1,0,1,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    center(m).failDeliveries('10086');
    const u = await m.host.expect(/\r\n\+CDS: 22\r\n([0-9A-F]+)\r\n/, sec(20));
    expect(report(u.groups[0]!).status).toBe(0);
    expect(() => center(m).failDeliveries('abc', 70)).toThrow(/bad recipient/);
    expect(() => center(m).failDeliveries('10086', 256)).toThrow(/not 0\.\.255/);
    center(m).clearFailures();
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
    const v = await m.host.expect(/\r\n\+CDS: 22\r\n([0-9A-F]+)\r\n/, sec(20));
    expect(report(v.groups[0]!)).toMatchObject({ reference: 1, status: 0 });
  });

  it('a report for a module that is off waits at the SMSC and arrives once it is registered again', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,1,0,1,0')).toBe('AT+CNMI=2,1,0,1,0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS=13', pduTo10086('31'))).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CFUN=4')).toBe('AT+CFUN=4\r\r\nOK\r\n');
    await m.host.advance(sec(30));
    expect(m.host.take()).toBe('');
    expect(center(m).reports).toMatchObject([{ mr: 0, state: 'pending', delivered: 0 }]);
    expect(await m.host.command('AT+CFUN=1')).toBe('AT+CFUN=1\r\r\nOK\r\n');
    const u = await m.host.expect(/\r\n\+CDS: 22\r\n([0-9A-F]+)\r\n/, sec(30));
    expect(report(u.groups[0]!)).toMatchObject({ reference: 0, status: 0 });
  });

  it('deliveryRuleOf reads {to, status} for an endpoint or scenario, and says what is wrong otherwise', () => {
    expect(deliveryRuleOf({ to: '+8613912345678', status: 70 })).toEqual({ to: '+8613912345678', status: 70 });
    expect(deliveryRuleOf({ to: '+8613912345678', status: 256 })).toMatchObject({ error: expect.stringMatching(/^status:/) });
    expect(deliveryRuleOf({ to: 'me', status: 0 })).toMatchObject({ error: expect.stringMatching(/^to:/) });
    expect(deliveryRuleOf({ to: '10086', status: 0, extra: 1 })).toEqual({ error: 'unknown field extra: expected {to, status}' });
    expect(deliveryRuleOf([])).toEqual({ error: 'expected {to, status}' });
  });
});

describe('the PDU reader', () => {
  it('reads an SMS-STATUS-REPORT with and without TP-PI, and refuses a truncated one', () => {
    const base = '0891683108200105F0' + '06' + '07' + '0D91683119325476F8' + '42803241350023' + '42803241355023' + '46';
    const r = parsePdu(base, { withSca: true });
    expect(r.ok && r.pdu.tpdu).toEqual({
      kind: 'status-report',
      fo: 6,
      mr: 7,
      address: { number: '+8613912345678', type: 145 },
      scts: '24/08/23,14:53:00+32',
      dt: '24/08/23,14:53:05+32',
      st: 0x46,
      octets: 26,
    });
    // TP-PI 0x03: PID and DCS follow
    expect(parsePdu(base + '030000', { withSca: true }).ok).toBe(true);
    expect(parsePdu(base + '03', { withSca: true })).toMatchObject({ ok: false });
    expect(parsePdu(base.slice(0, -2), { withSca: true })).toMatchObject({ ok: false, reason: 'no SCTS, discharge time or status' });
  });
});

/** The ISO time node-pdu prints for a stamp at model time `ns` (the profile's +08:00 zone). */
function isoLocal(m: Modem, ns: number): string {
  const { utc, zoneQuarters } = m.profile.network.time;
  const local = new Date(Date.parse(utc) + Math.floor(ns / 1e6) + zoneQuarters * 15 * 60_000);
  return `${local.toISOString().slice(0, 19)}+${String(zoneQuarters / 4).padStart(2, '0')}:00`;
}
