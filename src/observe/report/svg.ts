/** Tiny inline-SVG chart primitives for the self-contained HTML report (no library, no CDN). */

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One series of a line chart. */
export interface LineSeries {
  label: string;
  color: string;
  values: number[];
}

const W = 720;
const H = 180;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function axes(maxY: number, xLabels: [string, string], yLabel: string): string {
  const plotH = H - PAD.top - PAD.bottom;
  const lines: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    lines.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    lines.push(`<text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end" font-size="10">${fmt((maxY * i) / 4)}</text>`);
  }
  lines.push(`<text x="${PAD.left}" y="${H - 8}" font-size="10">${escapeHtml(xLabels[0])}</text>`);
  lines.push(`<text x="${W - PAD.right}" y="${H - 8}" text-anchor="end" font-size="10">${escapeHtml(xLabels[1])}</text>`);
  lines.push(`<text x="4" y="10" font-size="10">${escapeHtml(yLabel)}</text>`);
  return lines.join('');
}

/** A line chart of one or more series over the same x positions. */
export function lineChart(title: string, series: LineSeries[], xLabels: [string, string], yLabel: string): string {
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const maxY = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (n === 1 ? plotW / 2 : (plotW * i) / (n - 1));
  const y = (v: number): number => PAD.top + plotH - (plotH * v) / maxY;
  const paths = series
    .map((s) => {
      const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      return `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"><title>${escapeHtml(s.label)}</title></polyline>`;
    })
    .join('');
  return figure(title, `${axes(maxY, xLabels, yLabel)}${paths}`, legend(series));
}

/** A bar chart of one series over time. */
export function barChart(title: string, values: number[], color: string, xLabels: [string, string], yLabel: string): string {
  const n = Math.max(1, values.length);
  const maxY = niceMax(Math.max(0, ...values));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / n;
  const bars = values
    .map((v, i) => {
      if (v <= 0) return '';
      const h = (plotH * v) / maxY;
      return `<rect x="${(PAD.left + i * bw).toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${v}</title></rect>`;
    })
    .join('');
  return figure(title, `${axes(maxY, xLabels, yLabel)}${bars}`, '');
}

/** Horizontal bars for categories (failures by kind). */
export function categoryBars(title: string, rows: { label: string; value: number; color: string }[]): string {
  if (rows.length === 0) return figure(title, `<text x="${PAD.left}" y="40" font-size="12">none</text>`, '', 60);
  const rowH = 22;
  const h = rows.length * rowH + 16;
  const max = Math.max(...rows.map((r) => r.value), 1);
  const labelW = 150;
  const plotW = W - labelW - 60;
  const body = rows
    .map((r, i) => {
      const y = 8 + i * rowH;
      const w = (plotW * r.value) / max;
      return (
        `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end" font-size="12">${escapeHtml(r.label)}</text>` +
        `<rect x="${labelW}" y="${y + 2}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 6}" fill="${r.color}"/>` +
        `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 14}" font-size="12">${r.value}</text>`
      );
    })
    .join('');
  return figure(title, body, '', h);
}

/** One row of a timeline: intervals on a shared time axis. */
export interface TimelineRow {
  label: string;
  intervals: { from: number; to: number; color: string; title: string }[];
}

/** A Gantt-like timeline (each key's cooldowns). */
export function timeline(title: string, rows: TimelineRow[], start: number, end: number, xLabels: [string, string]): string {
  if (rows.length === 0) return figure(title, `<text x="${PAD.left}" y="40" font-size="12">no keys</text>`, '', 60);
  const rowH = 24;
  const labelW = 150;
  const plotW = W - labelW - PAD.right;
  const span = Math.max(1, end - start);
  const h = rows.length * rowH + 28;
  const x = (t: number): number => labelW + (plotW * (Math.min(Math.max(t, start), end) - start)) / span;
  const body = rows
    .map((r, i) => {
      const y = 6 + i * rowH;
      const bars = r.intervals
        .map((iv) => {
          const x0 = x(iv.from);
          const w = Math.max(1.5, x(iv.to) - x0);
          return `<rect x="${x0.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${iv.color}"><title>${escapeHtml(iv.title)}</title></rect>`;
        })
        .join('');
      return (
        `<text x="${labelW - 6}" y="${y + 16}" text-anchor="end" font-size="12">${escapeHtml(r.label)}</text>` +
        `<rect x="${labelW}" y="${y + 3}" width="${plotW}" height="${rowH - 8}" fill="#eef6ee"/>${bars}`
      );
    })
    .join('');
  const axis =
    `<text x="${labelW}" y="${h - 6}" font-size="10">${escapeHtml(xLabels[0])}</text>` +
    `<text x="${W - PAD.right}" y="${h - 6}" text-anchor="end" font-size="10">${escapeHtml(xLabels[1])}</text>`;
  return figure(title, body + axis, '', h);
}

function legend(series: LineSeries[]): string {
  if (series.length < 2) return '';
  return `<div class="legend">${series
    .map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.label)}</span>`)
    .join('')}</div>`;
}

function figure(title: string, svgBody: string, after: string, height = H): string {
  return (
    `<figure><figcaption>${escapeHtml(title)}</figcaption>` +
    `<svg class="chart" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${escapeHtml(title)}">${svgBody}</svg>` +
    `${after}</figure>`
  );
}
