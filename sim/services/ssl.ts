/**
 * SSL configuration contexts, AT+SSLCFG (manual p.150; decisions §19), and the TLS options the
 * MQTT bridge uses for SSLMIPSTART. Settings live in RAM: every power-on starts from defaults.
 */
import { CommandSpec } from '../commands.js';
import type { Modem } from '../modem.js';
import { Service } from '../service.js';
import { CmeCode } from '../../protocol/errors.js';
import { intParam, stringParam } from '../../protocol/params.js';
import { SSL_CONTEXT_IDS, SslContext, sslTagOf } from '../ssl/context.js';
import { TlsParams, buildTlsParams } from '../ssl/tls.js';

export type { TlsParams } from '../ssl/tls.js';

/** Longest value of a SSLCFG set (file names are further held to the profile's fsNameMax). */
const VALUE_MAX = 512;

export class SslService implements Service {
  readonly name = 'ssl';
  readonly commands: readonly CommandSpec[];
  private readonly contexts = new Map<number, SslContext>();

  constructor(readonly modem: Modem) {
    this.commands = this.declare();
  }

  powerOn(): void {
    this.contexts.clear();
  }

  powerOff(): void {
    this.contexts.clear();
  }

  /** The context with this id (created with defaults on first use). */
  context(id: number): SslContext {
    let c = this.contexts.get(id);
    if (!c) {
      c = new SslContext(id);
      this.contexts.set(id, c);
    }
    return c;
  }

  /**
   * TLS client options for a connection on context `ctxId` to `servername` (the host the driver
   * asked for; the `hostname` tag overrides it). Certificate files are read from flash now.
   */
  tlsOptionsFor(ctxId: number, servername: string): TlsParams {
    const settings = this.contexts.get(ctxId)?.settings ?? new SslContext(ctxId).settings;
    const params = buildTlsParams(settings, servername, (name) => this.modem.fs.flash.read(name));
    if (params.ok) this.modem.log.debug({ ctx: ctxId, servername, tls: params.description }, 'TLS options');
    else this.modem.log.info({ ctx: ctxId, servername, reason: params.reason }, 'TLS refused');
    return params;
  }

  private declare(): CommandSpec[] {
    const nameMax = this.modem.profile.limits.fsNameMax;
    return [
      {
        name: '+SSLCFG',
        group: 'ssl',
        summary: 'Set (`,<value>`), query (no value) or erase (trailing comma) a tag of SSL context <n>',
        source: 'M p.150; decisions §19',
        params: [
          stringParam('tag', 32, { minLength: 1 }),
          { ...intParam('n', 0, 153), values: SSL_CONTEXT_IDS },
          stringParam('value', VALUE_MAX, { optional: true, allowEmpty: true }),
        ],
        latency: 'ssl.cfg',
        test: [],
        set: (ctx, [tagText, id, value]) => {
          const tag = sslTagOf(String(tagText));
          if (!tag) return ctx.cme(CmeCode.invalidInput);
          const n = Number(id);
          if (value === undefined) {
            const c = this.contexts.get(n) ?? new SslContext(n);
            ctx.info(`+SSLCFG: "${tag}",${n},${c.format(tag)}`);
            return ctx.ok();
          }
          if (value === '') {
            this.context(n).erase(tag);
            return ctx.ok();
          }
          if (!this.context(n).set(tag, String(value), nameMax)) return ctx.cme(CmeCode.invalidInput);
          ctx.ok();
        },
      },
    ];
  }
}
