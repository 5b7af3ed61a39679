/**
 * The UART as a TCP server (loopback by default): one host at a time, like one cable on one
 * connector. A new connection replaces the current one (the old socket is closed), so a driver
 * that reconnects after a crash is never locked out by its own half-dead socket. Bytes the
 * modem sends while no host is connected are lost, as on a UART with nothing plugged in.
 */
import { createServer, Server, Socket, AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Link, LinkEvents } from './link.js';
import { WriteCoalescer } from './coalesce.js';

export interface TcpLinkOptions {
  log?: Logger;
}

export class TcpLink implements Link {
  private server: Server | undefined;
  private host: Socket | undefined;
  /** The module's RX FIFO is nearly full: a host (also a new one) is not read from. */
  private paused = false;
  private boundPort: number | undefined;
  private readonly out = new WriteCoalescer((bytes) => this.host?.write(bytes));

  constructor(
    readonly hostname = '127.0.0.1',
    readonly port = 7000,
    private readonly opts: TcpLinkOptions = {},
  ) {}

  /** The port actually bound (differs from `port` when 0 asked for an ephemeral one). */
  get boundTo(): number {
    return this.boundPort ?? this.port;
  }

  get address(): string {
    const h = this.hostname.includes(':') ? `[${this.hostname}]` : this.hostname;
    return `${h}:${this.boundTo}`;
  }

  get description(): string {
    return `tcp:${this.address}`;
  }

  /** True while a host is connected. */
  get connected(): boolean {
    return this.host !== undefined;
  }

  pauseInput(): void {
    this.paused = true;
    this.host?.pause();
  }

  resumeInput(): void {
    this.paused = false;
    this.host?.resume();
  }

  open(onData: (bytes: Uint8Array) => void, events: LinkEvents = {}): Promise<void> {
    const log = this.opts.log;
    // Half-open allowed: `printf 'AT\r' | nc` closes its sending side at once but still reads.
    const server = createServer({ allowHalfOpen: true }, (sock) => {
      sock.setNoDelay(true);
      const peer = `${sock.remoteAddress}:${sock.remotePort}`;
      if (this.host) {
        log?.info({ peer }, 'new serial host replaces the connected one');
        this.host.destroy();
      } else {
        log?.info({ peer }, 'serial host connected');
      }
      this.host = sock;
      events.hostChanged?.();
      if (this.paused) sock.pause();
      sock.on('data', (chunk: Buffer) => {
        if (this.host === sock) onData(new Uint8Array(chunk));
      });
      sock.on('error', (err) => log?.debug({ err, peer }, 'serial host socket'));
      sock.on('close', () => {
        if (this.host !== sock) return;
        this.host = undefined;
        this.out.discard();
        log?.info({ peer }, 'serial host disconnected');
      });
    });
    this.server = server;
    return new Promise<void>((resolveOpen, rejectOpen) => {
      server.once('error', rejectOpen);
      server.listen(this.port, this.hostname, () => {
        server.off('error', rejectOpen);
        server.on('error', (err) => log?.error({ err }, 'serial TCP server'));
        this.boundPort = (server.address() as AddressInfo).port;
        resolveOpen();
      });
    });
  }

  write(bytes: Uint8Array): void {
    if (this.host) this.out.push(bytes);
  }

  async close(): Promise<void> {
    this.out.flush();
    const sock = this.host;
    this.host = undefined;
    if (sock && !sock.destroyed) {
      // Let what was already written leave, then drop the connection without waiting for the peer.
      await new Promise<void>((r) => {
        sock.once('finish', () => r());
        sock.once('close', () => r());
        sock.end();
      });
      sock.destroy();
    }
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
