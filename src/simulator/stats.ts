/** Counters of one key. */
export interface KeyStats {
  /** Requests received with this key (every outcome). */
  requests: number;
  /** Requests answered 2xx with a correct body (not counting injected slow/truncated/malformed bodies). */
  successes: number;
  /** 429 answers sent, whatever their cause (enforced limits or injected faults). */
  rateLimited: number;
  /** Refusals by the enforced limits, by limit: `requests`, `tokens`, `day`, `concurrency`. */
  limits: Record<string, number>;
  /** Injected faults by type. */
  faults: Record<string, number>;
  /** Answers by HTTP status (`0` for a reset or a hang). */
  statuses: Record<string, number>;
  /** Tokens counted for admitted requests (input chars / 4 + max output tokens). */
  tokens: number;
}

/** One request as the server saw it. */
export interface RequestLogEntry {
  /** Arrival time, ms since epoch on the simulator's clock. */
  at: number;
  /** Key name (`(none)` without a key, `(unknown)` for an unknown key), never the secret. */
  key: string;
  /** Endpoint name, e.g. `openai.chat`, `gemini.operation`. */
  endpoint: string;
  /** `ok`, `limit:<kind>`, `fault:<type>`, `unauthorized`, `revoked`, `invalid_request`, `too_large`, `not_found`. */
  outcome: string;
  /** HTTP status sent, 0 when none was (reset, hang). */
  status: number;
}

/** What `stats()` and `GET /_sluice/stats` return. */
export interface SimulatorStats {
  /** When counting started (start or last reset), ms since epoch. */
  since: number;
  /** Requests received in total. */
  requests: number;
  /** Counters per key name. */
  keys: Record<string, KeyStats>;
  /** Requests in order of completion, up to `maxLogEntries` (default 1,000,000). */
  log: RequestLogEntry[];
  /** Requests not logged because the log was full. */
  logDropped: number;
}

const emptyKeyStats = (): KeyStats => ({ requests: 0, successes: 0, rateLimited: 0, limits: {}, faults: {}, statuses: {}, tokens: 0 });

const bump = (record: Record<string, number>, key: string, by = 1): void => {
  record[key] = (record[key] ?? 0) + by;
};

/**
 * Counts what reached the server. The log keeps parallel arrays (no object per request) so a
 * million entries stay cheap; objects are built only when stats are read.
 */
export class StatsRecorder {
  private since: number;
  private total = 0;
  private keys = new Map<string, KeyStats>();
  private at: number[] = [];
  private key: string[] = [];
  private endpoint: string[] = [];
  private outcome: string[] = [];
  private status: number[] = [];
  private dropped = 0;

  constructor(
    private readonly maxLogEntries: number,
    now: number,
  ) {
    this.since = now;
  }

  /** Records one finished request. `tokens` is what it was charged (0 if refused). */
  record(at: number, keyName: string, endpoint: string, outcome: string, status: number, tokens: number): void {
    this.total++;
    let k = this.keys.get(keyName);
    if (!k) {
      k = emptyKeyStats();
      this.keys.set(keyName, k);
    }
    k.requests++;
    k.tokens += tokens;
    bump(k.statuses, String(status));
    if (status === 429) k.rateLimited++;
    if (outcome === 'ok') k.successes++;
    else if (outcome.startsWith('fault:')) bump(k.faults, outcome.slice(6));
    else if (outcome.startsWith('limit:')) bump(k.limits, outcome.slice(6));
    if (this.at.length < this.maxLogEntries) {
      this.at.push(at);
      this.key.push(keyName);
      this.endpoint.push(endpoint);
      this.outcome.push(outcome);
      this.status.push(status);
    } else {
      this.dropped++;
    }
  }

  /** A snapshot (deep copy). `withLog: false` leaves the per-request log out. */
  snapshot(withLog = true): SimulatorStats {
    const keys: Record<string, KeyStats> = {};
    for (const [name, k] of this.keys) {
      keys[name] = { ...k, limits: { ...k.limits }, faults: { ...k.faults }, statuses: { ...k.statuses } };
    }
    const log: RequestLogEntry[] = [];
    if (withLog) {
      for (let i = 0; i < this.at.length; i++) {
        log.push({ at: this.at[i]!, key: this.key[i]!, endpoint: this.endpoint[i]!, outcome: this.outcome[i]!, status: this.status[i]! });
      }
    }
    return { since: this.since, requests: this.total, keys, log, logDropped: this.dropped };
  }

  /** Forgets everything, counting from `now`. */
  reset(now: number): void {
    this.since = now;
    this.total = 0;
    this.keys = new Map();
    this.at = [];
    this.key = [];
    this.endpoint = [];
    this.outcome = [];
    this.status = [];
    this.dropped = 0;
  }
}
