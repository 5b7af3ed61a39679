/** Structured logs: pino to stderr (pretty on a TTY), never on the serial channel. */
import { pino, Logger } from 'pino';

export type { Logger };

export function createLogger(level = 'info', pretty = process.stderr.isTTY): Logger {
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level }, pino.destination({ fd: 2, sync: true }));
}

let silent: Logger | undefined;

/**
 * A logger that drops everything (in-process fixtures that did not ask for logs). One shared
 * instance: each `pino()` opens a destination that is never freed (~1.4 KB a modem).
 */
export function silentLogger(): Logger {
  silent ??= pino({ level: 'silent' });
  return silent;
}
