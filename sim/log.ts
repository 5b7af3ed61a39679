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

/** A logger that drops everything (in-process fixtures that did not ask for logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
