/**
 * Parts of the CLI loaded on first use instead of at start-up. Every command is built when the program
 * starts (commander needs their options), so a static import in any command is paid by every command:
 * `sluice run` loaded the simulator (about 25 ms) for `sluice demo` and `sluice simulate`, and
 * `sluice --help` or `sluice status` loaded the executor and the report's page. See docs/PERFORMANCE.md,
 * "CLI fixed cost". The Redis side has its own loader (redis-side-loader.ts). Types are imported
 * statically, which costs nothing at run time.
 */

/** The provider simulator, for `sluice simulate` and `sluice demo`. */
export const loadSimulator = (): Promise<typeof import('../simulator/index.js')> => import('../simulator/index.js');

/**
 * The batch session (session.ts: the executor, the batch runner, progress, the report), 40-50 ms of
 * modules. `sluice run` starts this load before its probe request and awaits it after the answer, so
 * that the modules load while the probe waits on the network instead of before the process sends
 * anything. A load that fails is reported where the promise is awaited, not as an unhandled rejection
 * when the preflight fails first and nobody awaits it.
 */
export function loadSession(): Promise<typeof import('./session.js')> {
  const session = import('./session.js');
  session.catch(() => undefined);
  // The session ends with a report: its drawing code loads in the same wait.
  loadReportDrawing().catch(() => undefined);
  return session;
}

/** The report's data and page (report-data.ts, page.ts), for the report written at the end of a run and by `sluice report`. */
export async function loadReportDrawing(): Promise<typeof import('../observe/report/report-data.js') & typeof import('../observe/report/page.js')> {
  const [data, page] = await Promise.all([import('../observe/report/report-data.js'), import('../observe/report/page.js')]);
  return { ...data, ...page };
}
