/**
 * What both scenario players (runner.ts for a scripted host, timeline.ts for the user's driver)
 * check the same way: a state the model reaches (`until:`), and the far side's next message on
 * a topic (`far: {expect}`).
 */
import type { Ns } from '../kernel.js';
import type { Modem } from '../modem.js';
import { printable, quote } from './bytes.js';
import { formatDuration } from './duration.js';
import type { FarClient } from './far.js';
import { StepFailure } from './failure.js';
import type { Transcript } from './transcript.js';
import type { PayloadExpect, UntilState } from './types.js';
import { notifiedWithin } from './wall.js';

/** Wall time the broker is given to forward what the modem already sent, model time standing. */
const FAR_RECEIVE_WALL_MS = 2000;

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

export interface FarExpectPlace {
  modem: Modem;
  transcript: Transcript;
  /**
   * Runs the wait for the broker's forwarding with model time standing still: a free-running
   * clock needs a hold for that; a clock nobody runs stands still by itself.
   */
  standStill<T>(label: string, fn: () => Promise<T>): Promise<T>;
}

/** The far side's oldest unread message on `topic` within `within`, checked against `payload`. */
export async function expectFarMessage(p: FarExpectPlace, far: FarClient | undefined, topic: string, payload: PayloadExpect | undefined, within: Ns, step: number): Promise<void> {
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
