/**
 * The kernel's own contracts that the UART runs and the fleet rest on: order by (time, priority,
 * sequence) whatever the heap does; inline continuation only where the queued event would have
 * been next; forks share the timeline and not the PRNG; cancelled events do not pile up.
 */
import { describe, expect, it } from 'vitest';
import { Kernel, Priority } from '../sim/kernel.js';

describe('kernel', () => {
  it('runs events in (time, priority, sequence) order, cancelled ones never', () => {
    const k = new Kernel();
    const ran: string[] = [];
    const times = [50, 10, 30, 10, 20, 10, 40, 30];
    times.forEach((t, i) => k.at(t, () => ran.push(`${t}:${i}`), 'e', i === 5 ? Priority.wire : Priority.normal));
    const h = k.at(20, () => ran.push('cancelled'));
    h.cancel();
    while (k.step()) {
      /* run */
    }
    expect(ran).toEqual(['10:5', '10:1', '10:3', '20:4', '30:2', '30:7', '40:6', '50:0']);
    expect(k.eventsRun).toBe(8);
  });

  it('continueAt: yes only when nothing queued sorts first, inside the step bound, and the driver would not stop', () => {
    const k = new Kernel();
    const answers: boolean[] = [];
    k.at(100, () => {
      const seq = k.reserveSeq();
      // an event already queued at the same instant and priority came before the reserved seq
      answers.push(k.continueAt(200, Priority.wire, seq));
      answers.push(k.continueAt(150, Priority.wire, seq));
      answers.push(k.continueAt(200, Priority.wire, seq));
      expect(k.now).toBe(150);
    });
    k.at(200, () => undefined, 'other', Priority.wire);
    expect(k.step(170)).toBe(true);
    expect(answers).toEqual([false, true, false]);

    const paused = new Kernel();
    paused.at(0, () => {
      paused.timeline.pause = () => true;
      answers.push(paused.continueAt(10, Priority.wire, paused.reserveSeq()));
      paused.timeline.pause = undefined;
      answers.push(paused.continueAt(10, Priority.wire, paused.reserveSeq()));
    });
    paused.step();
    expect(answers.slice(3)).toEqual([false, true]);
  });

  it('a fork shares queue, clock and holds, and has PRNG streams of its own', () => {
    const root = new Kernel({ seed: 0 });
    const a = root.fork({ seed: 5 });
    const b = root.fork({ seed: 5 });
    const c = root.fork({ seed: 6 });
    const order: string[] = [];
    a.at(20, () => order.push('a'));
    b.at(10, () => order.push('b'));
    expect(root.pending).toBe(2);
    while (root.step()) {
      /* run */
    }
    expect(order).toEqual(['b', 'a']);
    expect(a.now).toBe(20);
    const hold = c.hold('x');
    expect(root.holdsOpen).toBe(1);
    hold.release();
    // the same seed draws the same numbers, however many draws a neighbour made
    for (let i = 0; i < 10; i++) b.prng.stream('latency:x').next();
    expect(a.prng.stream('latency:x').next()).toBe(new Kernel({ seed: 5 }).prng.stream('latency:x').next());
    expect(c.prng.stream('latency:x').next()).not.toBe(new Kernel({ seed: 5 }).prng.stream('latency:x').next());
  });

  it('an event that throws goes to the handler of the kernel that scheduled it', () => {
    const root = new Kernel();
    const fork = root.fork();
    const seen: string[] = [];
    fork.onEventError = (err, label) => seen.push(`${label}: ${String(err)}`);
    fork.at(1, () => {
      throw new Error('boom');
    }, 'forked');
    root.at(2, () => seen.push('after'));
    while (root.step()) {
      /* run */
    }
    expect(seen).toEqual(['forked: Error: boom', 'after']);
    root.at(3, () => {
      throw new Error('unhandled');
    });
    expect(() => root.step()).toThrow('unhandled');
  });

  it('re-armed timers leave no pile of cancelled events behind', () => {
    const k = new Kernel();
    let h = k.after(1_000_000, () => undefined);
    for (let i = 0; i < 100_000; i++) {
      h.cancel();
      h = k.after(1_000_000 + i, () => undefined);
    }
    expect(k.pending).toBeLessThan(10_000);
    let n = 0;
    while (k.step()) n++;
    expect(n).toBe(1);
  });
});
