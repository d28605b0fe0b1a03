/**
 * `sluice/testing`: tools for testing code that uses Sluice, without real time or real keys.
 * @packageDocumentation
 */
export { VirtualClock } from './virtual-clock.js';
export type { PendingTimer, VirtualClockOptions } from './virtual-clock.js';
export { FakeProvider } from './fake-provider.js';
export type * from './fake-provider.js';
