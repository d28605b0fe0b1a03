/**
 * The HTML report of a real demo run, rendered in headless Chromium (Debian's `chromium`, installed by
 * `.ci/run` where missing) at 800 and 1600 px: the charts are drawn and span most of the page, counts
 * get integer ticks and the time axis several, the lanes, the failed-items table and the cost are there,
 * nothing overflows sideways and nothing is fetched from the network.
 *
 * Skipped only when no Chromium is installed and this is not CI; in CI a missing Chromium fails.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../cli/helpers.js';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(
  (p): p is string => typeof p === 'string' && p.length > 0,
);
const chromiumPath = CANDIDATES.find((p) => existsSync(p));
const inCI = Boolean(process.env.CI);

interface ChartInfo {
  name: string;
  width: number;
  xTicks: number[];
  yTicks: number[];
}

interface PageMeasures {
  clientWidth: number;
  scrollWidth: number;
  bodyScrollWidth: number;
  canvases: number[];
  charts: ChartInfo[];
  laneBars: number[];
  laneSegments: number;
  failedRows: number;
  failedWidth: number;
  summary: string;
  body: string;
}

describe.skipIf(!chromiumPath && !inCI)('HTML report in headless Chromium', () => {
  let dir: string;
  let report: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-report-browser-'));
    // A demo run with faults (so some items fail) and then `sluice report` from its state.
    const demo = await runInProcess(['demo', '--dir', dir, '--items', '300', '--fault-rate', '0.1', '--progress', 'off', '--seed', '3']);
    expect(demo.code, demo.stderr).toBe(0);
    const r = await runInProcess(['report', join(dir, 'prompts.jsonl')]);
    expect(r.code, r.stderr).toBe(0);
    report = r.stdout.trim();
  }, 120_000);

  it('the page data keeps in flight at or below the limit line and counts 429s in integers', () => {
    const html = readFileSync(report, 'utf8');
    const json = /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!;
    const data = JSON.parse(json) as { s: { inFlight: (number | null)[]; limit: (number | null)[]; rateLimited: (number | null)[] } };
    expect(data.s.inFlight.filter((v) => v !== null).length).toBeGreaterThan(1);
    data.s.inFlight.forEach((v, i) => {
      if (v !== null) expect(v, `point ${i}`).toBeLessThanOrEqual(data.s.limit[i]!);
    });
    for (const v of data.s.rateLimited) if (v !== null) expect(Number.isInteger(v)).toBe(true);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('draws wide charts with readable ticks, lanes, failed items and cost at 800 and 1600 px', async () => {
    if (!chromiumPath) throw new Error(`CI: no Chromium found (looked for ${CANDIDATES.join(', ')}); .ci/run installs Debian's chromium`);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      for (const width of [800, 1600]) {
        const page = await browser.newPage({ viewport: { width, height: 1000 } });
        const external: string[] = [];
        const errors: string[] = [];
        page.on('request', (req) => {
          if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) external.push(req.url());
        });
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(pathToFileURL(report).href);
        await page.waitForSelector('body[data-charts-ready="5"]', { timeout: 10_000 });
        // A string, so that this file needs no DOM types (the project compiles for Node).
        const m = (await page.evaluate(`(() => {
          const doc = document.documentElement;
          const w = (sel) => document.querySelector(sel)?.getBoundingClientRect().width ?? 0;
          return {
            clientWidth: doc.clientWidth,
            scrollWidth: doc.scrollWidth,
            bodyScrollWidth: document.body.scrollWidth,
            canvases: [...document.querySelectorAll('.chart canvas')].map((c) => c.getBoundingClientRect().width),
            charts: window.sluiceCharts.map((c) => ({ name: c.name, width: c.width, xTicks: c.xTicks, yTicks: c.yTicks })),
            laneBars: [...document.querySelectorAll('#key-lanes .bar')].map((b) => b.getBoundingClientRect().width),
            laneSegments: document.querySelectorAll('#key-lanes .bar span').length,
            failedRows: document.querySelectorAll('#failed-items tr').length,
            failedWidth: w('#failed-items'),
            summary: document.querySelector('.summary')?.textContent ?? '',
            body: document.body.innerText,
          };
        })()`)) as PageMeasures;
        expect(errors).toEqual([]);
        expect(external).toEqual([]);
        expect(m.scrollWidth).toBeLessThanOrEqual(m.clientWidth);
        expect(m.bodyScrollWidth).toBeLessThanOrEqual(m.clientWidth);
        expect(m.canvases).toHaveLength(5);
        for (const c of m.canvases) expect(c).toBeGreaterThan(0.85 * m.clientWidth);
        expect(m.charts.map((c) => c.name)).toEqual(['throughput', '429', 'latency', 'concurrency', 'keys']);
        for (const c of m.charts) expect(c.xTicks.length, `${c.name} time ticks`).toBeGreaterThanOrEqual(4);
        for (const name of ['429', 'concurrency']) {
          const ticks = m.charts.find((c) => c.name === name)!.yTicks;
          expect(ticks.length).toBeGreaterThanOrEqual(2);
          for (const t of ticks) expect(Number.isInteger(t), `${name} tick ${t}`).toBe(true);
        }
        expect(m.laneBars).toHaveLength(3);
        for (const b of m.laneBars) expect(b).toBeGreaterThan(0.7 * m.clientWidth);
        expect(m.laneSegments).toBeGreaterThanOrEqual(3);
        expect(m.failedRows).toBeGreaterThan(1);
        expect(m.failedWidth).toBeLessThanOrEqual(m.clientWidth);
        expect(m.summary).toMatch(/Estimated cost\s*\$\d+\.\d+ estimate/);
        expect(m.body).toMatch(/"minute" is 15 s/);
        // The demo keys are `sk-sim-<hex>`: none may appear (key names only).
        expect(m.body).not.toMatch(/sk-sim-[0-9a-f]{6,}/);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }, 60_000);
});
