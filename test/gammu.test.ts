/**
 * Real host software against `modemsim serve` on a socat pty, in real time: gammu (identify,
 * security status, network info, SMS folders, reading every SMS, sending one, the clock, the
 * battery, USSD) and gsmlib's gsmctl/gsmsmsstore/gsmsendsms (under an LD_PRELOAD shim, because
 * gsmlib's DTR ioctls fail on a pty). The inbound message gammu reads was delivered by the
 * simulated SMSC in-process and kept on the SIM in the data dir; what the tools send is seen in
 * serve's `sms sent` log records.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModem } from '../sim/modem.js';
import { sec } from '../sim/kernel.js';
import { smsGroup } from '../sim/services/sms.js';
import { tempDir, WallWaits } from './helpers.js';
import { requireTool, skipWithout } from './system-tools.js';

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);

const INBOUND = { from: '+8613912345678', text: 'Hello gammu, from the SMSC' };

interface Record {
  msg: string;
  [k: string]: unknown;
}

/** `modemsim serve` as a child: its JSON log records, waited for with a wall-time bound. */
class Serve {
  readonly child: ChildProcess;
  readonly records: Record[] = [];
  private partial = '';
  private readonly waits = new WallWaits();
  stderr = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'sim/cli.ts', 'serve', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (t: string) => {
      this.stderr += t;
      this.partial += t;
      const lines = this.partial.split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('{')) this.records.push(JSON.parse(l) as Record);
      this.waits.notify();
    });
  }

  record(probe: (r: Record) => boolean, what: string, timeoutMs = 20_000): Promise<Record> {
    return this.waits.until(() => this.records.find(probe), timeoutMs, () => `timeout waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('close', r));
    this.child.kill('SIGTERM');
    await gone;
  }
}

/** One request on the control endpoint, one JSON reply. */
function control(hostPort: string, req: unknown): Promise<{ ok: boolean; [k: string]: unknown }> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    const s = connect({ host: host!, port: Number(port) }, () => s.write(JSON.stringify(req) + '\n'));
    let buf = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      s.end();
      resolve(JSON.parse(buf.slice(0, i)) as { ok: boolean });
    });
    s.on('error', reject);
    s.setTimeout(5000, () => reject(new Error('control endpoint did not answer')));
  });
}

/** Put a message the SMSC delivered on the SIM of `dataDir`, with an in-process modem. */
async function seedSim(dataDir: string): Promise<void> {
  const m = createModem({ dataDir });
  try {
    await m.host.expect('SMS READY', sec(10));
    await m.host.advance(sec(8));
    m.service(smsGroup).center.deliver(INBOUND);
    await m.host.expect('+CMTI: "SM",1', sec(10));
  } finally {
    await m.close();
  }
}

const noSocat = skipWithout('socat');
const noGammu = skipWithout('gammu');
const noGsmlib = skipWithout('gsmctl', 'cc');

describe.skipIf(noSocat || (noGammu && noGsmlib))('host tools against modemsim serve on a pty', () => {
  const dir = tempDir('modemsim-gammu-');
  const tty = join(dir.path, 'ttyMODEM0');
  const gammurc = join(dir.path, 'gammurc');
  let serve: Serve;
  let controlAt = '';
  let shim = '';

  beforeAll(async () => {
    const dataDir = join(dir.path, 'data');
    await seedSim(dataDir);
    writeFileSync(gammurc, `[gammu]\ndevice = ${tty}\nconnection = at115200\n`);
    serve = new Serve(['--serial', `pty:${tty}`, '--data-dir', dataDir, '--broker-port', '0', '--broker-tls-port', '0', '--control', 'tcp:127.0.0.1:0']);
    const ready = await serve.record((r) => r.msg === 'ready', 'the ready record');
    controlAt = String(ready['control']);
    // registered, default context up: the control endpoint's state says so (realtime, ~5 s)
    const deadline = Date.now() + 20_000;
    for (;;) {
      const st = await control(controlAt, { state: true });
      if (JSON.stringify(st).includes('"registered":true')) break;
      if (Date.now() > deadline) throw new Error(`never registered: ${JSON.stringify(st)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!noGsmlib) {
      shim = join(dir.path, 'dtr-shim.so');
      await run(requireTool('cc'), ['-shared', '-fPIC', '-o', shim, join(ROOT, 'test/fixtures/dtr-shim.c'), '-ldl']);
    }
  }, 60_000);

  afterAll(async () => {
    await serve?.stop();
    dir.remove();
  });

  const gammu = async (...args: string[]): Promise<string> => {
    const r = await run(requireTool('gammu'), ['-c', gammurc, ...args], { timeout: 60_000 });
    return r.stdout;
  };
  const gsm = async (tool: 'gsmctl' | 'gsmsmsstore' | 'gsmsendsms', ...args: string[]): Promise<string> => {
    const r = await run(join(requireTool('gsmctl'), '..', tool), args, { timeout: 60_000, env: { ...process.env, LD_PRELOAD: shim } });
    return r.stdout;
  };

  describe.skipIf(noGammu)('gammu', () => {
    it('identify: manufacturer, model, firmware, IMEI and IMSI from the profile', async () => {
      const out = await gammu('identify');
      expect(out).toMatch(/Manufacturer\s+: AirM2M\n/);
      expect(out).toMatch(/Model\s+: .*Air724UG/);
      expect(out).toMatch(/Firmware\s+: AirM2M_720U_V3\.2\.1_LTE_AT\n/);
      expect(out).toMatch(/IMEI\s+: 864713058376410\n/);
      expect(out).toMatch(/SIM IMSI\s+: 460041234567890\n/);
    }, 60_000);

    it('getsecuritystatus: nothing to enter (+CPIN: READY)', async () => {
      expect(await gammu('getsecuritystatus')).toBe('Nothing to enter.\n');
    }, 60_000);

    it('networkinfo: home network 460 00, LAC 1863, CID 00a2c315, GPRS attached', async () => {
      const out = await gammu('networkinfo');
      expect(out).toMatch(/Network state\s+: home network\n/);
      expect(out).toContain('460 00 (China Mobile, China), LAC 1863, CID 00a2c315');
      expect(out).toMatch(/GPRS\s+: attached\n/);
    }, 60_000);

    it('getsmsfolders: the SIM\'s Inbox and Outbox only (CPMS lists "SM" alone)', async () => {
      const out = await gammu('getsmsfolders');
      expect(out.trim().split('\n')).toEqual([
        '1. "                         Inbox", SIM memory, Inbox folder',
        '2. "                        Outbox", SIM memory, Outbox folder',
      ]);
    }, 60_000);

    it('getallsms: reads the message the SMSC delivered, kept on the SIM in the data dir', async () => {
      const out = await gammu('getallsms');
      expect(out).toContain(INBOUND.text);
      expect(out).toMatch(/Remote number\s+: "\+8613912345678"/);
      expect(out).toMatch(/SMSC number\s+: "\+8613800210500"/);
      expect(out).toContain('1 SMS parts in 1 SMS sequences');
    }, 60_000);

    it('sendsms TEXT: "OK, message reference=<mr>", and the SMSC logs the decoded text', async () => {
      const text = 'hello from gammu';
      const out = await gammu('sendsms', 'TEXT', '10086', '-text', text);
      const mr = /OK, message reference=(\d+)/.exec(out)?.[1];
      expect(mr, out).toBeDefined();
      const rec = await serve.record((r) => r.msg === 'sms sent' && r['text'] === text, 'the sms sent record');
      expect(rec).toMatchObject({ to: '10086', mr: Number(mr), alphabet: 'gsm7' });
    }, 60_000);

    it('getdatetime: the network time (NITZ) from +CCLK', async () => {
      expect(await gammu('getdatetime')).toMatch(/^Phone time is \w{3} \w{3} \d\d? \d\d:\d\d:\d\d \d{4}\n/);
    }, 60_000);

    it('battery: 80 percent on battery from +CBC: 0,80', async () => {
      const out = await gammu('battery');
      expect(out).toMatch(/Battery level\s+: 80 percent/);
      expect(out).toMatch(/Charge state\s+: powered from battery/);
    }, 60_000);

    it('getussd: the +CUSD URC gammu waits for carries the profile reply', async () => {
      expect(await gammu('getussd', '*100#')).toContain('Service reply        : "Your balance is 10.00 CNY"');
    }, 60_000);

    it('getsmsc: the SIM\'s service centre from +CSCA', async () => {
      expect(await gammu('getsmsc')).toMatch(/Number\s+: "\+8613800210500"/);
    }, 60_000);

    it('an SMS injected through the control endpoint ({"sms":…}) is read back by gammu getallsms', async () => {
      const reply = await control(controlAt, { sms: { from: '10086', text: 'via the control endpoint' } });
      expect(reply.ok).toBe(true);
      // the served modem runs in real time: the network's delivery latency passes on the wall
      await new Promise((r) => setTimeout(r, 4000));
      expect(await gammu('getallsms')).toContain('via the control endpoint');
    }, 60_000);
  });

  describe.skipIf(noGsmlib)('gsmlib (gsm-utils)', () => {
    it('gsmctl ME, OP, SIG, PIN', async () => {
      expect(await gsm('gsmctl', '-d', tty, '-b', '115200', 'ME')).toBe(
        '<ME0>  Manufacturer: AirM2M\n<ME1>  Model: Air724UG\n<ME2>  Revision: AirM2M_720U_V3.2.1_LTE_AT\n<ME3>  Serial Number: 864713058376410\n',
      );
      expect(await gsm('gsmctl', '-d', tty, '-b', '115200', 'OP')).toMatch(/^<OP0>  Status: current  Long name: 'CHINA MOBILE'   Short name: 'CMCC'/);
      expect(await gsm('gsmctl', '-d', tty, '-b', '115200', 'SIG')).toBe('<SIG0>  24\n');
      expect(await gsm('gsmctl', '-d', tty, '-b', '115200', 'PIN')).toBe('<PIN0> READY\n');
      expect(await gsm('gsmctl', '-d', tty, '-b', '115200', 'BATT')).toBe('<BATT0>  0 ME is powered by the battery\n<BATT1>  80\n');
    }, 60_000);

    it('gsmsmsstore lists the SIM message (AT+CMGR=<n>\\0 with the NUL), gsmsendsms sends one', async () => {
      const list = await gsm('gsmsmsstore', '-s', tty, '-b', '115200', '-t', 'SM', '-l');
      expect(list).toContain(INBOUND.text);
      expect(list).toContain('8613912345678');
      await gsm('gsmsendsms', '-d', tty, '-b', '115200', '10086', 'hello from gsmlib');
      const rec = await serve.record((r) => r.msg === 'sms sent' && r['text'] === 'hello from gsmlib', 'the gsmsendsms record');
      expect(rec).toMatchObject({ to: '10086', alphabet: 'gsm7' });
    }, 60_000);
  });
});
