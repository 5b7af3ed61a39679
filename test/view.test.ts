/**
 * The timeline page (`modemsim view`, `modemsim run --view`) in a real headless Chromium: it
 * loads from a file with no network and no console errors, has its lanes and one row per
 * command and URC in order, shows a line's bytes on click and on hover, and a 100k-record page
 * stays responsive. Screenshots go to $MODEMSIM_ARTIFACTS (else a temp directory).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { silentLogger } from '../sim/log.js';
import { parseTrace } from '../sim/replay/read.js';
import { runScenarioFiles } from '../sim/scenario/run-files.js';
import { viewOfTrace } from '../sim/view/data.js';
import { renderPage } from '../sim/view/page.js';
import { tempDir } from './helpers.js';
import { requireTool, skipWithout } from './system-tools.js';

const ROOT = join(import.meta.dirname, '..');
const LANES = ['host → module', 'module → host', 'network & broker', 'faults & guards', 'steps & boots'];

const scratch = tempDir('modemsim-view-test-');
afterAll(() => scratch.remove());
const artifacts = process.env['MODEMSIM_ARTIFACTS'] ?? join(scratch.path, 'artifacts');

interface Line {
  ev: string;
  dir?: string;
  kind?: string;
  text?: string;
}

/** Control characters as the page shows them. */
const shown = (s: string): string =>
  s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));

describe('modemsim view (no browser)', () => {
  it('writes one self-contained page: nothing fetched from anywhere', async () => {
    const trace = join(scratch.path, 'cli.jsonl');
    writeFileSync(
      trace,
      [
        { t: 0, ev: 'header', format: 'modemsim-trace', version: 1, profile: 'air724ug', seed: 1, clock: 'virtual', level: 'lines', baud: 115200, saved: {} },
        { t: 0, ev: 'boot', generation: 1 },
        { t: 1_500_000_000, ev: 'line', dir: 'tx', kind: 'urc', text: 'RDY</script><img src=x onerror=alert(1)>', t0: 1_499_000_000, t1: 1_500_000_000 },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const out = join(scratch.path, 'cli.html');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'sim/cli.ts', 'view', trace, '-o', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r).toEqual({ code: 0, stderr: '' });
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/\s(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link[^>]+stylesheet/i);
    // the data cannot close its script block
    expect(html.match(/<\/script>/g)).toHaveLength(2);
  });
});

describe.skipIf(skipWithout('chromium'))('the timeline page in headless Chromium', () => {
  let context: BrowserContext;
  const profile = tempDir('modemsim-chromium-');

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: requireTool('chromium'),
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await context?.close();
    profile.remove();
  });

  /** Open a page file; every console error, warning and page error is collected. */
  async function open(file: string): Promise<{ page: Page; problems: string[]; wallMs: number }> {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
    page.on('request', (req) => {
      if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) problems.push(`request: ${req.url()}`);
    });
    const began = performance.now();
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    return { page, problems, wallMs: performance.now() - began };
  }

  it('run --view: each seed flow has its lanes and one row per command and URC, in order; bytes on click and hover', async () => {
    const dir = join(scratch.path, 'views');
    const trace = join(scratch.path, 'seed.jsonl');
    const cwd = process.cwd();
    process.chdir(ROOT);
    try {
      expect(await runScenarioFiles(['scenarios/seed-plain-mqtt.yaml', 'scenarios/seed-ssl.yaml'], { view: dir, trace }, silentLogger(), () => undefined)).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    const sessions = parseTrace(readFileSync(trace, 'utf8'), trace);
    for (const name of ['seed-plain-mqtt', 'seed-ssl']) {
      const { page, problems } = await open(join(dir, `${name}.html`));
      const labels = await page.$$eval('.lane-label', (els) => els.map((e) => e.textContent ?? ''));
      for (const l of LANES) expect(labels).toContain(l);
      expect(labels).toEqual(expect.arrayContaining(['registration', 'packet attach', 'MQTT link']));
      expect(await page.textContent('.lane-group')).toBe('modem state');

      // every command the host sent and every URC, in the order of the trace
      const session = sessions.find((s) => s.name === `scenario ${name}`)!;
      const lines = session.records.filter((r): r is typeof r & Line => r.ev === 'line');
      const want = lines.filter((l) => (l.dir === 'rx' && l.kind === 'command') || (l.dir === 'tx' && l.kind === 'urc')).map((l) => `${l.kind === 'urc' ? 'URC' : 'command'} ${shown(l.text ?? '')}`);
      const got = await page.$$eval('.row', (rows) =>
        rows
          .map((r) => `${r.querySelector('.kind')?.textContent ?? ''} ${r.querySelector('.text')?.textContent ?? ''}`)
          .filter((t) => t.startsWith('command ') || t.startsWith('URC ')),
      );
      expect(got).toEqual(want);
      expect(want.length).toBeGreaterThan(10);
      expect(got).toContain('URC CONNECT OK');

      // a URC's row: its bytes in the detail panel, the timeline zoomed to it, its tooltip on hover
      const row = page.locator('.row', { hasText: 'CONNECT OK' }).first();
      await row.click();
      const detail = (await page.textContent('#detail')) ?? '';
      expect(detail).toContain('module → host · URC');
      expect(detail).toContain('43 4f 4e 4e 45 43 54 20 4f 4b'); // C O N N E C T   O K
      const k = Number(await row.getAttribute('data-k'));
      const box = await page.evaluate((i) => window.modemsimView.itemBox(i), k);
      const canvas = (await page.locator('canvas').boundingBox())!;
      await page.mouse.move(canvas.x + (box.x0 + box.x1) / 2, canvas.y + box.y + box.h / 2);
      await expect.poll(() => page.isVisible('#tip')).toBe(true);
      expect(await page.textContent('#tip')).toContain('CONNECT OK');
      const png = join(artifacts, `view-${name}.png`);
      await page.screenshot({ path: png });
      expect(readFileSync(png).subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(problems).toEqual([]);
      await page.close();
    }
  });

  it('stays responsive with 100k records: load, zoom and pan in well under a second each', async () => {
    // 25,000 exchanges of four lines, a URC, a state change and a net event now and then
    const recs: object[] = [{ t: 0, ev: 'header', format: 'modemsim-trace', version: 1, profile: 'air724ug', seed: 1, clock: 'virtual', level: 'lines', baud: 115200, saved: {} }];
    let t = 1e9;
    const line = (dir: string, kind: string, text: string): void => {
      const t0 = t;
      t += (text.length + 1) * 86_806;
      recs.push({ t, ev: 'line', dir, kind, text, t0, t1: t });
      t += 200_000;
    };
    for (let i = 0; i < 25_000; i++) {
      line('rx', 'command', 'AT+CSQ');
      line('tx', 'echo', 'AT+CSQ');
      line('tx', 'response', `+CSQ: ${i % 32},99`);
      line('tx', 'response', 'OK');
      if (i % 500 === 0) {
        line('tx', 'urc', '+CGREG: 1');
        recs.push({ t, ev: 'state', what: 'network.stat', from: 2, to: 1 });
        recs.push({ t, ev: 'net', what: 'signal', detail: { from: 3, to: 4 } });
      }
    }
    const sessions = parseTrace(recs.map((r) => JSON.stringify(r)).join('\n') + '\n', 'big.jsonl');
    const file = join(scratch.path, 'big.html');
    writeFileSync(file, renderPage(viewOfTrace('modemsim — 100k', sessions)));
    const { page, problems, wallMs } = await open(file);
    const loadMs = await page.evaluate(() => window.modemsimView.loadMs);
    const rows = await page.evaluate(() => window.modemsimView.rows);
    expect(rows).toBeGreaterThan(100_000);
    // the list is virtual: a screenful of rows in the DOM, not 100k
    expect(await page.locator('.row').count()).toBeLessThan(200);
    const canvas = (await page.locator('canvas').boundingBox())!;
    await page.mouse.move(canvas.x + canvas.width / 2, canvas.y + 70);
    const zoomStart = performance.now();
    for (let i = 0; i < 20; i++) await page.mouse.wheel(0, -300);
    await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
    const zoomMs = performance.now() - zoomStart;
    const drawMs = await page.evaluate(() => {
      window.modemsimView.fit();
      return new Promise<number>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(window.modemsimView.drawMs))));
    });
    await page.mouse.move(canvas.x + 400, canvas.y + 40);
    await page.mouse.down();
    await page.mouse.move(canvas.x + 700, canvas.y + 40, { steps: 5 });
    await page.mouse.up();
    await page.screenshot({ path: join(artifacts, 'view-100k.png') });
    console.log(`100k-record page: ${Math.round(wallMs)} ms to ready (script ${Math.round(loadMs)} ms), 20 wheel zooms ${Math.round(zoomMs)} ms, full redraw ${drawMs.toFixed(1)} ms`);
    expect(problems).toEqual([]);
    expect(loadMs).toBeLessThan(5000);
    expect(drawMs).toBeLessThan(250);
    await page.close();
  });
});

// the page's globals, for the functions page.evaluate runs there (this tsconfig has no DOM lib)
declare const window: {
  modemsimView: {
    loadMs: number;
    drawMs: number;
    rows: number;
    fit(): void;
    itemBox(k: number): { x0: number; x1: number; y: number; h: number };
  };
};
declare function requestAnimationFrame(cb: () => void): number;
