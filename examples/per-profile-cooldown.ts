/**
 * Story: per-profile 429 cooldown (seeds/per-profile-429-cooldown.md). Four profiles (keys); when one
 * answers 429 only that profile cools (its Retry-After, else 30 s), the scene is retried at once on
 * another profile, the others keep working, and the profile rejoins by itself. When every profile
 * cools, the executor waits for the earliest one (one timer, no 3 s polling) and says who waits.
 * Virtual clock and fake provider with hidden per-profile limits; no real keys, no real time.
 *
 *   npx tsx examples/per-profile-cooldown.ts
 */
import { createLogger, createSluice } from 'sluice';
import { FakeProvider, VirtualClock } from 'sluice/testing';

const clock = new VirtualClock();
const logger = createLogger({ name: 'video-generation', clock, level: 'warn' });
const profiles = ['profile-1', 'profile-2', 'profile-3', 'profile-4'].map((name) => ({ name, secret: `secret-${name}` }));

// Each profile may start 5 scenes per minute (hidden from Sluice: it learns from the 429s).
const provider = new FakeProvider({ clock, latencyMs: 8_000, limits: { requests: 5 }, retryAfter: true });
const sluice = createSluice({
  clock,
  logger,
  provider,
  keys: profiles,
  concurrency: 4,
  learnRate: false, // keep the configured rate; a bare 429 cools the profile for defaultCooldownMs
  defaultCooldownMs: 30_000,
  retry: { byKind: { rate_limited: { attempts: 20 } } },
});
sluice.events.on('cooldownStart', (e) => console.log(`${e.key} cools for ${e.waitMs / 1000} s`));
sluice.events.on('cooldownEnd', (e) => console.log(`${e.key} rejoins`));
sluice.events.on('allKeysUnavailable', (e) =>
  console.log(`all profiles cooling; waiting ${e.waitMs / 1000} s for the first: ${e.keys.map((k) => `${k.key} ${Math.round(k.waitMs / 1000)} s`).join(', ')}`),
);

const scenes = Array.from({ length: 40 }, (_, i) => ({ value: `scene-${i + 1}` }));
const summary = await clock.run(sluice.runAll(scenes));
console.log(summary, `429 answers: ${provider.stats.rateLimited} of ${provider.stats.calls} calls; virtual time ${(clock.now() - Date.UTC(2026, 0, 1)) / 1000} s`);
console.log('calls per profile:', Object.fromEntries(Object.entries(provider.stats.byKey).map(([k, v]) => [k, v.succeeded])));
await sluice.close();
