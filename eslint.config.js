import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layer direction (docs/ARCHITECTURE.md, ../shared/DESIGN.md): each folder of src/ lists the folders it
 * may import; anything else is an upward (or sideways) import and fails lint. Data flows
 * cli -> batch -> scheduler -> flow -> attempt -> provider -> classify -> clock; observe (events, logger)
 * sits low so that anyone may import it; simulator and testing are separate leaves on lower layers (the
 * simulator imitates the providers, so it uses none of the code it is meant to check).
 * The entry points src/*.ts (index.ts, redis.ts) may import any layer but cli.
 */
const LAYERS = {
  clock: [],
  classify: ['clock'],
  observe: ['clock', 'classify'],
  provider: ['clock', 'classify', 'observe'],
  attempt: ['clock', 'classify', 'observe', 'provider'],
  flow: ['clock', 'classify', 'observe', 'provider', 'attempt'],
  scheduler: ['clock', 'classify', 'observe', 'provider', 'attempt', 'flow'],
  batch: ['clock', 'classify', 'observe', 'provider', 'attempt', 'flow', 'scheduler'],
  simulator: ['clock', 'observe'],
  testing: ['clock', 'classify', 'observe', 'provider', 'simulator'],
  cli: ['clock', 'classify', 'observe', 'provider', 'attempt', 'flow', 'scheduler', 'batch', 'simulator', 'testing'],
};

/** A `no-restricted-imports` pattern for each layer `from` may not import, matched on relative specifiers. */
function forbiddenImports(from, allowed) {
  return Object.keys(LAYERS)
    .filter((to) => to !== from && !allowed.includes(to))
    .map((to) => ({
      // `../scheduler/x.js`, `../../scheduler/x.js`, `../scheduler`: a path segment named after the layer.
      regex: `^\\.{1,2}/(?:.*/)?${to}(?:/|$)`,
      message: `src/${from} may not import src/${to}: layers import downwards only (${from} may import: ${allowed.join(', ') || 'nothing outside itself'}; see LAYERS in eslint.config.js and docs/ARCHITECTURE.md).`,
    }));
}

const layerRules = [
  ...Object.entries(LAYERS).map(([layer, allowed]) => ({
    files: [`src/${layer}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: forbiddenImports(layer, allowed) }] },
  })),
  {
    files: ['src/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\./cli(?:/|$)', message: 'an entry point (src/*.ts) may not import src/cli: the CLI sits on top of the library.' }] },
      ],
    },
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.lua', 'test/docs/.snippets-*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layerRules,
);
