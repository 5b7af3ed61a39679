/**
 * The wall-clock timer that pushes buffered trace and waveform text to their files. It runs
 * beside the model, never in it: it reads no model time and schedules no kernel event, so a
 * run with or without a trace file runs the same events.
 */

/** Call `fn` every `ms` wall milliseconds until the returned stop is called; never keeps the process alive. */
export function everyWallMs(ms: number, fn: () => void): () => void {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
}
