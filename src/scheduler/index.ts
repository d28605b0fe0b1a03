/** The scheduler: priority and retry queues, the dispatcher and `createSluice`. */
export { createSluice } from './create-sluice.js';
export type { SluiceOptions, ConcurrencyOption, SluiceLogger } from './create-sluice.js';
export { Executor } from './executor.js';
export type { ExecutorConfig, RunAllOptions, RunAllSummary, CloseOptions } from './executor.js';
export type { RunOptions, JobResult, AttemptStartInfo, AttemptEndInfo, AttemptHooks } from './job.js';
export type { ExecutorEvents, JobId } from './events.js';
export { KeyRouter } from './key-router.js';
export type { KeyLane } from './key-router.js';
export { ReadyQueue, RetryQueue } from './queues.js';
export type { QueuedItem } from './queues.js';
export type * from './ports.js';
