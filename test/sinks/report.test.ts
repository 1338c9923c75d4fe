import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport } from '../../src/sinks/report-html.js';
import { assignLanes } from '../../src/sinks/report-timeline.js';
import { rebirthRun } from './fixture.js';
import { assertWellFormed, rects, svgAttr, type Rect } from './html-check.js';
import { HOSTILE, history, troubledRun } from './report-fixture.js';

const rebirth = () => renderReport({ runId: 'run-1', events: rebirthRun() }, history('rebirth', 6, 720_000));
const troubled = () => renderReport({ runId: 'run-2', events: troubledRun() }, [...history('up', 8, 40_000), ...history('down', 3, 40_000)]);

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width;
}

test('the report is well-formed and self-contained', () => {
  for (const html of [rebirth(), troubled()]) {
    assertWellFormed(html);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /\s(src|href)=/i, 'nothing to fetch');
    assert.deepEqual(
      [...html.matchAll(/https?:\/\/[^"\s]*/g)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg'),
      [],
    );
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  }
});

test('header and phase table tell castle, operation, status and total against budget', () => {
  const html = troubled();
  assert.match(html, /<title>Castle · demo · up · failed<\/title>/);
  assert.match(html, /<span class="badge bad">failed<\/span>/);
  assert.match(html, /over by 5\.5s/);
  assert.match(html, /<p class="reason">up\/app\/3 timed out<\/p>/);
  const rows = [...html.matchAll(/<tr><td>([^<]*)<\/td><td class="num">([^<]*)<\/td><td class="num">([^<]*)<\/td>/g)].map((m) => m.slice(1).join(' '));
  assert.deepEqual(rows, ['up/net 0ms 3.0s', 'up/db 3.0s 12.0s', 'up/app 15.0s 30.0s', 'up/edge 45.0s 0ms']);
  assert.match(rebirth(), /8\.7% used/);
});

test('one bar per step that ran or was decided, x and width proportional to its times', () => {
  for (const [html, events] of [
    [rebirth(), rebirthRun()],
    [troubled(), troubledRun()],
  ] as const) {
    const bars = rects(html, 'bar');
    const planned = events[0]!.type === 'run-started' ? events[0]!.steps.map((s) => s.id) : [];
    const decided = new Set(events.filter((e) => e.type === 'step-finished').map((e) => (e as { stepId: string }).stepId));
    assert.deepEqual(bars.map((b) => b.attrs['data-step']).sort(), planned.filter((id) => decided.has(id)).sort());
    const plotX = svgAttr(html, 'timeline', 'data-plot-x');
    const perMs = svgAttr(html, 'timeline', 'data-plot-width') / svgAttr(html, 'timeline', 'data-domain-ms');
    const t0 = Date.parse(events[0]!.ts);
    assert.ok(svgAttr(html, 'timeline', 'data-domain-ms') >= Date.parse(events.at(-1)!.ts) - t0, 'the whole run is on the chart');
    for (const b of bars) {
      const id = b.attrs['data-step']!;
      const start =
        Date.parse(
          events.find((e) => e.type === 'step-started' && e.stepId === id)?.ts ?? events.find((e) => e.type === 'step-finished' && e.stepId === id)!.ts,
        ) - t0;
      const end = Date.parse(events.find((e) => e.type === 'step-finished' && e.stepId === id)!.ts) - t0;
      assert.ok(Math.abs(b.x - (plotX + start * perMs)) < 0.01, `${id} x ${b.x} for start ${start}`);
      assert.ok(Math.abs(b.width - Math.max(3, (end - start) * perMs)) < 0.01, `${id} width ${b.width} for ${end - start}ms`);
      assert.ok(b.height > 0);
    }
  }
  // independent of the chosen scale: 15s and 7s bars keep their ratio
  const bars = rects(troubled(), 'bar');
  const w = (id: string) => bars.find((b) => b.attrs['data-step'] === id)!.width;
  assert.ok(Math.abs(w('up/app/0') / w('up/app/1') - 15 / 7) < 0.001);
});

test('parallel steps get their own lanes: bars on one row never overlap', () => {
  for (const html of [rebirth(), troubled()]) {
    const bars = rects(html, 'bar');
    for (const a of bars)
      for (const b of bars)
        if (a !== b && a.y === b.y) assert.ok(!overlaps(a, b), `${a.attrs['data-step']} and ${b.attrs['data-step']} share a row and overlap`);
  }
  const app = rects(troubled(), 'bar').filter((b) => b.attrs['data-step']!.startsWith('up/app/'));
  // api 15-30s, worker 15-22s, cron 18-26s are all running at 18s: three rows; migrations (23s) reuses worker's
  assert.equal(new Set(app.map((b) => b.y)).size, 3);
  const y = (id: string) => app.find((b) => b.attrs['data-step'] === id)!.y;
  assert.equal(y('up/app/3'), y('up/app/1'));
});

test('lane assignment is optimal: as many lanes as the most bars overlapping at once', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 20; round++) {
    const bars = Array.from({ length: 60 }, () => ({ x: Math.floor(rnd() * 900), w: 3 + Math.floor(rnd() * 200), lane: -1 }));
    const lanes = assignLanes(bars);
    for (const a of bars) for (const b of bars) if (a !== b && a.lane === b.lane) assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x);
    const depth = Math.max(...bars.map((p) => bars.filter((q) => q.x <= p.x && p.x < q.x + q.w).length));
    assert.equal(lanes, depth);
  }
});

test('labels are escaped wherever they appear', () => {
  const html = troubled();
  assert.ok(!html.includes(HOSTILE));
  assert.ok(!html.includes('<from>') && !html.includes('<stale>'));
  assert.ok(html.includes('api &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;'));
  assert.ok(html.includes('no answer in 22s &lt;from&gt; db &amp; cache'));
});

test('budget line only when the budget is on the chart; critical path bars marked', () => {
  const html = troubled();
  const plotX = svgAttr(html, 'timeline', 'data-plot-x');
  const perMs = svgAttr(html, 'timeline', 'data-plot-width') / svgAttr(html, 'timeline', 'data-domain-ms');
  const m = /<g class="budget"><line x1="([\d.]+)"/.exec(html);
  assert.ok(m, 'budget line drawn');
  assert.ok(Math.abs(Number(m[1]) - (plotX + 40_000 * perMs)) < 0.01);
  assert.doesNotMatch(rebirth(), /<g class="budget">/, '12m budget for a 1m run would squash the bars');
  assert.match(rebirth(), /budget 12m \(beyond the chart\)/);
  const crit = rects(html, 'bar')
    .filter((b) => b.attrs['class']!.split(' ').includes('crit'))
    .map((b) => b.attrs['data-step']);
  assert.deepEqual(crit, ['up/net/0', 'up/db/0', 'up/app/3']);
  assert.equal((html.match(/class="crit-link"/g) ?? []).length, 2);
  const retry = rects(html, 'retry');
  assert.equal(retry.length, 1, 'the failed first attempt of up/db/0 is marked on its bar');
  const db = rects(html, 'bar').find((b) => b.attrs['data-step'] === 'up/db/0')!;
  assert.ok(retry[0]!.x === db.x && Math.abs(retry[0]!.width - 3000 * perMs) < 0.01, 'from its start to the retry at 6s');
});

test('trend: one bar per run of the same operation plus this run, heights proportional', () => {
  const html = troubled();
  const runs = rects(html, 'run');
  assert.equal(runs.length, 9, '8 earlier up runs and this one; down runs left out');
  assert.ok(runs.every((r) => r.attrs['data-run']!.startsWith('h-up-') || r.attrs['data-run'] === 'run-2'));
  const current = runs.filter((r) => r.attrs['class']!.includes('current'));
  assert.deepEqual(
    current.map((r) => r.attrs['data-run']),
    ['run-2'],
  );
  const perMs = runs[0]!.height / Number(runs[0]!.attrs['data-duration-ms']);
  for (const r of runs) assert.ok(Math.abs(r.height - Number(r.attrs['data-duration-ms']) * perMs) < 0.02);
  assert.match(html, /<polyline class="budget-line"/);
  assert.doesNotMatch(rebirth(), /class="budget-line"/, 'a 12m budget over ~1m runs would flatten the bars');
  assert.match(rebirth(), /budget 12m \(above the chart\)/);
  const xs = runs.map((r) => r.x);
  assert.deepEqual(
    xs,
    [...xs].sort((a, b) => a - b),
    'oldest first',
  );
});

test('a run without run-finished renders: running steps reach the last event, phases come from the steps', () => {
  const events = rebirthRun().filter((e) => Date.parse(e.ts) - Date.parse(rebirthRun()[0]!.ts) <= 40_000);
  const html = renderReport({ runId: 'run-1', events }, []);
  assertWellFormed(html);
  assert.match(html, /<span class="badge warn">running<\/span>/);
  const running = rects(html, 'bar').filter((b) => b.attrs['class']!.includes('s-running'));
  assert.deepEqual(running.map((b) => b.attrs['data-step']).sort(), ['up/app/0', 'up/app/1']);
  const perMs = svgAttr(html, 'timeline', 'data-plot-width') / svgAttr(html, 'timeline', 'data-domain-ms');
  for (const b of running) assert.ok(Math.abs(b.width - 10_000 * perMs) < 0.01, 'from 30s to the note at 40s');
  assert.match(html, /<tr><td>up\/app<\/td><td class="num">30\.0s<\/td><td class="num">10\.0s<\/td>/);
  assert.match(html, /Not run: <code>proof\/db\/0<\/code>/);
  assert.match(html, /No finished runs yet\./);
});
