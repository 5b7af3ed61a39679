/**
 * The 27.007 probes of host tools, through the serial endpoint in virtual time: gammu's
 * start-up block byte for byte, the clock (power-on, NITZ, set), the battery, caller id, USSD,
 * the SIM phonebook and the command list.
 */
import { describe, expect, it } from 'vitest';
import { Modem, ModemOptions } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { createModem } from '../sim/modem.js';
import { COMMAND_GROUPS } from '../sim/groups.js';
import { bootedModem, cleanupsAfterEach, tempDir } from './helpers.js';

const cleanups = cleanupsAfterEach();

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await bootedModem(opts);
  cleanups.push(() => m.close());
  return m;
}

/** 27.007 clock text of a UTC instant in zone +32 (UTC+8). */
function cclk(utcMs: number, quarters = 32): string {
  const d = new Date(utcMs + quarters * 15 * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())},${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${quarters < 0 ? '-' : '+'}${p(Math.abs(quarters))}`;
}

describe("gammu's start-up (connection = at)", () => {
  it('answers the whole block byte for byte: ESC CR ignored, Motorola/OBEX/SyncML probes ERROR, CHUP=? and CFUN=1 OK', async () => {
    const m = await modem();
    m.host.write('\x1b\r');
    await m.host.advance(ms(100));
    expect(m.host.take()).toBe('\x1b\r');
    const block: Array<[string, string]> = [
      ['AT', 'OK'],
      ['ATE1', 'OK'],
      ['AT+MODE=2', 'ERROR'],
      ['AT+CMEE=1', 'OK'],
      ['AT+CSCS?', '+CSCS: "IRA"\r\n\r\nOK'],
      ['AT+CSCS=?', '+CSCS:"GSM","IRA","UCS2"\r\n\r\nOK'],
      ['AT+CSCS="GSM"', 'OK'],
      ['AT+CSCS?', '+CSCS: "GSM"\r\n\r\nOK'],
      ['AT+CGMM', 'Air724UG\r\n\r\nOK'],
      ['AT+CGMI', 'AirM2M\r\n\r\nOK'],
      ['AT+CPROT=?', 'ERROR'],
      ['AT+SYNCML=?', 'ERROR'],
      ['AT$TSSPCSW=?', 'ERROR'],
      ['AT+CHUP=?', 'OK'],
      ['AT+CGMR', 'AirM2M_720U_V3.2.1_LTE_AT\r\n\r\nOK'],
      ['AT+CFUN=1', 'OK'],
      ['AT+CRC=1', 'ERROR'],
    ];
    for (const [line, answer] of block) expect(await m.host.command(line)).toBe(`${line}\r\r\n${answer}\r\n`);
  });
});

describe('AT+CCLK', () => {
  it('runs from phone.rtcAtPowerOn until the network time (NITZ) arrives after registration, then shows it in zone +32', async () => {
    const m = createModem();
    cleanups.push(() => m.close());
    await m.host.expect('RDY\r\n', sec(5));
    const early = await m.host.command('AT+CCLK?');
    expect(early).toBe(`AT+CCLK?\r\r\n+CCLK: "${cclk(Date.parse(m.profile.phone.rtcAtPowerOn) + Math.floor(m.kernel.now / 1e6), 0)}"\r\n\r\nOK\r\n`);
    await m.clock.waitUntil(() => m.network.registered, sec(10));
    await m.host.advance(m.profile.network.nitz.base + m.profile.network.nitz.jitter + ms(1));
    m.host.take();
    const base = Date.parse(m.profile.network.time.utc);
    m.host.write('AT+CCLK?\r');
    const r = await m.host.expect(/OK\r\n/);
    const shown = /^AT\+CCLK\?\r\r\n\+CCLK: "([^"]+)"\r\n\r\nOK\r\n$/.exec(r.text)?.[1];
    // read before the OK's last byte: the same second, or the one before
    expect([cclk(base + Math.floor(r.at / 1e6)), cclk(base + Math.floor(r.at / 1e6) - 1000)]).toContain(shown);
  });

  it('takes a time set by the host (LuatOS form) and runs on from it; a malformed or impossible date is 765', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CCLK="21/05/01,12:00:00+32"')).toBe('AT+CCLK="21/05/01,12:00:00+32"\r\r\nOK\r\n');
    await m.host.advance(sec(61));
    expect(await m.host.command('AT+CCLK?')).toBe('AT+CCLK?\r\r\n+CCLK: "21/05/01,12:01:01+32"\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CCLK="21/02/30,12:00:00+32"')).toBe('AT+CCLK="21/02/30,12:00:00+32"\r\r\n+CME ERROR: 765\r\n');
    expect(await m.host.command('AT+CCLK="21/05/01 12:00:00"')).toBe('AT+CCLK="21/05/01 12:00:00"\r\r\n+CME ERROR: 765\r\n');
    expect(await m.host.command('AT+CCLK=?')).toBe('AT+CCLK=?\r\r\nOK\r\n');
  });
});

describe('battery, caller id, hang-up', () => {
  it('AT+CBC: air724ug prints the 27.007 form gammu and gsmlib parse; air780e its mV form (spellings.cbc)', async () => {
    const a = await modem();
    expect(await a.host.command('AT+CBC')).toBe('AT+CBC\r\r\n+CBC: 0,80\r\n\r\nOK\r\n');
    const b = await modem({ profile: 'air780e' });
    expect(await b.host.command('AT+CBC')).toBe('AT+CBC\r\r\n+CBC: 3900\r\n\r\nOK\r\n');
  });

  it('AT+CLIP: +CLIP: <n>,<m> with <m> from the profile; CHUP answers OK with no call', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CLIP?')).toBe('AT+CLIP?\r\r\n+CLIP: 0,1\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CLIP=1')).toBe('AT+CLIP=1\r\r\nOK\r\n');
    expect(await m.host.command('AT+CLIP?;+CLIP=?')).toBe('AT+CLIP?;+CLIP=?\r\r\n+CLIP: 1,1\r\n\r\n+CLIP: (0,1)\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CLIP=2')).toBe('AT+CLIP=2\r\r\n+CME ERROR: 765\r\n');
    expect(await m.host.command('AT+CHUP')).toBe('AT+CHUP\r\r\nOK\r\n');
  });
});

describe('AT+CUSD', () => {
  it("gammu's getussd: the request in UCS2 hex, OK, then +CUSD: 0,\"<reply>\",15 in the TE set after phone.ussd", async () => {
    const m = await modem({ profileOverrides: { phone: { ussdReplies: { '*100#': '余额10元' } } } });
    expect(await m.host.command('AT+CUSD=1')).toBe('AT+CUSD=1\r\r\nOK\r\n');
    expect(await m.host.command('AT+CSCS="UCS2"')).toBe('AT+CSCS="UCS2"\r\r\nOK\r\n');
    m.host.write('AT+CUSD=1,"002A0031003000300023",15\r');
    const ok = await m.host.expect('OK\r\n');
    expect(ok.text).toBe('AT+CUSD=1,"002A0031003000300023",15\r\r\nOK\r\n');
    const urc = await m.host.expect(/\r\n\+CUSD: [^\r]*\r\n/, sec(10));
    expect(urc.match).toBe('\r\n+CUSD: 0,"4F59989D003100305143",15\r\n');
    const lat = m.profile.latency['phone.ussd'];
    expect(urc.at - ok.at).toBeGreaterThanOrEqual(lat.base);
    expect(urc.at - ok.at).toBeLessThanOrEqual(lat.base + lat.jitter + ms(5));
  });

  it('any other request gets the "*" reply; <n> 0 sends without showing a reply; not registered is +CME ERROR: 30', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CUSD=1,"*101#",15')).toBe('AT+CUSD=1,"*101#",15\r\r\nOK\r\n');
    expect((await m.host.expect(/\r\n\+CUSD: [^\r]*\r\n/, sec(10))).match).toBe('\r\n+CUSD: 0,"Your balance is 10.00 CNY",15\r\n');
    expect(await m.host.command('AT+CUSD=0,"*101#"')).toBe('AT+CUSD=0,"*101#"\r\r\nOK\r\n');
    await m.host.advance(sec(10));
    expect(m.host.take()).toBe('');
    expect(await m.host.command('AT+CUSD?;+CUSD=?')).toBe('AT+CUSD?;+CUSD=?\r\r\n+CUSD: 0\r\n\r\n+CUSD: (0-2)\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CFUN=4')).toBe('AT+CFUN=4\r\r\nOK\r\n');
    expect(await m.host.command('AT+CUSD=1,"*101#"')).toBe('AT+CUSD=1,"*101#"\r\r\n+CME ERROR: 30\r\n');
  });
});

describe('the SIM phonebook', () => {
  it("gammu's getmemory SM 1 3 byte for byte: storages, +CPBS: \"SM\",0,250, +CPBR: (1-250),20,14, empty entries a bare OK", async () => {
    const m = await modem();
    const seq: Array<[string, string]> = [
      ['AT+CPBS=?', '+CPBS: ("SM","ON","FD","EN")\r\n\r\nOK'],
      ['AT+CPBS="SM"', 'OK'],
      ['AT+CSCS="UCS2"', 'OK'],
      ['AT+CSCS?', '+CSCS: "UCS2"\r\n\r\nOK'],
      ['AT+CPBS?', '+CPBS: "SM",0,250\r\n\r\nOK'],
      ['AT+CPBR=?', '+CPBR: (1-250),20,14\r\n\r\nOK'],
      ['AT+CPBR=1', 'OK'],
      ['AT+CPBR=2', 'OK'],
      ['AT+CPBR=3', 'OK'],
    ];
    for (const [line, answer] of seq) expect(await m.host.command(line)).toBe(`${line}\r\r\n${answer}\r\n`);
  });

  it('CPBW writes (the first free index without one), CPBR reads in the TE set, CPBW=<index> deletes; errors 21, 24, 27, 3', async () => {
    const m = await modem();
    expect(await m.host.command('AT+CPBW=,"+8613912345678",145,"Alice"')).toBe('AT+CPBW=,"+8613912345678",145,"Alice"\r\r\nOK\r\n');
    expect(await m.host.command('AT+CPBW=5,"10086",129,"Operator"')).toBe('AT+CPBW=5,"10086",129,"Operator"\r\r\nOK\r\n');
    expect(await m.host.command('AT+CPBR=1,5')).toBe('AT+CPBR=1,5\r\r\n+CPBR: 1,"+8613912345678",145,"Alice"\r\n\r\n+CPBR: 5,"10086",129,"Operator"\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CSCS="UCS2";+CPBR=1')).toBe('AT+CSCS="UCS2";+CPBR=1\r\r\n+CPBR: 1,"+8613912345678",145,"0041006C006900630065"\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CPBW=1')).toBe('AT+CPBW=1\r\r\nOK\r\n');
    expect(await m.host.command('AT+CPBS?')).toBe('AT+CPBS?\r\r\n+CPBS: "SM",1,250\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CPBR=251')).toBe('AT+CPBR=251\r\r\n+CME ERROR: 21\r\n');
    expect(await m.host.command('AT+CSCS="IRA";+CPBW=2,"1",129,"fifteen chars!!"')).toBe('AT+CSCS="IRA";+CPBW=2,"1",129,"fifteen chars!!"\r\r\n+CME ERROR: 24\r\n');
    expect(await m.host.command('AT+CPBW=2,"12a",129,"x"')).toBe('AT+CPBW=2,"12a",129,"x"\r\r\n+CME ERROR: 27\r\n');
    expect(await m.host.command('AT+CPBS="FD";+CPBW=1,"1",129,"x"')).toBe('AT+CPBS="FD";+CPBW=1,"1",129,"x"\r\r\n+CME ERROR: 3\r\n');
    expect(await m.host.command('AT+CPBS="XX"')).toBe('AT+CPBS="XX"\r\r\n+CME ERROR: 4\r\n');
  });

  it('entries are SIM records: they survive a reboot and a new modem on the same data dir', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const a = await modem({ dataDir: dir.path });
    expect(await a.host.command('AT+CPBW=3,"10086",129,"Operator"')).toBe('AT+CPBW=3,"10086",129,"Operator"\r\r\nOK\r\n');
    await a.close();
    const b = await modem({ dataDir: dir.path });
    expect(await b.host.command('AT+CPBR=3')).toBe('AT+CPBR=3\r\r\n+CPBR: 3,"10086",129,"Operator"\r\n\r\nOK\r\n');
  });
});

describe('AT+CLAC', () => {
  it("lists every command of the modem's table, one AT<name> per line, in table order", async () => {
    const m = await modem();
    const names = m.engine.table.all().map((s) => `AT${s.name}`);
    expect(names).toContain('AT+CMGS');
    expect(names).toContain('AT+CLAC');
    expect(await m.host.command('AT+CLAC')).toBe(`AT+CLAC\r\r\n${names.map((n) => `${n}\r\n`).join('\r\n')}\r\nOK\r\n`);
    expect(COMMAND_GROUPS.map((g) => g.name)).toEqual(expect.arrayContaining(['sms', 'phone']));
  });
});
