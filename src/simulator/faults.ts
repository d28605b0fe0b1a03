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
   */
  decide(arrival: number, keyName: string, keyArrival: number, marker: FaultType | undefined): FaultType | undefined {
    const draw = this.probabilities.length > 0 ? this.random() : 1;
    if (this.markers && marker !== undefined) return marker;
    for (const s of this.schedule) {
      const n = s.key === undefined ? arrival : s.key === keyName ? keyArrival : -1;
      if (n >= s.from && n <= s.to) return s.fault;
    }
    let acc = 0;
    for (const [fault, p] of this.probabilities) {
      acc += p;
      if (draw < acc) return fault;
    }
    return undefined;
  }
}
