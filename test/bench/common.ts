/**
 * Pieces the benchmark rows share: a modem with an MQTT session, a far-side counter, medians,
 * and the row record that the table and the JSON file are made of.
 */
import mqtt from 'mqtt';
import type { EmbeddedBroker } from '../../sim/broker/index.js';
import { sec } from '../../sim/kernel.js';
import { createModem, type Modem, type ModemOptions } from '../../sim/modem.js';
import { mqttOptionsFromBroker } from '../../sim/mqtt/options.js';

/** One line of the table, one key of the JSON file. */
export interface Row {
  key: string;
  /** What is measured, as the table words it. */
  what: string;
  value: number;
  unit: string;
  /** The goal as text (`<= 2 s`), and whether the figure meets it; absent: a figure without a goal. */
  goal?: string;
  ok?: boolean;
  /** The runs the value is the median of, and anything else worth printing. */
  runs?: number[];
  note?: string;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 === 1 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

export const atMost = (v: number, goal: number): boolean => v <= goal;
export const atLeast = (v: number, goal: number): boolean => v >= goal;

/** A modem in virtual time with an MQTT session up on `broker` (echo off, boot lines consumed). */
export async function sessionModem(broker: EmbeddedBroker, opts: ModemOptions = {}, keepalive = 600, clientId = 'bench-modem'): Promise<Modem> {
  const m = createModem({ mqtt: mqttOptionsFromBroker(broker), ...opts });
  m.host.keepLog = false;
  await m.host.expect('RDY', sec(30));
  if (!(await m.clock.waitUntil(() => m.pdp.dataReady, sec(60)))) throw new Error('no data bearer');
  await m.host.advance(sec(1));
  m.host.take();
  for (const line of ['ATE0', `AT+MCONFIG=${clientId},"",""`, 'AT+MIPSTART="127.0.0.1",' + broker.port]) await m.host.command(line);
  await m.host.expect('CONNECT OK');
  await m.host.command(`AT+MCONNECT=1,${keepalive}`);
  await m.host.expect('CONNACK OK');
  m.host.take();
  return m;
}

/** A far-side subscriber that resolves once it has seen `n` messages on `topic`. */
export async function counter(url: string, topic: string): Promise<{ until(n: number): Promise<void>; close(): Promise<void> }> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, clientId: `bench-sub-${topic.replace(/\W/g, '-')}` });
  await c.subscribeAsync(topic, { qos: 0 });
  let seen = 0;
  let want = Infinity;
  let wake: (() => void) | undefined;
  c.on('message', () => {
    if (++seen >= want) wake?.();
  });
  return {
    until(n: number) {
      want = n;
      return seen >= n ? Promise.resolve() : new Promise<void>((r) => (wake = r));
    },
    close: () => c.endAsync(true),
  };
}

export const mib = (bytes: number): number => bytes / 2 ** 20;

/** RSS after full collections (needs --expose-gc), bytes. */
export function settledRss(): number {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage().rss;
}
