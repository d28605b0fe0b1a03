/** Keeping secrets and long bodies out of error messages. */

/** Replaces every occurrence of each secret (of 4+ characters) with `***`, so a server echoing the key cannot leak it. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    out = out.split(secret).join('***');
  }
  return out;
}

/** The first `max` characters of a body on one line (whitespace collapsed), with `…` when cut. */
export function bodySnippet(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
