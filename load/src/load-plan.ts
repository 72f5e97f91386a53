import type { Arrival, Stage } from './profile.ts';

/**
 * One autocannon instance of a load plan: from `start` (seconds into the run) for `seconds`, with
 * `connections` connections, each sending its next request when the previous one is answered;
 * with `rate`, capped at that many requests a second over its connections.
 *
 * autocannon settings are fixed for an instance's life and stopping an instance drops the
 * requests it has in flight, so a plan never changes an instance: a ramp is many lanes that start
 * (or stop) one by one as the level crosses theirs. Requests are dropped only where the load goes
 * down, as when k6 ramps virtual users down.
 */
export interface Lane {
  start: number;
  seconds: number;
  connections: number;
  rate?: number;
}

/** Lanes started within one second are spread over it, at most this many ways. */
const STAGGER = 20;

/**
 * A steady load. Rate-capped, it is split into lanes that start at offsets spread over the first
 * second: autocannon caps a rate per connection and per wall-clock second, so each connection sends
 * its quota back to back at the start of its second, and all connections of one instance start
 * together. Staggered lanes make requests arrive spread over every second, as under k6's
 * arrival-rate executors, instead of in a burst at each second.
 */
export function steadyLanes(seconds: number, connections: number, rate?: number): Lane[] {
  if (rate === undefined) return [{ start: 0, seconds, connections }];
  const total = Math.round(rate);
  const slices = Math.max(1, Math.min(STAGGER, connections, total));
  const share = (amount: number, slice: number) => Math.floor(amount / slices) + (slice < amount % slices ? 1 : 0);
  return Array.from({ length: slices }, (_, slice) => ({
    start: slice / slices,
    seconds,
    connections: Math.max(1, Math.min(share(connections, slice), share(total, slice))),
    rate: share(total, slice),
  })).filter((lane) => lane.rate > 0);
}

/** The lanes of a profile's arrival model. */
export function lanesOf(arrival: Arrival): Lane[] {
  switch (arrival.kind) {
    case 'constant-arrival-rate':
      return steadyLanes(arrival.durationSeconds, arrival.vus, arrival.rate);
    case 'ramping-vus': {
      // Virtual user i is busy while the level is at least i - 0.5: one closed-model connection per user.
      const points = pointsOf(arrival.startVUs, arrival.stages);
      const users = Math.max(...points.map(([, level]) => level));
      return stagger(
        Array.from({ length: Math.round(users) }, (_, i) =>
          intervalsAtLeast(points, i + 0.5).map(([from, to]) => ({ start: from, seconds: to - from, connections: 1 })),
        ).flat(),
      );
    }
    case 'ramping-arrival-rate': {
      // The rate in units of `unit` requests a second, one single-connection lane per unit, so that
      // no more lanes (connections) than `vus` are ever open.
      const points = pointsOf(arrival.startRate, arrival.stages);
      const peak = Math.max(...points.map(([, level]) => level));
      const unit = Math.max(1, Math.ceil(peak / arrival.vus));
      return stagger(
        Array.from({ length: Math.ceil(peak / unit) }, (_, i) =>
          intervalsAtLeast(points, (i + 0.5) * unit).map(([from, to]) => ({ start: from, seconds: to - from, connections: 1, rate: unit })),
        ).flat(),
      );
    }
  }
}

/** How long a plan lasts: to the end of its last lane. */
export function planSeconds(lanes: readonly Lane[]): number {
  return Math.max(0, ...lanes.map((lane) => lane.start + lane.seconds));
}

/** The same plan squeezed or stretched to `seconds`. */
export function scaleLanes(lanes: readonly Lane[], seconds: number): Lane[] {
  const factor = seconds / planSeconds(lanes);
  return lanes.map((lane) => ({ ...lane, start: lane.start * factor, seconds: lane.seconds * factor }));
}

type Point = [seconds: number, level: number];

function pointsOf(start: number, stages: readonly Stage[]): Point[] {
  const points: Point[] = [[0, start]];
  for (const stage of stages) points.push([points.at(-1)![0] + stage.durationSeconds, stage.target]);
  return points;
}

/** Where a piecewise-linear level is at least `threshold`, as [from, to] intervals; slivers under 50 ms are dropped. */
function intervalsAtLeast(points: readonly Point[], threshold: number): [number, number][] {
  const intervals: [number, number][] = [];
  for (let i = 1; i < points.length; i += 1) {
    const [t0, v0] = points[i - 1]!;
    const [t1, v1] = points[i]!;
    const cross = () => t0 + ((threshold - v0) / (v1 - v0)) * (t1 - t0);
    let from: number;
    let to: number;
    if (v0 >= threshold && v1 >= threshold) [from, to] = [t0, t1];
    else if (v0 < threshold && v1 < threshold) continue;
    else if (v1 > v0) [from, to] = [cross(), t1];
    else [from, to] = [t0, cross()];
    const last = intervals.at(-1);
    if (last && Math.abs(last[1] - from) < 1e-9) last[1] = to;
    else intervals.push([from, to]);
  }
  return intervals.filter(([from, to]) => to - from >= 0.05);
}

/** Lanes that would start at the same moment start at offsets spread over a second instead. */
function stagger(lanes: Lane[]): Lane[] {
  const byStart = new Map<number, Lane[]>();
  for (const lane of lanes) byStart.set(lane.start, [...(byStart.get(lane.start) ?? []), lane]);
  return [...byStart.values()].flatMap((group) => {
    const ways = Math.min(STAGGER, group.length);
    return group.map((lane, index) => ({ ...lane, start: lane.start + (index % ways) / ways }));
  });
}
