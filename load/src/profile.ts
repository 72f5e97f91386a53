/**
 * A load profile, as the JSON files in `load/profiles/` spell it. This module is shared by the k6
 * scripts and the Node runner, so it uses nothing but the language: no Node, no k6 API.
 */

export type Strategy = 'shared' | 'schema' | 'database';
export type Tier = 'free' | 'standard' | 'enterprise';
export type OperationName = 'nestedRead' | 'list' | 'mutation';

export interface TenantDataShape {
  projects: number;
  tasksPerProject: number;
  commentsPerTask: number;
}

/** How often each tenant is picked: by rank, the tenant with index 0 first. */
export type Distribution =
  | { kind: 'uniform' }
  /** Rank k (from 1) is picked with weight 1 / k^exponent: a few tenants make most of the traffic. */
  | { kind: 'zipf'; exponent: number }
  /** Tenant 0 sends `factor` times the load of each other tenant: the noisy neighbour. */
  | { kind: 'hot'; factor: number };

export interface Stage {
  durationSeconds: number;
  /** Virtual users (ramping-vus) or requests per second (ramping-arrival-rate) at the end of the stage. */
  target: number;
}

/** The arrival model, named after the k6 executor that runs it. */
export type Arrival =
  /** Open model: `rate` requests per second whatever the latency, with up to `vus` requests in flight. */
  | { kind: 'constant-arrival-rate'; rate: number; durationSeconds: number; vus: number }
  /** Closed model: each virtual user sends its next request when the previous one is answered. */
  | { kind: 'ramping-vus'; startVUs: number; stages: Stage[] }
  /** Open model whose rate moves between stages: a spike is a short stage of a much higher rate. */
  | { kind: 'ramping-arrival-rate'; startRate: number; vus: number; stages: Stage[] };

export interface Thresholds {
  /** Every tenant's (and the overall) p95 latency must stay below this. */
  p95Ms: number;
  p99Ms: number;
  /** Share of requests that may fail (HTTP status other than 200, or GraphQL errors). */
  errorRate: number;
}

export interface Profile {
  name: string;
  description: string;
  tenants: {
    count: number;
    /** Share of tenants per isolation strategy; the shares add up to 1. */
    mix: Partial<Record<Strategy, number>>;
    tier: Tier;
    data: TenantDataShape;
  };
  distribution: Distribution;
  /** Relative weights of the operations of `operations.ts`. */
  operations: Record<OperationName, number>;
  arrival: Arrival;
  thresholds: Thresholds;
}

/** One tenant a profile needs, before it exists. */
export interface PlannedTenant {
  /** The tenant's rank in the distribution: index 0 is the hottest (zipf) or the noisy one (hot). */
  index: number;
  slug: string;
  strategy: Strategy;
  tier: Tier;
}

const STRATEGIES: readonly Strategy[] = ['shared', 'schema', 'database'];

/**
 * The tenants of a profile (or of any named group), in rank order, with slugs `<name>-t<rank>`.
 * Strategies are interleaved by their shares (a deterministic spread, not a block per strategy), so
 * hot and cold ranks both hold every strategy.
 */
export function planTenants(name: string, tenants: Pick<Profile['tenants'], 'count' | 'mix' | 'tier'>): PlannedTenant[] {
  const { count, mix, tier } = tenants;
  const owed = new Map<Strategy, number>(STRATEGIES.map((strategy) => [strategy, 0]));
  const prefix = name.replace(/[^a-z0-9-]+/g, '');
  return Array.from({ length: count }, (_, index) => {
    // Each step every strategy earns its share; the one owed most gets the tenant (smooth weighted round-robin).
    let chosen: Strategy = 'shared';
    let most = -Infinity;
    for (const strategy of STRATEGIES) {
      const earned = owed.get(strategy)! + (mix[strategy] ?? 0);
      owed.set(strategy, earned);
      if ((mix[strategy] ?? 0) > 0 && earned > most) {
        most = earned;
        chosen = strategy;
      }
    }
    owed.set(chosen, owed.get(chosen)! - 1);
    return { index, slug: `${prefix}-t${index}`, strategy: chosen, tier };
  });
}

/** Per-tenant weights of a distribution over `count` tenants in rank order. */
export function tenantWeights(distribution: Distribution, count: number): number[] {
  switch (distribution.kind) {
    case 'uniform':
      return Array.from({ length: count }, () => 1);
    case 'zipf':
      return Array.from({ length: count }, (_, index) => 1 / Math.pow(index + 1, distribution.exponent));
    case 'hot':
      return Array.from({ length: count }, (_, index) => (index === 0 ? distribution.factor : 1));
  }
}

/**
 * Picks an index with probability proportional to its weight: one binary search over the
 * cumulative weights, so picking among 5,000 tenants costs a dozen comparisons.
 */
export class WeightedPicker {
  readonly #cumulative: number[];
  readonly #total: number;

  constructor(weights: readonly number[]) {
    if (weights.length === 0 || weights.some((weight) => !(weight >= 0)) || !weights.some((weight) => weight > 0)) {
      throw new Error(`WeightedPicker needs at least one positive weight and none negative, but got: [${weights.slice(0, 10).join(', ')}]`);
    }
    let sum = 0;
    this.#cumulative = weights.map((weight) => (sum += weight));
    this.#total = sum;
  }

  /** `random` is a number in [0, 1), such as Math.random(). */
  pick(random: number): number {
    const target = random * this.#total;
    let low = 0;
    let high = this.#cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#cumulative[middle]! > target) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}
