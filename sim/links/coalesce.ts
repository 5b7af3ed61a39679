/**
 * The UART hands over one byte per kernel event; a real-time driver runs all events that are
 * due in one turn of the event loop. Gathering the bytes of one turn into a single write keeps
 * a pipe or socket from carrying thousands of 1-byte writes, without delaying anything past
 * the turn in which the model produced it.
 */
export class WriteCoalescer {
  private chunks: Uint8Array[] = [];
  private scheduled = false;

  constructor(private readonly sink: (bytes: Buffer) => void) {}

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Write what is buffered now (also used on close so nothing produced is lost). */
  flush(): void {
    this.scheduled = false;
    if (this.chunks.length === 0) return;
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    this.sink(out);
  }

  /** Forget buffered bytes (nobody is there to receive them). */
  discard(): void {
    this.chunks = [];
  }
}
