/**
 * The UART on this process's stdin/stdout, for a host that spawns modemsim as a child. Logs go
 * to stderr, so stdout carries modem bytes only. On a terminal stdin is put in raw mode (Enter
 * sends CR, as a serial terminal does); Ctrl-C then arrives as a byte, so it is turned back
 * into SIGINT there.
 */
import type { Link } from './link.js';
import { WriteCoalescer } from './coalesce.js';

export interface StdioLinkOptions {
  /** Called when stdin ends: the host has gone. */
  onEnd?: () => void;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

const CTRL_C = 0x03;

export class StdioLink implements Link {
  readonly description = 'stdio';
  readonly address = 'stdio';
  private readonly stdin: NodeJS.ReadStream;
  private readonly stdout: NodeJS.WriteStream;
  private readonly out: WriteCoalescer;
  private onChunk: ((chunk: Buffer) => void) | undefined;
  private readonly onEnd = (): void => this.opts.onEnd?.();
  private rawSet = false;

  constructor(private readonly opts: StdioLinkOptions = {}) {
    this.stdin = opts.stdin ?? process.stdin;
    this.stdout = opts.stdout ?? process.stdout;
    this.out = new WriteCoalescer((bytes) => {
      if (this.stdout.writable) this.stdout.write(bytes);
    });
  }

  open(onData: (bytes: Uint8Array) => void): Promise<void> {
    const tty = this.stdin.isTTY === true;
    if (tty) {
      this.stdin.setRawMode(true);
      this.rawSet = true;
    }
    this.onChunk = (chunk: Buffer) => {
      if (tty && chunk.includes(CTRL_C)) {
        process.kill(process.pid, 'SIGINT');
        return;
      }
      onData(new Uint8Array(chunk));
    };
    this.stdin.on('data', this.onChunk);
    this.stdin.on('end', this.onEnd);
    // a read error (the terminal went away) ends the session like EOF, instead of the process
    this.stdin.on('error', this.onEnd);
    this.stdout.on('error', () => undefined);
    this.stdin.resume();
    return Promise.resolve();
  }

  write(bytes: Uint8Array): void {
    this.out.push(bytes);
  }

  close(): Promise<void> {
    this.out.flush();
    if (this.onChunk) this.stdin.off('data', this.onChunk);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('error', this.onEnd);
    if (this.rawSet) this.stdin.setRawMode(false);
    this.stdin.pause();
    return Promise.resolve();
  }
}
