/**
 * The HTML report is drawn by `page.ts` (uPlot charts inlined into one self-contained file) from the
 * data `report-data.ts` builds out of the stored time series. This module keeps the terminal summary's
 * totals and the HTML escaping both use.
 */

/** Final counts shown in the terminal summary. */
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

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
