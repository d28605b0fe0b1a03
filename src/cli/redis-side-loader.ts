/** Loads the CLI's Redis side (see redis-side.ts) on first use; later calls get the same module. */
export const loadRedisSide = (): Promise<typeof import('./redis-side.js')> => import('./redis-side.js');
