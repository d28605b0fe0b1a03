/**
 * The HTML report: one self-contained file a user can send to a colleague. Charts are drawn by uPlot,
 * whose distributed script and stylesheet are read from `node_modules/uplot/dist` when the report is
 * written and inlined into the page, with the data as JSON: the file loads nothing from the network.
 *
 * Charts span the page's width (redrawn on resize); counts get integer ticks; the time axis has a
 * labelled tick every 60 px or so; axis titles sit beside the ticks, not on them; per-key lanes show
 * each key's state over time as positioned blocks on the same time scale.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ReportData } from './report-data.js';
import { replaceFile } from '../replace-file.js';
import { escapeHtml } from './html.js';

let uplotAssets: { js: string; css: string } | undefined;

/** uPlot's minified script and stylesheet, read once from the installed package. */
function uplot(): { js: string; css: string } {
  if (!uplotAssets) {
    const require = createRequire(import.meta.url);
    const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    uplotAssets = { js, css };
  }
  return uplotAssets;
}

/** Colours of the key states in the lanes (and their legend). */
export const LANE_COLORS: Record<string, string> = {
  active: '#cfe8d4',
  cooling: '#f0a04b',
  paused: '#7aa6d8',
  parked: '#a0522d',
  disabled: '#30363d',
  stopped: '#eeeeee',
};

const KEY_COLORS = ['#137cbd', '#d9822b', '#0f9960', '#8f398f', '#c23030', '#669eff', '#a67908', '#29a634', '#5c7080', '#d13913'];

function secs(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function money(v: number, currency: string): string {
  const digits = v >= 100 ? 2 : v >= 1 ? 3 : 4;
  return `${currency === 'USD' ? '$' : `${currency} `}${v.toFixed(digits)}`;
}

/** JSON that is safe inside a `<script>` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Renders the report page. */
export function renderReportPage(d: ReportData): string {
  const { js, css } = uplot();
  const c = d.totals.counts;
  const duration = d.endedAt - d.startedAt;
  const activeMs = d.sessions.reduce((s, x) => s + Math.max(0, x.to - x.from), 0);
  const finished = c.succeeded + c.failed;
  const share = d.totals.attempts ? ((100 * d.totals.rateLimited) / d.totals.attempts).toFixed(2) : '0.00';
  const status = d.running
    ? 'running (snapshot)'
    : c.pending + c.running > 0
      ? 'interrupted: run the same command again to resume'
      : 'finished';
  const rows: [string, string][] = [
    ['Status', status],
    ['Items', `${c.total}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.pending + c.running} pending`],
    ['Time', `${secs(duration)} from first start to last activity${d.sessions.length > 1 ? ` (${d.sessions.length} sessions, ${secs(activeMs)} running)` : ''}`],
    ['Throughput', `${(activeMs > 0 ? (finished * 1000) / activeMs : 0).toFixed(2)} items/s while running`],
    ['Attempts', `${d.totals.attempts} (${d.totals.retries} retries scheduled)`],
    ['Answered 429', `${d.totals.rateLimited} (${share} % of attempts)`],
    ['Latency p50 / p95', d.totals.p50Ms !== undefined ? `${d.totals.p50Ms.toFixed(0)} / ${d.totals.p95Ms!.toFixed(0)} ms` : 'no attempt timed'],
    ['Tokens in / out', `${d.tokens.tokensIn.toLocaleString('en')} / ${d.tokens.tokensOut.toLocaleString('en')}`],
    ['Estimated cost', costLine(d)],
  ];
  const summary = rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const notes = d.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('');
  const chartData = {
    x: d.x,
    s: d.series,
    keys: d.keys,
    keyColors: d.keys.map((_, i) => KEY_COLORS[i % KEY_COLORS.length]),
    stepS: d.stepMs / 1000,
  };
  const perStep = d.stepMs === 1000 ? 'per second' : `per ${secs(d.stepMs)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(d.title)}</title>
<style>${css}</style>
<style>
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0;padding:20px 28px;color:#182026;overflow-x:hidden}
main{width:100%}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}
.meta{color:#5c7080;margin:0 0 12px}
table{border-collapse:collapse;margin:6px 0;max-width:100%}
td,th{padding:4px 10px;border-bottom:1px solid #e1e8ed;text-align:left;vertical-align:top}
th{font-weight:600}
.summary th{width:11em}
.num{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fff8e6;border-left:4px solid #d9822b;padding:6px 10px;margin:8px 0}
.chart{width:100%;margin:6px 0 18px}
.chart .uplot{width:100%}
.u-legend{font-size:12px}.u-legend .u-series{display:inline-block}
figure{margin:0}figcaption{font-weight:600;margin:14px 0 2px}
.hint{color:#5c7080;font-size:12px;margin:0 0 4px}
.lanes{width:100%}
.lane{display:flex;align-items:center;margin:3px 0}
.lane .name{flex:0 0 9em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding-right:8px;text-align:right}
.lane .bar{position:relative;flex:1 1 auto;height:18px;background:${LANE_COLORS.stopped};overflow:hidden}
.lane .bar span{position:absolute;top:0;bottom:0;min-width:1px}
.laneaxis{position:relative;height:18px;margin-left:9em;font-size:11px;color:#5c7080}
.laneaxis span{position:absolute;transform:translateX(-50%);white-space:nowrap}
.laneaxis span:first-child{transform:none}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
.failed{width:100%}
.failed td{overflow-wrap:anywhere}
.failed td.num,.failed th,.failed td.kind,.failed td.key{white-space:nowrap}
.failed td.id{white-space:nowrap;max-width:16em;overflow:hidden;text-overflow:ellipsis}
.failed td.msg{width:60%}
code{background:#f5f8fa;padding:1px 4px;overflow-wrap:anywhere}
</style></head><body><main>
<h1>${escapeHtml(d.title)}</h1>
<p class="meta">${escapeHtml(iso(d.startedAt))} to ${escapeHtml(iso(d.endedAt))} · report drawn ${escapeHtml(iso(d.generatedAt))}</p>
${notes}
<table class="summary">${summary}</table>
<h2>Over time</h2>
<p class="hint">Time axis: since the first start. Gaps are times when no process ran this batch. One point ${escapeHtml(perStep === 'per second' ? 'per second' : `per ${secs(d.stepMs)}`)}.</p>
<figure><figcaption>Throughput (items per second)</figcaption><div class="chart" id="chart-throughput" data-chart="throughput"></div></figure>
<figure><figcaption>429 answers (${escapeHtml(perStep)})</figcaption><div class="chart" id="chart-429" data-chart="429"></div></figure>
<figure><figcaption>Latency of attempts (p50 and p95, ms)</figcaption><div class="chart" id="chart-latency" data-chart="latency"></div></figure>
<figure><figcaption>Concurrency: requests in flight and the limit</figcaption>
<p class="hint">In flight is counted when a request starts, so the limit in force bounds it; after the limit is lowered, requests already running finish and the count drains below the line.</p>
<div class="chart" id="chart-concurrency" data-chart="concurrency"></div></figure>
<h2>Keys</h2>
<figure><figcaption>Each key's state over time</figcaption>
${lanes(d)}</figure>
<figure><figcaption>Throughput per key (succeeded attempts per second)</figcaption><div class="chart" id="chart-keys" data-chart="keys"></div></figure>
${keyTable(d)}
<h2>Tokens and estimated cost</h2>
${tokenTable(d)}
<h2>Failed items</h2>
${failedTable(d)}
${changes(d)}
${kvTable('Settings', d.settings)}
${kvTable('Files', d.files)}
</main>
<script>${js}</script>
<script id="report-data" type="application/json">${scriptJson(chartData)}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}

/**
 * Writes the report page atomically (a temporary file beside it, then a rename: a reader never sees half a
 * page, during a run either); returns the path.
 */
export function writeReportPage(path: string, data: ReportData): string {
  replaceFile(path, renderReportPage(data));
  return path;
}

function costLine(d: ReportData): string {
  const t = d.tokens;
  if (t.models.length === 0) return 'unknown: no response reported token usage';
  if (t.cost === undefined) return `unknown: no price for ${t.models.map((m) => m.model).join(', ')} (give --prices)`;
  const unknown = t.models.filter((m) => m.cost === undefined).map((m) => m.model);
  return `${money(t.cost, t.currency)} estimate${unknown.length ? ` for the priced models; unknown for ${unknown.join(', ')}` : ''} (${t.source})`;
}

function tokenTable(d: ReportData): string {
  const t = d.tokens;
  if (t.models.length === 0) return '<p>No response reported token usage, so the cost is unknown.</p>';
  const rows = t.models
    .map(
      (m) =>
        `<tr><td><code>${escapeHtml(m.model)}</code></td><td class="num">${m.calls}</td><td class="num">${m.tokensIn.toLocaleString('en')}</td>` +
        `<td class="num">${m.tokensOut.toLocaleString('en')}</td><td class="num">${m.cost === undefined ? 'unknown (no price)' : escapeHtml(money(m.cost, t.currency))}</td></tr>`,
    )
    .join('');
  return (
    `<table class="tokens"><tr><th>model</th><th class="num">responses</th><th class="num">tokens in</th><th class="num">tokens out</th><th class="num">estimated cost</th></tr>${rows}</table>` +
    `<p class="hint">Estimate: tokens as the responses reported them, times list prices from ${escapeHtml(t.source)}; no batch or cache discounts, no long-context surcharges. A model without a price is shown as unknown.</p>`
  );
}

function failedTable(d: ReportData): string {
  const f = d.failed;
  if (f.total === 0) return '<p id="failed-items">No item failed.</p>';
  if (f.items.length === 0) return `<p id="failed-items">${f.total} item(s) failed; this state keeps no list of them for the report: \`sluice export\` has each with its kind and message.</p>`;
  const rows = f.items
    .map(
      (i) =>
        `<tr><td class="id" title="${escapeHtml(i.id)}"><code>${escapeHtml(i.id)}</code></td><td class="num">${i.line}</td>` +
        `<td class="kind">${escapeHtml(i.kind)}${i.status !== undefined ? ` (${i.status})` : ''}</td>` +
        `<td class="num">${i.attempts}</td><td class="key">${escapeHtml(i.key ?? '')}</td><td class="msg">${escapeHtml(i.message)}</td></tr>`,
    )
    .join('');
  const more = f.total > f.items.length ? `<p class="hint">First ${f.items.length} of ${f.total} failed items, in line order; \`sluice export\` has them all.</p>` : '';
  return (
    `<table class="failed" id="failed-items">` +
    `<tr><th>id</th><th class="num">line</th><th>kind</th><th class="num">attempts</th><th>last key</th><th>message</th></tr>${rows}</table>${more}`
  );
}

function keyTable(d: ReportData): string {
  if (d.keys.length === 0) return '';
  const rows = d.keys
    .map((k) => {
      const s = d.totals.perKey[k]!;
      return `<tr><td>${escapeHtml(k)}</td><td class="num">${s.attempts}</td><td class="num">${s.succeeded}</td><td class="num">${s.rateLimited}</td><td class="num">${s.tokensIn.toLocaleString('en')}</td><td class="num">${s.tokensOut.toLocaleString('en')}</td></tr>`;
    })
    .join('');
  return `<table><tr><th>key</th><th class="num">attempts</th><th class="num">succeeded</th><th class="num">429s</th><th class="num">tokens in</th><th class="num">tokens out</th></tr>${rows}</table>`;
}

function lanes(d: ReportData): string {
  if (d.keys.length === 0) return '<p>No key recorded.</p>';
  const span = Math.max(1, d.endedAt - d.startedAt);
  const pct = (t: number): string => `${((100 * (Math.min(Math.max(t, d.startedAt), d.endedAt) - d.startedAt)) / span).toFixed(3)}%`;
  const body = d.keys
    .map((k) => {
      const segs = (d.lanes[k] ?? [])
        .map((s) => {
          const w = ((100 * (Math.min(s.to, d.endedAt) - Math.max(s.from, d.startedAt))) / span).toFixed(3);
          const title = `${s.state} ${secs(s.to - s.from)} from ${secs(s.from - d.startedAt)}${s.reason ? ` (${s.reason})` : ''}`;
          return `<span class="seg-${s.state}" style="left:${pct(s.from)};width:${w}%;background:${LANE_COLORS[s.state] ?? '#999'}" title="${escapeHtml(title)}"></span>`;
        })
        .join('');
      return `<div class="lane"><div class="name">${escapeHtml(k)}</div><div class="bar">${segs}</div></div>`;
    })
    .join('');
  const ticks = timeTicks(span)
    .map((t) => `<span style="left:${((100 * t) / span).toFixed(3)}%">${escapeHtml(shortTime(t))}</span>`)
    .join('');
  const legend = Object.entries(LANE_COLORS)
    .map(([state, color]) => `<span><i style="background:${color}"></i>${state === 'stopped' ? 'no process running' : state}</span>`)
    .join('');
  return `<div class="lanes" id="key-lanes">${body}<div class="laneaxis">${ticks}</div></div><div class="legend">${legend}</div>`;
}

/** Up to about 8 round tick positions (ms) over a span. */
function timeTicks(span: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200, 86_400].map((s) => s * 1000);
  const step = steps.find((s) => span / s <= 8) ?? steps[steps.length - 1]!;
  const out: number[] = [];
  for (let t = 0; t <= span * 0.97; t += step) out.push(t);
  return out;
}

function shortTime(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

function changes(d: ReportData): string {
  const parts: string[] = [];
  if (d.pauses.length) {
    parts.push(
      `<h2>Pauses</h2><ul>${d.pauses
        .slice(0, 50)
        .map((p) => `<li>${escapeHtml(shortTime(p.at - d.startedAt))}: ${escapeHtml(p.reason)}${p.until ? ` until ${escapeHtml(iso(p.until))}` : ''}</li>`)
        .join('')}</ul>`,
    );
  }
  if (d.concurrencyChanges.length) {
    const list = d.concurrencyChanges.slice(-30);
    parts.push(
      `<h2>Concurrency changes</h2>${d.concurrencyChanges.length > list.length ? `<p class="hint">Last ${list.length} of ${d.concurrencyChanges.length}.</p>` : ''}<ul>${list
        .map((c) => `<li>${escapeHtml(shortTime(c.at - d.startedAt))}: limit ${c.limit}${c.reason ? ` (${escapeHtml(c.reason)})` : ''}</li>`)
        .join('')}</ul>`,
    );
  }
  return parts.join('\n');
}

function kvTable(title: string, values: Record<string, unknown>): string {
  const rows = Object.entries(values)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td><code>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</code></td></tr>`)
    .join('');
  return rows ? `<h2>${escapeHtml(title)}</h2><table>${rows}</table>` : '';
}

/** The page's script: builds each chart with uPlot at the width of its container, and again on resize. */
const CHART_SCRIPT = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var timeIncrs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
  var intIncrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000, 1e6];
  function fmtTime(s) {
    s = Math.round(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return s % 60 ? Math.floor(s / 60) + ' min ' + (s % 60) + ' s' : s / 60 + ' min';
    var m = Math.round(s / 60);
    return m % 60 ? Math.floor(m / 60) + ' h ' + (m % 60) + ' min' : m / 60 + ' h';
  }
  var ticks = {};
  function fmtNum(v) { return Math.abs(v) >= 100 ? String(Math.round(v)) : String(+v.toPrecision(3)); }
  function xAxis() {
    var t = ticks;
    return { label: 'time since start', labelSize: 20, incrs: timeIncrs, space: 70, values: function (u, vals) { t.x = vals.slice(); return vals.map(fmtTime); } };
  }
  function yAxis(title, integer) {
    var t = ticks;
    var a = { label: title, labelSize: 22, size: 56, space: 28, values: function (u, vals) { t.y = vals.slice(); return vals.map(fmtNum); } };
    if (integer) { a.incrs = intIncrs; a.values = function (u, vals) { t.y = vals.slice(); return vals.map(function (v) { return String(Math.round(v)); }); }; }
    return a;
  }
  function xSeries() { return { label: 'time', value: function (u, v) { return v == null ? '--' : fmtTime(v); } }; }
  function series(label, color, extra) {
    var s = { label: label, stroke: color, width: 1.6, spanGaps: false };
    for (var k in extra) s[k] = extra[k];
    return s;
  }
  var defs = {
    throughput: function () {
      return { axes: [xAxis(), yAxis('items / s', false)], series: [xSeries(), series('succeeded', '#0f9960', { fill: 'rgba(15,153,96,0.08)' }), series('failed attempts', '#c23030')],
        data: [D.x, D.s.succeededPerSec, D.s.failedPerSec], yMin: 0 };
    },
    '429': function () {
      return { axes: [xAxis(), yAxis('429 answers', true)], series: [xSeries(), series('429 answers', '#d9822b', { fill: 'rgba(217,130,43,0.35)', paths: uPlot.paths.bars({ size: [0.9, 60] }) })],
        data: [D.x, D.s.rateLimited], yMin: 0, integer: true };
    },
    latency: function () {
      return { axes: [xAxis(), yAxis('ms', false)], series: [xSeries(), series('p50', '#137cbd'), series('p95', '#8f398f', { dash: [6, 3] })],
        data: [D.x, D.s.p50Ms, D.s.p95Ms], yMin: 0 };
    },
    concurrency: function () {
      var step = uPlot.paths.stepped({ align: 1 });
      return { axes: [xAxis(), yAxis('requests', true)], series: [xSeries(), series('in flight', '#137cbd', { paths: step, fill: 'rgba(19,124,189,0.12)', points: { show: false } }), series('limit', '#5c7080', { paths: step, dash: [5, 4], width: 2, points: { show: false } })],
        data: [D.x, D.s.inFlight, D.s.limit], yMin: 0, integer: true };
    },
    keys: function () {
      var s = [xSeries()], data = [D.x];
      D.keys.forEach(function (k, i) { s.push(series(k, D.keyColors[i])); data.push(D.s.perKeySucceededPerSec[k]); });
      return { axes: [xAxis(), yAxis('items / s', false)], series: s, data: data, yMin: 0 };
    }
  };
  var charts = [];
  function build(el) {
    ticks = {};
    var chartTicks = ticks;
    var def = defs[el.getAttribute('data-chart')]();
    var width = Math.max(200, Math.floor(el.clientWidth));
    var opts = {
      width: width, height: 220, series: def.series, axes: def.axes,
      legend: { show: true }, cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: { range: function (u, min, max) { var hi = max > 0 ? max : 1; if (def.integer) hi = Math.max(1, Math.ceil(hi * 1.1)); else hi = hi * 1.1; return [def.yMin, hi]; } } }
    };
    el.innerHTML = '';
    var chart = new uPlot(opts, def.data, el);
    charts.push({ el: el, chart: chart, ticks: chartTicks });
  }
  var els = document.querySelectorAll('[data-chart]');
  for (var i = 0; i < els.length; i++) build(els[i]);
  var pending = 0;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      charts.forEach(function (c) { c.chart.setSize({ width: Math.max(200, Math.floor(c.el.clientWidth)), height: 220 }); });
    }, 100);
  });
  // For the rendering test and for anyone inspecting the page: the charts and their ticks.
  window.sluiceCharts = charts.map(function (c) {
    return { name: c.el.getAttribute('data-chart'), width: c.chart.width, get xTicks() { return c.ticks.x || []; }, get yTicks() { return c.ticks.y || []; } };
  });
  document.body.setAttribute('data-charts-ready', String(charts.length));
})();
`;
