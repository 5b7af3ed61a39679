/**
 * The SMS far side of a scenario: `far: {sms: {from, text}}` hands a message to the simulated
 * SMSC, `far: {expectSms: {to?, text?}}` waits (in model time) for the next message the module
 * sent. Shared by the scenario player and fault timelines.
 */
import type { Ns } from '../kernel.js';
import type { Modem } from '../modem.js';
import { smsGroup } from '../services/sms.js';
import type { SmsCenter } from '../sms/center.js';
import { quote } from './bytes.js';
import { formatDuration } from './duration.js';
import { StepFailure } from './failure.js';
import type { PayloadExpect, StepAction } from './types.js';

export class FarSms {
  /** Messages of `sentMessages()` already matched by an expectSms step. */
  private taken = 0;

  constructor(private readonly modem: Modem) {}

  private center(): SmsCenter {
    if (!this.modem.hasGroup(smsGroup)) throw new StepFailure('expected a modem with the sms group, got none');
    return this.modem.service(smsGroup).center;
  }

  /** Play a `far: {sms}` or `far: {expectSms}` step; `note` gets its transcript line. */
  async play(step: Extract<StepAction, { kind: 'farSms' | 'farExpectSms' | 'farSmsReports' }>, note: (dir: 'far →' | 'far ←', line: string) => void): Promise<void> {
    if (step.kind === 'farSms') return note('far →', `SMS ${this.deliver(step.from, step.text)}`);
    if (step.kind === 'farSmsReports') {
      // read when the SMSC takes a submit: from this step on
      this.center().failDeliveries(step.to, step.status);
      return note('far →', step.status === 0 ? `SMS to ${step.to} delivered again` : `SMS to ${step.to} fail: TP-ST ${step.status}`);
    }
    const got = await this.expect(step.to, step.text, step.within);
    note('far ←', `SMS ${got.to}: ${got.text}`);
  }

  /** The message enters model time now; it arrives after the network's latency. */
  deliver(from: string, text: string): string {
    try {
      const m = this.center().deliver({ from, text });
      return `${from}: ${text}${m.parts.length > 1 ? ` (${m.parts.length} parts)` : ''}`;
    } catch (err) {
      if (err instanceof StepFailure) throw err;
      throw new StepFailure(`expected an SMS the SMSC can deliver, got ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The next message the module sent (its parts joined), checked against `to` and `text`. */
  async expect(to: string | undefined, text: PayloadExpect | undefined, within: Ns): Promise<{ to: string; text: string }> {
    const center = this.center();
    const next = (): { to: string; text: string } | undefined => center.sentMessages()[this.taken];
    if (next() === undefined) await this.modem.clock.waitUntil(() => next() !== undefined, within);
    const got = next();
    if (!got) throw new StepFailure(`expected an SMS from the module within ${formatDuration(within)}, got none`);
    this.taken++;
    if (to !== undefined && got.to !== to) throw new StepFailure(`expected an SMS to ${quote(to)}, got one to ${quote(got.to)}`);
    if (text?.kind === 'regex' && !new RegExp(text.source).test(got.text)) {
      throw new StepFailure(`expected an SMS text matching /${text.source}/, got ${quote(got.text)}`);
    }
    if (text?.kind === 'bytes' && text.bytes.toString('utf8') !== got.text) {
      throw new StepFailure(`expected the SMS text ${quote(text.bytes.toString('utf8'))}, got ${quote(got.text)}`);
    }
    return got;
  }
}
