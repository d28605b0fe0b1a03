/**
 * One abort listener per caller signal, shared by every loop that subscribes to it.
 *
 * A shutdown signal shared by 100,000 waiting jobs would otherwise carry 100,000 listeners, and
 * `removeEventListener` searches the list, so each finished job would pay for all the others
 * (quadratic overall). Here subscribing and unsubscribing are O(1) Set operations.
 */
const hubs = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `callback` once when `signal` aborts; returns the unsubscribe function. The signal must not be aborted yet. */
export function subscribeAbort(signal: AbortSignal, callback: () => void): () => void {
  let set = hubs.get(signal);
  if (!set) {
    const created = new Set<() => void>();
    set = created;
    hubs.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        hubs.delete(signal);
        for (const cb of created) cb();
        created.clear();
      },
      { once: true },
    );
  }
  set.add(callback);
  const own = set;
  return () => {
    own.delete(callback);
  };
}
