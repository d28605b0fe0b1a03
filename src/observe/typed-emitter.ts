/**
 * A minimal typed event emitter. Each component declares an event map (`{ retry: RetryEvent; ... }`)
 * and listeners get the exact payload type. A throwing listener never breaks the component that emits.
 */
export type Listener<T> = (event: T) => void;

export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Subscribes; returns a function that unsubscribes. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(type, listener);
  }

  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    this.listeners.get(type)?.delete(listener as Listener<never>);
  }

  /** Subscribes to every event type at once (loggers, metrics, reports). */
  onAny(listener: (type: keyof Events, event: Events[keyof Events]) => void): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  emit<K extends keyof Events>(type: K, event: Events[K]): void {
    const set = this.listeners.get(type);
    if (set) {
      for (const l of set) {
        try {
          (l as Listener<Events[K]>)(event);
        } catch {
          // A broken listener must not break retries or scheduling.
        }
      }
    }
    for (const l of this.anyListeners) {
      try {
        l(type, event);
      } catch {
        // as above
      }
    }
  }

  private readonly anyListeners = new Set<(type: keyof Events, event: Events[keyof Events]) => void>();
}
