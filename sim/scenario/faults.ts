/**
 * Faults at exact model instants. Network-side events run as a kernel event injected at the
 * current instant (and are traced as `fault` records there). Broker-side ones act on real
 * sockets: the runner waits, with model time standing still, until the modem's side of the
 * socket has noticed, so the drop enters the model at the fault's instant on every run.
 */
import type { EmbeddedBroker } from '../broker/index.js';
import type { Modem } from '../modem.js';
import type { ClientIdTracker } from './client-id.js';
import { StepFailure } from './failure.js';
import type { Fault } from './types.js';
import { kernelWokenWithin } from './wall.js';

/** Wall time a dropped socket is given to be noticed by the modem's side. */
const DROP_NOTICE_WALL_MS = 2000;

function describe(f: Fault): string {
  const { kind, ...args } = f;
  const a = Object.entries(args)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');
  return a === '' ? kind : `${kind} (${a})`;
}

export class FaultPlayer {
  private paused = false;

  constructor(
    private readonly modem: Modem,
    /** Absent when the modem talks to an external broker: broker faults then cannot apply. */
    private readonly broker: EmbeddedBroker | undefined,
    private readonly clientId: ClientIdTracker,
    /** The far-side client lost its link in the outage too: bring it back. */
    private readonly afterBrokerUp: () => Promise<void>,
  ) {}

  /** Play one fault; returns its description for the transcript. Throws StepFailure when it cannot apply. */
  async play(f: Fault): Promise<string> {
    const text = describe(f);
    const broker = this.broker;
    if (!broker && (f.kind === 'tcpDrop' || f.kind === 'brokerDown' || f.kind === 'brokerUp')) {
      throw new StepFailure(`expected the embedded broker for ${f.kind}, got an external one`);
    }
    switch (f.kind) {
      case 'tcpDrop': {
        const id = f.clientId ?? this.clientId.current;
        this.record(f, { clientId: id });
        const noticed = kernelWokenWithin(this.modem.kernel, DROP_NOTICE_WALL_MS);
        if (!broker!.disconnectClient(id)) {
          throw new StepFailure(`expected a client "${id}" connected to the broker, got none`);
        }
        await noticed;
        return `${text}: broker drops client ${id}`;
      }
      case 'brokerDown': {
        if (this.paused) throw new StepFailure('expected the broker up before brokerDown, got it down already');
        this.record(f);
        const phase = this.modem.mqtt.link.phase;
        const linked = phase === 'open' || phase === 'handshake' || phase === 'session';
        const noticed = linked ? kernelWokenWithin(this.modem.kernel, DROP_NOTICE_WALL_MS) : Promise.resolve(false);
        await broker!.pause();
        this.paused = true;
        await noticed;
        return text;
      }
      case 'brokerUp':
        if (!this.paused) throw new StepFailure('expected the broker down before brokerUp, got it up');
        this.record(f);
        await broker!.resume();
        this.paused = false;
        await this.afterBrokerUp();
        return text;
      default:
        await this.inModel(f);
        return text;
    }
  }

  /** A broker left down by a failed run is brought back (it may be shared). */
  async restore(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    await this.broker?.resume();
  }

  private record(f: Fault, extra: Record<string, unknown> = {}): void {
    const { kind, ...args } = f;
    this.modem.trace.record({ t: this.modem.kernel.now, ev: 'fault', what: kind, detail: { ...args, ...extra } });
  }

  /** Run the network-side event as a kernel event at this instant. */
  private async inModel(f: Exclude<Fault, { kind: 'tcpDrop' | 'brokerDown' | 'brokerUp' }>): Promise<void> {
    const m = this.modem;
    let problem: string | undefined;
    m.clock.inject(`fault:${f.kind}`, () => {
      this.record(f);
      try {
        problem = this.apply(f);
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
    });
    await m.clock.advance(0);
    if (problem !== undefined) throw new StepFailure(problem);
  }

  /** Returns a problem, or undefined when applied. */
  private apply(f: Exclude<Fault, { kind: 'tcpDrop' | 'brokerDown' | 'brokerUp' }>): string | undefined {
    const m = this.modem;
    switch (f.kind) {
      case 'pdpDeact':
        return m.pdp.networkDeactivate(f.cid) ? undefined : `expected an active PDP context${f.cid !== undefined ? ` ${f.cid}` : ''}, got none`;
      case 'detach':
        return m.pdp.networkDetach() ? undefined : 'expected the module attached, got detached';
      case 'deregister':
        m.network.deregister(f.stat !== undefined ? { stat: f.stat } : {});
        return undefined;
      case 'register': {
        const { kind: _kind, ...change } = f;
        m.network.register(change);
        return undefined;
      }
      case 'signal': {
        const { kind: _kind, ...change } = f;
        m.network.setSignal(change);
        return undefined;
      }
      case 'reboot':
        m.reboot();
        return undefined;
    }
  }
}
