import { afterEach, describe, expect, it } from 'vitest';
import { Modem } from '../sim/modem.js';
import { sec } from '../sim/kernel.js';
import { bootedModem } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

async function modem(): Promise<Modem> {
  m = await bootedModem();
  await m.host.command('ATE0');
  return m;
}

const ok = '\r\nOK\r\n';
const e765 = '\r\n+CME ERROR: 765\r\n';
const query = (line: string): string => `\r\n${line}\r\n\r\nOK\r\n`;

describe('AT+SSLCFG', () => {
  it('runs the seed one-way and mutual settings and queries them back', async () => {
    const mm = await modem();
    expect(await mm.host.command('AT+SSLCFG="cacert",88,"ca.crt"')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="clientcert",88,"client.crt"')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="clientkey",88,"client.key"')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="seclevel",88,2')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="cacert",88')).toBe(query('+SSLCFG: "cacert",88,"ca.crt"'));
    expect(await mm.host.command('AT+SSLCFG="clientcert",88')).toBe(query('+SSLCFG: "clientcert",88,"client.crt"'));
    expect(await mm.host.command('AT+SSLCFG="clientkey",88')).toBe(query('+SSLCFG: "clientkey",88,"client.key"'));
    expect(await mm.host.command('AT+SSLCFG="seclevel",88')).toBe(query('+SSLCFG: "seclevel",88,2'));
    const s = mm.ssl.context(88).settings;
    expect([s.cacert, s.clientcert, s.clientkey, s.seclevel]).toEqual(['ca.crt', 'client.crt', 'client.key', 2]);
  });

  it('prints defaults for an untouched context: numbers bare, unset strings as ""', async () => {
    const mm = await modem();
    expect(await mm.host.command('AT+SSLCFG="seclevel",0')).toBe(query('+SSLCFG: "seclevel",0,0'));
    expect(await mm.host.command('AT+SSLCFG="sslversion",153')).toBe(query('+SSLCFG: "sslversion",153,4'));
    expect(await mm.host.command('AT+SSLCFG="ciphersuite",88')).toBe(query('+SSLCFG: "ciphersuite",88,0XFFFF'));
    expect(await mm.host.command('AT+SSLCFG="negotiatetimeout",88')).toBe(query('+SSLCFG: "negotiatetimeout",88,300'));
    expect(await mm.host.command('AT+SSLCFG="ignorelocaltime",34')).toBe(query('+SSLCFG: "ignorelocaltime",34,0'));
    expect(await mm.host.command('AT+SSLCFG="verifymode",5')).toBe(query('+SSLCFG: "verifymode",5,0'));
    expect(await mm.host.command('AT+SSLCFG="hostname",88')).toBe(query('+SSLCFG: "hostname",88,""'));
    expect(await mm.host.command('AT+SSLCFG="cacert",88')).toBe(query('+SSLCFG: "cacert",88,""'));
  });

  it('sets every tag, quoted or not, and keeps contexts apart', async () => {
    const mm = await modem();
    expect(await mm.host.command('AT+SSLCFG="sslversion",88,3')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG=ciphersuite,88,0x002f')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="hostname",88,"broker.example.com"')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="ignorelocaltime",88,"1"')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="negotiatetimeout",88,10')).toBe(ok);
    const rnd = '101B12C3141516171F19202122232425262728293031323334353637';
    expect(await mm.host.command(`AT+SSLCFG="clientrandom",88,${rnd}`)).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="verifymode",88,1')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="cacert",1,C:/certs/ca.pem')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="sslversion",88')).toBe(query('+SSLCFG: "sslversion",88,3'));
    expect(await mm.host.command('AT+SSLCFG="ciphersuite",88')).toBe(query('+SSLCFG: "ciphersuite",88,0X002F'));
    expect(await mm.host.command('AT+SSLCFG="hostname",88')).toBe(query('+SSLCFG: "hostname",88,"broker.example.com"'));
    expect(await mm.host.command('AT+SSLCFG="ignorelocaltime",88')).toBe(query('+SSLCFG: "ignorelocaltime",88,1'));
    expect(await mm.host.command('AT+SSLCFG="negotiatetimeout",88')).toBe(query('+SSLCFG: "negotiatetimeout",88,10'));
    expect(await mm.host.command('AT+SSLCFG="clientrandom",88')).toBe(query(`+SSLCFG: "clientrandom",88,"${rnd}"`));
    expect(await mm.host.command('AT+SSLCFG="verifymode",88')).toBe(query('+SSLCFG: "verifymode",88,1'));
    expect(await mm.host.command('AT+SSLCFG="cacert",1')).toBe(query('+SSLCFG: "cacert",1,"C:/certs/ca.pem"'));
    expect(await mm.host.command('AT+SSLCFG="cacert",88')).toBe(query('+SSLCFG: "cacert",88,""'));
  });

  it('erases a tag with a trailing comma (strings unset, numbers back to the default)', async () => {
    const mm = await modem();
    await mm.host.command('AT+SSLCFG="cacert",88,"ca.crt"');
    await mm.host.command('AT+SSLCFG="seclevel",88,1');
    expect(await mm.host.command('AT+SSLCFG="cacert",88,')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="seclevel",88,')).toBe(ok);
    expect(await mm.host.command('AT+SSLCFG="cacert",88')).toBe(query('+SSLCFG: "cacert",88,""'));
    expect(await mm.host.command('AT+SSLCFG="seclevel",88')).toBe(query('+SSLCFG: "seclevel",88,0'));
  });

  it('refuses unknown tags, context ids and values with 765; the test form answers OK', async () => {
    const mm = await modem();
    expect(await mm.host.command('AT+SSLCFG=?')).toBe(ok);
    for (const bad of [
      '"nosuchtag",88,1',
      '"seclevel",6,1',
      '"seclevel",89,1',
      '"seclevel",88,3',
      '"seclevel",88,x',
      '"sslversion",88,5',
      '"ciphersuite",88,0X1234',
      '"negotiatetimeout",88,9',
      '"negotiatetimeout",88,301',
      '"ignorelocaltime",88,2',
      '"clientrandom",88,12AB',
      '"cacert",88,"../etc/passwd"',
      '"cacert",88,"/etc/../passwd"',
      '"hostname",88,"bad host"',
      '"seclevel"',
      '',
    ]) {
      expect(await mm.host.command(`AT+SSLCFG=${bad}`), bad).toBe(e765);
    }
    expect(await mm.host.command('AT+SSLCFG')).toBe('\r\nERROR\r\n');
  });

  it('forgets everything on reboot (settings live in RAM)', async () => {
    const mm = await modem();
    await mm.host.command('AT+SSLCFG="seclevel",88,1');
    await mm.host.command('AT+SSLCFG="cacert",88,"ca.crt"');
    await mm.host.command('AT+RESET');
    await mm.host.expect('SMS READY', sec(30));
    await mm.host.command('ATE0');
    expect(await mm.host.command('AT+SSLCFG="seclevel",88')).toBe(query('+SSLCFG: "seclevel",88,0'));
    expect(await mm.host.command('AT+SSLCFG="cacert",88')).toBe(query('+SSLCFG: "cacert",88,""'));
  });
});
