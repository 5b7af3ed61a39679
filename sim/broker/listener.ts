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
    private readonly label: string,
  ) {
    this.boundPort = port;
    // 'connection' also fires on a tls.Server with the raw TCP socket, before the handshake
    server.on('connection', (socket: Socket) => {
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
        reject(listenError(this.label, this.host, this.boundPort, err));
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

function listenError(label: string, host: string, port: number, err: NodeJS.ErrnoException): Error {
  const where = `${host}:${port}`;
  const why =
    err.code === 'EADDRINUSE'
      ? `port ${port} is already in use (another broker running? pick a free port, or 0 for an ephemeral one)`
      : err.code === 'EACCES'
        ? `permission denied (ports below 1024 need privileges; pick another port, or 0)`
        : err.code === 'EADDRNOTAVAIL'
          ? `address ${host} is not available on this machine`
          : err.message;
  return new Error(`embedded broker: cannot listen on ${where} (${label} listener): ${why}`, { cause: err });
}
