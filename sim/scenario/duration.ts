/**
 * Durations as scenarios write them: `250ms`, `5s`, `1.5s`, `2min`, `1h`, `1h30m`, or a bare
 * number of seconds. Model nanoseconds out, rounded to an integer.
 */
import type { Ns } from '../kernel.js';

const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  min: 60e9,
  h: 3600e9,
};

const PART = /(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|min|s|m|h)/y;

/** Parse a duration; returns undefined when the text is not one. */
export function parseDuration(v: unknown): Ns | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1e9) : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1e9);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    while (s[PART.lastIndex] === ' ') PART.lastIndex++;
    const m = PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
  }
  return Math.round(total);
}

/** `1 h`, `5 s`, `250 ms`, `1.5 s`: for messages and the transcript. */
export function formatDuration(ns: Ns): string {
  if (ns >= 3600e9 && ns % 3600e9 === 0) return `${ns / 3600e9} h`;
  if (ns >= 60e9 && ns % 60e9 === 0) return `${ns / 60e9} min`;
  if (ns >= 1e9) return `${+(ns / 1e9).toFixed(3)} s`;
  if (ns >= 1e6) return `${+(ns / 1e6).toFixed(3)} ms`;
  if (ns >= 1e3) return `${+(ns / 1e3).toFixed(3)} µs`;
  return `${ns} ns`;
}

/** Model time as seconds with microseconds: `6.325526 s`. */
export function formatModelTime(ns: Ns): string {
  return `${(ns / 1e9).toFixed(6)} s`;
}
