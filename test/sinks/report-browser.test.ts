// Renders the report in the real (Debian) Chromium: the SVG must lay out, not just parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderReport } from '../../src/sinks/report-html.js';
import { rebirthRun } from './fixture.js';
import { HOSTILE, history, troubledRun } from './report-fixture.js';
import { requirement } from '../helpers/requires.js';

// tsconfig has no DOM lib: just the one SVG call these checks make.
interface Boxed {
  getBBox(): { width: number; height: number };
}

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = requirement(existsSync(CHROMIUM), `${CHROMIUM} is not installed`);
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const cases = [
  { name: 'rebirth', runId: 'run-1', events: rebirthRun(), history: history('rebirth', 14, 720_000), label: 'deploy api' },
  { name: 'troubled', runId: 'run-2', events: troubledRun(), history: history('up', 8, 40_000), label: HOSTILE },
];

test('report renders in headless Chromium: bars laid out, nothing fetched, screenshot taken', { skip: HAS_CHROMIUM.skip, timeout: 120_000 }, async (t) => {
  HAS_CHROMIUM.check();
  const { chromium } = await import('playwright-core');
  const dir = await mkdtemp(join(tmpdir(), 'castle-report-'));
  // Playwright makes its own profile dir per launch; the flags match how Castle's docs run Chromium.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    for (const c of cases) {
      const file = join(dir, `${c.name}.html`);
      await writeFile(file, renderReport({ runId: c.runId, events: c.events }, c.history));
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(file).href);

      const bars = await page.$$eval('svg.timeline rect.bar', (els) =>
        els.map((el) => {
          const b = (el as unknown as Boxed).getBBox();
          const r = el.getBoundingClientRect();
          return { id: el.getAttribute('data-step'), w: b.width, h: b.height, screenW: r.width, screenH: r.height };
        }),
      );
      const expected = c.events.filter((e) => e.type === 'step-finished').length;
      assert.equal(bars.length, expected, `${c.name}: one bar per finished step`);
      for (const b of bars) assert.ok(b.w > 0 && b.h > 0 && b.screenW > 0 && b.screenH > 0, `${c.name}: ${b.id} has size ${JSON.stringify(b)}`);

      const trend = await page.$$eval('svg.trend rect.run', (els) => els.map((el) => (el as unknown as Boxed).getBBox().height));
      assert.ok(trend.length > 0 && trend.every((h) => h > 0), `${c.name}: trend bars drawn`);
      // Escaped markup must come back as the literal label, not as an element.
      const titles = await page.$$eval('svg.timeline rect.bar > title', (els) => els.map((el) => el.textContent ?? ''));
      assert.ok(
        titles.some((x) => x.startsWith(c.label)),
        `${c.name}: label text survives: ${titles[0]}`,
      );
      assert.equal(await page.locator('script').count(), 0);
      assert.deepEqual(requests, [pathToFileURL(file).href], 'no request but the page itself');

      const png = join(dir, `${c.name}.png`);
      await page.screenshot({ path: png, fullPage: true });
      const bytes = await readFile(png);
      assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
      assert.ok(bytes.length > 10_000, `${c.name}: screenshot has content (${bytes.length} bytes)`);
      t.diagnostic(`screenshot: ${png}`);
      await page.close();
    }
  } finally {
    await browser.close();
    // the screenshots named in the diagnostics stay only when asked for
    if (!process.env['CASTLE_KEEP_TEST_DIRS']) await rm(dir, { recursive: true, force: true });
  }
});
