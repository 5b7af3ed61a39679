/**
 * SSL configuration contexts, AT+SSLCFG (manual p.150; behaviour §19), and the TLS options the
 * MQTT bridge uses for SSLMIPSTART. Settings live in RAM: every power-on starts from defaults.
 */
import { command, CommandSpec } from '../commands.js';
import type { FlashFiles, TlsProvider } from '../ports.js';
import { CommandGroup, Service, ServiceEnv } from '../service.js';
import { CmeCode } from '../../protocol/errors.js';
import { enumParam, stringParam } from '../../protocol/params.js';
import { SSL_CONTEXT_IDS, SslContext, sslTagOf } from '../ssl/context.js';
import { TlsParams, buildTlsParams } from '../ssl/tls.js';

export type { TlsParams } from '../ssl/tls.js';

/** Longest value of a SSLCFG set (file names are further held to the profile's fsNameMax). */
const VALUE_MAX = 512;

export class SslService implements Service, TlsProvider {
  readonly name = 'ssl';
  readonly commands: readonly CommandSpec[];
  private readonly contexts = new Map<number, SslContext>();

  constructor(
    private readonly env: ServiceEnv,
    private readonly flash: FlashFiles,
  ) {
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
    const params = buildTlsParams(settings, servername, (name) => this.flash.read(name));
    if (params.ok) this.env.log.debug({ ctx: ctxId, servername, tls: params.description }, 'TLS options');
    else this.env.log.info({ ctx: ctxId, servername, reason: params.reason }, 'TLS refused');
    return params;
  }

  private declare(): CommandSpec[] {
    const nameMax = this.env.profile.limits.fsNameMax;
    return [
      command({
        name: '+SSLCFG',
        summary: 'Set (`,<value>`), query (no value) or erase (trailing comma) a tag of SSL context <n>',
        source: 'M p.150; behaviour §19',
        params: [
          stringParam('tag', 32, { minLength: 1 }),
          enumParam('n', SSL_CONTEXT_IDS),
          stringParam('value', VALUE_MAX, { optional: true, allowEmpty: true }),
        ],
        latency: 'ssl.cfg',
        test: [],
        set: (ctx, [tagText, n, value]) => {
          const tag = sslTagOf(tagText);
          if (!tag) return ctx.cme(CmeCode.invalidInput);
          if (value === undefined) {
            const c = this.contexts.get(n) ?? new SslContext(n);
            ctx.info(`+SSLCFG: "${tag}",${n},${c.format(tag)}`);
            return ctx.ok();
          }
          if (value === '') {
            this.context(n).erase(tag);
            return ctx.ok();
          }
          if (!this.context(n).set(tag, value, nameMax)) return ctx.cme(CmeCode.invalidInput);
          ctx.ok();
        },
      }),
    ];
  }
}

export const sslGroup: CommandGroup<SslService> = {
  name: 'ssl',
  manual: ['+SSLCFG'],
  needs: ['flash'],
  create: ({ env, ports }) => {
    const s = new SslService(env, ports.need('flash', 'ssl'));
    ports.provide('tls', s);
    return s;
  },
};
