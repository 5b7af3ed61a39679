/**
 * Faults outside the engine's try/catch: an event that throws in a free-running modem, and TLS
 * settings or checks that throw inside the bridge's dial. None may end the process or leave
 * the host without an answer.
 */
import { describe, expect, it } from 'vitest';
import { ms, sec } from '../sim/kernel.js';
import { TcpLink } from '../sim/links/tcp.js';
import { createModem, type Modem } from '../sim/modem.js';
import type { SslContext, TlsSetup } from '../sim/bridge/tls-context.js';
import { cleanupsAfterEach, dataReadyModem } from './helpers.js';
import { exact, nextUrc, sharedBroker } from './mqtt-helpers.js';
import { TcpHost } from './serial-host.js';

const shared = sharedBroker('robust-faults-');
const cleanups = cleanupsAfterEach();

const quick = { base: ms(50), jitter: 0 };

describe('a model event that throws', () => {
  it('in real time is logged and traced; the modem keeps answering', async () => {
    const m = await dataReadyModem({
      clock: 'realtime',
      traceMemory: true,
      profileOverrides: { boot: { urcs: [{ text: 'RDY', at: ms(50) }] }, network: { simReady: quick, register: quick, defaultPdp: quick } },
    });
    cleanups.push(() => m.close());
    // a network-side event with a bad cell id (scenario or control API misuse) throws RangeError
    m.kernel.after(ms(20), () => m.network.changeCell({ lac: 'not-hex' }), 'bad-cell-change');
    await m.host.advance(ms(100));
    const threw = m.trace.records.filter((r) => r.ev === 'fault' && r.what === 'event-threw');
    expect(threw).toMatchObject([{ detail: { label: 'bad-cell-change', error: 'RangeError: not-hex is not 1..8 hex digits' } }]);
    await exact(m, 'AT+CSQ', '\r\n+CSQ: 24,99\r\n\r\nOK\r\n');
  });

  it('in virtual time reaches the test that drives the clock', async () => {
    const m = await dataReadyModem({});
    cleanups.push(() => m.close());
    m.kernel.after(ms(1), () => m.network.changeCell({ ci: 'zz' }), 'bad-cell-change');
    await expect(m.host.advance(ms(10))).rejects.toThrow(/zz is not 1..8 hex digits/);
  });
});

/** SSL context 88 replaced through the public options: what SSLMIPSTART dials with. */
function sslContext(tlsOptions: () => TlsSetup): SslContext {
  return { id: 88, tlsOptions };
}

async function tlsModem(ctx: SslContext): Promise<Modem> {
  const m = await dataReadyModem({ mqtt: { broker: { url: shared.broker.url, tlsUrl: shared.broker.tlsUrl }, sslContext: ctx }, traceMemory: true });
  cleanups.push(() => m.close());
  await exact(m, 'ATE0', '\r\nOK\r\n');
  return m;
}

/** SSLMIPSTART ends in STATE + CONNECT FAIL within model seconds, and the link is free again. */
async function connectFails(m: Modem): Promise<void> {
  expect(await m.host.command('AT+SSLMIPSTART="broker.example.com",8883')).toBe('\r\nOK\r\n');
  await nextUrc(m, 'STATE: TCP CLOSED', sec(5));
  await nextUrc(m, 'CONNECT FAIL', sec(5));
  expect(await m.host.command('AT+MQTTSTATU')).toBe('\r\n+MQTTSTATU :0\r\n\r\nOK\r\n');
  expect(m.kernel.holdsOpen).toBe(0);
}

describe('TLS settings that throw inside the dial', () => {
  it('options the TLS stack refuses outright (a key that is not PEM): CONNECT FAIL, not a frozen clock', async () => {
    const m = await tlsModem(sslContext(() => ({ ok: true, options: { key: 'junk', cert: 'junk' } })));
    await connectFails(m);
    await connectFails(m);
  });

  it('a context whose tlsOptions throws: CONNECT FAIL, not a link stuck in "opening"', async () => {
    const m = await tlsModem(
      sslContext(() => {
        throw new Error('context broken');
      }),
    );
    await connectFails(m);
    await connectFails(m);
  });

  it('a peer check that throws on secureConnect: CONNECT FAIL, not an uncaught exception', async () => {
    const m = await tlsModem(
      sslContext(() => ({
        ok: true,
        options: { rejectUnauthorized: false },
        verifyPeer: () => {
          throw new Error('checker broken');
        },
      })),
    );
    await connectFails(m);
    const failed = m.trace.records.find((r) => r.ev === 'net' && r.what === 'mqtt-dial-failed');
    expect(failed).toMatchObject({ detail: 'checker broken' });
  });
});

describe('a modem served on a serial link', () => {
  it('keeps nothing of what it sends in the in-process host port (nobody reads it in serve)', async () => {
    const m = createModem({ clock: 'virtual', autoHorizonNs: sec(10) });
    cleanups.push(() => m.close());
    const link = new TcpLink('127.0.0.1', 0);
    await m.attach(link);
    const host = new TcpHost(link.address);
    cleanups.push(() => host.close());
    await host.connected;
    m.clock.inject('test-start', () => undefined);
    await host.expect('SMS READY\r\n', 10_000);
    expect(await host.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    for (let i = 0; i < 200; i++) expect(await host.command('AT+CGMR')).toBe('\r\nAirM2M_720U_V3.2.1_LTE_AT\r\n\r\nOK\r\n');
    expect(m.host.pending).toBe('');
    expect(m.host.log).toHaveLength(0);
  });
});
