/**
 * The uartFragment fault's shape of the module's output, as a USB-serial bridge or a firmware
 * buffer gives it: `chunk` bytes back to back at the line's rate, then at least `gap` of silence
 * before the next byte. Counting starts with the first byte to start after the fault (the one
 * already on the wire finishes as it was); output that pauses for `gap` anyway (the module had
 * nothing to say) begins a fresh burst, so a short answer after a quiet spell comes whole.
 */
import type { Ns } from '../kernel.js';
import type { TxSpacing } from '../uart.js';

export class TxBursts {
  /** Bytes of the burst in progress. */
  private inBurst = 0;

  constructor(
    readonly chunk: number,
    readonly gap: Ns,
  ) {}

  /** The UART's txSpacing: called once per byte, in order. */
  readonly spacing: TxSpacing = (earliest, lastEnd) => {
    if (earliest - lastEnd >= this.gap) this.inBurst = 0;
    let start = earliest;
    if (this.inBurst >= this.chunk) {
      start = Math.max(earliest, lastEnd + this.gap);
      this.inBurst = 0;
    }
    this.inBurst++;
    return start;
  };
}
