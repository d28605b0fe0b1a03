/**
 * Parts of the CLI that a plain `sluice run` does not use, loaded on first use instead of at start-up.
 * Every command is built when the program starts (commander needs their options), so a static import
 * in any command is paid by every command: `sluice run` loaded the simulator (about 25 ms) for
 * `sluice demo` and `sluice simulate`. See docs/PERFORMANCE.md, "CLI fixed cost". The Redis side has
 * its own loader (redis-side-loader.ts). Types are imported statically, which costs nothing at run time.
 */

/** The provider simulator, for `sluice simulate` and `sluice demo`. */
export const loadSimulator = (): Promise<typeof import('../simulator/index.js')> => import('../simulator/index.js');
