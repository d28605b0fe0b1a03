import type { FaultType, ScheduledFault } from './options.js';
import type { Random } from './random.js';

/**
 * Decides which fault (if any) a request gets: a prompt marker first, then the schedule, then the
 * probabilities. Exactly one random draw per request when probabilities are set, so the decisions of a
 * run depend only on the seed and the order of arrivals.
 */
export class FaultPlan {
  constructor(
    private readonly probabilities: readonly [FaultType, number][],
    private readonly schedule: readonly ScheduledFault[],
    private readonly markers: boolean,
    private readonly random: Random,
  ) {}

  /**
   * @param arrival 1-based arrival number of the request at the server
   * @param keyArrival 1-based arrival number among the key's requests
   * @param elapsedMs time since the start (or the last stats reset) on the simulator's clock
   */
  decide(arrival: number, keyName: string, keyArrival: number, elapsedMs: number, marker: FaultType | undefined): FaultType | undefined {
    const draw = this.probabilities.length > 0 ? this.random() : 1;
    if (this.markers && marker !== undefined) return marker;
    for (const s of this.schedule) {
      if (s.key !== undefined && s.key !== keyName) continue;
      if (s.fromMs !== undefined && s.toMs !== undefined) {
        if (elapsedMs >= s.fromMs && elapsedMs < s.toMs) return s.fault;
        continue;
      }
      const n = s.key === undefined ? arrival : keyArrival;
      if (n >= (s.from ?? Infinity) && n <= (s.to ?? -Infinity)) return s.fault;
    }
    let acc = 0;
    for (const [fault, p] of this.probabilities) {
      acc += p;
      if (draw < acc) return fault;
    }
    return undefined;
  }
}
