/**
 * The scenario runner's few contacts with the wall clock (this file's name says so, as the
 * house rule asks): measuring how long a run took, and bounding how long it waits for the
 * outside world (the broker, the far-side client) while model time stands still.
 */
import { performance } from 'node:perf_hooks';
import type { Kernel } from '../kernel.js';

/** Milliseconds of wall time since this call, each time the returned function is called. */
export function stopwatch(): () => number {
  const t0 = performance.now();
  return () => performance.now() - t0;
}

/**
 * Resolve true when `notify` is called (`listen` hooks it up and returns how to unhook), false
 * after `wallMs` of wall time.
 */
export function notifiedWithin(listen: (notify: () => void) => () => void, wallMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    let unhook: (() => void) | undefined;
    const finish = (v: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unhook?.();
      resolve(v);
    };
    const timer = setTimeout(() => finish(false), wallMs);
    unhook = listen(() => finish(true));
    // notified while hooking up: finish() ran before `unhook` existed
    if (done) unhook();
  });
}

/** Resolve true once the kernel is woken (an outside input scheduled), false after `wallMs`. */
export function kernelWokenWithin(kernel: Kernel, wallMs: number): Promise<boolean> {
  return notifiedWithin((notify) => kernel.onWake(notify), wallMs);
}
