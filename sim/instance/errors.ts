/**
 * Start-up failures that the user fixes, not the code: the CLI prints their message as one plain
 * line (no JSON record, no stack) and exits with their code. Each message names the flag, the
 * value and the fix, so the line alone is enough to act on.
 */

export class StartupError extends Error {
  constructor(
    message: string,
    /** 2: the command line is wrong; 1: the machine is not as the command line assumes. */
    readonly exitCode: 1 | 2,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** A flag whose value can never work, on any machine (exit 2, as usage errors do by convention). */
export class UsageError extends StartupError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 2, options);
    this.name = 'UsageError';
  }
}

/** A flag that is fine but meets a machine that refuses it: a busy port, a locked directory. */
export class EnvironmentError extends StartupError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
    this.name = 'EnvironmentError';
  }
}

/** `--flag "value"`: values quoted, so an empty or spaced one is still visible in the line. */
export function flagValue(flag: string, value: string | number): string {
  return `${flag} ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`;
}

/** The errno code of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** One line, whatever the error carried: newlines from child tools would split the record. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
