/**
 * SMS (27.005) through the serial endpoint in virtual time, with the simulated SMSC on the far
 * side: the start-up sequences of gsmlib and LuatOS-Air byte for byte, PDU and text mode in
 * both directions, concatenated UCS2, list filters, delete flags, a full SIM, the +CMS ERROR
 * codes and the SIM's records across reboots and restarts. PDUs the module prints are checked
 * against what the SMSC sent and decoded independently with node-pdu.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Deliver, Submit, parse } from 'node-pdu';
import { Modem, ModemOptions } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { smsGroup } from '../sim/services/sms.js';
import { parsePdu } from '../sim/sms/pdu.js';
import { LineAssembler } from '../protocol/line.js';
import { bootedModem, cleanupsAfterEach, tempDir } from './helpers.js';

const cleanups = cleanupsAfterEach();

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await bootedModem(opts);
  cleanups.push(() => m.close());
  return m;
}

const center = (m: Modem) => m.service(smsGroup).center;

/** node-pdu's reading of a PDU (an independent decoder): a DELIVER or SUBMIT. */
function decode(hex: string): Deliver | Submit {
  const p = parse(hex);
  if (p instanceof Deliver || p instanceof Submit) return p;
  throw new Error(`${hex} is a status report`);
}

/** The answer to a line sent with a trailing byte the host adds (gsmlib's NUL). */
async function raw(m: Modem, bytes: string): Promise<string> {
  m.host.write(bytes);
  return (await m.host.expect(/\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n/, sec(20))).text;
}

/** Send a command that prompts, then the data: the prompt text and the final answer. */
async function prompted(m: Modem, line: string, data: string): Promise<{ prompt: string; answer: string }> {
  m.host.write(line + '\r');
  const prompt = (await m.host.expect(/\r\n> |\r\n(ERROR|\+CM[ES] ERROR: [^\r]*)\r\n/, sec(5))).text;
  m.host.write(data);
  const answer = (await m.host.expect(/\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n/, sec(20))).text;
  return { prompt, answer };
}

/** The SMSC delivers a text and the module announces it: the +CMTI index. */
async function receive(m: Modem, from: string, text: string): Promise<number> {
  center(m).deliver({ from, text });
  const u = await m.host.expect(/\r\n\+CMTI: "SM",(\d+)\r\n/, sec(10));
  return Number(u.groups[0]);
}

describe('host start-up sequences', () => {
  it("answers gsmlib's start-up and gsmsmsstore's first read byte for byte (NUL after the index ignored)", async () => {
    const m = await modem();
    const i = await receive(m, '+8613912345678', 'hi');
    expect(i).toBe(1);
    const pdu = center(m).inbound[0]!.parts[0]!;
    expect(await m.host.command('ATZ')).toBe('ATZ\r\r\nOK\r\n');
    expect(await m.host.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    const seq: Array<[string, string]> = [
      ['AT+CMEE=1', '\r\nOK\r\n'],
      ['AT+CMGF=0', '\r\nOK\r\n'],
      ['AT+CGMI', '\r\nAirM2M\r\n\r\nOK\r\n'],
      ['AT+CGMM', '\r\nAir724UG\r\n\r\nOK\r\n'],
      ['AT+CGMR', '\r\nAirM2M_720U_V3.2.1_LTE_AT\r\n\r\nOK\r\n'],
      ['AT+CGSN', '\r\n864713058376410\r\n\r\nOK\r\n'],
      ['AT+CSMS?', '\r\n+CSMS: 0,1,1,1\r\n\r\nOK\r\n'],
      ['AT+CSCS="GSM"', '\r\nOK\r\n'],
      ['AT+CPMS=?', '\r\n+CPMS: ("SM"),("SM"),("SM")\r\n\r\nOK\r\n'],
      ['AT+CPMS="SM"', '\r\n+CPMS: 1,50,1,50,1,50\r\n\r\nOK\r\n'],
      ['AT+CPMS="SM"', '\r\n+CPMS: 1,50,1,50,1,50\r\n\r\nOK\r\n'],
      ['AT+CPMS="SM"', '\r\n+CPMS: 1,50,1,50,1,50\r\n\r\nOK\r\n'],
    ];
    for (const [line, answer] of seq) expect(await m.host.command(line)).toBe(answer);
    expect(await raw(m, 'AT+CMGR=1\x00\r')).toBe(`\r\n+CMGR: 0,,${pdu.length / 2 - 9}\r\n${pdu}\r\n\r\nOK\r\n`);
    expect(await m.host.command('AT+CPMS="SM"')).toBe('\r\n+CPMS: 1,50,1,50,1,50\r\n\r\nOK\r\n');
  });

  it("answers LuatOS-Air's SMS init (CMGF=0, CSCS=UCS2, CPMS=SM, CNMI=2,1,0,0,0, CMGD=1,3)", async () => {
    const m = await modem();
    for (const line of ['AT+CMGF=0', 'AT+CSCS="UCS2"', 'AT+CNMI=2,1,0,0,0', 'AT+CMGD=1,3']) {
      expect(await m.host.command(line)).toBe(`${line}\r\r\nOK\r\n`);
    }
    expect(await m.host.command('AT+CPMS="SM"')).toBe('AT+CPMS="SM"\r\r\n+CPMS: 0,50,0,50,0,50\r\n\r\nOK\r\n');
  });

  it('prints the test, read and default forms the notes give (CSCS=? is the manual literal, a profile value)', async () => {
    const m = await modem();
    const answers: Array<[string, string]> = [
      ['AT+CMGF?', '+CMGF: 0'],
      ['AT+CMGF=?', '+CMGF: (0-1)'],
      ['AT+CSCS?', '+CSCS: "IRA"'],
      ['AT+CSCS=?', '+CSCS:"GSM","IRA","UCS2"'],
      ['AT+CSCA?', '+CSCA: "+8613800210500",145'],
      ['AT+CSMP?', '+CSMP: 17,167,0,0'],
      ['AT+CSMS=?', '+CSMS: (0,1)'],
      ['AT+CPMS?', '+CPMS: "SM",0,50,"SM",0,50,"SM",0,50'],
      ['AT+CNMI=?', '+CNMI: (0-3),(0-3),(0-3),(0-1),(0-1)'],
      ['AT+CNMI?', '+CNMI: 2,1,0,0,0'],
      ['AT+CMGL=?', '+CMGL: (0-4)'],
      ['AT+CMGD=?', '+CMGD: (1-50),(0-4)'],
    ];
    for (const [line, info] of answers) expect(await m.host.command(line)).toBe(`${line}\r\r\n${info}\r\n\r\nOK\r\n`);
    expect(await m.host.command('AT+CSMS=1')).toBe('AT+CSMS=1\r\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CMGF=1;+CMGL=?')).toBe('AT+CMGF=1;+CMGL=?\r\r\n+CMGL: "REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL"\r\n\r\nOK\r\n');
    const p = await modem({ profileOverrides: { spellings: { cscsTest: '+CSCS: ("GSM","IRA","UCS2")' } } });
    expect(await p.host.command('AT+CSCS=?')).toBe('AT+CSCS=?\r\r\n+CSCS: ("GSM","IRA","UCS2")\r\n\r\nOK\r\n');
  });

  it('drops NUL bytes from command lines, unechoed (protocol level)', () => {
    const a = new LineAssembler({ s3: 13, s5: 8, echo: true, maxLine: 64 });
    const ev = [...Buffer.from('AT+CMGS=21\x00\r', 'latin1')].flatMap((b) => a.push(b));
    expect(ev.filter((e) => e.kind === 'line')).toEqual([{ kind: 'line', text: 'AT+CMGS=21' }]);
    const echo = Buffer.concat(ev.flatMap((e) => (e.kind === 'echo' ? [e.bytes] : []))).toString('latin1');
    expect(echo).toBe('AT+CMGS=21\r');
  });
});

describe('receiving', () => {
  it('PDU mode: the SMSC delivers, +CMTI: "SM",1 after sms.deliver, AT+CMGR prints the SIM record node-pdu decodes', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    const msg = center(m).deliver({ from: '+8613912345678', text: 'Hello from the SMSC' });
    const u = await m.host.expect('\r\n+CMTI: "SM",1\r\n', sec(10));
    const lat = m.profile.latency['sms.deliver'];
    expect(u.at - t0).toBeGreaterThanOrEqual(lat.base);
    expect(u.at - t0).toBeLessThanOrEqual(lat.base + lat.jitter + ms(3));
    const pdu = msg.parts[0]!;
    expect(await m.host.command('AT+CMGR=1')).toBe(`AT+CMGR=1\r\r\n+CMGR: 0,,${pdu.length / 2 - 9}\r\n${pdu}\r\n\r\nOK\r\n`);
    const d = decode(pdu);
    expect(d).toBeInstanceOf(Deliver);
    expect([d.address.phone, d.serviceCenterAddress.phone, d.data.getText()]).toEqual(['8613912345678', '8613800210500', 'Hello from the SMSC']);
    // read once: REC UNREAD (0) became REC READ (1)
    expect(await m.host.command('AT+CMGR=1')).toBe(`AT+CMGR=1\r\r\n+CMGR: 1,,${pdu.length / 2 - 9}\r\n${pdu}\r\n\r\nOK\r\n`);
    expect(msg).toMatchObject({ state: 'delivered', delivered: 1, stored: [{ mem: 'SM', index: 1 }] });
  });

  it('text mode: +CMGR with CSDH 0 and 1; CSCS=UCS2 prints the address as UCS2 hex; the SCTS is the network time', async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    await receive(m, '+8613912345678', 'weather');
    const local = new Date(Date.parse(m.profile.network.time.utc) + Math.floor(t0 / 1e6) + 8 * 3600_000);
    const p = (n: number) => String(n).padStart(2, '0');
    const scts = `${p(local.getUTCFullYear() % 100)}/${p(local.getUTCMonth() + 1)}/${p(local.getUTCDate())},${p(local.getUTCHours())}:${p(local.getUTCMinutes())}:${p(local.getUTCSeconds())}+32`;
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    expect(await m.host.command('AT+CMGR=1')).toBe(`AT+CMGR=1\r\r\n+CMGR: "REC UNREAD","+8613912345678",,"${scts}"\r\nweather\r\n\r\nOK\r\n`);
    expect(await m.host.command('AT+CSDH=1')).toBe('AT+CSDH=1\r\r\nOK\r\n');
    expect(await m.host.command('AT+CMGR=1')).toBe(
      `AT+CMGR=1\r\r\n+CMGR: "REC READ","+8613912345678",,"${scts}",145,4,0,0,"+8613800210500",145,7\r\nweather\r\n\r\nOK\r\n`,
    );
    expect(await m.host.command('AT+CSDH=0;+CSCS="UCS2"')).toBe('AT+CSDH=0;+CSCS="UCS2"\r\r\nOK\r\n');
    expect(await m.host.command('AT+CMGR=1')).toBe(
      `AT+CMGR=1\r\r\n+CMGR: "REC READ","002B0038003600310033003900310032003300340035003600370038",,"${scts}"\r\n0077006500610074006800650072\r\n\r\nOK\r\n`,
    );
  });

  it('CNMI=2,2: +CMT shows the message directly (PDU: ",<length>" + PDU; text: header + text) and nothing is stored', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,2,0,0,0')).toBe('AT+CNMI=2,2,0,0,0\r\r\nOK\r\n');
    const a = center(m).deliver({ from: '10086', text: 'Report' });
    const pdu = a.parts[0]!;
    expect((await m.host.expect(/\r\n\+CMT: [^\r]*\r\n[^\r]*\r\n/, sec(10))).match).toBe(`\r\n+CMT: ,${pdu.length / 2 - 9}\r\n${pdu}\r\n`);
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    const b = center(m).deliver({ from: '10086', text: 'Report 2' });
    const scts = parsedScts(b.parts[0]!);
    expect((await m.host.expect(/\r\n\+CMT: [^\r]*\r\n[^\r]*\r\n/, sec(10))).match).toBe(`\r\n+CMT: "10086",,"${scts}"\r\nReport 2\r\n`);
    expect(await m.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",0,50,"SM",0,50,"SM",0,50\r\n\r\nOK\r\n');
    expect(a.stored).toEqual([]);
  });

  it('CNMI mode 0 keeps indications in the TA; CNMI=2,1,0,0,0 (bfr 0) flushes them after its OK', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=0,1,0,0,0')).toBe('AT+CNMI=0,1,0,0,0\r\r\nOK\r\n');
    center(m).deliver({ from: '10086', text: 'one' });
    center(m).deliver({ from: '10086', text: 'two' });
    await m.host.advance(sec(10));
    expect(m.host.take()).toBe('');
    expect(await m.host.command('AT+CNMI=2,1,0,0,0')).toBe('AT+CNMI=2,1,0,0,0\r\r\nOK\r\n');
    await m.host.advance(ms(50));
    expect(m.host.take()).toBe('\r\n+CMTI: "SM",1\r\n\r\n+CMTI: "SM",2\r\n');
  });

  it('CNMI mt 0 stores silently; mt 1 is what a reboot restores (profile sms.cnmi)', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMI=2,0')).toBe('AT+CNMI=2,0\r\r\nOK\r\n');
    center(m).deliver({ from: '10086', text: 'quiet' });
    await m.host.advance(sec(10));
    expect(m.host.take()).toBe('');
    expect(await m.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",1,50,"SM",1,50,"SM",1,50\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CNMI?')).toBe('AT+CNMI?\r\r\n+CNMI: 2,0,0,0,0\r\n\r\nOK\r\n');
  });

  it('AT+CSMS=1: a +CMT needs AT+CNMA; without it CNMI <mt> falls to 0 after sms.cnmaTimeout; CNMA with none waiting is 340', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CNMA')).toBe('AT+CNMA\r\r\n+CMS ERROR: 340\r\n');
    expect(await m.host.command('AT+CSMS=1;+CNMI=2,2,0,0,0')).toBe('AT+CSMS=1;+CNMI=2,2,0,0,0\r\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n');
    center(m).deliver({ from: '10086', text: 'ack me' });
    await m.host.expect(/\r\n\+CMT: [^\r]*\r\n[^\r]*\r\n/, sec(10));
    expect(await m.host.command('AT+CNMA')).toBe('AT+CNMA\r\r\nOK\r\n');
    center(m).deliver({ from: '10086', text: 'ignored' });
    await m.host.expect(/\r\n\+CMT: [^\r]*\r\n[^\r]*\r\n/, sec(10));
    await m.host.advance(m.profile.sms.cnmaTimeout + ms(10));
    expect(await m.host.command('AT+CNMI?')).toBe('AT+CNMI?\r\r\n+CNMI: 2,0,0,0,0\r\n\r\nOK\r\n');
  });

  it('concatenated UCS2: a long Chinese text arrives as two parts, two +CMTI, joined by their 16-bit reference', async () => {
    const m = await modem();
    const text = '你好，这是一条很长的短信。'.repeat(8);
    const msg = center(m).deliver({ from: '+8613912345678', text });
    const first = await m.host.expect(/\r\n\+CMTI: "SM",1\r\n/, sec(10));
    const second = await m.host.expect(/\r\n\+CMTI: "SM",2\r\n/, sec(10));
    expect(second.at).toBeGreaterThan(first.at);
    expect(msg.parts).toHaveLength(2);
    const listed = await m.host.command('AT+CMGL=4');
    expect(listed).toBe(
      `AT+CMGL=4\r\r\n+CMGL: 1,0,,${msg.parts[0]!.length / 2 - 9}\r\n${msg.parts[0]}\r\n\r\n+CMGL: 2,0,,${msg.parts[1]!.length / 2 - 9}\r\n${msg.parts[1]}\r\n\r\nOK\r\n`,
    );
    const decoded = msg.parts.map((p) => decode(p));
    const refs = decoded.map((d) => d.data.parts[0]?.header?.toJSON());
    expect(refs).toEqual([
      { POINTER: refs[0]!.POINTER, SEGMENTS: 2, CURRENT: 1 },
      { POINTER: refs[0]!.POINTER, SEGMENTS: 2, CURRENT: 2 },
    ]);
    expect(decoded.map((d) => d.data.getText()).join('')).toBe(text);
    expect(decoded.every((d) => d.dataCodingScheme.getValue() === 8)).toBe(true);
  });
});

/** The SCTS of a DELIVER PDU as text mode prints it. */
function parsedScts(pdu: string): string {
  const d = parse(pdu);
  if (!(d instanceof Deliver)) throw new Error('not a deliver');
  const iso = d.serviceCenterTimeStamp.getIsoString();
  const m = /^20(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\+08:00$/.exec(iso);
  if (!m) throw new Error(iso);
  return `${m[1]}/${m[2]}/${m[3]},${m[4]}:${m[5]}:${m[6]}+32`;
}

describe('sending', () => {
  it("gammu's PDU (full SCA): the prompt is \\r\\n> with the space, +CMGS: <mr>, the SMSC has it with the module's TP-MR", async () => {
    const m = await modem();
    const t0 = m.kernel.now;
    const r = await prompted(m, 'AT+CMGS=13', '0891683108200105F0110005810180F60000FF02E834\x1a');
    expect(r).toEqual({ prompt: 'AT+CMGS=13\r\r\n> ', answer: '\r\n+CMGS: 0\r\n\r\nOK\r\n' });
    const [s] = center(m).sent;
    expect(s).toMatchObject({ mr: 0, to: '10086', toa: 129, text: 'hi', alphabet: 'gsm7', sca: '+8613800210500', tpdu: '110005810180F60000FF02E834' });
    expect(s!.at - t0).toBeGreaterThanOrEqual(m.profile.latency['sms.submit'].base);
    const again = await prompted(m, 'AT+CMGS=13', '0891683108200105F0110005810180F60000FF02E834\x1a');
    expect(again.answer).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
    const sub = decode('00' + center(m).sent[1]!.tpdu);
    expect(sub).toBeInstanceOf(Submit);
    expect((sub as Submit).messageReference).toBe(1);
  });

  it("gsmlib's gsmsendsms: AT+CSMS=1, AT+CMGS=21\\0 and a PDU with the 00 SCA reach the SMSC via the SIM's CSCA", async () => {
    const m = await modem();
    expect(await m.host.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(await m.host.command('AT+CSMS=1')).toBe('\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n');
    m.host.write('AT+CMGS=21\x00\r');
    expect((await m.host.expect('> ')).text).toBe('\r\n> ');
    m.host.write('00150005810180F60000A80BE8329BFD06D1D1657919\x1a');
    expect((await m.host.expect(/\r\nOK\r\n/, sec(10))).text).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(center(m).sentMessages()).toEqual([{ to: '10086', text: 'hello there', parts: 1 }]);
    expect(center(m).sent[0]!.sca).toBe('+8613800210500');
  });

  it('text mode: AT+CMGS="<da>", the text, Ctrl-Z; UCS2 text typed as hex with CSMP dcs 8; the SMSC decodes both', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGS="+8613912345678"', 'hello,world\x1a')).toEqual({
      prompt: 'AT+CMGS="+8613912345678"\r\r\n> ',
      answer: '\r\n+CMGS: 0\r\n\r\nOK\r\n',
    });
    expect(await m.host.command('AT+CSMP=17,167,0,8')).toBe('AT+CSMP=17,167,0,8\r\r\nOK\r\n');
    expect((await prompted(m, 'AT+CMGS="10086"', '4F60597D4E16754C\x1a')).answer).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
    expect(center(m).sent.map((s) => [s.to, s.toa, s.text, s.dcs])).toEqual([
      ['+8613912345678', 145, 'hello,world', 0],
      ['10086', 129, '你好世界', 8],
    ]);
    // fo 17, the module's MR, the DA, PID 0, DCS 0, VP 167 (CSMP), UDL 11
    expect(center(m).sent[0]!.tpdu.slice(0, 30)).toBe('11000D91683119325476F80000A70B');
    expect(decode('00' + center(m).sent[0]!.tpdu).data.getText()).toBe('hello,world');
  });

  it('concatenated UCS2 from the host: two PDUs with one UDH reference are joined by the SMSC', async () => {
    const m = await modem();
    const text = '这是一条从主机发出的很长的中文短信，'.repeat(5);
    const parts = new Submit('+8613912345678', text).getPartStrings();
    expect(parts).toHaveLength(2);
    for (const [i, p] of parts.entries()) {
      const r = await prompted(m, `AT+CMGS=${p.length / 2 - 1}`, `${p}\x1a`);
      expect(r.answer).toBe(`\r\n+CMGS: ${i}\r\n\r\nOK\r\n`);
    }
    expect(center(m).sentMessages()).toEqual([{ to: '+8613912345678', text, parts: 2 }]);
  });

  it('ESC cancels at the prompt: OK, nothing sent; the prompt times out to ERROR after sms.inputTimeout', async () => {
    const m = await modem();
    expect(await prompted(m, 'AT+CMGS=13', '0891683108\x1b')).toEqual({ prompt: 'AT+CMGS=13\r\r\n> ', answer: '\r\nOK\r\n' });
    expect(center(m).sent).toEqual([]);
    m.host.write('AT+CMGS=13\r');
    const prompt = await m.host.expect('> ');
    const end = await m.host.expect('\r\nERROR\r\n', m.profile.sms.inputTimeout + sec(1));
    expect(end.at - prompt.at).toBeGreaterThanOrEqual(m.profile.sms.inputTimeout);
    expect(center(m).sent).toEqual([]);
  });

  it('CMGW stores STO UNSENT (text and PDU); CMSS sends it (to its own or another address) and marks it STO SENT', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGW="10086"', 'HI!\x1a')).toEqual({ prompt: 'AT+CMGW="10086"\r\r\n> ', answer: '\r\n+CMGW: 1\r\n\r\nOK\r\n' });
    expect(await m.host.command('AT+CMGR=1')).toBe('AT+CMGR=1\r\r\n+CMGR: "STO UNSENT","10086",\r\nHI!\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CMSS=1')).toBe('AT+CMSS=1\r\r\n+CMSS: 0\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CMSS=1,"13192310560"')).toBe('AT+CMSS=1,"13192310560"\r\r\n+CMSS: 1\r\n\r\nOK\r\n');
    expect(center(m).sent.map((s) => [s.to, s.text])).toEqual([
      ['10086', 'HI!'],
      ['13192310560', 'HI!'],
    ]);
    expect(await m.host.command('AT+CMGL="STO SENT"')).toBe('AT+CMGL="STO SENT"\r\r\n+CMGL: 1,"STO SENT","10086",,\r\nHI!\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CMGF=0')).toBe('AT+CMGF=0\r\r\nOK\r\n');
    expect(await prompted(m, 'AT+CMGW=13', '00110005810180F60000FF02E834\x1a')).toEqual({ prompt: 'AT+CMGW=13\r\r\n> ', answer: '\r\n+CMGW: 2\r\n\r\nOK\r\n' });
    // the SIM keeps the record with the SIM's SCA in front of a host's "00"
    expect(await m.host.command('AT+CMGR=2')).toBe('AT+CMGR=2\r\r\n+CMGR: 2,,13\r\n0891683108200105F0110005810180F60000FF02E834\r\n\r\nOK\r\n');
  });
});

describe('listing and deleting', () => {
  /** Two received (1 read, 2 unread), one STO UNSENT (3), one STO SENT (4). */
  async function mixed(): Promise<Modem> {
    const m = await modem();
    await receive(m, '10086', 'first');
    await receive(m, '10010', 'second');
    expect(await m.host.command('AT+CMGR=1')).toMatch(/^AT\+CMGR=1\r\r\n\+CMGR: 0,,/);
    expect((await prompted(m, 'AT+CMGW=13,2', '00110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMGW: 3\r\n\r\nOK\r\n');
    expect((await prompted(m, 'AT+CMGW=13,3', '00110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMGW: 4\r\n\r\nOK\r\n');
    return m;
  }
  const indexes = (listing: string): number[] => [...listing.matchAll(/\+CMGL: (\d+),/g)].map((x) => Number(x[1]));

  it('CMGL in PDU mode filters by stat 0..4 and marks the listed REC UNREAD as REC READ', async () => {
    const m = await mixed();
    expect(indexes(await m.host.command('AT+CMGL=4'))).toEqual([1, 2, 3, 4]);
    expect(indexes(await m.host.command('AT+CMGL=2'))).toEqual([3]);
    expect(indexes(await m.host.command('AT+CMGL=3'))).toEqual([4]);
    expect(indexes(await m.host.command('AT+CMGL=0'))).toEqual([]);
    expect(indexes(await m.host.command('AT+CMGL=1'))).toEqual([1, 2]);
    expect(await m.host.command('AT+CMGL=5')).toBe('AT+CMGL=5\r\r\n+CMS ERROR: 304\r\n');
    expect(await m.host.command('AT+CMGL="ALL"')).toBe('AT+CMGL="ALL"\r\r\n+CMS ERROR: 304\r\n');
  });

  it('CMGL in text mode filters by the upper-case stat names, quotes optional; exec lists REC UNREAD', async () => {
    const m = await mixed();
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    expect(indexes(await m.host.command('AT+CMGL="REC UNREAD"'))).toEqual([2]);
    expect(indexes(await m.host.command('AT+CMGL'))).toEqual([]);
    expect(indexes(await m.host.command('AT+CMGL="REC READ"'))).toEqual([1, 2]);
    expect(indexes(await m.host.command('AT+CMGL=STO UNSENT'))).toEqual([3]);
    expect(indexes(await m.host.command('AT+CMGL="ALL"'))).toEqual([1, 2, 3, 4]);
    expect(await m.host.command('AT+CMGL="all"')).toBe('AT+CMGL="all"\r\r\n+CMS ERROR: 305\r\n');
    const all = await m.host.command('AT+CMGL="REC READ"');
    expect(all).toMatch(/^AT\+CMGL="REC READ"\r\r\n\+CMGL: 1,"REC READ","10086",,"\d\d\/\d\d\/\d\d,\d\d:\d\d:\d\d\+32"\r\nfirst\r\n\r\n\+CMGL: 2,"REC READ","10010",,"[^"]+"\r\nsecond\r\n\r\nOK\r\n$/);
  });

  it('CMGD: index (empty → 321), delflag 1 read, 2 read+sent, 3 read+sent+unsent, 4 all (index ignored)', async () => {
    const m = await mixed();
    expect(await m.host.command('AT+CMGD=1,1')).toBe('AT+CMGD=1,1\r\r\nOK\r\n');
    expect(indexes(await m.host.command('AT+CMGL=4'))).toEqual([2, 3, 4]);
    expect(await m.host.command('AT+CMGD=9,2')).toBe('AT+CMGD=9,2\r\r\nOK\r\n');
    expect(indexes(await m.host.command('AT+CMGL=4'))).toEqual([3]);
    expect(await m.host.command('AT+CMGD=1')).toBe('AT+CMGD=1\r\r\n+CMS ERROR: 321\r\n');
    expect(await m.host.command('AT+CMGD=3,0')).toBe('AT+CMGD=3,0\r\r\nOK\r\n');
    expect(indexes(await m.host.command('AT+CMGL=4'))).toEqual([]);
    const n = await mixed();
    expect(await n.host.command('AT+CMGD=1,3')).toBe('AT+CMGD=1,3\r\r\nOK\r\n');
    expect(indexes(await n.host.command('AT+CMGL=4'))).toEqual([2]);
    expect(await n.host.command('AT+CMGD=0,4')).toBe('AT+CMGD=0,4\r\r\nOK\r\n');
    expect(await n.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",0,50,"SM",0,50,"SM",0,50\r\n\r\nOK\r\n');
    expect(await n.host.command('AT+CMGD=1,5')).toBe('AT+CMGD=1,5\r\r\n+CMS ERROR: 304\r\n');
  });
});

describe('a full SIM', () => {
  it('refuses the incoming message (the SMSC keeps it), CMGW answers 322, a CMGD frees a slot and the SMSC retries', async () => {
    const m = await modem({ profileOverrides: { limits: { smsSlots: 2 }, spellings: { smsFull: ['+SMS FULL'] } } });
    await receive(m, '10086', 'one');
    await receive(m, '10086', 'two');
    const third = center(m).deliver({ from: '10086', text: 'three' });
    expect((await m.host.expect('\r\n+SMS FULL\r\n', sec(10))).text).toBe('\r\n+SMS FULL\r\n');
    expect(third.state).toBe('waiting-memory');
    expect(await m.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",2,2,"SM",2,2,"SM",2,2\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CMGW=13')).toBe('AT+CMGW=13\r\r\n+CMS ERROR: 322\r\n');
    expect(await m.host.command('AT+CMGD=1')).toBe('AT+CMGD=1\r\r\nOK\r\n');
    expect((await m.host.expect(/\r\n\+CMTI: "SM",1\r\n/, sec(10))).match).toBe('\r\n+CMTI: "SM",1\r\n');
    expect(third).toMatchObject({ state: 'delivered', stored: [{ mem: 'SM', index: 1 }] });
  });

  it('with the default profile (spellings.smsFull empty) the refusal prints nothing', async () => {
    const m = await modem({ profileOverrides: { limits: { smsSlots: 1 } } });
    await receive(m, '10086', 'one');
    const second = center(m).deliver({ from: '10086', text: 'two' });
    await m.host.advance(sec(10));
    expect(m.host.take()).toBe('');
    expect(second.state).toBe('waiting-memory');
  });
});

describe('+CMS ERROR', () => {
  it('321 for an empty or out-of-range index; numeric under CMEE 0 and 1, verbose under 2; profile cmsUnderCmee0 "error" gives ERROR', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CMGR=1')).toBe('AT+CMGR=1\r\r\n+CMS ERROR: 321\r\n');
    expect(await m.host.command('AT+CMGR=0')).toBe('AT+CMGR=0\r\r\n+CMS ERROR: 321\r\n');
    expect(await m.host.command('AT+CMGR=51')).toBe('AT+CMGR=51\r\r\n+CMS ERROR: 321\r\n');
    expect(await m.host.command('AT+CMEE=0;+CMGR=1')).toBe('AT+CMEE=0;+CMGR=1\r\r\n+CMS ERROR: 321\r\n');
    expect(await m.host.command('AT+CMEE=2;+CMGR=1')).toBe('AT+CMEE=2;+CMGR=1\r\r\n+CMS ERROR: invalid memory index\r\n');
    const e = await modem({ profileOverrides: { sms: { cmsUnderCmee0: 'error' } } });
    expect(await e.host.command('AT+CMEE=0;+CMGR=1')).toBe('AT+CMEE=0;+CMGR=1\r\r\nERROR\r\n');
    expect(await e.host.command('AT+CMEE=1;+CMGR=1')).toBe('AT+CMEE=1;+CMGR=1\r\r\n+CMS ERROR: 321\r\n');
  });

  it('304 for a bad PDU (length mismatch, not hex, not an SMS-SUBMIT) or parameter in PDU mode, 305 in text mode', async () => {
    const m = await modem();
    expect((await prompted(m, 'AT+CMGS=12', '0891683108200105F0110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMS ERROR: 304\r\n');
    expect((await prompted(m, 'AT+CMGS=13', 'zz\x1a')).answer).toBe('\r\n+CMS ERROR: 304\r\n');
    expect((await prompted(m, 'AT+CMGS=13', '0891683108200105F0040D91683129634152F600002180804184422304F7349B0D\x1a')).answer).toBe('\r\n+CMS ERROR: 304\r\n');
    expect(await m.host.command('AT+CMGS=0')).toBe('AT+CMGS=0\r\r\n+CMS ERROR: 304\r\n');
    expect(await m.host.command('AT+CMGS="10086"')).toBe('AT+CMGS="10086"\r\r\n+CMS ERROR: 304\r\n');
    expect(await m.host.command('AT+CMGF=2')).toBe('AT+CMGF=2\r\r\n+CMS ERROR: 304\r\n');
    expect(await m.host.command('AT+CMGF=1')).toBe('AT+CMGF=1\r\r\nOK\r\n');
    expect(await m.host.command('AT+CMGS="abc"')).toBe('AT+CMGS="abc"\r\r\n+CMS ERROR: 305\r\n');
    // IRA is 7-bit: a latin1 byte is no character of it
    expect((await prompted(m, 'AT+CMGS="10086"', 'caf\xe9\x1a')).answer).toBe('\r\n+CMS ERROR: 305\r\n');
    expect((await prompted(m, 'AT+CMGS="10086"', 'x'.repeat(161) + '\x1a')).answer).toBe('\r\n+CMS ERROR: 305\r\n');
    expect(await m.host.command('AT+CNMI=4')).toBe('AT+CNMI=4\r\r\n+CMS ERROR: 305\r\n');
    expect(center(m).sent).toEqual([]);
  });

  it('303 for a storage the module does not have ("ME"); 302 before SMS READY; 331 with no network', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CPMS="ME"')).toBe('AT+CPMS="ME"\r\r\n+CMS ERROR: 303\r\n');
    expect(await m.host.command('AT+CPMS="SM","ME"')).toBe('AT+CPMS="SM","ME"\r\r\n+CMS ERROR: 303\r\n');
    expect(await m.host.command('AT+CFUN=4')).toBe('AT+CFUN=4\r\r\nOK\r\n');
    expect((await prompted(m, 'AT+CMGS=13', '0891683108200105F0110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMS ERROR: 331\r\n');
    const early = new Modem({});
    cleanups.push(() => early.close());
    await early.host.expect('RDY\r\n', sec(5));
    expect(await early.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CMS ERROR: 302\r\n');
    await early.host.expect('SMS READY\r\n', sec(5));
    expect(await early.host.command('AT+CPMS?')).toBe('AT+CPMS?\r\r\n+CPMS: "SM",0,50,"SM",0,50,"SM",0,50\r\n\r\nOK\r\n');
  });

  it('the PDU reader never throws on arbitrary octets, with or without an SCA', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (b, withSca) => {
        const r = parsePdu(Buffer.from(b).toString('hex'), { withSca });
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000, seed: 27005 },
    );
  });

  it('never throws on arbitrary prompt input: every PDU gets OK, +CMGS or +CMS ERROR', async () => {
    const m = await modem();
    const inputs = ['', '0', '00', '0011', '001100', 'FFFFFFFFFFFFFFFFFFFFFFFFFF', '0011000D91683119325476F80008AAFF', '00510005810180F60000FF05030012020141'];
    for (const data of inputs) {
      const len = Math.max(1, data.length / 2 - 1);
      const r = await prompted(m, `AT+CMGS=${Math.floor(len)}`, data + '\x1a');
      expect(r.answer).toMatch(/^\r\n(\+CMGS: \d+\r\n\r\nOK|\+CMS ERROR: 304)\r\n$/);
    }
  });
});

describe('persistence', () => {
  it('messages survive AT+RESET in memory (the SIM is not RAM); TP-MR runs on', async () => {
    const m = await modem();
    await receive(m, '10086', 'kept');
    expect((await prompted(m, 'AT+CMGS=13', '0891683108200105F0110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+RESET')).toBe('AT+RESET\r\r\nOK\r\n');
    await m.host.expect('SMS READY', sec(10));
    await m.host.advance(sec(8));
    m.host.take();
    expect(await m.host.command('AT+CMGF=1;+CMGR=1')).toMatch(/^AT\+CMGF=1;\+CMGR=1\r\r\n\+CMGR: "REC UNREAD","10086",,"[^"]+"\r\nkept\r\n\r\nOK\r\n$/);
    expect(await m.host.command('AT+CMGF=0')).toBe('AT+CMGF=0\r\r\nOK\r\n');
    expect((await prompted(m, 'AT+CMGS=13', '0891683108200105F0110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
  });

  it('a new modem on the same data dir reads the SIM file (<data-dir>/sim/sms.json, written atomically)', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const a = await modem({ dataDir: dir.path });
    await receive(a, '+8613912345678', 'across restarts');
    expect((await prompted(a, 'AT+CMGS=13', '0891683108200105F0110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    const pdu = center(a).inbound[0]!.parts[0]!;
    await a.close();
    const file = join(dir.path, 'sim', 'sms.json');
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ format: 'modemsim-sim-sms/1', nextMr: 1, messages: [{ index: 1, stat: 0, pdu }] });
    const b = await modem({ dataDir: dir.path });
    expect(await b.host.command('AT+CMGR=1')).toBe(`AT+CMGR=1\r\r\n+CMGR: 0,,${pdu.length / 2 - 9}\r\n${pdu}\r\n\r\nOK\r\n`);
    expect((await prompted(b, 'AT+CMGS=13', '0891683108200105F0110005810180F60000FF02E834\x1a')).answer).toBe('\r\n+CMGS: 1\r\n\r\nOK\r\n');
  });
});
