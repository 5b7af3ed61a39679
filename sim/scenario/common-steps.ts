/**
 * The steps both scenario players (runner.ts for a scripted host, timeline.ts for the user's
 * driver) play the same way: a state the model reaches (`until:`), a fault (`fault:`, armed or
 * at once), the far side publishing (`far: {publish}`) and its next message on a topic
 * (`far: {expect}`).
 */
import type { Ns } from '../kernel.js';
import type { Modem } from '../modem.js';
import { describeFault, describeTrigger, FaultError } from '../faults/index.js';
import { printable, quote } from './bytes.js';
import { formatDuration } from './duration.js';
import type { FarClient } from './far.js';
import { StepFailure } from './failure.js';
import type { Transcript } from './transcript.js';
import type { PayloadExpect, Step, UntilState } from './types.js';
import { kernelWokenWithin, notifiedWithin } from './wall.js';

/** Wall time the broker is given to forward what the modem already sent, model time standing. */
const FAR_RECEIVE_WALL_MS = 2000;
/** Wall time a far-side publish is given to reach the modem while model time stands still. */
const FAR_DELIVERY_WALL_MS = 500;

const isBrokerFault = (kind: string): boolean => kind === 'tcpDrop' || kind === 'brokerDown' || kind === 'brokerUp';

function fail(msg: string): never {
  throw new StepFailure(msg);
}

/** Whether the model has reached `state` (the radio, the SIM, the packet domain). */
export function reached(m: Pick<Modem, 'network' | 'pdp'>, state: UntilState): boolean {
  switch (state) {
    case 'simReady':
      return m.network.simReady;
    case 'registered':
      return m.network.registered;
    case 'attached':
      return m.pdp.attached;
    case 'dataReady':
      return m.pdp.dataReady;
  }
}

export interface StepPlace {
  modem: Modem;
  transcript: Transcript;
  /**
   * Runs the wait for the broker's forwarding with model time standing still: a free-running
   * clock needs a hold for that; a clock nobody runs stands still by itself.
   */
  standStill<T>(label: string, fn: () => Promise<T>): Promise<T>;
}

/** The far side's oldest unread message on `topic` within `within`, checked against `payload`. */
export async function expectFarMessage(p: StepPlace, far: FarClient | undefined, topic: string, payload: PayloadExpect | undefined, within: Ns, step: number): Promise<void> {
  const m = p.modem;
  if (!far) fail(`expected a message on ${quote(topic)}, got no far side (add far: {subscribe: [${topic}]})`);
  if (!far.has(topic)) {
    // first with model time standing still: the broker forwarding what the modem already sent
    const arrived = await p.standStill('far-receive', () => notifiedWithin((notify) => far.onMessage(() => far.has(topic) && notify()), FAR_RECEIVE_WALL_MS));
    if (!arrived) {
      // then let model time run (a will, a later publish); an arrival wakes the clock
      const off = far.onMessage(() => m.clock.inject('far-rx', () => undefined));
      try {
        await m.clock.waitUntil(() => far.has(topic), within);
      } finally {
        off();
      }
    }
  }
  const msg = far.take(topic);
  if (!msg) fail(`expected a message on ${quote(topic)} within ${formatDuration(within)}, got none`);
  const text = msg.payload.toString('latin1');
  p.transcript.add(m.kernel.now, 'far ←', [`${topic} (QoS ${msg.qos}${msg.retain ? ', retain' : ''}): ${printable(text)}`], step);
  if (!payload) return;
  if (payload.kind === 'regex') {
    if (!new RegExp(payload.source).test(text)) fail(`expected a payload matching /${payload.source}/ on ${quote(topic)}, got ${quote(text)}`);
    return;
  }
  if (!payload.bytes.equals(msg.payload)) fail(`expected payload ${quote(payload.bytes.toString('latin1'))} on ${quote(topic)}, got ${quote(text)}`);
}

/**
 * A fault step: armed on its trigger, or applied now (a broker fault waits on real sockets,
 * model time standing); after brokerUp the far side, cut off in the outage too, reconnects.
 */
export async function playFault(p: StepPlace, step: Extract<Step, { kind: 'fault' }>, far: FarClient | undefined, i: number): Promise<void> {
  const m = p.modem;
  const f = step.fault;
  if (step.on !== undefined) {
    // its trigger fires it; a fault that then cannot apply is traced as trigger-failed
    m.faults.on(step.on, f);
    p.transcript.add(m.kernel.now, 'fault', [`${describeFault(f)}, armed: on ${describeTrigger(step.on)}`], i);
    return;
  }
  let text: string;
  try {
    text = isBrokerFault(f.kind) ? await p.standStill(`fault:${f.kind}`, () => m.faults.apply(f)) : await m.faults.apply(f);
  } catch (err) {
    if (err instanceof FaultError) fail(err.message);
    throw err;
  }
  if (f.kind === 'brokerUp') await far?.revive();
  p.transcript.add(m.kernel.now, 'fault', [text], i);
}

/** The far side publishes; model time stands still while the broker forwards it, so it lands at this instant. */
export async function playFarPublish(p: StepPlace, step: Extract<Step, { kind: 'farPublish' }>, far: FarClient, i: number): Promise<void> {
  const m = p.modem;
  if (!far.connected) fail(`expected the far side connected to publish on ${quote(step.topic)}, got it cut off (broker down?)`);
  p.transcript.add(m.kernel.now, 'far →', [`${step.topic} (QoS ${step.qos}${step.retain ? ', retain' : ''}): ${printable(step.payload.toString('latin1'))}`], i);
  await p.standStill('far-publish', async () => {
    const delivered = m.mqtt.link.phase === 'session' ? kernelWokenWithin(m.kernel, FAR_DELIVERY_WALL_MS) : Promise.resolve(false);
    await far.publish(step.topic, step.payload, step.qos, step.retain);
    await delivered;
  });
}
