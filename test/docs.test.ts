import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderReadme } from '../sim/docs.js';

describe('README command reference', () => {
  it('is generated from the command tables and up to date (run `npm run docs`)', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(await renderReadme(readme)).toBe(readme);
  });
});
