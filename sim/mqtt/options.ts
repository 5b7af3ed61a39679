/**
 * From `modemsim serve` flags to a running broker (embedded, unless `--broker` names an external
 * one) and the MqttServiceOptions that send MIPSTART/SSLMIPSTART to it (behaviour §12).
 */
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../broker/index.js';
import type { Logger } from '../log.js';
import type { MqttServiceOptions } from '../services/mqtt.js';
import { BrokerEndpoint, parseEndpoint, parseRouteSpec } from '../bridge/routes.js';

/** Options for a modem served by the embedded broker: every destination goes to it, SNI = asked name. */
export function mqttOptionsFromBroker(
  broker: Pick<EmbeddedBroker, 'url' | 'tlsUrl' | 'caPem'>,
  extra: Pick<MqttServiceOptions, 'routes' | 'passThrough'> = {},
): MqttServiceOptions {
  const endpoint: BrokerEndpoint = { url: broker.url, tlsUrl: broker.tlsUrl, ca: broker.caPem, sni: 'asked' };
  return { broker: endpoint, ...extra };
}

/** An external broker (`--broker`, repeatable: one plain and one TLS URL at most). */
export function externalBroker(urls: readonly string[]): BrokerEndpoint {
  let plain: string | undefined;
  let secure: string | undefined;
  for (const u of urls) {
    const ep = parseEndpoint(u);
    if (!ep || ep.tls === undefined) throw new Error(`--broker wants mqtt://HOST:PORT or mqtts://HOST:PORT, got ${JSON.stringify(u)}`);
    if (ep.tls) secure = u;
    else plain = u;
  }
  const url = plain ?? secure;
  if (url === undefined) throw new Error('--broker needs a URL');
  // an external broker has its own certificate: send its own name, verify nothing by default
  const endpoint: BrokerEndpoint = { url, sni: 'target' };
  if (secure !== undefined) endpoint.tlsUrl = secure;
  return endpoint;
}

export interface BrokerFlags {
  /** `--broker-port` (default 1883, 0 = ephemeral). */
  brokerPort?: number;
  /** `--broker-tls-port` (default 8883, 0 = ephemeral). */
  brokerTlsPort?: number;
  /** `--broker URL` (repeatable): use an external broker instead of the embedded one. */
  broker?: string[];
  /** `--route FROM=TO` (repeatable). */
  route?: string[];
  /** `--pass-through`. */
  passThrough?: boolean;
  /** `--mtls`. */
  mtls?: boolean;
  /** `--broker-connect-timeout SECONDS` (default 15, behaviour §13). */
  brokerConnectTimeout?: number;
  /** `--broker-auth USER:PASS`. */
  brokerAuth?: string;
  /** `--data-dir`: the embedded broker keeps its CA and keys in <dir>/certs. */
  dataDir?: string;
}

/** The broker side of the CLI's ready record. */
export interface MqttReady {
  broker: string;
  brokerTls?: string;
  certs?: { ca: string; clientCert: string; clientKey: string };
}

export interface MqttSetup {
  options: MqttServiceOptions;
  /** The embedded broker, when one was started. */
  broker: EmbeddedBroker | undefined;
  /** Fields for the CLI's ready record. */
  ready: MqttReady;
  close(): Promise<void>;
}

export function parseBrokerAuth(s: string): { username: string; password: string } {
  const i = s.indexOf(':');
  if (i <= 0) throw new Error(`--broker-auth wants USER:PASS, got ${JSON.stringify(s)}`);
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

export async function setupMqtt(flags: BrokerFlags, log: Logger): Promise<MqttSetup> {
  const routes = (flags.route ?? []).map(parseRouteSpec);
  const extra = { routes, passThrough: flags.passThrough ?? false };
  if (flags.broker && flags.broker.length > 0) {
    const endpoint = externalBroker(flags.broker);
    const ready: MqttReady = { broker: endpoint.url };
    if (endpoint.tlsUrl !== undefined) ready.brokerTls = endpoint.tlsUrl;
    return { options: { broker: endpoint, ...extra }, broker: undefined, ready, close: async () => undefined };
  }
  const opts: EmbeddedBrokerOptions = { log };
  if (flags.brokerPort !== undefined) opts.port = flags.brokerPort;
  if (flags.brokerTlsPort !== undefined) opts.tlsPort = flags.brokerTlsPort;
  if (flags.dataDir !== undefined) opts.dataDir = flags.dataDir;
  if (flags.mtls) opts.mtls = true;
  if (flags.brokerConnectTimeout !== undefined) opts.connectTimeoutMs = Math.round(flags.brokerConnectTimeout * 1000);
  if (flags.brokerAuth !== undefined) opts.auth = parseBrokerAuth(flags.brokerAuth);
  const broker = await startEmbeddedBroker(opts);
  const { ca, clientCert, clientKey } = broker.certs;
  return {
    options: mqttOptionsFromBroker(broker, extra),
    broker,
    ready: { broker: broker.url, brokerTls: broker.tlsUrl, certs: { ca, clientCert, clientKey } },
    close: () => broker.close(),
  };
}
