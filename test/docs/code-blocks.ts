/** Reads the fenced code blocks and the links of the repository's Markdown pages (README.md, docs/*.md). */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** One fenced block of a page. */
export interface CodeBlock {
  /** Page, relative to the repository root (`README.md`, `docs/MONITORING.md`). */
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Language after the fence (`ts`, `sh`, ...); '' for a plain block (sample output, a folder tree). */
  lang: string;
  code: string;
  /** `<!-- not-run: reason -->` just above the fence: the block is shown, not run, for that reason. */
  notRun?: string;
  /** `<!-- doc-test: until "text" -->`: the block serves until stopped; it passes once its output shows `text`. */
  until?: string;
}

/** The pages whose blocks are tested. */
export function docPages(root: string): string[] {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

/** The fenced blocks of a page (fences may be indented, as inside a list item). */
export function codeBlocks(root: string, page: string): CodeBlock[] {
  const lines = readFileSync(join(root, page), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, lines[j]!.length - lines[j]!.trimStart().length)));
    const above = previousNonBlank(lines, i);
    const notRun = /<!--\s*not-run:\s*(.*?)\s*-->/.exec(above ?? '');
    const until = /<!--\s*doc-test:\s*until\s+"([^"]+)"\s*-->/.exec(above ?? '');
    blocks.push({
      page,
      line: i + 1,
      lang: open[2]!,
      code: body.join('\n'),
      ...(notRun ? { notRun: notRun[1]! } : {}),
      ...(until ? { until: until[1]! } : {}),
    });
    i = j;
  }
  return blocks;
}

function previousNonBlank(lines: string[], i: number): string | undefined {
  for (let k = i - 1; k >= 0; k--) if (lines[k]!.trim() !== '') return lines[k];
  return undefined;
}

/** Every Markdown link target `[text](target)` of a page, outside code blocks, with its line. */
export function links(root: string, page: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  let inCode = false;
  readFileSync(join(root, page), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (/^\s*```/.test(text)) inCode = !inCode;
      if (inCode) return;
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) out.push({ line: i + 1, target: m[1]! });
    });
  return out;
}
