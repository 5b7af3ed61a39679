/**
 * Packet domain through the serial port, in virtual time: PDP loss by the network, AT+CIPSHUT,
 * the seed's three recovery routes (timed against the profile), attach and context commands.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Modem, ModemOptions } from '../sim/modem.js';
import { ms, sec } from '../sim/kernel.js';
import { latencyOf, type LatencyKey } from '../sim/profile.js';
import { profiles } from '../sim/profiles/index.js';
import { FINAL_RESULT } from '../sim/host.js';
import { dataReadyModem, timed, within } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

async function booted(opts: ModemOptions = {}): Promise<Modem> {
  m = await dataReadyModem({ idleGraceMs: 0, ...opts });
  return m;
}

/** The network releases the default context; the host sees +PDP DEACT and shuts the TCPIP scene. */
async function lossAndShut(modem: Modem): Promise<void> {
  modem.clock.inject('fault', () => expect(modem.pdp.networkDeactivate()).toBe(true));
  expect((await modem.host.expect(modem.profile.spellings.pdpDeact[0]!.replace('{cid}', '1') + '\r\n')).text).toBe(
    `\r\n${modem.profile.spellings.pdpDeact[0]!.replace('{cid}', '1')}\r\n`,
  );
  expect(modem.pdp.dataReady).toBe(false);
  const shut = await timed(modem, 'AT+CIPSHUT');
  expect(shut.text).toBe('AT+CIPSHUT\r\r\nSHUT OK\r\n');
  within(shut.dt, latencyOf(modem.profile, 'cipshut'));
  // A shut alone brings no context back.
  expect(modem.pdp.dataReady).toBe(false);
  expect(await modem.host.command('AT+CGACT?')).toBe('AT+CGACT?\r\r\n+CGACT: 1,0\r\n\r\nOK\r\n');
}

describe('PDP deactivation by the network', () => {
  it('drops the bearer silently, prints +PDP DEACT, TCPIP state PDP DEACT until AT+CIPSHUT', async () => {
    const modem = await booted({ traceMemory: true });
    const order: string[] = [];
    modem.pdp.onBearerLost(() => order.push('bearer-lost'));
    modem.trace.onRecord((r) => r.ev === 'urc' && order.push(r.text));
    expect(await modem.host.command('AT+CIPSTATUS')).toBe('AT+CIPSTATUS\r\r\nOK\r\n');
    expect((await modem.host.expect('\r\nSTATE: IP INITIAL\r\n')).text).toBe('\r\nSTATE: IP INITIAL\r\n');
    order.length = 0;
    modem.clock.inject('fault', () => modem.pdp.networkDeactivate());
    expect((await modem.host.expect('+PDP DEACT\r\n')).text).toBe('\r\n+PDP DEACT\r\n');
    expect(order).toEqual(['bearer-lost', '+PDP DEACT']);
    expect(modem.pdp.dataReady).toBe(false);
    expect(modem.snapshot().tcpipState).toBe('PDP DEACT');
    expect(await modem.host.command('AT+CIPSTATUS')).toBe('AT+CIPSTATUS\r\r\nOK\r\n');
    expect((await modem.host.expect('\r\nSTATE: PDP DEACT\r\n')).text).toBe('\r\nSTATE: PDP DEACT\r\n');
    // Recovery without AT+CIPSHUT leaves the TCPIP state in PDP DEACT: MIPSTART must still fail.
    expect(await modem.host.command('AT+CGACT=1,1')).toBe('AT+CGACT=1,1\r\r\nOK\r\n');
    expect(modem.pdp.dataReady).toBe(false);
    expect(await modem.host.command('AT+CIPSHUT')).toBe('AT+CIPSHUT\r\r\nSHUT OK\r\n');
    expect(modem.pdp.dataReady).toBe(true);
    expect(await modem.host.command('AT+CIPSTATUS')).toBe('AT+CIPSTATUS\r\r\nOK\r\n');
    expect((await modem.host.expect('\r\nSTATE: IP INITIAL\r\n')).text).toBe('\r\nSTATE: IP INITIAL\r\n');
    expect(order.filter((o) => o === 'bearer-lost')).toHaveLength(1);
  });

  it('air780e prints +CGEV: NW PDN DEACT 1', async () => {
    const modem = await booted({ profile: 'air780e' });
    modem.clock.inject('fault', () => modem.pdp.networkDeactivate());
    expect((await modem.host.expect('+CGEV: NW PDN DEACT 1\r\n')).text).toBe('\r\n+CGEV: NW PDN DEACT 1\r\n');
    expect(await modem.host.command('AT+CIPSHUT')).toBe('AT+CIPSHUT\r\r\nSHUT OK\r\n');
    expect(await modem.host.command('AT+CGACT=1,1')).toBe('AT+CGACT=1,1\r\r\nOK\r\n');
    expect((await modem.host.expect('+CGEV: ME PDN ACT 1\r\n')).text).toBe('\r\n+CGEV: ME PDN ACT 1\r\n');
    expect(modem.pdp.dataReady).toBe(true);
  });

  it('reports false when there is nothing to deactivate or detach', async () => {
    const modem = await booted();
    expect(modem.pdp.networkDeactivate(5)).toBe(false);
    expect(modem.pdp.networkDeactivate()).toBe(true);
    expect(modem.pdp.networkDeactivate()).toBe(false);
    expect(modem.pdp.networkDetach()).toBe(true);
    expect(modem.pdp.networkDetach()).toBe(false);
  });
});

describe('the seed recovery routes', () => {
  it('1) CGDCONT=5 + CGACT=1,5 activates cid 5 within the cgact latency', async () => {
    const modem = await booted();
    const p = modem.profile;
    await lossAndShut(modem);
    expect(await modem.host.command('AT+CGDCONT=5,"IP","cmiot"')).toBe('AT+CGDCONT=5,"IP","cmiot"\r\r\nOK\r\n');
    const act = await timed(modem, 'AT+CGACT=1,5');
    expect(act.text).toBe('AT+CGACT=1,5\r\r\nOK\r\n');
    within(act.dt, latencyOf(p, 'simple'), latencyOf(p, 'cgact'));
    expect(await modem.host.command('AT+CGACT?')).toBe('AT+CGACT?\r\r\n+CGACT: 1,0\r\n\r\n+CGACT: 5,1\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGPADDR=5')).toBe('AT+CGPADDR=5\r\r\n+CGPADDR: 5,"10.126.200.234"\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGPADDR')).toBe('AT+CGPADDR\r\r\n+CGPADDR: 1\r\n\r\n+CGPADDR: 5,"10.126.200.234"\r\n\r\nOK\r\n');
    expect(modem.pdp.dataReady).toBe(true);
  });

  it('2) CFUN=0 then CFUN=1 brings cid 1 back on the registration + default PDP timing', async () => {
    const modem = await booted();
    const p = modem.profile;
    await lossAndShut(modem);
    const off = await timed(modem, 'AT+CFUN=0');
    expect(off.text).toBe('AT+CFUN=0\r\r\nOK\r\n');
    within(off.dt, latencyOf(p, 'simple'), latencyOf(p, 'cfun.off'));
    const on = await timed(modem, 'AT+CFUN=1');
    expect(on.text).toBe('AT+CFUN=1\r\r\nOK\r\n');
    within(on.dt, latencyOf(p, 'simple'), latencyOf(p, 'cfun.on'));
    const t0 = modem.kernel.now;
    expect(await modem.clock.waitUntil(() => modem.pdp.dataReady, sec(20))).toBe(true);
    within(modem.kernel.now - t0, p.network.register, p.network.defaultPdp);
    expect(await modem.host.command('AT+CGACT?')).toBe('AT+CGACT?\r\r\n+CGACT: 1,1\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGPADDR=1')).toBe('AT+CGPADDR=1\r\r\n+CGPADDR: 1,"10.126.200.230"\r\n\r\nOK\r\n');
  });

  it('3) AT+RESET reboots and brings cid 1 back on the boot timing', async () => {
    const modem = await booted();
    const p = modem.profile;
    await lossAndShut(modem);
    const reset = await timed(modem, 'AT+RESET');
    expect(reset.text).toBe('AT+RESET\r\r\nOK\r\n');
    const t0 = modem.kernel.now;
    expect(await modem.clock.waitUntil(() => modem.pdp.dataReady, sec(20))).toBe(true);
    const delay = { base: p.boot.resetDelay, jitter: 0 };
    within(modem.kernel.now - t0, delay, p.network.simReady, p.network.register, p.network.defaultPdp);
    await modem.host.expect('\r\nSMS READY\r\n');
    expect(await modem.host.command('AT+CGACT?')).toBe('AT+CGACT?\r\r\n+CGACT: 1,1\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGPADDR=1')).toBe('AT+CGPADDR=1\r\r\n+CGPADDR: 1,"10.126.200.230"\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CIPSTATUS')).toBe('AT+CIPSTATUS\r\r\nOK\r\n');
    expect((await modem.host.expect('\r\nSTATE: IP INITIAL\r\n')).text).toBe('\r\nSTATE: IP INITIAL\r\n');
  });
});

describe('attach', () => {
  it('network detach: +PDP DEACT, +CGATT: 0; AT+CGATT=1 attaches with cid 1 within the cgatt latency', async () => {
    const modem = await booted({ profile: 'air780e' });
    const p = modem.profile;
    modem.clock.inject('fault', () => modem.pdp.networkDetach());
    expect((await modem.host.expect('+CGEV: NW DETACH\r\n')).text).toBe('\r\n+CGEV: NW PDN DEACT 1\r\n\r\n+CGEV: NW DETACH\r\n');
    expect(await modem.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 0\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CIPSHUT')).toBe('AT+CIPSHUT\r\r\nSHUT OK\r\n');
    const att = await timed(modem, 'AT+CGATT=1');
    expect(att.text).toBe('AT+CGATT=1\r\r\nOK\r\n');
    within(att.dt, latencyOf(p, 'simple'), latencyOf(p, 'cgatt'));
    expect((await modem.host.expect('+CGEV: ME PDN ACT 1\r\n')).text).toBe('\r\n+CGEV: ME PDN ACT 1\r\n');
    expect(await modem.host.command('AT+CGATT?')).toBe('AT+CGATT?\r\r\n+CGATT: 1\r\n\r\nOK\r\n');
    expect(modem.pdp.dataReady).toBe(true);
  });

  it('CGATT=0 detaches silently and registration no longer attaches by itself', async () => {
    const modem = await booted();
    const lost: number[] = [];
    modem.pdp.onBearerLost(() => lost.push(modem.kernel.now));
    expect(await modem.host.command('AT+CGATT=0')).toBe('AT+CGATT=0\r\r\nOK\r\n');
    expect(lost).toHaveLength(1);
    expect(await modem.host.command('AT+CGACT?;+CGATT?')).toBe('AT+CGACT?;+CGATT?\r\r\n+CGACT: 1,0\r\n\r\n+CGATT: 0\r\n\r\nOK\r\n');
    modem.network.deregister();
    modem.network.register();
    await modem.host.advance(sec(10));
    expect(modem.network.registered).toBe(true);
    expect(modem.pdp.attached).toBe(false);
    expect(modem.host.take()).toBe('');
  });

  it('CGATT=1 with no network waits, then answers +CME ERROR: 30 within the manual 108 s', async () => {
    const modem = await booted();
    modem.network.deregister();
    await modem.host.advance(ms(100));
    modem.host.take();
    const r = await timed(modem, 'AT+CGATT=1', sec(200));
    expect(r.text).toBe('AT+CGATT=1\r\r\n+CME ERROR: 30\r\n');
    expect(r.dt).toBeGreaterThanOrEqual(modem.profile.network.procedureTimeout);
    expect(r.dt).toBeLessThan(sec(108));
  });

  it('CGATT=1 with no network answers OK once the network comes back', async () => {
    const modem = await booted();
    const p = modem.profile;
    modem.network.deregister();
    await modem.host.advance(ms(100));
    modem.host.take();
    modem.host.write('AT+CGATT=1\r');
    await modem.host.expect('AT+CGATT=1\r');
    await modem.host.advance(sec(20));
    expect(modem.host.take()).toBe('');
    const t0 = modem.kernel.now;
    modem.network.register();
    const ok = await modem.host.expect(FINAL_RESULT);
    expect(ok.text).toBe('\r\nOK\r\n');
    within(ok.at - t0, p.network.register, p.network.defaultPdp);
    expect(modem.pdp.dataReady).toBe(false); // PDP DEACT from the loss, until AT+CIPSHUT
    expect(await modem.host.command('AT+CIPSHUT')).toBe('AT+CIPSHUT\r\r\nSHUT OK\r\n');
    expect(modem.pdp.dataReady).toBe(true);
  });
});

describe('context commands', () => {
  it('CGDCONT read/test/set/undefine, CGACT test and deactivation, CGPADDR forms', async () => {
    const modem = await booted();
    expect(await modem.host.command('AT+CGDCONT=?')).toBe(
      'AT+CGDCONT=?\r\r\n' +
        '+CGDCONT: (1-15),"IP",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)\r\n\r\n' +
        '+CGDCONT: (1-15),"IPV6",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0)\r\n\r\n' +
        '+CGDCONT: (1-15),"IPV4V6",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)\r\n\r\n' +
        '+CGDCONT: (1-15),"Non-IP",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0),(0,1)\r\n\r\nOK\r\n',
    );
    expect(await modem.host.command('AT+CGDCONT=3,ipv4v6,"net3"')).toBe('AT+CGDCONT=3,ipv4v6,"net3"\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGDCONT?')).toBe(
      'AT+CGDCONT?\r\r\n+CGDCONT: 1,"IP","cmiot","10.126.200.230",0,0\r\n\r\n+CGDCONT: 3,"IPV4V6","net3","0.0.0.0",0,0\r\n\r\nOK\r\n',
    );
    expect(await modem.host.command('AT+CGACT=1')).toBe('AT+CGACT=1\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGPADDR=3')).toBe(
      'AT+CGPADDR=3\r\r\n+CGPADDR: 3,"10.126.200.232","36.14.4.108.140.129.135.84.0.1.0.1.82.198.143.154"\r\n\r\nOK\r\n',
    );
    expect(await modem.host.command('AT+CGPADDR=?')).toBe('AT+CGPADDR=?\r\r\n+CGPADDR: (1,3)\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGPADDR=4')).toBe('AT+CGPADDR=4\r\r\n+CME ERROR: 767\r\n');
    expect(await modem.host.command('AT+CGACT=1,4')).toBe('AT+CGACT=1,4\r\r\n+CME ERROR: 767\r\n');
    expect(await modem.host.command('AT+CGDCONT=3')).toBe('AT+CGDCONT=3\r\r\n+CME ERROR: 767\r\n');
    expect(await modem.host.command('AT+CGACT=0,3')).toBe('AT+CGACT=0,3\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGDCONT=3')).toBe('AT+CGDCONT=3\r\r\nOK\r\n');
    expect(await modem.host.command('AT+CGACT?;+CGACT=?')).toBe('AT+CGACT?;+CGACT=?\r\r\n+CGACT: 1,1\r\n\r\n+CGACT: (0,1)\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CGATT=?')).toBe('AT+CGATT=?\r\r\n+CGATT: (0-1)\r\n\r\nOK\r\n');
    expect(await modem.host.command('AT+CIPSHUT=?')).toBe('AT+CIPSHUT=?\r\r\nOK\r\n');
    expect(modem.pdp.dataReady).toBe(true);
    expect(await modem.host.command('AT+CGACT=0')).toBe('AT+CGACT=0\r\r\nOK\r\n');
    expect(modem.pdp.dataReady).toBe(false);
  });

  it('snapshot reports registration, attach, contexts, cfun and signal', async () => {
    const modem = await booted();
    const s = modem.snapshot();
    expect(s).toMatchObject({
      cfun: 1,
      sim: 'ready',
      registration: { stat: 1, registered: true },
      attached: true,
      contexts: [{ cid: 1, type: 'IP', apn: 'cmiot', active: true, ipv4: '10.126.200.230' }],
      tcpipState: 'IP INITIAL',
      dataReady: true,
      signal: { rssi: 24, ber: 99 },
    });
    s.contexts[0]!.active = false;
    expect(modem.pdp.context(1)?.active).toBe(true);
  });
});

describe('profiles', () => {
  it('long commands stay within the manual maximum response times (CGATT/CGACT 108 s, CFUN 45 s, CIPSHUT 90 s)', () => {
    for (const p of Object.values(profiles)) {
      const worst = (key: LatencyKey) => latencyOf(p, 'simple').base + latencyOf(p, 'simple').jitter + latencyOf(p, key).base + latencyOf(p, key).jitter;
      const reg = p.network.register.base + p.network.register.jitter + p.network.defaultPdp.base + p.network.defaultPdp.jitter;
      expect(worst('cgatt') + p.network.procedureTimeout).toBeLessThan(sec(108));
      expect(worst('cgact') + p.network.procedureTimeout).toBeLessThan(sec(108));
      expect(reg).toBeLessThan(p.network.procedureTimeout);
      expect(worst('cfun.off')).toBeLessThan(sec(45));
      expect(worst('cfun.on')).toBeLessThan(sec(45));
      expect(worst('cipshut')).toBeLessThan(sec(90));
    }
  });
});
