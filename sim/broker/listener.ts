/**
 * One listening socket of the embedded broker that knows its open connections, so that an
 * outage (pause) or close() can cut every one of them at once, as a dying broker host would.
 */
import type { Server, Socket } from 'node:net';

export class Listener {
  private readonly sockets = new Set<Socket>();
  private boundPort: number;
  private listening = false;

  constructor(
    private readonly server: Server,
    private readonly host: string,
    port: number,
    private readonly label: 'plain' | 'TLS',
  ) {
    this.boundPort = port;
    // 'connection' also fires on a tls.Server with the raw TCP socket, before the handshake:
    // Nagle off there covers TLS too. With it on, a small packet written while the previous
    // one is unacknowledged waits for the peer's delayed ACK (~40 ms on Linux), so the first
    // messages after a SUBSCRIBE reached subscribers 40 ms late.
    server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** Binds (the first time with the requested port, later on the port it got then). */
  listen(): Promise<void> {
    if (this.listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server.off('listening', onListening);
        reject(new BrokerListenError(this.label, this.host, this.boundPort, err));
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        const address = this.server.address();
        if (address !== null && typeof address === 'object') this.boundPort = address.port;
        this.listening = true;
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(this.boundPort, this.host);
    });
  }

  /** Stops accepting and destroys every open connection; resolves once the server is closed. */
  stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A listener that could not bind; `label` says which one, so a CLI can name its flag. */
export class BrokerListenError extends Error {
  constructor(
    readonly label: 'plain' | 'TLS',
    readonly host: string,
    readonly port: number,
    override readonly cause: NodeJS.ErrnoException,
  ) {
    super(`embedded broker: cannot listen on ${host}:${port} (${label} listener): ${listenReason(host, port, cause)}`, { cause });
    this.name = 'BrokerListenError';
  }
}

function listenReason(host: string, port: number, err: NodeJS.ErrnoException): string {
  return err.code === 'EADDRINUSE'
    ? `port ${port} is already in use (another broker running? pick a free port, or 0 for an ephemeral one)`
    : err.code === 'EACCES'
      ? `permission denied (ports below 1024 need privileges; pick another port, or 0)`
      : err.code === 'EADDRNOTAVAIL'
        ? `address ${host} is not available on this machine`
        : err.message;
}
