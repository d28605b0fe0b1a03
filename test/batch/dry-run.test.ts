/**
 * `--dry-run` counts each request's output cap once, as output, never as input; the time estimate at a
 * token limit is (input + output cap) / tpm.
 */
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dryRun } from '../../src/batch/dry-run.js';
import { runCli } from '../../src/cli/program.js';
import { countTextTokens, estimateTokens } from '../../src/flow/token-estimate.js';
import { openAICompatibleAdapter } from '../../src/provider/openai-compatible.js';
import { tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const TEXT = 'Write a short biography of Ada Lovelace, in three sentences.';

describe('dryRun', () => {
  it('subtracts the output cap from the estimator and counts it once as output', async () => {
    const input = t.file('in.jsonl');
    const payload = { model: 'gpt-4o-mini', max_tokens: 500, messages: [{ role: 'user', content: TEXT }] };
    writeFileSync(input, `${JSON.stringify({ id: 'a', payload })}\n`);
    const report = await dryRun({ input, tokensPerMinute: 1000 });
    // tiktoken text tokens + 3 framing tokens per message + 3 reply priming tokens (OpenAI's counting guide)
    const inputTokens = countTextTokens(TEXT, 'o200k_base') + 3 + 3;
    expect(report.estimatedInputTokens).toBe(inputTokens);
    expect(report.estimatedInputTokens).toBe(estimateTokens(payload) - 500);
    expect(report.estimatedOutputTokens).toBe(500);
    expect(report.estimatedMs).toBeCloseTo(((inputTokens + 500) / 1000) * 60_000, 6);
    expect(report.bindingLimit).toBe('tokens');
  });

  it('counts the shaped payload: a template item gets the default cap once', async () => {
    const input = t.file('tpl.jsonl');
    writeFileSync(input, `${JSON.stringify({ prompt: 'abcdefgh' })}\n`);
    const adapter = openAICompatibleAdapter({ baseUrl: 'http://127.0.0.1:9/v1' });
    const report = await dryRun({
      input,
      tokensPerMinute: 60,
      defaultMaxOutputTokens: 100,
      shapePayload: (p) => ({ messages: [{ role: 'user', content: (p as { prompt: string }).prompt }], max_tokens: 100 }),
      estimateTokens: (p) => adapter.estimateTokens!(p as never),
    });
    // The adapter's estimate is ceil(12 chars ("abcdefgh" + "user") / 4) = 3 input tokens + the 100-token cap.
    expect(report).toMatchObject({ estimatedInputTokens: 3, estimatedOutputTokens: 100 });
    expect(report.estimatedMs).toBe(103_000);
  });
});

describe('sluice run --dry-run', () => {
  it('prints input tokens without the cap and a time that counts the cap once', async () => {
    const input = t.file('cli.jsonl');
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `r${i}`, prompt: 'x'.repeat(40) }));
    writeFileSync(input, `${lines.join('\n')}\n`);
    let stdout = '';
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        stdout += chunk.toString();
        cb();
      },
    });
    const code = await runCli(['node', 'sluice', 'run', input, '--dry-run', '--tokens-per-minute', '1100', '--max-output-tokens', '100'], {
      stdout: sink,
      stderr: sink,
      env: {},
      cwd: t.dir,
    });
    expect(code).toBe(0);
    // 40 characters + the role "user": 11 input tokens by the adapter's chars/4 estimate per line; 100 output tokens per line.
    expect(stdout).toMatch(/input tokens \(est\.\) 110\n/);
    expect(stdout).toMatch(/output tokens \(max\) 1000\n/);
    // (110 + 1000) tokens at 1100 tokens/min: about a minute, not the 1.9 min of counting the cap twice.
    expect(stdout).toMatch(/time at the limits\s+1\.0 min/);
  });
});
