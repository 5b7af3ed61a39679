/**
 * An output file that survives the process: text handed to `write` reaches the operating system
 * within one wall-clock flush period (sonic-boom's asynchronous writes, no sync write per
 * record), so `tail -f` follows it and a SIGKILL loses at most that window. The trace and the
 * VCD waveform write through it.
 */
import { openSync } from 'node:fs';
import sonicBoom from 'sonic-boom';
import { everyWallMs } from './trace-realtime-flush.js';

// a CommonJS module: its class is a property of what `import` gives
const { SonicBoom } = sonicBoom;

/** Wall ms between hand-overs of buffered text to the file (the most a crash can lose, plus one write). */
export const TRACE_FLUSH_MS = 50;
/** Batches this big go out at once, without waiting for the timer (bounded memory in fast virtual runs). */
const BATCH_CHARS = 64 * 1024;
/** sonic-boom scans its last buffer on every write: batches keep that scan short. */
const MAX_WRITE = 256 * 1024;

export class StreamedFile {
  private readonly out: InstanceType<typeof SonicBoom>;
  private pending: string[] = [];
  private pendingChars = 0;
  private readonly stopTimer: () => void;
  /** Set when a write failed (a full disk); nothing more is written. */
  error: Error | undefined;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;
  /** destroy() or the end of end() has run: the descriptor is closed or closing. */
  private shut = false;

  constructor(
    readonly path: string,
    /** Told once, on the first failed write. */
    private readonly onError?: (err: Error) => void,
  ) {
    // opened synchronously so a bad path fails here, with its message, not later as a crash
    const fd = openSync(path, 'w');
    this.out = new SonicBoom({ fd, minLength: 0, maxWrite: MAX_WRITE });
    this.out.on('error', (err: Error) => this.failed(err));
    this.out.on('close', () => {
      this.shut = true;
      this.onClosed?.();
    });
    this.stopTimer = everyWallMs(TRACE_FLUSH_MS, () => this.flush());
  }

  write(text: string): void {
    if (this.error !== undefined || this.closing !== undefined) return;
    this.pending.push(text);
    this.pendingChars += text.length;
    if (this.pendingChars >= BATCH_CHARS) this.flush();
  }

  /** Hand what is buffered to the file now (asynchronously written). */
  flush(): void {
    if (this.pending.length === 0 || this.error !== undefined) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    this.out.write(text);
  }

  /** Resolves once the file is closed, its last write's outcome reported. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.stopTimer();
    this.flush();
    this.closing = new Promise<void>((resolve) => {
      this.onClosed = resolve;
      if (this.shut) resolve();
      else if (this.error !== undefined) this.destroy();
      else this.out.end();
    });
    return this.closing;
  }

  private failed(err: Error): void {
    const first = this.error === undefined;
    this.error = err;
    this.pending = [];
    if (first) this.onError?.(err);
    // a failed write leaves sonic-boom neither writing nor closing: close it ourselves
    if (this.closing !== undefined) this.destroy();
  }

  private destroy(): void {
    if (this.shut) return;
    this.shut = true;
    this.out.destroy();
  }
}
