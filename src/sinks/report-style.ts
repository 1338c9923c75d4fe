// Inline so the report is one file; system fonts so nothing is fetched.
export const REPORT_CSS = `
:root{--fg:#1c2430;--muted:#5f6b7a;--line:#e3e7ed;--band:#f4f6f9;--card:#fff;--bg:#f7f8fa;
--ok:#2f9e6b;--bad:#d64545;--warn:#d98324;--cancel:#8a94a6;--skip:#c3cad4;--run:#3b7ddd;--crit:#1c2430;--budget:#c2410c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1140px;margin:0 auto;padding:28px 28px 40px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--band);padding:1px 5px;border-radius:4px}
header{margin-bottom:18px}
.eyebrow{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
h1{font-size:26px;margin:4px 0 6px;font-weight:650;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h1 .op{color:var(--muted);font-weight:500}
h2{font-size:15px;margin:0 0 12px;font-weight:650}
.badge{font-size:12px;font-weight:600;padding:3px 10px;border-radius:999px;color:#fff;text-transform:uppercase;letter-spacing:.04em}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
.meta{margin:0;color:var(--muted);font-size:13px}
.reason{margin:8px 0 0;color:var(--bad)}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:16px 0}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.card .v{font-size:22px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.card .d{font-size:12px;color:var(--muted)}
.card.over .v{color:var(--bad)}
.meter{height:6px;background:var(--band);border-radius:3px;margin-top:8px;overflow:hidden}
.meter span{display:block;height:100%;background:var(--ok)}
.card.over .meter span{background:var(--bad)}
.legend{display:flex;flex-wrap:wrap;gap:16px;font-size:12px;color:var(--muted);margin-bottom:8px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:14px;height:10px;border-radius:2px}
.sw.crit{background:#fff;border:2px solid var(--crit)}
.sw.budget{width:0;height:12px;border-left:2px dashed var(--budget);border-radius:0}
.scroll{overflow-x:auto}
svg{display:block;font-family:inherit;max-width:100%;height:auto}
.scroll svg{min-width:820px}
svg .band{fill:var(--band)}
svg .section{font-size:11px;font-weight:700;letter-spacing:.08em;fill:var(--muted)}
svg .layer-label{font-size:12px;fill:var(--fg)}
svg .sep{stroke:var(--line)}
svg .grid{stroke:var(--line)}
svg .axis{stroke:#b9c1cc}
svg .tick{font-size:11px;fill:var(--muted);font-variant-numeric:tabular-nums}
svg .bar-label{font-size:11px;pointer-events:none}
svg .bar-label.in{fill:#fff;font-weight:500}
svg .bar-label.out{fill:var(--fg)}
svg .retry{fill:#fff;opacity:.45}
svg .crit{stroke:var(--crit);stroke-width:2}
svg .crit-link{fill:none;stroke:var(--crit);stroke-width:1.2;stroke-dasharray:3 3;opacity:.7}
svg .budget line,svg .budget-line{stroke:var(--budget);stroke-width:1.5;stroke-dasharray:6 4;fill:none}
svg .budget text{font-size:11px;fill:var(--budget);font-weight:600}
svg .end{stroke:var(--fg);stroke-width:1;opacity:.35}
.s-succeeded,svg .run.ok{fill:var(--ok);background:var(--ok)}
.s-failed,svg .run.bad{fill:var(--bad);background:var(--bad)}
.s-timed-out{fill:var(--warn);background:var(--warn)}
svg .run.warn{fill:var(--warn)}
.s-cancelled{fill:var(--cancel);background:var(--cancel)}
.s-skipped{fill:var(--skip);background:var(--skip)}
.s-running{fill:var(--run);background:var(--run)}
svg .run{opacity:.55}
svg .run.current{opacity:1;stroke:var(--crit);stroke-width:1.5}
svg .current-label{font-size:11px;font-weight:600;fill:var(--fg)}
.two{display:grid;grid-template-columns:1.25fr 1fr;gap:16px}
.two section{margin:0}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600;padding:0 8px 6px;border-bottom:1px solid var(--line)}
td{padding:6px 8px;border-bottom:1px solid var(--line)}
tr:last-child td{border-bottom:0}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.gantt{width:38%}
td.gantt div{position:relative;height:8px;background:var(--band);border-radius:4px}
td.gantt span{position:absolute;top:0;bottom:0;background:var(--run);border-radius:4px;min-width:2px}
ol.path{margin:0;padding:0;list-style:none;counter-reset:p}
ol.path li{display:grid;grid-template-columns:22px 1fr auto;grid-template-rows:auto auto;column-gap:8px;padding:6px 0;border-bottom:1px solid var(--line);counter-increment:p}
ol.path li::before{content:counter(p);grid-row:span 2;width:20px;height:20px;border-radius:50%;background:var(--crit);color:#fff;font-size:11px;display:flex;align-items:center;justify-content:center}
ol.path .id{font-weight:600}
ol.path code{grid-column:2;justify-self:start;font-size:11px}
ol.path .took{grid-column:3;grid-row:1 / span 2;align-self:center;font-variant-numeric:tabular-nums;color:var(--muted)}
ul.checks,ul.failures,ul.warnings{margin:0;padding:0;list-style:none}
ul.checks li{padding:5px 0}
ul.checks .mark{display:inline-block;width:20px;font-weight:700}
ul.checks li.ok .mark{color:var(--ok)}ul.checks li.bad .mark{color:var(--bad)}
ul.failures li{padding:6px 0;border-bottom:1px solid var(--line)}
ul.failures pre{margin:6px 0 0;white-space:pre-wrap;font:12px ui-monospace,Menlo,Consolas,monospace;color:var(--bad);background:#fdf3f3;padding:8px 10px;border-radius:6px}
ul.warnings li{padding:4px 0;color:var(--warn)}
.note{color:var(--muted);font-size:12px;margin:10px 0 0}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
@media (max-width:900px){.cards{grid-template-columns:repeat(2,1fr)}.two{grid-template-columns:1fr}}
@media print{body{background:#fff}section,.card{break-inside:avoid}}
`;
