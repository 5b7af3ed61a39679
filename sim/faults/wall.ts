/**
 * The fault API's one contact with the wall clock (this file's name says so, as the house rule
 * asks): a broker-side fault acts on real sockets, and waits a bounded wall time, with model
 * time standing still, for the modem's side to notice, so the drop enters the model at the
 * fault's instant on every run.
 */
import type { Kernel } from '../kernel.js';

/** A bounded wait that can be called off (its timer then no longer holds the process). */
export interface WallWatch {
  /** True when notified, false after the wall time ran out or when cancelled. */
  readonly done: Promise<boolean>;
  cancel(): void;
}

/** Notified when `notify` is called (`listen` hooks it up and returns how to unhook). */
export function watchNotified(listen: (notify: () => void) => () => void, wallMs: number): WallWatch {
  let finish!: (v: boolean) => void;
  const done = new Promise<boolean>((resolve) => {
    let settled = false;
    let unhook: (() => void) | undefined;
    finish = (v: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unhook?.();
      resolve(v);
    };
    const timer = setTimeout(() => finish(false), wallMs);
    unhook = listen(() => finish(true));
    // notified while hooking up: finish() ran before `unhook` existed
    if (settled) unhook();
  });
  return { done, cancel: () => finish(false) };
}

/** Resolve true when `notify` is called, false after `wallMs` of wall time. */
export function notifiedWithin(listen: (notify: () => void) => () => void, wallMs: number): Promise<boolean> {
  return watchNotified(listen, wallMs).done;
}

/** Notified once the kernel is woken (an outside input scheduled). */
export function watchKernelWake(kernel: Pick<Kernel, 'onWake'>, wallMs: number): WallWatch {
  return watchNotified((notify) => kernel.onWake(notify), wallMs);
}

/** Resolve true once the kernel is woken, false after `wallMs`. */
export function kernelWokenWithin(kernel: Pick<Kernel, 'onWake'>, wallMs: number): Promise<boolean> {
  return watchKernelWake(kernel, wallMs).done;
}

/** A watch that is already over: nothing to wait for. */
export const NOTHING_TO_WATCH: WallWatch = { done: Promise.resolve(false), cancel: () => undefined };
