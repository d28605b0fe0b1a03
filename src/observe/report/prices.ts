/**
 * Token prices for the report's cost estimate: a built-in table of the main models, or a JSON file
 * given with `--prices` (validated here). The report always calls the result an estimate: list prices,
 * standard tier, no batch or cache discounts, no long-context surcharges, no taxes.
 *
 * Built-in figures are USD per million tokens, standard (non-batch) tier, from the providers' public
 * price pages, read on 2026-12-02 from copies of those pages dated March to June 2026:
 * - OpenAI: https://platform.openai.com/docs/pricing
 * - Anthropic: https://docs.anthropic.com/en/docs/about-claude/pricing
 * - Google Gemini API: https://ai.google.dev/gemini-api/docs/pricing (prompts up to 200k tokens)
 * Prices change; give `--prices` with your own contract's figures when they differ.
 */
import { z } from 'zod';

/** Price of one model, USD per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** A price table: model name (or name prefix, see {@link priceFor}) to price. */
export interface PriceTable {
  /** Where the figures come from (shown in the report). */
  source: string;
  /** Currency code shown with the cost (default USD). */
  currency: string;
  models: Record<string, ModelPrice>;
}

/** When the built-in table was last checked against the price pages. */
export const BUILTIN_PRICES_CHECKED = '2026-12-02';

const p = (inputPerMTok: number, outputPerMTok: number): ModelPrice => ({ inputPerMTok, outputPerMTok });

/** The built-in table (see the file comment for its sources). */
export const BUILTIN_PRICES: PriceTable = {
  source: `built-in list prices (OpenAI, Anthropic, Google price pages; checked ${BUILTIN_PRICES_CHECKED})`,
  currency: 'USD',
  models: {
    // OpenAI
    'gpt-5': p(1.25, 10),
    'gpt-5.1': p(1.25, 10),
    'gpt-5-mini': p(0.25, 2),
    'gpt-5-nano': p(0.05, 0.4),
    'gpt-4.1': p(2, 8),
    'gpt-4.1-mini': p(0.4, 1.6),
    'gpt-4.1-nano': p(0.1, 0.4),
    'gpt-4o': p(2.5, 10),
    'gpt-4o-mini': p(0.15, 0.6),
    o3: p(2, 8),
    'o3-mini': p(1.1, 4.4),
    'o4-mini': p(1.1, 4.4),
    'text-embedding-3-small': p(0.02, 0),
    'text-embedding-3-large': p(0.13, 0),
    // Anthropic
    'claude-opus-4-5': p(5, 25),
    'claude-opus-4-1': p(15, 75),
    'claude-opus-4': p(15, 75),
    'claude-sonnet-4-5': p(3, 15),
    'claude-sonnet-4': p(3, 15),
    'claude-3-7-sonnet': p(3, 15),
    'claude-haiku-4-5': p(1, 5),
    'claude-3-5-haiku': p(0.8, 4),
    'claude-3-haiku': p(0.25, 1.25),
    // Google Gemini API
    'gemini-2.5-pro': p(1.25, 10),
    'gemini-2.5-flash': p(0.3, 2.5),
    'gemini-2.5-flash-lite': p(0.1, 0.4),
    'gemini-2.0-flash': p(0.1, 0.4),
    'gemini-2.0-flash-lite': p(0.075, 0.3),
  },
};

const priceSchema = z.strictObject({
  inputPerMTok: z.number().nonnegative(),
  outputPerMTok: z.number().nonnegative(),
});

/** The `--prices` file: `{ "currency"?: "USD", "models": { "<model>": { "inputPerMTok": n, "outputPerMTok": n } } }`. */
export const priceFileSchema = z.strictObject({
  currency: z.string().min(1).max(8).optional(),
  source: z.string().max(200).optional(),
  models: z.record(z.string().min(1), priceSchema),
});

/** A `--prices` file that cannot be used; the message names the file and the field. */
export class PriceFileError extends Error {
  override readonly name = 'PriceFileError';
}

/** Parses and validates the text of a `--prices` file. */
export function parsePriceFile(path: string, text: string): PriceTable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PriceFileError(`prices file ${path}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = priceFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    throw new PriceFileError(`prices file ${path}: field ${field}: ${issue.message}`);
  }
  return { source: parsed.data.source ?? `prices file ${path}`, currency: parsed.data.currency ?? 'USD', models: parsed.data.models };
}

/**
 * The price of `model`: an exact entry, else the entry it is a snapshot of (`gpt-4o-mini-2024-07-18`,
 * `claude-sonnet-4-5-20250929`, `gemini-2.0-flash-001`, `-latest`); a `models/` prefix is ignored. Another
 * variant (`gpt-4o-realtime-preview`) is a different model with its own price, so it is not matched.
 * Undefined for an unknown model: its cost is unknown, never guessed.
 */
export function priceFor(table: PriceTable, model: string): ModelPrice | undefined {
  const name = model.replace(/^models\//, '');
  if (table.models[name]) return table.models[name];
  let best: string | undefined;
  for (const entry of Object.keys(table.models)) {
    if (name.startsWith(entry) && SNAPSHOT_SUFFIX.test(name.slice(entry.length)) && (best === undefined || entry.length > best.length)) best = entry;
  }
  return best === undefined ? undefined : table.models[best];
}

/** What may follow a priced name in a snapshot of the same model: a date, a version number, `latest`. */
const SNAPSHOT_SUFFIX = /^-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$/;

/** The estimated cost of some tokens of one model, or undefined when the table has no price for it. */
export function estimateCost(table: PriceTable, model: string, tokensIn: number, tokensOut: number): number | undefined {
  const price = priceFor(table, model);
  if (!price) return undefined;
  return (tokensIn * price.inputPerMTok + tokensOut * price.outputPerMTok) / 1_000_000;
}
