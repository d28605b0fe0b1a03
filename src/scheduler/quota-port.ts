/** The flow layer's `QuotaMonitor` as the scheduler's quota port (embedded executor and Redis worker alike). */
import type { QuotaMonitor } from '../flow/quota/quota-monitor.js';
import type { SchedulerQuota } from './ports.js';

/** Adapts a key's QuotaMonitor to what the scheduler needs: starts, usage, snapshots, pause. */
export function quotaPort(monitor: QuotaMonitor): SchedulerQuota {
  return {
    onStart: () => monitor.recordRequest(0),
    record: ({ rateLimit, tokens }) => {
      if (tokens !== undefined) monitor.recordTokens(tokens);
      if (rateLimit) monitor.observe(rateLimit);
    },
    pausedUntil: () => monitor.pausedUntil(),
    save: () => monitor.save(),
    close: () => monitor.close(),
  };
}
