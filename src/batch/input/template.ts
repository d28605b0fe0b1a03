/** `{{field}}` prompt templates for CSV records and JSONL template variables. */

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

/** Field names a template uses, in order of first use. */
export function templateFields(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ''))];
}

/**
 * Renders a template with `vars`. Returns the text, or the name of the first missing field (a missing
 * or `null` value is missing; an empty string is a value).
 */
export function renderTemplate(template: string, vars: Record<string, unknown>): { text: string } | { missing: string } {
  for (const field of templateFields(template)) {
    const value = vars[field];
    if (value === undefined || value === null) return { missing: field };
  }
  const text = template.replace(PLACEHOLDER, (_, field: string) => {
    const value = vars[field];
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
  return { text };
}
