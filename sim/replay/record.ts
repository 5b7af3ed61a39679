/**
 * What a served session records for its replay besides the modem's own records: the messages
 * other clients publish on the embedded broker (a back end, a test's far side) and the SMS the
 * SMSC is given for the module. They are the far side's input, not the module's, and a
 * replay's fresh broker and SMSC get them only if told.
 */
import type { ClientPublish } from '../broker/index.js';
import type { DeliverRequest } from '../sms/center.js';
import type { ClockDriver } from '../clock.js';
import type { Trace } from '../trace.js';

/** The parts of a modem a recorder reads (a Modem is one). */
export interface RecordedModem {
  readonly clock: ClockDriver;
  readonly trace: Pick<Trace, 'record'>;
  /** The id the broker knows the module by: its own publishes are its records already. */
  readonly mqtt: { readonly clientId: string };
}

/** A broker that tells of what its clients publish (EmbeddedBroker is one). */
export interface PublishSource {
  onPublish(listener: (m: ClientPublish) => void): () => void;
}

/**
 * Record each publish of another client as a `far` record at the model instant it reached the
 * broker; returns the unsubscribe. Entered as an event, so the record lands after everything
 * due before it (in real time the clock catches up first).
 */
export function recordFarPublishes(modem: RecordedModem, broker: PublishSource): () => void {
  return broker.onPublish((p) => {
    if (p.clientId === modem.mqtt.clientId) return;
    const data = p.payload.toString('base64');
    modem.clock.inject('far-publish', () =>
      modem.trace.record({ t: modem.clock.kernel.now, ev: 'far', what: 'publish', topic: p.topic, data, qos: p.qos, retain: p.retain }),
    );
  });
}

/** An SMSC that tells of each message it is about to deliver and each failure rule (SmsCenter is one). */
export interface DeliverySource {
  onDelivering(fn: (req: DeliverRequest) => void): () => void;
  onRule(fn: (to: string, st: number) => void): () => void;
}

/**
 * Record each SMS given to the SMSC as a `far` record, entered as publishes are, and each
 * delivery-failure rule (set inside a model event: see the control endpoint) where it was set.
 */
export function recordFarSms(modem: RecordedModem, center: DeliverySource): () => void {
  const offSms = center.onDelivering((req) => {
    const sms = 'pdu' in req ? { pdu: req.pdu } : { from: req.from, text: req.text, time: (req.time ?? new Date(0)).toISOString() };
    modem.clock.inject('far-sms', () => modem.trace.record({ t: modem.clock.kernel.now, ev: 'far', what: 'sms', sms }));
  });
  const offRule = center.onRule((to, status) => modem.trace.record({ t: modem.clock.kernel.now, ev: 'far', what: 'smsRule', to, status }));
  return () => {
    offSms();
    offRule();
  };
}
