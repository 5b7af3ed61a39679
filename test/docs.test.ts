import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderBehaviour, renderReadme } from '../sim/docs.js';

describe('README command reference', () => {
  it('is generated from the command tables and up to date (run `npm run docs`)', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(await renderReadme(readme)).toBe(readme);
  });

  it('docs/behaviour.md carries the spellings table generated from the profiles (run `npm run docs`)', () => {
    const doc = readFileSync(new URL('../docs/behaviour.md', import.meta.url), 'utf8');
    expect(renderBehaviour(doc)).toBe(doc);
    expect(doc).toContain('| the network deactivates a context | `spellings.pdpDeact` | `+PDP DEACT` | `+CGEV: NW PDN DEACT {cid}` |');
  });
});
