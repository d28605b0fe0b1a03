export type { Clock, CancelTimer } from './clock.js';
export { SystemClock, systemClock } from './system-clock.js';
export { abortError, throwIfAborted, linkSignals } from './abort.js';
