/**
 * The far side of a serial link as a real host program sees it: the pty device opened as a
 * file, or a TCP socket. Records every received chunk with its wall arrival time.
 */
import { closeSync, constants, openSync, write } from 'node:fs';
import { Socket, connect } from 'node:net';
import { ReadStream } from 'node:tty';
import { performance } from 'node:perf_hooks';
import { FINAL_RESULT } from '../sim/host.js';
import { WallWaits } from './helpers.js';

export abstract class SerialHost {
  /** Everything received and not yet consumed. */
  buf = '';
  /** Arrival of received byte i of the whole session (wall ms). */
  readonly arrivals: number[] = [];
  private readonly waits = new WallWaits();

  protected received(chunk: Buffer): void {
    const t = performance.now();
    this.buf += chunk.toString('latin1');
    for (let i = 0; i < chunk.length; i++) this.arrivals.push(t);
    this.waits.notify();
  }

  abstract send(data: string | Buffer): Promise<void>;
  abstract close(): Promise<void>;

  /** Wait (wall time, bounded) until `pattern` has arrived; consume through it. */
  expect(pattern: RegExp | string, timeoutMs = 5000): Promise<string> {
    return this.waits.until(
      () => {
        const end = endOf(pattern, this.buf);
        if (end < 0) return undefined;
        const text = this.buf.slice(0, end);
        this.buf = this.buf.slice(end);
        return text;
      },
      timeoutMs,
      () => `expected ${String(pattern)}, got ${JSON.stringify(this.buf.slice(-200))}`,
    );
  }

  /** Send a command line and return what came back through its final result code. */
  async command(line: string, timeoutMs = 5000): Promise<string> {
    await this.send(line + '\r');
    return this.expect(FINAL_RESULT, timeoutMs);
  }
}

export class PtyHost extends SerialHost {
  private readonly fd: number;
  private readonly rs: ReadStream;

  constructor(path: string) {
    super();
    // raw,echo=0 was set by socat on the pty: bytes pass untouched. The read stream makes its
    // fd non-blocking, so writes go through a second, blocking open (on the thread pool).
    this.rs = new ReadStream(openSync(path, constants.O_RDWR | constants.O_NOCTTY));
    this.fd = openSync(path, constants.O_WRONLY | constants.O_NOCTTY);
    this.rs.on('data', (c: Buffer) => this.received(c));
    // EIO once socat has closed its side: the session is over, not the test process
    this.rs.on('error', () => undefined);
  }

  send(data: string | Buffer): Promise<void> {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    return new Promise((resolve, reject) => write(this.fd, b, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    this.rs.destroy();
    closeSync(this.fd);
    return Promise.resolve();
  }
}

export class TcpHost extends SerialHost {
  readonly sock: Socket;
  readonly connected: Promise<void>;
  readonly closed: Promise<void>;

  constructor(hostAndPort: string) {
    super();
    const i = hostAndPort.lastIndexOf(':');
    this.sock = connect({ host: hostAndPort.slice(0, i), port: Number(hostAndPort.slice(i + 1)), noDelay: true });
    this.connected = new Promise((resolve, reject) => {
      this.sock.once('connect', resolve);
      this.sock.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.sock.once('close', () => resolve()));
    this.sock.on('data', (c: Buffer) => this.received(c));
  }

  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.write(data, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    this.sock.destroy();
    return this.closed;
  }
}

/** Where the first match of `pattern` in `text` ends, or -1. */
function endOf(pattern: RegExp | string, text: string): number {
  if (typeof pattern === 'string') {
    const i = text.indexOf(pattern);
    return i < 0 ? -1 : i + pattern.length;
  }
  const m = pattern.exec(text);
  return m ? m.index + m[0].length : -1;
}

/** Printable bytes that are not an AT command, a terminator or a backspace. */
export function garbageLine(n: number): string {
  let x = 12345;
  let s = 'x';
  while (s.length < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += String.fromCharCode(0x20 + ((x >> 16) % 95));
  }
  return s;
}
