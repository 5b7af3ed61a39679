/** What the modem's options say about the bridge: where IP links go and with which TLS settings. */
import type { BrokerEndpoint, MqttRoute } from './routes.js';
import type { SslContext } from './tls-context.js';

/** Where the module's IP links go (behaviour §12): MQTT today, TCP sockets on the same bridge later. */
export interface BridgeOptions {
  /** The broker serving every destination (default: none — MIPSTART then ends in CONNECT FAIL). */
  broker?: BrokerEndpoint;
  /** Rules tried first, in order. */
  routes?: MqttRoute[];
  /** Connect to whatever the host asked for (after routes). */
  passThrough?: boolean;
  /** TLS settings for SSLMIPSTART (default: SSL context 88 of AT+SSLCFG). */
  sslContext?: SslContext;
}
