/**
 * The fault API (`modem.faults`) as in-process users call it: between host exchanges, from
 * inside a kernel event, on the wall clock; broker faults against the embedded broker; the one
 * fault parser; and the control endpoint that applies the same faults over JSON lines.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../sim/broker/index.js';
import { startControl, type ControlServer } from '../sim/control.js';
import { FaultError, FaultSpecError, parseFault } from '../sim/faults/index.js';
import { ms, sec, type Ns } from '../sim/kernel.js';
import { silentLogger } from '../sim/log.js';
import type { Modem, ModemOptions } from '../sim/modem.js';
import { mqttOptionsFromBroker } from '../sim/mqtt/options.js';
import type { TraceRecord } from '../sim/trace.js';
import { byteTimeNs } from '../sim/uart.js';
import { cleanupsAfterEach, dataReadyModem, heapMb, WallWaits } from './helpers.js';
import { connectSession, exact, nextUrc, sharedBroker } from './mqtt-helpers.js';

const shared = sharedBroker('faults-test-');
const cleanups = cleanupsAfterEach();

const PDP_DEACT = '\r\n+PDP DEACT\r\n';
/** The URC's bytes at 115200 8N1: the only model time between the fault and its last byte. */
const PDP_DEACT_ON_WIRE: Ns = PDP_DEACT.length * byteTimeNs(115200);

async function modem(opts: ModemOptions = {}): Promise<Modem> {
  const m = await dataReadyModem({ traceMemory: true, ...opts });
  cleanups.push(() => m.close());
  return m;
}

/** A modem whose MQTT links and broker faults go to `broker`. */
function brokerModem(broker: EmbeddedBroker = shared.broker): Promise<Modem> {
  return modem({ mqtt: mqttOptionsFromBroker(broker), broker });
}

const faultRecords = (m: Modem): TraceRecord[] => m.trace.records.filter((r) => r.ev === 'fault');

describe('network-side faults called in-process', () => {
  it('pdpDeact between host exchanges: +PDP DEACT at the call instant, then CIPSTATUS reads PDP DEACT', async () => {
    const m = await modem();
    await exact(m, 'AT', '\r\nOK\r\n');
    const t0 = m.kernel.now;
    expect(await m.faults.pdpDeact()).toBe('pdpDeact');
    expect(faultRecords(m)).toEqual([{ t: t0, ev: 'fault', what: 'pdpDeact', detail: {} }]);
    const urc = await m.host.expect(PDP_DEACT, PDP_DEACT_ON_WIRE);
    expect(urc.text).toBe(PDP_DEACT);
    expect(urc.at - t0).toBe(PDP_DEACT_ON_WIRE);
    await exact(m, 'AT+CIPSTATUS', '\r\nOK\r\n');
    await nextUrc(m, 'STATE: PDP DEACT');
  });

  it('pdpDeact from inside a kernel event applies at that event\'s instant and resolves', async () => {
    const m = await modem();
    let applied: Promise<string> | undefined;
    let at: Ns | undefined;
    m.kernel.after(
      ms(10),
      () => {
        at = m.kernel.now;
        applied = m.faults.pdpDeact(1);
      },
      'test-calls-a-fault',
    );
    const urc = await m.host.expect(PDP_DEACT, ms(20));
    expect(urc.text).toBe(PDP_DEACT);
    expect(await applied).toBe('pdpDeact (cid: 1)');
    expect(urc.at - at!).toBe(PDP_DEACT_ON_WIRE);
    expect(faultRecords(m)).toEqual([{ t: at, ev: 'fault', what: 'pdpDeact', detail: { cid: 1 } }]);
  });

  it('a fault that cannot apply rejects with FaultError saying what was expected, and prints nothing', async () => {
    const m = await modem();
    const missing = m.faults.pdpDeact(5);
    await expect(missing).rejects.toBeInstanceOf(FaultError);
    await expect(missing).rejects.toThrow('expected an active PDP context 5, got none');
    await m.faults.detach();
    await expect(m.faults.detach()).rejects.toThrow('expected the module attached, got detached');
    await m.host.advance(sec(1));
    expect(m.host.take()).toBe(PDP_DEACT);
  });

  it('signal sets what AT+CSQ reads; deregister and register move +CGREG', async () => {
    const m = await modem();
    expect(await m.faults.signal({ rssi: 7 })).toBe('signal (rssi: 7)');
    await exact(m, 'AT+CSQ', '\r\n+CSQ: 7,99\r\n\r\nOK\r\n');
    await exact(m, 'AT+CGREG=1', '\r\nOK\r\n');
    expect(await m.faults.deregister({ stat: 2 })).toBe('deregister (stat: 2)');
    await nextUrc(m, '+CGREG: 2');
    await nextUrc(m, '+PDP DEACT');
    expect(await m.faults.register()).toBe('register');
    await nextUrc(m, '+CGREG: 1', sec(30));
  });

  it('on the wall clock, pdpDeact applies at the next tick and the host sees +PDP DEACT', async () => {
    const quick = { base: ms(50), jitter: 0 };
    const m = await modem({
      clock: 'realtime',
      profileOverrides: { boot: { urcs: [{ text: 'RDY', at: ms(50) }] }, network: { simReady: quick, register: quick, defaultPdp: quick } },
    });
    expect(await m.faults.pdpDeact()).toBe('pdpDeact');
    const [rec] = faultRecords(m);
    expect(rec).toMatchObject({ ev: 'fault', what: 'pdpDeact' });
    const urc = await m.host.expect(PDP_DEACT, sec(2));
    expect(urc.text).toBe(PDP_DEACT);
    expect(urc.at - rec!.t).toBeGreaterThanOrEqual(PDP_DEACT_ON_WIRE);
  });

  it('a closed modem rejects a fault instead of hanging', async () => {
    const m = await modem();
    await m.close();
    await expect(m.faults.pdpDeact()).rejects.toThrow('expected a running modem, got it closed');
  });
});

describe('broker faults called in-process', () => {
  it('tcpDrop after MCONNECT: the broker cuts the session id, CLOSED, and the drop entered the model at the call instant', async () => {
    const m = await brokerModem();
    await exact(m, 'AT+MCONFIG=faults-drop,"",""', '\r\nOK\r\n');
    await connectSession(m, '127.0.0.1', String(shared.broker.port));
    const t0 = m.kernel.now;
    expect(await m.faults.tcpDrop()).toBe('tcpDrop: broker drops client faults-drop');
    expect(faultRecords(m)).toEqual([{ t: t0, ev: 'fault', what: 'tcpDrop', detail: { clientId: 'faults-drop' } }]);
    await nextUrc(m, 'CLOSED');
    // model time stood still until the modem's socket saw the drop: it entered at the fault's instant
    expect(m.trace.records.find((r) => r.ev === 'net' && r.what === 'mqtt-closed-by-peer')?.t).toBe(t0);
    await exact(m, 'AT+MQTTSTATU', '\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  });

  it('a refused AT+MCONFIG does not change the id tcpDrop targets', async () => {
    const m = await brokerModem();
    await exact(m, 'AT+MCONFIG=kept-id,"",""', '\r\nOK\r\n');
    // two parameters: refused, so the settings (and the id the broker will know) stay
    await exact(m, 'AT+MCONFIG=other-id,1', '\r\n+CME ERROR: 765\r\n');
    await connectSession(m, '127.0.0.1', String(shared.broker.port));
    expect(await m.faults.tcpDrop()).toBe('tcpDrop: broker drops client kept-id');
    await nextUrc(m, 'CLOSED');
  });

  it('an MCONFIG accepted during a session does not change the id tcpDrop targets until the next MCONNECT', async () => {
    const m = await brokerModem();
    await exact(m, 'AT+MCONFIG=session-id,"",""', '\r\nOK\r\n');
    await connectSession(m, '127.0.0.1', String(shared.broker.port));
    await exact(m, 'AT+MCONFIG=next-id,"",""', '\r\nOK\r\n');
    expect(await m.faults.tcpDrop()).toBe('tcpDrop: broker drops client session-id');
    await nextUrc(m, 'CLOSED');
  });

  it('tcpDrop of an id nobody uses rejects with FaultError naming it', async () => {
    const m = await brokerModem();
    await expect(m.faults.tcpDrop('nobody-here')).rejects.toThrow(new FaultError('expected a client "nobody-here" connected to the broker, got none'));
  });

  it('broker faults without a broker reject with FaultError naming the external broker; useBroker gives it one', async () => {
    const m = await modem({ mqtt: mqttOptionsFromBroker(shared.broker) });
    await expect(m.faults.tcpDrop()).rejects.toThrow(new FaultError('expected the embedded broker for tcpDrop, got an external one'));
    await expect(m.faults.brokerDown()).rejects.toThrow(new FaultError('expected the embedded broker for brokerDown, got an external one'));
    await exact(m, 'AT+MCONFIG=late-broker,"",""', '\r\nOK\r\n');
    await connectSession(m, '127.0.0.1', String(shared.broker.port));
    m.faults.useBroker(shared.broker);
    expect(await m.faults.tcpDrop()).toBe('tcpDrop: broker drops client late-broker');
    await nextUrc(m, 'CLOSED');
  });

  it('brokerDown cuts the session (CLOSED) and refuses reconnects; brokerUp lets MIPSTART in again; each checks the other came first', async () => {
    const own = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: shared.dataDir });
    cleanups.push(() => own.close());
    const m = await brokerModem(own);
    await expect(m.faults.brokerUp()).rejects.toThrow(new FaultError('expected the broker down before brokerUp, got it up'));
    await connectSession(m, '127.0.0.1', String(own.port));
    expect(await m.faults.brokerDown()).toBe('brokerDown');
    await nextUrc(m, 'CLOSED');
    await expect(m.faults.brokerDown()).rejects.toThrow(new FaultError('expected the broker up before brokerDown, got it down already'));
    await exact(m, 'AT+MIPSTART="127.0.0.1","1883"', '\r\nOK\r\n');
    await nextUrc(m, 'STATE: TCP CLOSED');
    await nextUrc(m, 'CONNECT FAIL');
    expect(await m.faults.brokerUp()).toBe('brokerUp');
    await exact(m, 'AT+MIPSTART="127.0.0.1","1883"', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    expect(faultRecords(m).map((r) => r.ev === 'fault' && r.what)).toEqual(['brokerDown', 'brokerUp']);
  });

  it('restoreBroker brings back a broker a brokerDown left paused', async () => {
    const own = await startEmbeddedBroker({ port: 0, tlsPort: 0, dataDir: shared.dataDir });
    cleanups.push(() => own.close());
    const m = await brokerModem(own);
    await m.faults.brokerDown();
    await m.faults.restoreBroker();
    await exact(m, 'AT+MIPSTART="127.0.0.1","1883"', '\r\nOK\r\n');
    await nextUrc(m, 'CONNECT OK');
    // nothing left to bring back: brokerUp finds the broker up
    await expect(m.faults.brokerUp()).rejects.toThrow('expected the broker down before brokerUp, got it up');
  });
});

describe('parseFault', () => {
  it('parses a name or a one-key mapping into the fault', () => {
    expect(parseFault('reboot', 'here')).toEqual({ kind: 'reboot' });
    expect(parseFault({ detach: null }, 'here')).toEqual({ kind: 'detach' });
    expect(parseFault({ pdpDeact: { cid: 5 } }, 'here')).toEqual({ kind: 'pdpDeact', cid: 5 });
    expect(parseFault({ signal: { rssi: 5, dbm: -90 } }, 'here')).toEqual({ kind: 'signal', rssi: 5, dbm: -90 });
    // YAML reads bare digits as a number: a cell id still means the digits
    expect(parseFault({ register: { lac: 1234, roaming: true } }, 'here')).toEqual({ kind: 'register', lac: '1234', roaming: true });
    expect(parseFault({ deregister: { stat: 3 } }, 'here')).toEqual({ kind: 'deregister', stat: 3 });
    expect(parseFault({ tcpDrop: { clientId: 'dev-1' } }, 'here')).toEqual({ kind: 'tcpDrop', clientId: 'dev-1' });
  });

  it('errors start with the place, name the field and list what it allows', () => {
    const errorOf = (v: unknown): string => {
      try {
        parseFault(v, 'here');
      } catch (err) {
        expect(err).toBeInstanceOf(FaultSpecError);
        return err instanceof Error ? err.message : String(err);
      }
      throw new Error('parsed');
    };
    const all = 'pdpDeact, detach, tcpDrop, brokerDown, brokerUp, deregister, register, signal, reboot, freeze, noise, slow, powerLoss, uartFragment, brokerSlow';
    expect(errorOf('meteor')).toBe(`here: fault "meteor" is not one of ${all}`);
    expect(errorOf({ toString: null })).toBe(`here: fault "toString" is not one of ${all}`);
    expect(errorOf(42)).toBe(`here: fault wants one of ${all} (a name, or {name: {args}})`);
    expect(errorOf({ detach: {}, reboot: {} })).toBe(`here: fault wants one of ${all} (a name, or {name: {args}})`);
    expect(errorOf({ reboot: 5 })).toBe('here: fault reboot: arguments must be a mapping');
    expect(errorOf({ pdpDeact: { cid: 99 } })).toBe('here: fault pdpDeact: cid must be an integer in 1..15');
    expect(errorOf({ pdpDeact: { cidd: 1 } })).toBe('here: fault pdpDeact: unknown key "cidd" (expected "cid")');
    expect(errorOf({ detach: { now: true } })).toBe('here: fault detach: unknown key "now" (expected none)');
    expect(errorOf({ deregister: { stat: 1 } })).toBe('here: fault deregister: stat 1 is "registered"; use 0, 2, 3 or 4');
    expect(errorOf({ register: { roaming: 'yes' } })).toBe('here: fault register: roaming must be true or false');
    expect(errorOf({ signal: {} })).toBe('here: fault signal: give rssi, ber or dbm');
    expect(errorOf({ signal: { dbm: 5 } })).toBe('here: fault signal: dbm must be an integer in -200..0');
    expect(errorOf({ tcpDrop: { clientId: ['a'] } })).toBe('here: fault tcpDrop: clientId must be a string');
  });
});

/** One control connection: requests out, reply lines in. */
class ControlClient {
  private replies: string[] = [];
  private partial = '';
  private readonly waits = new WallWaits();

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      const lines = (this.partial + d).split('\n');
      this.partial = lines.pop()!;
      this.replies.push(...lines);
      this.waits.notify();
    });
  }

  static async connect(server: ControlServer): Promise<ControlClient> {
    const [host, port] = server.address.split(':');
    const socket = netConnect({ host: host!, port: Number(port) });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new ControlClient(socket);
  }

  async ask(request: string): Promise<unknown> {
    this.socket.write(request + '\n');
    const line = await this.waits.until(() => this.replies.shift(), 5000, () => `no control reply to ${request}`);
    const reply: unknown = JSON.parse(line);
    return reply;
  }
}

async function control(m: Modem): Promise<ControlServer> {
  const server = await startControl(m, undefined, '127.0.0.1', 0, silentLogger());
  cleanups.push(() => server.close());
  return server;
}

describe('the control endpoint', () => {
  it('applies a fault through modem.faults: the host sees +PDP DEACT; a bad fault names the control place', async () => {
    const m = await modem();
    const c = await ControlClient.connect(await control(m));
    cleanups.push(() => void c.socket.destroy());
    expect(await c.ask('{"fault":{"pdpDeact":{"cid":1}}}')).toEqual({ ok: true, applied: 'pdpDeact (cid: 1)' });
    expect((await m.host.expect(PDP_DEACT, PDP_DEACT_ON_WIRE)).text).toBe(PDP_DEACT);
    expect(await c.ask('{"fault":"pdpDeact"}')).toEqual({ ok: false, error: 'expected an active PDP context, got none' });
    expect(await c.ask('{"fault":{"signal":{}}}')).toEqual({ ok: false, error: 'control: fault signal: give rssi, ber or dbm' });
    expect(await c.ask('{"fault":"tcpDrop"}')).toEqual({ ok: false, error: 'expected the embedded broker for tcpDrop, got an external one' });
  });

  it('arms a fault with "on": the reply names it at once, the trigger fires it later; a bad trigger names the control place', async () => {
    const m = await modem();
    const c = await ControlClient.connect(await control(m));
    cleanups.push(() => void c.socket.destroy());
    expect(await c.ask('{"fault":"powerLoss","on":{"command":"+CSQ","nth":2}}')).toEqual({ ok: true, armed: 'powerLoss, on AT+CSQ #2' });
    expect(await c.ask('{"fault":{"signal":{"rssi":3}},"on":{"urc":"+PDP DEACT"}}')).toEqual({ ok: true, armed: 'signal (rssi: 3), on URC "+PDP DEACT" #1' });
    expect(m.faults.armedCount).toBe(2);
    expect(await c.ask('{"fault":"pdpDeact"}')).toEqual({ ok: true, applied: 'pdpDeact' });
    expect((await m.host.expect(PDP_DEACT, PDP_DEACT_ON_WIRE)).text).toBe(PDP_DEACT);
    expect(await m.host.command('AT+CSQ')).toBe('AT+CSQ\r\r\n+CSQ: 3,99\r\n\r\nOK\r\n');
    m.host.write('AT+CSQ\r');
    expect((await m.host.expect('\r\nRDY\r\n', sec(5))).text).toBe('AT+CSQ\r\nRDY\r\n');
    expect(m.faults.armedCount).toBe(0);
    expect(await c.ask('{"fault":"reboot","on":{"urc":""}}')).toEqual({
      ok: false,
      error: 'control: on: urc must be the start of a URC line, such as "CONNACK OK" or "+MSUB:" (not empty, no CR or LF)',
    });
    expect(await c.ask('{"fault":"reboot","on":"RDY"}')).toMatchObject({ ok: false, error: expect.stringMatching(/^control: on: on wants \{command/) });
    expect(await c.ask('{"on":{"urc":"RDY"}}')).toEqual({ ok: false, error: 'on: goes with "fault" (the fault it arms)' });
  });

  it('a fault armed through the endpoint and not fired is disarmed when the endpoint closes', async () => {
    const m = await modem();
    const server = await control(m);
    const c = await ControlClient.connect(server);
    cleanups.push(() => void c.socket.destroy());
    expect(await c.ask('{"fault":"reboot","on":{"urc":"+PDP DEACT"}}')).toEqual({ ok: true, armed: 'reboot, on URC "+PDP DEACT" #1' });
    await server.close();
    expect(m.faults.armedCount).toBe(0);
    await m.faults.pdpDeact();
    await m.host.advance(sec(5));
    expect(m.host.take()).toBe(PDP_DEACT);
  });

  it('keeps at most 256 faults armed through the endpoint: the 257th is refused with the limit named, and one firing makes room', async () => {
    const m = await modem();
    const c = await ControlClient.connect(await control(m));
    cleanups.push(() => void c.socket.destroy());
    for (let i = 0; i < 255; i++) expect(await c.ask('{"fault":"reboot","on":{"urc":"+NEVER"}}')).toMatchObject({ ok: true });
    expect(await c.ask('{"fault":{"signal":{"rssi":4}},"on":{"command":"+CSQ"}}')).toMatchObject({ ok: true });
    expect(await c.ask('{"fault":"reboot","on":{"urc":"+NEVER"}}')).toEqual({ ok: false, error: 'on: 256 faults are armed and not fired; let some fire first' });
    expect(m.faults.armedCount).toBe(256);
    await m.host.command('AT+CSQ');
    expect(m.faults.armedCount).toBe(255);
    expect(await c.ask('{"fault":"reboot","on":{"urc":"+NEVER"}}')).toMatchObject({ ok: true });
  });

  it('injects an SMS on the far side: the host gets +CMTI and reads it; what the module sends is listed by smsSent', async () => {
    const m = await modem();
    const c = await ControlClient.connect(await control(m));
    cleanups.push(() => void c.socket.destroy());
    expect(await c.ask('{"sms":{"from":"+8613912345678","text":"ping"}}')).toEqual({ ok: true, sms: { id: 1, parts: 1 } });
    expect((await m.host.expect(/\+CMTI: "SM",\d+\r\n/, sec(10))).match).toBe('+CMTI: "SM",1\r\n');
    await m.host.command('AT+CMGF=1');
    expect(await m.host.command('AT+CMGR=1')).toMatch(/\+CMGR: "REC UNREAD","\+8613912345678",[^\r]*\r\nping\r\n\r\nOK\r\n$/);
    m.host.write('AT+CMGS="+8613800000000"\r');
    await m.host.expect('\r\n> ');
    m.host.write('pong\x1a');
    await m.host.expect(/\+CMGS: \d+\r\n\r\nOK\r\n/, sec(10));
    expect(await c.ask('{"smsSent":true}')).toEqual({ ok: true, sent: [{ to: '+8613800000000', text: 'pong', parts: 1 }] });
    expect(await c.ask('{"sms":{"from":"+86139","text":"x","colour":"red"}}')).toEqual({
      ok: false,
      error: 'sms: unknown field colour: expected {from, text, time?} or {pdu}',
    });
  });

  it('a client that writes 100,000 requests and never reads: heap growth stays under 20 MB, other clients are answered', async () => {
    const m = await modem();
    const server = await control(m);
    const before = heapMb();
    const flood = await ControlClient.connect(server);
    cleanups.push(() => void flood.socket.destroy());
    // never reads: its replies pile up on the server's side of the socket
    flood.socket.pause();
    flood.socket.write('{"state":true}\n'.repeat(100_000));
    const other = await ControlClient.connect(server);
    cleanups.push(() => void other.socket.destroy());
    // unbounded, the server would read all 1.5 MB and queue ~57 MB of replies in well under this
    const wall = Date.now();
    let peak = 0;
    while (Date.now() - wall < 1500) {
      const r = await other.ask('{"state":true}');
      expect(r).toMatchObject({ ok: true, state: { mqtt: { status: 0 } } });
      peak = Math.max(peak, heapMb() - before);
      if (peak >= 20) break;
    }
    expect(peak).toBeLessThan(20);
  });
});
