// Records the modules a Node process loads, one path or URL per line, into the file named by
// SLUICE_RECORD_LOADS. Used by the import bench and the light-core test to tell which packages an
// entry point loads: `node --import ./scripts/record-module-loads.mjs -e "await import('sluice')"`.
// Two sources, because neither sees everything: a loader hook sees every ESM `import` (and the entry
// of a CommonJS package imported from ESM), and `require.cache`, read at exit, holds every CommonJS
// module, including those loaded by `createRequire()` (lazy loads) and native `.node` addons.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.SLUICE_RECORD_LOADS;
if (out) {
  register('./record-module-loads-hooks.mjs', import.meta.url, { data: { out } });
  const require = createRequire(import.meta.url);
  process.on('exit', () => appendFileSync(out, `${Object.keys(require.cache).join('\n')}\n`));
}
