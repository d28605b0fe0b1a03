/**
 * The layer rule of eslint.config.js (LAYERS: nothing imports upward) really fails on an upward import
 * and lets the allowed ones through. Probe files are linted in memory with ESLint's Node API, under
 * the path they would have in src/, with the project's own config. That src/ itself holds no upward
 * import is `npm run lint` (part of `npm test`).
 */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

/** The layer-rule messages ESLint gives for `code` placed at `file` (a path under the repo). */
async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer lint (eslint.config.js LAYERS)', () => {
  it.each([
    ['src/classify/probe.ts', "import { Executor } from '../scheduler/executor.js';\nexport const x = Executor;\n", 'classify', 'scheduler'],
    ['src/classify/providers/probe.ts', "export { KeyPool } from '../../flow/key-pool.js';\n", 'classify', 'flow'],
    // The findings: observe imported attempt types, testing the scheduler's heap, provider flow/quota.
    ['src/observe/probe.ts', "import type { RetryHooks } from '../attempt/retry.js';\nexport type X = RetryHooks;\n", 'observe', 'attempt'],
    ['src/testing/probe.ts', "export * from '../scheduler/queues.js';\n", 'testing', 'scheduler'],
    ['src/provider/probe.ts', "export * from '../flow/quota/quota-monitor.js';\n", 'provider', 'flow'],
    ['src/flow/redis/probe.ts', "export { RedisJobStore } from '../../batch/redis/redis-store.js';\n", 'flow', 'batch'],
    ['src/batch/probe.ts', "export * from '../cli/options.js';\n", 'batch', 'cli'],
    ['src/scheduler/probe.ts', "export * from '../simulator/index.js';\n", 'scheduler', 'simulator'],
    ['src/clock/probe.ts', "export * from '../observe/typed-emitter.js';\n", 'clock', 'observe'],
  ])('%s: an import of a higher layer fails, naming both layers', async (file, code, from, to) => {
    const errors = await layerErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`src/${from} may not import src/${to}`);
  });

  it('an entry point may not import the CLI', async () => {
    expect(await layerErrors('src/probe.ts', "export * from './cli/main.js';\n")).toHaveLength(1);
  });

  it.each([
    ['src/scheduler/probe.ts', "import { KeyPool } from '../flow/key-pool.js';\nexport const x = KeyPool;\n"],
    ['src/batch/redis/probe.ts', "export * from '../../flow/redis/connect.js';\nexport * from '../../scheduler/index.js';\n"],
    ['src/attempt/probe.ts', "export * from '../observe/logger.js';\nexport * from '../classify/kinds.js';\n"],
    ['src/testing/probe.ts', "export * from '../clock/indexed-heap.js';\nexport type * from '../provider/types.js';\n"],
    ['src/cli/commands/probe.ts', "export * from '../../batch/index.js';\nexport * from '../../simulator/index.js';\n"],
    ['src/probe.ts', "export * from './batch/index.js';\n"],
    // Packages and same-layer folders whose names merely resemble a layer are not layers.
    ['src/classify/probe.ts', "export * from './providers/openai.js';\nexport * from 'openai/resources/batches';\n"],
  ])('%s: a downward or same-layer import passes', async (file, code) => {
    expect(await layerErrors(file, code)).toEqual([]);
  });

});
