/**
 * The real socket behind MIPSTART/SSLMIPSTART: plain TCP or TLS to the dial target. This is
 * outside model time; the caller holds the kernel while it runs and brings the result in as a
 * kernel event.
 */
import { connect as netConnect, Socket } from 'node:net';
import { connect as tlsConnect, ConnectionOptions, TLSSocket } from 'node:tls';
import type { TlsSetup } from './tls-context.js';
import type { DialTarget } from './routes.js';

export type BridgeSocket = Socket | TLSSocket;

export type DialResult = { ok: true; socket: BridgeSocket } | { ok: false; reason: string };

export interface Dialing {
  /** Give up (hold guard expired, MIPCLOSE, power-off); reports `{ ok: false }` if still pending. */
  abort(reason: string): void;
}

/** Open the socket; `done` runs exactly once, outside model time. */
export function dial(target: DialTarget, tls: Extract<TlsSetup, { ok: true }> | undefined, done: (r: DialResult) => void): Dialing {
  let settled = false;
  const finish = (r: DialResult): void => {
    if (settled) {
      if (r.ok) r.socket.destroy();
      return;
    }
    settled = true;
    done(r);
  };
  let socket: BridgeSocket;
  if (target.tls) {
    const opts: ConnectionOptions = { ...tls?.options, host: target.host, port: target.port };
    // the SSL context's own name (AT+SSLCFG "hostname") wins over the route's
    if (opts.servername === undefined && target.servername !== undefined) opts.servername = target.servername;
    const secure = tlsConnect(opts);
    socket = secure;
    secure.once('secureConnect', () => {
      let refused: Error | undefined;
      try {
        refused = tls?.verifyPeer?.(secure);
      } catch (err) {
        // a throw here would escape into the socket's emitter and end the process
        refused = err instanceof Error ? err : new Error(String(err));
      }
      if (refused) {
        secure.destroy();
        return finish({ ok: false, reason: refused.message });
      }
      finish({ ok: true, socket: secure });
    });
  } else {
    socket = netConnect({ host: target.host, port: target.port });
    socket.once('connect', () => finish({ ok: true, socket }));
  }
  // MQTT control packets are small and latency-bound
  socket.setNoDelay(true);
  // after the connect an error is always followed by 'close', which the link reports; an
  // 'error' with no listener would throw, so this one stays for the socket's whole life
  socket.on('error', (err: Error) => {
    if (settled) return;
    socket.destroy();
    finish({ ok: false, reason: err.message });
  });
  socket.once('close', () => finish({ ok: false, reason: 'closed during connect' }));
  return {
    abort(reason: string) {
      if (settled) return;
      socket.destroy();
      finish({ ok: false, reason });
    },
  };
}
