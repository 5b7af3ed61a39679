/**
 * Checking a value read from YAML or JSON (a scenario, a fault spec, a control request): every
 * message names where the value was first. The scenario loader and the fault parser each throw
 * their own error type.
 */
export type SpecObject = Record<string, unknown>;

export const isSpecObject = (v: unknown): v is SpecObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export class SpecPlace {
  constructor(
    readonly text: string,
    private readonly error: (message: string) => Error,
  ) {}

  fail(msg: string): never {
    throw this.error(`${this.text}: ${msg}`);
  }

  keys(o: SpecObject, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(`unknown key "${k}" (expected ${allowed.map((a) => `"${a}"`).join(', ') || 'none'})`);
    }
  }

  string(v: unknown, what: string): string {
    // YAML reads `lac: 1234` as a number; the author meant the digits
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') this.fail(`${what} must be a string`);
    return v;
  }

  int(v: unknown, what: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(`${what} must be an integer in ${min}..${max}`);
    return v;
  }
}
