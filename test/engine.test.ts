import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createModem, Modem } from '../sim/modem.js';
import { linesGroup } from '../sim/services/lines.js';
import { bootedModem, tempDir } from './helpers.js';

let m: Modem | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

describe('AT engine through the serial endpoint', () => {
  it('answers AT with echo, and without after ATE0', async () => {
    m = await bootedModem();
    expect(await m.host.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(await m.host.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(await m.host.command('AT')).toBe('\r\nOK\r\n');
  });

  it('answers an unknown command with plain ERROR whatever CMEE says', async () => {
    m = await bootedModem();
    expect(await m.host.command('AT+NOSUCH')).toBe('AT+NOSUCH\r\r\nERROR\r\n');
    await m.host.command('AT+CMEE=2');
    expect(await m.host.command('AT+NOSUCH')).toBe('AT+NOSUCH\r\r\nERROR\r\n');
  });

  it('runs a ; chain in order with one final OK', async () => {
    m = await bootedModem();
    expect(await m.host.command('AT+CSQ;+CPIN?')).toBe('AT+CSQ;+CPIN?\r\r\n+CSQ: 24,99\r\n\r\n+CPIN: READY\r\n\r\nOK\r\n');
  });

  it('ends a chain at its first failure', async () => {
    m = await bootedModem();
    expect(await m.host.command('AT+CMEE=7;+CSQ')).toBe('AT+CMEE=7;+CSQ\r\r\n+CME ERROR: 765\r\n');
  });

  it('spells parameter errors per AT+CMEE 0/1/2', async () => {
    m = await bootedModem();
    await m.host.command('ATE0');
    expect(await m.host.command('AT+CMEE=9')).toBe('\r\n+CME ERROR: 765\r\n');
    await m.host.command('AT+CMEE=2');
    expect(await m.host.command('AT+CMEE=9')).toBe('\r\n+CME ERROR: Invalid input value\r\n');
    await m.host.command('AT+CMEE=0');
    expect(await m.host.command('AT+CMEE=9')).toBe('\r\nERROR\r\n');
    expect(await m.host.command('AT+CMEE?')).toBe('\r\n+CMEE: 0\r\n\r\nOK\r\n');
  });

  it('discards a 20 KB garbage line with ERROR and recovers', async () => {
    m = await bootedModem();
    await m.host.command('ATE0');
    expect(await m.host.command('AT' + 'g'.repeat(20_000))).toBe('\r\nERROR\r\n');
    expect(await m.host.command('AT')).toBe('\r\nOK\r\n');
  });

  it('supports ATV0 numeric and ATQ1 quiet result codes', async () => {
    m = await bootedModem();
    await m.host.command('ATE0');
    m.host.write('ATV0\r');
    await m.host.expect('0\r');
    m.host.write('AT+CSQ\r');
    expect((await m.host.expect('0\r')).text).toBe('+CSQ: 24,99\r\n0\r');
    m.host.write('AT+NOSUCH\r');
    expect((await m.host.expect('4\r')).text).toBe('4\r');
    m.host.write('ATV1Q1\r');
    m.host.write('AT+CSQ\r');
    expect((await m.host.expect('+CSQ: 24,99\r\n')).text).toBe('\r\n+CSQ: 24,99\r\n');
  });

  it('reads and sets S registers', async () => {
    m = await bootedModem();
    await m.host.command('ATE0');
    expect(await m.host.command('ATS3?')).toBe('\r\n013\r\n\r\nOK\r\n');
    expect(await m.host.command('ATS5?;S4?')).toBe('\r\n008\r\n\r\n010\r\n\r\nOK\r\n');
  });

  it('prints identity strings', async () => {
    m = await bootedModem();
    await m.host.command('ATE0');
    expect(await m.host.command('AT+CGMI;+CGMM')).toBe('\r\nAirM2M\r\n\r\nAir724UG\r\n\r\nOK\r\n');
    expect(await m.host.command('AT+CGSN')).toBe('\r\n864713058376410\r\n\r\nOK\r\n');
  });

  it('keeps &W settings across AT+RESET and a simulator restart; RAM settings are lost', async () => {
    const dir = tempDir();
    try {
      m = await bootedModem({ dataDir: dir.path });
      await m.host.command('ATE0');
      await m.host.command('AT+CMEE=2');
      await m.host.command('AT&W');
      await m.host.command('AT+CMEE=0');
      expect(await m.host.command('AT+RESET')).toBe('\r\nOK\r\n');
      await m.host.expect('SMS READY\r\n');
      expect(await m.host.command('AT+CMEE?')).toBe('\r\n+CMEE: 2\r\n\r\nOK\r\n');
      await m.close();
      m = await bootedModem({ dataDir: dir.path });
      expect(await m.host.command('AT+CMEE?')).toBe('\r\n+CMEE: 2\r\n\r\nOK\r\n');
    } finally {
      dir.remove();
    }
  });

  it('stores AT&D, AT&C and AT+IFC with AT&W: back after AT+RESET and a restart, AT&F gives the profile\'s, ATZ what was stored', async () => {
    const dir = tempDir();
    try {
      m = await bootedModem({ dataDir: dir.path });
      await m.host.command('ATE0');
      for (const c of ['AT+IFC=2,2', 'AT&D2', 'AT&C0', 'AT&W']) expect(await m.host.command(c)).toBe('\r\nOK\r\n');
      expect(await m.host.command('AT+IFC=0,0')).toBe('\r\nOK\r\n');
      expect(await m.host.command('AT+RESET')).toBe('\r\nOK\r\n');
      await m.host.expect('SMS READY\r\n');
      // echo off was stored too: no echo
      expect(await m.host.command('AT+IFC?')).toBe('\r\n+IFC: 2,2\r\n\r\nOK\r\n');
      expect(m.service(linesGroup).circuits).toEqual({ dtrDrop: 'hangup', dcd: 0, rtsHoldsOutput: true, ctsFollowsRx: true });
      expect(await m.host.command('AT&F')).toBe('\r\nOK\r\n');
      // factory: echo on again, flow control as the profile says
      expect(await m.host.command('AT+IFC?')).toBe('AT+IFC?\r\r\n+IFC: 0,0\r\n\r\nOK\r\n');
      expect(m.service(linesGroup).circuits).toEqual({ dtrDrop: 'ignore', dcd: 1, rtsHoldsOutput: false, ctsFollowsRx: false });
      expect(await m.host.command('ATZ')).toBe('ATZ\r\r\nOK\r\n');
      expect(await m.host.command('AT+IFC?')).toBe('\r\n+IFC: 2,2\r\n\r\nOK\r\n');
      await m.close();
      m = await bootedModem({ dataDir: dir.path });
      expect(await m.host.command('AT+IFC?')).toBe('\r\n+IFC: 2,2\r\n\r\nOK\r\n');
      expect(JSON.parse(readFileSync(join(dir.path, 'nvram.json'), 'utf8'))).toMatchObject({ circuits: { dtrDrop: 'hangup', dcd: 0, rtsHoldsOutput: true, ctsFollowsRx: true } });
    } finally {
      dir.remove();
    }
  });

  it('ignores a saved-settings file it did not write (a baud rate of "fast", CMEE 7) and keeps the valid fields', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'nvram.json'), JSON.stringify({ baud: 'fast', cmee: 7, echo: false }));
      m = await bootedModem({ dataDir: dir.path });
      expect(m.uart.baud).toBe(115200);
      expect(await m.host.command('AT+CMEE?')).toBe('\r\n+CMEE: 1\r\n\r\nOK\r\n');
    } finally {
      dir.remove();
    }
  });

  it('queues a line sent while a command runs and answers it in order', async () => {
    m = await bootedModem();
    await m.host.command('ATE0');
    m.host.write('AT+CSQ\rAT+CPIN?\r');
    expect((await m.host.expect('+CPIN: READY\r\n\r\nOK\r\n')).text).toBe(
      '\r\n+CSQ: 24,99\r\n\r\nOK\r\n\r\n+CPIN: READY\r\n\r\nOK\r\n',
    );
  });

  it('drops bytes before RDY, as a UART that is not up yet', async () => {
    m = createModem();
    m.host.write('AT\r');
    expect((await m.host.expect('SMS READY')).text).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS READY');
  });
});
