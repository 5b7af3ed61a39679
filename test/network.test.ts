/**
 * The cellular network model through the serial port, in virtual time: boot registration, the
 * registration URC modes, CFUN, CSQ, CPIN, COPS, bad parameters, and seeded timing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createModem, Modem, ModemOptions } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { latencyOf } from '../sim/profile.js';
import { dataReadyModem, timed, UART_SLACK, within } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

function start(opts: ModemOptions = {}): Modem {
  m = createModem({ idleGraceMs: 0, ...opts });
  return m;
}

/** Boot and wait until the default context carries data; returns the modem with nothing pending. */
async function booted(opts: ModemOptions = {}): Promise<Modem> {
  m = await dataReadyModem({ idleGraceMs: 0, ...opts });
  return m;
}

describe('boot registration', () => {
  it('answers the seed first lines once registered, printing nothing with CGREG n=0 (air724ug)', async () => {
    const modem = start();
    await modem.host.expect('\r\nSMS READY\r\n');
    expect(await modem.clock.waitUntil(() => modem.pdp.dataReady, sec(10))).toBe(true);
    await modem.host.advance(sec(2));
    expect(modem.host.take()).toBe('');
    expect(await modem.host.command('AT+CGREG?')).toBe('AT+CGREG?\r\r\n+CGREG: 0,1\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGDCONT?')).toBe('AT+CGDCONT?\r\r\n+CGDCONT: 1,"IP","cmiot","10.126.200.230",0,0\r\n\r\nOK\r\n');
  });

  it('prints +CGREG: 2 then +CGREG: 1 on the profile timing when CGREG=1 is set before registration', async () => {
    const modem = start();
    const net = modem.profile.network;
    await modem.host.expect('\r\nRDY\r\n');
    expect(await modem.host.command('AT+CGREG=1')).toBe('AT+CGREG=1\r\r\nOK\r\n');
    const searching = await modem.host.expect('\r\n+CGREG: 2\r\n');
    expect(searching.at).toBeGreaterThanOrEqual(net.simReady.base);
    expect(searching.at).toBeLessThanOrEqual(net.simReady.base + net.simReady.jitter + UART_SLACK);
    const registered = await modem.host.expect('\r\n+CGREG: 1\r\n');
    within(registered.at - searching.at, net.register);
    expect(await modem.host.command('AT+CGREG?')).toBe('AT+CGREG?\r\r\n+CGREG: 1,1\r\n\r\nOK\r\n');
  });

  it('air780e prints ^MODE, +E_UTRAN Service, +CGEV: ME PDN ACT 1 and +NITZ from the network model', async () => {
    const modem = start({ profile: 'air780e' });
    const net = modem.profile.network;
    const rdy = await modem.host.expect('\r\nRDY\r\n');
    const mode = await modem.host.expect('^MODE: 17,17\r\n');
    expect(mode.text).toBe('\r\n^MODE: 17,17\r\n');
    expect(rdy.at).toBeLessThan(mode.at);
    within(mode.at, net.simReady, net.register);
    const rest = await modem.host.expect('+NITZ: 2024/08/23,06:52:50+32,0\r\n');
    expect(rest.text).toBe('\r\n+E_UTRAN Service\r\n\r\n+CGEV: ME PDN ACT 1\r\n\r\n+NITZ: 2024/08/23,06:52:50+32,0\r\n');
    within(rest.at - mode.at, net.nitz);
    expect(modem.pdp.dataReady).toBe(true);
    expect(await modem.host.command('AT+CGDCONT?')).toBe('AT+CGDCONT?\r\r\n+CGDCONT: 1,"IP","cmiot","10.126.200.230"\r\n\r\nOK\r\n');
  });

  it('a reboot during registration cancels the old timers: one registration, on the new boot timing', async () => {
    const modem = start({ traceMemory: true });
    const net = modem.profile.network;
    await modem.host.expect('\r\nSMS READY\r\n');
    expect(modem.network.registered).toBe(false);
    const ok = await timed(modem, 'AT+CFUN=1,1');
    expect(ok.text).toBe('AT+CFUN=1,1\r\r\nOK\r\n');
    const okAt = modem.kernel.now;
    await modem.host.expect('\r\nRDY\r\n');
    await modem.host.advance(sec(10));
    const registrations = modem.trace.records.filter((r) => r.ev === 'state' && r.what === 'network.stat' && r.to === 1);
    expect(registrations).toHaveLength(1);
    const after = registrations[0]!.t - okAt;
    expect(after).toBeGreaterThanOrEqual(modem.profile.boot.resetDelay + net.simReady.base + net.register.base);
    expect(after).toBeLessThanOrEqual(modem.profile.boot.resetDelay + net.simReady.base + net.register.base + net.register.jitter + UART_SLACK);
  });

  it('power-off cancels every pending network and PDP timer', async () => {
    const modem = start({ profile: 'air780e' });
    expect(await modem.clock.waitUntil(() => modem.network.registered, sec(20))).toBe(true);
    expect(modem.pdp.attached).toBe(false);
    await modem.host.advance(ms(20));
    expect(modem.kernel.nextTime()).toBeDefined();
    await modem.close();
    expect(modem.kernel.nextTime()).toBeUndefined();
  });
});

describe('registration URC modes', () => {
  it('CGREG=2: a network re-registration gives the long URC form and the read form matches it', async () => {
    const modem = await booted();
    expect(await modem.host.command('AT+CGREG=2')).toBe('AT+CGREG=2\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGREG?')).toBe('AT+CGREG?\r\r\n+CGREG: 2,1,"1863","00a2c315",7\r\n\r\nOK\r\n');
    modem.clock.inject('fault', () => modem.network.deregister());
    expect((await modem.host.expect('+PDP DEACT\r\n')).text).toBe('\r\n+CGREG: 2\r\n\r\n+PDP DEACT\r\n');
    expect(await modem.host.command('AT+CGREG?')).toBe('AT+CGREG?\r\r\n+CGREG: 2,2\r\n\r\nOK\r\n');
    const t0 = modem.kernel.now;
    modem.clock.inject('fault', () => modem.network.register());
    const urc = await modem.host.expect('\r\n+CGREG: 1,"1863","00a2c315",7\r\n');
    expect(urc.text).toBe('\r\n+CGREG: 1,"1863","00a2c315",7\r\n');
    within(urc.at - t0, modem.profile.network.register);
    expect(await modem.host.command('AT+CGREG?')).toBe('AT+CGREG?\r\r\n+CGREG: 2,1,"1863","00a2c315",7\r\n\r\nOK\r\n');
  });

  it('a cell change is reported with n=2 only; CREG and CEREG have the same modes', async () => {
    const modem = await booted();
    for (const c of ['AT+CREG=2', 'AT+CGREG=1', 'AT+CEREG=2']) expect(await modem.host.command(c)).toBe(`${c}\r\r\nOK\r\n`);
    modem.network.changeCell({ lac: '18be', ci: '9363' });
    await modem.host.advance(ms(100));
    expect(modem.host.take()).toBe('\r\n+CREG: 1,"18be","9363",7\r\n\r\n+CEREG: 1,"18be","9363",7\r\n');
    expect(await modem.host.command('AT+CREG?')).toBe('AT+CREG?\r\r\n+CREG: 2,1,"18be","9363",7\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CEREG?')).toBe('AT+CEREG?\r\r\n+CEREG: 2,1,"18be","9363",7\r\n\r\nOK\r\n');
    modem.network.changeCell({ roaming: true });
    await modem.host.advance(ms(100));
    expect(modem.host.take()).toBe('\r\n+CREG: 5,"18be","9363",7\r\n\r\n+CGREG: 5\r\n\r\n+CEREG: 5,"18be","9363",7\r\n');
    expect(await modem.host.command('AT+CGREG=')).toBe('AT+CGREG=\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGREG?;+CREG=?')).toBe('AT+CGREG?;+CREG=?\r\r\n+CGREG: 0,5\r\n\r\n+CREG: (0-2)\r\n\r\nOK\r\n');
  });

  it('deregister with stat 3 (denied) keeps the module off the network until register()', async () => {
    const modem = await booted();
    expect(await modem.host.command('AT+CEREG=1')).toBe('AT+CEREG=1\r\r\nOK\r\n');
    modem.network.deregister({ stat: 3 });
    await modem.host.advance(sec(30));
    expect(modem.host.take()).toBe('\r\n+CEREG: 3\r\n\r\n+PDP DEACT\r\n');
    expect(await modem.host.command('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 99,99\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+COPS?')).toBe('AT+COPS?\r\r\n+COPS: 0\r\n\r\nOK\r\n');
    modem.network.register();
    await modem.host.expect('\r\n+CEREG: 2\r\n');
    await modem.host.expect('\r\n+CEREG: 1\r\n');
  });
});

describe('AT+CFUN', () => {
  it('CFUN=0 drops registration and contexts, radio commands answer 797, CFUN=1 registers again', async () => {
    const modem = await booted();
    const p = modem.profile;
    expect(await modem.host.command('AT+CFUN?')).toBe('AT+CFUN?\r\r\n+CFUN: 1\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CFUN=?')).toBe('AT+CFUN=?\r\r\n+CFUN: (0,1,4),(0,1)\r\n\r\nOK\r\n');
    const off = await timed(modem, 'AT+CFUN=0');
    expect(off.text).toBe('AT+CFUN=0\r\r\nOK\r\n');
    within(off.dt, latencyOf(p, 'simple'), latencyOf(p, 'cfun.off'));
    expect(off.dt).toBeLessThan(sec(45));
    expect(modem.pdp.dataReady).toBe(false);
    expect(await modem.host.command('AT+CGATT=1')).toBe('AT+CGATT=1\r\r\n+CME ERROR: 797\r\n');
    expect(await modem.host.command('AT+CGACT=1,1')).toBe('AT+CGACT=1,1\r\r\n+CME ERROR: 797\r\n');
    expect(await modem.host.command('AT+COPS=0')).toBe('AT+COPS=0\r\r\n+CME ERROR: 797\r\n');
    expect(await modem.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 0\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGREG?')).toBe('AT+CGREG?\r\r\n+CGREG: 0,0\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 99,99\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CPIN?')).toBe('AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CFUN=4')).toBe('AT+CFUN=4\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGATT=1')).toBe('AT+CGATT=1\r\r\n+CME ERROR: 797\r\n');
    expect(await modem.host.command('AT+CMEE=0;+CGATT=1')).toBe('AT+CMEE=0;+CGATT=1\r\r\nERROR\r\n');
    const on = await timed(modem, 'AT+CFUN=1');
    expect(on.text).toBe('AT+CFUN=1\r\r\nOK\r\n');
    within(on.dt, latencyOf(p, 'simple'), latencyOf(p, 'cfun.on'));
    const t0 = modem.kernel.now;
    expect(await modem.clock.waitUntil(() => modem.pdp.dataReady, sec(10))).toBe(true);
    within(modem.kernel.now - t0, p.network.register, p.network.defaultPdp);
    expect(await modem.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
  });
});

describe('bad parameters', () => {
  const bad = ['AT+CGREG=3', 'AT+CFUN=2', 'AT+CFUN=1,2', 'AT+CGDCONT=16,"IP"', 'AT+CGDCONT=5,"FOO"', 'AT+CGDCONT=5,"IP","x","300.1.1.1"', 'AT+CGACT=2,1', 'AT+CGACT=1,0', 'AT+CGATT=x', 'AT+COPS=5'];

  it('answers +CME ERROR: 765 with CMEE=1', async () => {
    const modem = await booted();
    for (const c of bad) expect(await modem.host.command(c)).toBe(`${c}\r\r\n+CME ERROR: 765\r\n`);
  });

  it('answers ERROR with CMEE=0 and the verbose text with CMEE=2', async () => {
    const modem = await booted();
    expect(await modem.host.command('AT+CMEE=0')).toBe('AT+CMEE=0\r\r\nOK\r\n');
    for (const c of bad) expect(await modem.host.command(c)).toBe(`${c}\r\r\nERROR\r\n`);
    expect(await modem.host.command('AT+CMEE=2')).toBe('AT+CMEE=2\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGREG=9')).toBe('AT+CGREG=9\r\r\n+CME ERROR: Invalid input value\r\n');
    expect(modem.snapshot().registration.urcModes['+CGREG']).toBe(0);
  });
});

describe('SIM, signal and operator', () => {
  it('CPIN answers 14 while the SIM starts, READY after', async () => {
    const modem = start();
    await modem.host.expect('\r\nRDY\r\n');
    expect(await modem.host.command('AT+CPIN?')).toBe('AT+CPIN?\r\r\n+CME ERROR: 14\r\n');
    await modem.host.expect('\r\n+CPIN: READY\r\n');
    expect(await modem.host.command('AT+CPIN?')).toBe('AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CPIN=?')).toBe('AT+CPIN=?\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CPIN="1234"')).toBe('AT+CPIN="1234"\r\r\n+CME ERROR: 767\r\n');
  });

  it('CSQ follows the signal model: set level, dBm conversion, seeded spread', async () => {
    const modem = await booted();
    expect(await modem.host.command('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 24,99\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CSQ=?')).toBe('AT+CSQ=?\r\r\n+CSQ: (0-31,99),(0-7,99)\r\n\r\nOK\r\n');
    modem.network.setSignal({ dbm: -81, ber: 0 });
    expect(await modem.host.command('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 16,0\r\n\r\nOK\r\n');
    expect(() => modem.network.setSignal({ rssi: 40 })).toThrow(RangeError);
    modem.network.setSignal({ rssi: 20, spread: 3 });
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const r = /\+CSQ: (\d+),0/.exec(await modem.host.command('AT+CSQ'));
      seen.add(Number(r![1]));
    }
    for (const v of seen) {
      expect(v).toBeGreaterThanOrEqual(17);
      expect(v).toBeLessThanOrEqual(23);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('COPS: read in each format, test form lists the network, =2 deregisters and =0 registers again', async () => {
    const modem = await booted();
    const p = modem.profile;
    expect(await modem.host.command('AT+COPS?')).toBe('AT+COPS?\r\r\n+COPS: 0,2,"46000",7\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+COPS=3,0;+COPS?')).toBe('AT+COPS=3,0;+COPS?\r\r\n+COPS: 0,0,"CHINA MOBILE",7\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+COPS=3,1;+COPS?')).toBe('AT+COPS=3,1;+COPS?\r\r\n+COPS: 0,1,"CMCC",7\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+COPS=?')).toBe('AT+COPS=?\r\r\n+COPS: (2,"CHINA MOBILE","CMCC","46000",7),,(0-4),(0-2)\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+COPS=1,2,"46001"')).toBe('AT+COPS=1,2,"46001"\r\r\n+CME ERROR: 30\r\n');
    expect(await modem.host.command('AT+CGREG=1')).toBe('AT+CGREG=1\r\r\nOK\r\n');
    expect(await modem.host.command('AT+COPS=2')).toBe('AT+COPS=2\r\r\nOK\r\n');
    expect((await modem.host.expect('+CGREG: 0\r\n')).text).toBe('\r\n+CGREG: 0\r\n');
    expect(modem.pdp.dataReady).toBe(false);
    expect(await modem.host.command('AT+COPS?')).toBe('AT+COPS?\r\r\n+COPS: 2\r\n\r\nOK\r\n');
    const again = await timed(modem, 'AT+COPS=0');
    expect(again.text).toBe('AT+COPS=0\r\r\nOK\r\n');
    within(again.dt, latencyOf(p, 'simple'), p.network.register);
    expect((await modem.host.expect('+CGREG: 1\r\n')).text).toBe('\r\n+CGREG: 2\r\n\r\n+CGREG: 1\r\n');
    expect(await modem.clock.waitUntil(() => modem.pdp.dataReady, sec(5))).toBe(true);
  });
});

describe('determinism', () => {
  const session = async (seed: number): Promise<string> => {
    const modem = start({ seed });
    await modem.host.expect('\r\nSMS READY\r\n');
    await modem.clock.waitUntil(() => modem.pdp.dataReady, sec(20));
    for (const c of ['AT+CGREG=2', 'AT+CFUN=0', 'AT+CFUN=1']) await modem.host.command(c);
    await modem.clock.waitUntil(() => modem.pdp.dataReady, sec(20));
    modem.pdp.networkDeactivate();
    for (const c of ['AT+CIPSHUT', 'AT+CGDCONT=5,"IP","cmiot"', 'AT+CGACT=1,5', 'AT+CGPADDR']) await modem.host.command(c);
    const log = JSON.stringify(modem.host.log);
    await modem.close();
    m = undefined;
    return log;
  };

  it('the same seed gives the same bytes at the same times; another seed other times', async () => {
    const a = await session(7);
    const b = await session(7);
    const c = await session(8);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });
});
