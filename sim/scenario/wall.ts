/**
 * The scenario runner's few contacts with the wall clock (this file's name says so, as the
 * house rule asks): measuring how long a run took, and bounding how long it waits for the
 * outside world (the broker, the far-side client) while model time stands still.
 */
import { performance } from 'node:perf_hooks';

/** Milliseconds of wall time since this call, each time the returned function is called. */
export function stopwatch(): () => number {
  const t0 = performance.now();
  return () => performance.now() - t0;
}

// the same bounded waits as the fault API's (a broker drop noticed, a far-side message)
export { kernelWokenWithin, notifiedWithin } from '../faults/wall.js';
