/**
 * SSL context 88: the TLS settings SSLMIPSTART dials with. The module's own context comes from
 * AT+SSLCFG (seclevel, cacert, clientcert, clientkey … read from flash at dial time, behaviour
 * §19); the bridge adds one thing the host never sees: when the context asks for no
 * verification and the route knows its broker's CA (the embedded broker), the chain is still
 * checked against that CA, which the SNI leaf of the name the host asked for always passes.
 */
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type { DialTarget } from './routes.js';

export type TlsSetup =
  | {
      ok: true;
      options: ConnectionOptions;
      /** Extra check on `secureConnect`; an error means close and CONNECT FAIL. */
      verifyPeer?: (socket: TLSSocket) => Error | undefined;
      /** Handshake budget (AT+SSLCFG "negotiatetimeout"), seconds. */
      negotiateTimeoutS?: number;
      /** One line for the trace. */
      description?: string;
    }
  | { ok: false; reason: string };

export interface SslContext {
  /** Context id (88 for MQTT). */
  readonly id: number;
  /** The TLS options for one SSLMIPSTART, read at dial time; `{ ok: false }` ends it in CONNECT FAIL. */
  tlsOptions(target: DialTarget): TlsSetup;
}

/** What the SSL service answers for a context and a server name (SslService.tlsOptionsFor). */
export type ContextParams = (ctxId: number, servername: string) => TlsSetup;

/** The module's context `id`, as AT+SSLCFG set it. */
export class ModuleSslContext implements SslContext {
  constructor(
    private readonly params: ContextParams,
    readonly id = 88,
  ) {}

  tlsOptions(target: DialTarget): TlsSetup {
    const setup = this.params(this.id, target.servername ?? target.asked.host);
    if (!setup.ok) return setup;
    const unverified = setup.options.rejectUnauthorized === false && setup.verifyPeer === undefined;
    if (!unverified || target.ca === undefined) return setup;
    return { ...setup, options: { ...setup.options, ca: target.ca, rejectUnauthorized: true } };
  }
}

/** No module context at all (tests of the bridge alone): verify against the route's CA if any. */
export class BridgeSslContext implements SslContext {
  readonly id = 88;

  tlsOptions(target: DialTarget): TlsSetup {
    const options: ConnectionOptions = { rejectUnauthorized: target.ca !== undefined };
    if (target.ca !== undefined) options.ca = target.ca;
    return { ok: true, options };
  }
}
