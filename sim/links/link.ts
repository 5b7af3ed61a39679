/** A serial link between the modem's UART and a host: pty (socat), TCP, stdio, in-process. */
export interface Link {
  /** `pty:/path`, `tcp:127.0.0.1:7000`, `stdio`. */
  readonly description: string;
  /**
   * Where a host connects, once open: the pty link path or `host:port` (the bound port when
   * port 0 was asked for). The CLI's `ready` record carries it as `serial`.
   */
  readonly address?: string;
  /**
   * Start delivering host bytes to `onData`. `hostChanged` is called when another host takes
   * the link over (a new TCP connection): what the old one sent and the UART has not read yet
   * is not the new host's.
   */
  open(onData: (bytes: Uint8Array) => void, events?: LinkEvents): Promise<void>;
  /** Stop reading from the host while the module's RX FIFO is nearly full (TCP pushes back). */
  pauseInput?(): void;
  resumeInput?(): void;
  /** Bytes from the modem to the host (already paced by the UART). */
  write(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export interface LinkEvents {
  hostChanged?(): void;
}
