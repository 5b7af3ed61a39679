/**
 * The pure parts of the MQTT model: payload codecs, the message cache, the route table and
 * the keepalive timer on the kernel clock.
 */
import { describe, expect, it } from 'vitest';
import { Kernel, sec } from '../sim/kernel.js';
import { KernelTimer } from '../sim/mqtt/kernel-timer.js';
import { MessageCache } from '../sim/mqtt/message-cache.js';
import { decodeAsciiMessage, decodeHexMessage, utf8FromWire, validPublishTopic, validTopicFilter, wireFromUtf8 } from '../sim/mqtt/payload.js';
import { parseEndpoint, parseRouteSpec, RouteTable } from '../sim/bridge/routes.js';
import { externalBroker, mqttOptionsFromBroker, parseBrokerAuth } from '../sim/mqtt/options.js';

describe('payload codecs (behaviour §14)', () => {
  it('ASCII mode decodes the four documented escapes, case-insensitively, and leaves others alone', () => {
    expect(decodeAsciiMessage('a\\22b\\0d\\0A\\5Cc').toString('latin1')).toBe('a"b\r\n\\c');
    expect(decodeAsciiMessage('\\41\\2').toString('latin1')).toBe('\\41\\2');
    expect(decodeAsciiMessage('\\').toString('latin1')).toBe('\\');
    expect(decodeAsciiMessage('\xe4\xbd\xa0')).toEqual(Buffer.from('你'));
  });

  it('HEX mode takes digit pairs only', () => {
    expect(decodeHexMessage('313233')).toEqual({ ok: true, bytes: Buffer.from('123') });
    expect(decodeHexMessage('00fF')).toEqual({ ok: true, bytes: Buffer.from([0, 255]) });
    expect(decodeHexMessage('123').ok).toBe(false);
    expect(decodeHexMessage('zz').ok).toBe(false);
    expect(decodeHexMessage('')).toEqual({ ok: true, bytes: Buffer.alloc(0) });
  });

  it('topics travel as UTF-8 bytes both ways and wildcards follow MQTT 3.1.1 §4.7', () => {
    expect(utf8FromWire('\xe4\xbd\xa0/t')).toBe('你/t');
    expect(utf8FromWire('\xff')).toBeUndefined();
    expect(wireFromUtf8('你')).toBe('\xe4\xbd\xa0');
    expect(validPublishTopic('a/b')).toBe(true);
    expect(validPublishTopic('a/+')).toBe(false);
    expect(validPublishTopic('')).toBe(false);
    expect(validTopicFilter('a/+/b/#')).toBe(true);
    expect(validTopicFilter('#')).toBe(true);
    expect(validTopicFilter('a/#/b')).toBe(false);
    expect(validTopicFilter('a/b+')).toBe(false);
  });
});

describe('MessageCache (behaviour §16)', () => {
  it('takes the lowest free slot, overwrites the oldest, drains oldest first', () => {
    const c = new MessageCache(4);
    const slots = ['a', 'b', 'c', 'd'].map((t) => c.store(t, Buffer.from(t)).slot);
    expect(slots).toEqual([0, 1, 2, 3]);
    const over = c.store('e', Buffer.from('e'));
    expect(over.slot).toBe(0);
    expect(over.overwritten?.topic).toBe('a');
    expect(c.store('f', Buffer.from('f')).slot).toBe(1);
    expect(c.overwrites).toBe(2);
    expect(c.drain().map((m) => m.topic)).toEqual(['c', 'd', 'e', 'f']);
    expect([0, 1, 2, 3].map((i) => c.isValid(i))).toEqual([false, false, false, false]);
    expect(c.store('g', Buffer.from('g')).slot).toBe(0);
  });
});

describe('RouteTable (behaviour §12)', () => {
  const broker = { url: 'mqtt://127.0.0.1:1883', tlsUrl: 'mqtts://127.0.0.1:8883', ca: 'PEM' };

  it('sends every destination to the broker, keeping the asked name as SNI', () => {
    const t = new RouteTable(broker);
    expect(t.resolve('broker.emqx.io', 1883, false)).toEqual({
      ok: true,
      target: { asked: { host: 'broker.emqx.io', port: 1883 }, host: '127.0.0.1', port: 1883, tls: false, ca: 'PEM', via: 'broker' },
    });
    const s = t.resolve('iot.example.com', 8883, true);
    expect(s.ok && s.target).toMatchObject({ host: '127.0.0.1', port: 8883, tls: true, servername: 'iot.example.com' });
    const ip = t.resolve('10.0.0.1', 8883, true);
    expect(ip.ok && ip.target.servername).toBeUndefined();
  });

  it('tries routes first, then pass-through; `to` may be a URL that fixes the link type', () => {
    const t = new RouteTable(broker, [
      { from: 'a.example:1883', to: '10.1.1.1:1884' },
      { from: '*:9000', to: 'mqtts://10.2.2.2' },
      { from: 'b.example', to: 'h.example:2000' },
    ]);
    expect(t.resolve('A.EXAMPLE', 1883, false)).toMatchObject({ ok: true, target: { host: '10.1.1.1', port: 1884, tls: false, via: 'route' } });
    expect(t.resolve('a.example', 1884, false)).toMatchObject({ ok: true, target: { via: 'broker' } });
    expect(t.resolve('x', 9000, false)).toMatchObject({ ok: true, target: { host: '10.2.2.2', port: 8883, tls: true } });
    expect(t.resolve('b.example', 7, true)).toMatchObject({ ok: true, target: { host: 'h.example', port: 2000, tls: true, servername: 'b.example' } });
    const p = new RouteTable(undefined, [], true);
    expect(p.resolve('broker.emqx.io', 1883, false)).toMatchObject({ ok: true, target: { host: 'broker.emqx.io', port: 1883, via: 'pass-through' } });
    expect(new RouteTable(undefined).resolve('x', 1, false).ok).toBe(false);
  });

  it('parses endpoints and --route / --broker / --broker-auth flags', () => {
    expect(parseEndpoint('mqtts://h:1')).toEqual({ host: 'h', port: 1, tls: true });
    expect(parseEndpoint('[::1]:1883')).toEqual({ host: '::1', port: 1883 });
    expect(parseEndpoint('h', 1883)).toEqual({ host: 'h', port: 1883 });
    expect(parseEndpoint('http://h')).toBeUndefined();
    expect(parseRouteSpec('a:1883=127.0.0.1:11883')).toEqual({ from: 'a:1883', to: '127.0.0.1:11883' });
    expect(() => parseRouteSpec('nope')).toThrow();
    expect(externalBroker(['mqtt://m:1883', 'mqtts://m:8883'])).toEqual({ url: 'mqtt://m:1883', tlsUrl: 'mqtts://m:8883', sni: 'target' });
    expect(() => externalBroker(['m:1883'])).toThrow();
    expect(parseBrokerAuth('u:p:q')).toEqual({ username: 'u', password: 'p:q' });
    expect(mqttOptionsFromBroker({ url: 'mqtt://x:1', tlsUrl: 'mqtts://x:2', caPem: 'CA' })).toEqual({
      broker: { url: 'mqtt://x:1', tlsUrl: 'mqtts://x:2', ca: 'CA', sni: 'asked' },
    });
  });
});

describe('KernelTimer', () => {
  it('is an interval on model time that clear() and stop() end', () => {
    const k = new Kernel();
    const t = new KernelTimer(k);
    const ticks: number[] = [];
    const id = t.set(() => ticks.push(k.now), 30_000);
    while (k.step(sec(100))) {
      /* run */
    }
    expect(ticks).toEqual([sec(30), sec(60), sec(90)]);
    t.clear(id);
    while (k.step()) {
      /* run */
    }
    expect(ticks).toHaveLength(3);
    t.set(() => ticks.push(k.now), 1000);
    t.stop();
    t.set(() => ticks.push(k.now), 1000);
    while (k.step()) {
      /* run */
    }
    expect(ticks).toHaveLength(3);
    expect(t.active).toBe(0);
  });
});

describe('topic filters', () => {
  it('match topics per MQTT 3.1.1 §4.7', async () => {
    const { topicMatches } = await import('../sim/mqtt/payload.js');
    expect(topicMatches('mqtt/topic', 'mqtt/topic')).toBe(true);
    expect(topicMatches('mqtt/+', 'mqtt/topic')).toBe(true);
    expect(topicMatches('mqtt/#', 'mqtt')).toBe(true);
    expect(topicMatches('mqtt/#', 'mqtt/a/b')).toBe(true);
    expect(topicMatches('+/+', 'a')).toBe(false);
    expect(topicMatches('mqtt/+', 'mqtt/a/b')).toBe(false);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/x')).toBe(true);
  });
});
