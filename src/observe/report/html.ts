import { writeFileSync } from 'node:fs';
import type { RecordedRun } from './recorder.js';
import { barChart, categoryBars, escapeHtml, lineChart, timeline, type TimelineRow } from './svg.js';

/** Final counts shown at the top of the report and in the terminal summary. */
export interface RunTotals {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  pending: number;
  rejected: number;
  durationMs: number;
  interrupted: boolean;
}

/** What {@link renderHtmlReport} draws. Nothing in it may be a secret: keys appear by name only. */
export interface ReportInput {
  title: string;
  totals: RunTotals;
  run: RecordedRun;
  /** Non-secret settings to list (limits, concurrency, paths). */
  settings?: Record<string, unknown>;
  /** Output, rejects and state paths. */
  files?: Record<string, string>;
}

const KIND_COLORS: Record<string, string> = {
  rate_limited: '#d9822b',
  quota_exhausted: '#a0522d',
  overloaded: '#b5651d',
  server_error: '#c23030',
  timeout: '#8f398f',
  network: '#5c7080',
  auth: '#000000',
  invalid_request: '#d13913',
  content_filtered: '#7157d9',
  not_found: '#669eff',
  cancelled: '#999999',
  unknown: '#444444',
};

const STATE_COLORS: Record<string, string> = { cooling: '#d9822b', parked: '#a0522d', disabled: '#222222' };

function secs(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
}

/** Renders the self-contained HTML report (inline CSS and SVG; no script, no external resource). */
export function renderHtmlReport(input: ReportInput): string {
  const { run, totals } = input;
  const perSec = 1000 / run.bucketMs;
  const xLabels: [string, string] = ['0 s', secs(run.endedAt - run.startedAt)];
  const unit = run.bucketMs === 1000 ? 'per s' : `per ${secs(run.bucketMs)}`;
  const charts = [
    lineChart(
      'Throughput over time (requests per second)',
      [
        { label: 'succeeded', color: '#0f9960', values: run.buckets.map((b) => b.succeeded * perSec) },
        { label: 'failed attempts', color: '#c23030', values: run.buckets.map((b) => b.failed * perSec) },
      ],
      xLabels,
      'req/s',
    ),
    barChart(`429 / rate-limited answers over time (${unit})`, run.buckets.map((b) => b.rateLimited), '#d9822b', xLabels, '429s'),
    lineChart(
      'Concurrency',
      [
        { label: 'in flight (max per bucket)', color: '#137cbd', values: run.buckets.map((b) => b.inFlightMax) },
        { label: 'concurrency limit', color: '#8a9ba8', values: run.buckets.map((b) => b.concurrency) },
      ],
      xLabels,
      'requests',
    ),
    timeline("Each key's cooldown timeline (orange cooling, brown parked, black disabled)", keyRows(run), run.startedAt, run.endedAt, xLabels),
    categoryBars('Failed attempts by kind (retried or not)', kindRows(run.attemptFailuresByKind)),
    categoryBars('Items failed for good, by kind', kindRows(run.finalFailuresByKind)),
  ];
  const attempts = run.buckets.reduce((s, b) => s + b.attempts, 0);
  const r429 = run.buckets.reduce((s, b) => s + b.rateLimited, 0);
  const rows: [string, string][] = [
    ['Items', String(totals.total)],
    ['Succeeded', String(totals.succeeded)],
    ['Failed', String(totals.failed)],
    ['Cancelled', String(totals.cancelled)],
    ['Still pending', String(totals.pending)],
    ['Rejected input lines', String(totals.rejected)],
    ['Duration', secs(totals.durationMs)],
    ['Throughput', `${(totals.durationMs > 0 ? ((totals.succeeded + totals.failed) * 1000) / totals.durationMs : 0).toFixed(1)} items/s`],
    ['Attempts', String(attempts)],
    ['Answered 429', `${r429} (${attempts ? ((100 * r429) / attempts).toFixed(2) : '0.00'} %)`],
    ['Latency p50 / p95 / max', `${run.latency.p50Ms.toFixed(0)} / ${run.latency.p95Ms.toFixed(0)} / ${run.latency.maxMs.toFixed(0)} ms`],
    ['Status', totals.interrupted ? 'interrupted (run the same command to resume)' : 'finished'],
  ];
  const keyTable = Object.entries(run.keys)
    .map(([name, k]) => `<tr><td>${escapeHtml(name)}</td><td>${k.attempts}</td><td>${k.succeeded}</td><td>${k.rateLimited}</td><td>${k.segments.length}</td></tr>`)
    .join('');
  const alerts = run.alerts
    .map((a) => `<li>${new Date(a.at).toISOString()} key ${escapeHtml(a.key)} crossed ${(a.alertLevel * 100).toFixed(0)} % (usage ${(a.usage * 100).toFixed(1)} %)</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#182026;max-width:780px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #e1e8ed;text-align:left}
figure{margin:18px 0}figcaption{font-weight:600;margin-bottom:4px}.chart{max-width:100%;height:auto;background:#fafbfc}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
code{background:#f5f8fa;padding:1px 4px}
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
<p>${new Date(run.startedAt).toISOString()} to ${new Date(run.endedAt).toISOString()}</p>
<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
${charts.join('\n')}
<h2>Keys</h2>
<table><tr><th>key</th><th>attempts</th><th>succeeded</th><th>429s</th><th>cooldowns</th></tr>${keyTable}</table>
${alerts ? `<h2>Quota alerts</h2><ul>${alerts}</ul>` : ''}
${settingsTable('Settings', input.settings)}
${settingsTable('Files', input.files)}
</body></html>
`;
}

/** Renders and writes the report; returns the path. */
export function writeHtmlReport(path: string, input: ReportInput): string {
  writeFileSync(path, renderHtmlReport(input));
  return path;
}

function keyRows(run: RecordedRun): TimelineRow[] {
  return Object.entries(run.keys).map(([name, k]) => ({
    label: name,
    intervals: k.segments.map((s) => ({
      from: s.from,
      to: s.to ?? run.endedAt,
      color: STATE_COLORS[s.state] ?? '#d9822b',
      title: `${s.state} ${secs((s.to ?? run.endedAt) - s.from)}${s.reason ? ` (${s.reason})` : ''}`,
    })),
  }));
}

function kindRows(byKind: Partial<Record<string, number>>): { label: string; value: number; color: string }[] {
  return Object.entries(byKind)
    .filter((e): e is [string, number] => (e[1] ?? 0) > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, value]) => ({ label: kind, value, color: KIND_COLORS[kind] ?? '#444' }));
}

function settingsTable(title: string, values: Record<string, unknown> | undefined): string {
  if (!values || Object.keys(values).length === 0) return '';
  const rows = Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td><code>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</code></td></tr>`)
    .join('');
  return `<h2>${escapeHtml(title)}</h2><table>${rows}</table>`;
}
