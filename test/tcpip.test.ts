/**
 * The TCP/IP data plane (AT+CIPSTART, AT+CIPSEND, AT+CIPCLOSE; behaviour §33) through the
 * serial endpoint, in virtual time, against a real echo server on 127.0.0.1 that a route maps
 * the asked destination to.
 */
import { createServer, Server, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sec } from '../sim/kernel.js';
import type { Modem, ModemOptions } from '../sim/modem.js';
import { dataReadyModem, freePort, WallWaits } from './helpers.js';
import { exact, nextUrc } from './mqtt-helpers.js';

/** An echo server that remembers its connections and tells when one closes. */
class EchoServer {
  readonly server: Server;
  readonly sockets: Socket[] = [];
  closed = 0;
  readonly waits = new WallWaits();
  port = 0;

  constructor() {
    this.server = createServer((s) => {
      this.sockets.push(s);
      s.on('data', (d) => s.write(d));
      s.on('error', () => undefined);
      s.on('close', () => {
        this.closed++;
        this.waits.notify();
      });
      this.waits.notify();
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const echo = new EchoServer();
let m: Modem | undefined;

beforeAll(() => echo.listen());
afterAll(() => echo.close());
afterEach(async () => {
  await m?.close();
  m = undefined;
});

const ASKED = 'echo.example.com';

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  // an echo answers every request: model time waits for its reply (behaviour §33)
  m = await dataReadyModem({ mqtt: { routes: [{ from: `${ASKED}:7`, to: `127.0.0.1:${echo.port}`, answers: true }] }, ...opts });
  return m;
}

/** AT+CIPSTATUS: OK, then the STATE: line (behaviour §9). */
async function status(mm: Modem, state: string): Promise<void> {
  await exact(mm, 'AT+CIPSTATUS', '\r\nOK\r\n');
  await nextUrc(mm, `STATE: ${state}`);
}

async function connect(mm: Modem): Promise<void> {
  await exact(mm, `AT+CIPSTART="TCP","${ASKED}",7`, '\r\nOK\r\n');
  await nextUrc(mm, 'CONNECT OK');
}

describe('AT+CIPSTART', () => {
  it('connects through a route: OK, then CONNECT OK; a second CIPSTART answers OK then ALREADY CONNECT', async () => {
    const mm = await modem();
    const before = echo.sockets.length;
    await connect(mm);
    expect(echo.sockets.length).toBe(before + 1);
    await exact(mm, `AT+CIPSTART="TCP","${ASKED}",7`, '\r\nOK\r\n');
    await nextUrc(mm, 'ALREADY CONNECT');
  });

  it('CIPSTATUS shows IP INITIAL before, CONNECT OK while connected, TCP CLOSED after CIPCLOSE', async () => {
    const mm = await modem();
    await status(mm, 'IP INITIAL');
    await connect(mm);
    await status(mm, 'CONNECT OK');
    await exact(mm, 'AT+CIPCLOSE', '\r\nCLOSE OK\r\n');
    await status(mm, 'TCP CLOSED');
  });

  it('a refused port: OK, then STATE: TCP CLOSED and CONNECT FAIL', async () => {
    const closed = await freePort();
    const mm = await modem({ mqtt: { routes: [{ from: 'nobody.example.com', to: `127.0.0.1:${closed}` }] } });
    await exact(mm, 'AT+CIPSTART="TCP","nobody.example.com",80', '\r\nOK\r\n');
    const r = await mm.host.expect('CONNECT FAIL\r\n', sec(10));
    expect(r.text).toBe('\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n');
    await status(mm, 'TCP CLOSED');
  });

  it('an unrouted destination is refused: CONNECT FAIL, no socket opened', async () => {
    const mm = await modem();
    const before = echo.sockets.length;
    await exact(mm, `AT+CIPSTART="TCP","127.0.0.1",${echo.port}`, '\r\nOK\r\n');
    const r = await mm.host.expect('CONNECT FAIL\r\n', sec(10));
    expect(r.text).toBe('\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n');
    expect(echo.sockets.length).toBe(before);
  });

  it('without a data bearer answers +CME ERROR: 767, as MIPSTART does', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CGACT=0,1', '\r\nOK\r\n');
    await exact(mm, `AT+CIPSTART="TCP","${ASKED}",7`, '\r\n+CME ERROR: 767\r\n');
  });

  it('UDP is not modelled: +CME ERROR: 765', async () => {
    const mm = await modem();
    await exact(mm, `AT+CIPSTART="UDP","${ASKED}",7`, '\r\n+CME ERROR: 765\r\n');
  });
});

describe('AT+CIPSEND', () => {
  it('CIPSEND=5 + hello: "> " prompt, SEND OK, then the echo as the raw bytes hello', async () => {
    const mm = await modem();
    await connect(mm);
    mm.host.write('AT+CIPSEND=5\r');
    const p = await mm.host.expect('> ', sec(5));
    expect(p.text).toBe('AT+CIPSEND=5\r\r\n> ');
    mm.host.write('hello');
    const ok = await mm.host.expect('SEND OK\r\n', sec(5));
    expect(ok.text).toBe('\r\nSEND OK\r\n');
    const back = await mm.host.expect('hello', sec(5));
    expect(back.text).toBe('hello');
    await mm.host.advance(sec(1));
    expect(mm.host.take()).toBe('');
  });

  it('to a peer that answers, the echo enters at the same model instant on every run (the same seed: the same byte times)', async () => {
    const echoTimes = async (): Promise<number[]> => {
      const mm = await modem({ seed: 7, traceMemory: true });
      await connect(mm);
      mm.host.write('AT+CIPSEND=5\r');
      await mm.host.expect('> ', sec(5));
      mm.host.write('hello');
      await mm.host.expect('SEND OK\r\n', sec(5));
      const t0 = mm.kernel.now;
      await mm.host.expect('hello', sec(5));
      const times = mm.trace.records.filter((r) => r.ev === 'tx' && r.t > t0).map((r) => r.t);
      await mm.close();
      m = undefined;
      return times;
    };
    const a = await echoTimes();
    expect(a).toHaveLength(5);
    expect(await echoTimes()).toEqual(a);
  });

  it('CIPSEND without a length ends with Ctrl-Z; ESC cancels with OK and sends nothing', async () => {
    const mm = await modem();
    await connect(mm);
    mm.host.write('AT+CIPSEND\r');
    await mm.host.expect('> ', sec(5));
    mm.host.write('abc\x1a');
    const ok = await mm.host.expect('SEND OK\r\n', sec(5));
    expect(ok.text).toBe('\r\nSEND OK\r\n');
    expect((await mm.host.expect('abc', sec(5))).text).toBe('abc');
    mm.host.write('AT+CIPSEND\r');
    await mm.host.expect('> ', sec(5));
    mm.host.write('zzz\x1b');
    expect((await mm.host.expect('OK\r\n', sec(5))).text).toBe('\r\nOK\r\n');
    await mm.host.advance(sec(2));
    expect(mm.host.take()).toBe('');
  });

  it('with no connection answers +CME ERROR: 767', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CIPSEND=5', '\r\n+CME ERROR: 767\r\n');
  });
});

describe('closing', () => {
  it('CIPCLOSE answers CLOSE OK and the server sees the close; a second CIPCLOSE answers ERROR', async () => {
    const mm = await modem();
    const closedBefore = echo.closed;
    await connect(mm);
    await exact(mm, 'AT+CIPCLOSE', '\r\nCLOSE OK\r\n');
    await echo.waits.until(() => (echo.closed > closedBefore ? true : undefined), 5000, () => 'server never saw the close');
    await exact(mm, 'AT+CIPCLOSE', '\r\nERROR\r\n');
  });

  it('the server closing prints CLOSED and CIPSTATUS shows TCP CLOSED', async () => {
    const mm = await modem();
    const n = echo.sockets.length;
    await connect(mm);
    await echo.waits.until(() => echo.sockets[n], 5000, () => 'no server socket');
    echo.sockets[n]!.end();
    await nextUrc(mm, 'CLOSED');
    await status(mm, 'TCP CLOSED');
    await exact(mm, 'AT+CIPSEND=1', '\r\n+CME ERROR: 767\r\n');
  });

  it('CIPSHUT answers SHUT OK, the server sees the close, and the state is IP INITIAL', async () => {
    const mm = await modem();
    const closedBefore = echo.closed;
    await connect(mm);
    await exact(mm, 'AT+CIPSHUT', '\r\nSHUT OK\r\n');
    await echo.waits.until(() => (echo.closed > closedBefore ? true : undefined), 5000, () => 'server never saw the close');
    await status(mm, 'IP INITIAL');
    await mm.host.advance(sec(2));
    expect(mm.host.take()).toBe('');
  });

  it('+PDP DEACT drops the connection silently: the server sees the close, the state is PDP DEACT', async () => {
    const mm = await modem();
    const closedBefore = echo.closed;
    await connect(mm);
    mm.clock.inject('fault:test', () => mm.pdp.networkDeactivate());
    await nextUrc(mm, '+PDP DEACT');
    await echo.waits.until(() => (echo.closed > closedBefore ? true : undefined), 5000, () => 'server never saw the close');
    await status(mm, 'PDP DEACT');
    await mm.host.advance(sec(2));
    expect(mm.host.take()).toBe('');
  });
});

/** The address AT+CIFSR prints: the default context's (behaviour §33). */
function address(mm: Modem): string {
  const ip = mm.pdp.context(1)?.ipv4;
  expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  return ip!;
}

/** AT+CIFSR: `\r\n<ip>\r\n` and nothing after it, no OK (the SIMCom quirk). */
async function cifsr(mm: Modem): Promise<void> {
  const ip = address(mm);
  mm.host.write('AT+CIFSR\r');
  const r = await mm.host.expect(`\r\n${ip}\r\n`, sec(5));
  expect(r.text).toBe(`AT+CIFSR\r\r\n${ip}\r\n`);
  await mm.host.advance(sec(1));
  expect(mm.host.take()).toBe('');
}

describe('SIMCom bring-up (AT+CSTT, AT+CIICR, AT+CIFSR) and AT+CIPHEAD', () => {
  it('CSTT → IP START, CIICR → IP GPRSACT, CIFSR prints the context address with no OK → IP STATUS; CIPSTATUS after each; CIPSTART then connects', async () => {
    const mm = await modem();
    await status(mm, 'IP INITIAL');
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nOK\r\n');
    await status(mm, 'IP START');
    const t0 = mm.kernel.now;
    await exact(mm, 'AT+CIICR', '\r\nOK\r\n');
    expect(mm.kernel.now - t0).toBeGreaterThanOrEqual(mm.profile.latency['tcp.ciicr'].base);
    await status(mm, 'IP GPRSACT');
    await cifsr(mm);
    await status(mm, 'IP STATUS');
    await connect(mm);
    await status(mm, 'CONNECT OK');
  });

  it('CSTT? reads +CSTT: "<apn>","<user>","<pwd>"; CSTT=? lists "APN","USER","PWD"', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CSTT?', '\r\n+CSTT: "","",""\r\n\r\nOK\r\n');
    await exact(mm, 'AT+CSTT=?', '\r\n+CSTT: "APN","USER","PWD"\r\n\r\nOK\r\n');
    await exact(mm, 'AT+CSTT="cmiot","u","p"', '\r\nOK\r\n');
    await exact(mm, 'AT+CSTT?', '\r\n+CSTT: "cmiot","u","p"\r\n\r\nOK\r\n');
  });

  it('CIFSR before CIICR answers ERROR, in IP INITIAL and in IP START', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CIFSR', '\r\nERROR\r\n');
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nOK\r\n');
    await exact(mm, 'AT+CIFSR', '\r\nERROR\r\n');
    await status(mm, 'IP START');
  });

  it('CSTT outside IP INITIAL answers ERROR (IP START, CONNECT OK); CIICR outside IP START answers ERROR', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CIICR', '\r\nERROR\r\n');
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nOK\r\n');
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nERROR\r\n');
    await exact(mm, 'AT+CIICR', '\r\nOK\r\n');
    await exact(mm, 'AT+CIICR', '\r\nERROR\r\n');
    await exact(mm, 'AT+CIPSHUT', '\r\nSHUT OK\r\n');
    await connect(mm);
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nERROR\r\n');
    await status(mm, 'CONNECT OK');
  });

  it('CIICR without a data bearer answers ERROR and the state stays IP START', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CGACT=0,1', '\r\nOK\r\n');
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nOK\r\n');
    await exact(mm, 'AT+CIICR', '\r\nERROR\r\n');
    await status(mm, 'IP START');
  });

  it('losing the bearer drops the bring-up: after CGACT=0 the state is IP INITIAL again', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nOK\r\n');
    await exact(mm, 'AT+CIICR', '\r\nOK\r\n');
    await exact(mm, 'AT+CGACT=0,1', '\r\nOK\r\n');
    await status(mm, 'IP INITIAL');
  });

  it('CIPSHUT from IP STATUS resets to IP INITIAL, and CSTT is accepted again', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nOK\r\n');
    await exact(mm, 'AT+CIICR', '\r\nOK\r\n');
    await cifsr(mm);
    await status(mm, 'IP STATUS');
    await exact(mm, 'AT+CIPSHUT', '\r\nSHUT OK\r\n');
    await status(mm, 'IP INITIAL');
    await exact(mm, 'AT+CSTT="CMNET"', '\r\nOK\r\n');
    await status(mm, 'IP START');
  });

  it('CIPHEAD=1: the echo of hello arrives as +IPD,5:hello; CIPHEAD? reads +CIPHEAD: 1 (default 0)', async () => {
    const mm = await modem();
    await exact(mm, 'AT+CIPHEAD?', '\r\n+CIPHEAD: 0\r\n\r\nOK\r\n');
    await exact(mm, 'AT+CIPHEAD=1', '\r\nOK\r\n');
    await exact(mm, 'AT+CIPHEAD?', '\r\n+CIPHEAD: 1\r\n\r\nOK\r\n');
    await exact(mm, 'AT+CIPHEAD=?', '\r\n+CIPHEAD: (0,1)\r\n\r\nOK\r\n');
    await connect(mm);
    mm.host.write('AT+CIPSEND=5\r');
    await mm.host.expect('> ', sec(5));
    mm.host.write('hello');
    expect((await mm.host.expect('SEND OK\r\n', sec(5))).text).toBe('\r\nSEND OK\r\n');
    expect((await mm.host.expect('hello', sec(5))).text).toBe('+IPD,5:hello');
    await mm.host.advance(sec(1));
    expect(mm.host.take()).toBe('');
  });
});
