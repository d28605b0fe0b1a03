/**
 * Story: quota management for a 42,888-item run (seeds/quota-management-plan.md), scaled down: a
 * daily request budget per key, alerts at 60/80/95 %, a pause at the 80 % threshold until the quota
 * day rolls over (then processing resumes by itself, nothing lost), adaptive concurrency (start 4,
 * max 16) and per-minute limits learned from the response headers. Virtual clock, fake provider.
 *
 *   npx tsx examples/quota-management.ts
 */
import { createLogger, createSluice } from 'sluice';
import { FakeProvider, VirtualClock } from 'sluice/testing';

const clock = new VirtualClock();
const logger = createLogger({ name: 'artist-bio-gen', clock, level: 'warn' });
const provider = new FakeProvider({ clock, latencyMs: 2_000, limits: { requests: 60, tokens: 40_000 }, rateLimitHeaders: true });
const sluice = createSluice({
  clock,
  logger,
  provider,
  keys: [{ name: 'tier3', secret: 'not-a-real-key' }],
  limits: { requestsPerDay: 500 },
  quota: { alertLevels: [0.6, 0.8, 0.95], pauseThreshold: 0.8 },
  concurrency: { initial: 4, max: 16, adaptive: true },
});
sluice.events.on('quotaAlert', (a) => console.log(`alert: ${a.key} ${a.window} quota at ${Math.round(a.usage * 100)} % (level ${a.level * 100} %)`));
sluice.events.on('pause', (p) => console.log(`pause (${p.reason}) ${p.key ?? ''} until ${p.until ? new Date(p.until).toISOString() : '?'} ${p.detail ?? ''}`));
sluice.events.on('resume', (r) => console.log(`resume (${r.reason}) ${r.key ?? ''} at ${new Date(clock.now()).toISOString()}`));
sluice.events.on('concurrencyChange', (c) => console.log(`concurrency ${c.from} -> ${c.to}: ${c.reason}`));

const artists = Array.from({ length: 700 }, (_, i) => ({ value: `artist-${i + 1}`, tokens: 500 }));
const summary = await clock.run(sluice.runAll(artists, { maxQueued: 100 }));
console.log(summary, `429 answers: ${provider.stats.rateLimited}; finished at ${new Date(clock.now()).toISOString()}`);
await sluice.close();
