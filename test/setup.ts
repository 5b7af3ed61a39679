/**
 * Every test file: a wall-clock guard that runs out while a virtual clock drives the model means
 * the result could depend on this machine's speed — the test fails, naming the guard.
 */
import { afterEach, expect } from 'vitest';
import { recentGuardExpiries } from '../sim/kernel.js';

afterEach(() => {
  const virtual = recentGuardExpiries.filter((e) => e.virtual).map((e) => `${e.label} (${e.wallGuardMs} ms)`);
  recentGuardExpiries.length = 0;
  expect(virtual, 'wall-clock guards expired in virtual time').toEqual([]);
});
