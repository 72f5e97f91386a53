/**
 * `npm run bench`: the numbers we steer by, side by side in one run, printed as a table and written
 * to load/results/bench-<time>.json.
 *
 *   1. tenancy overhead: nested-read throughput on `shared` (RLS) / the same server with tenancy off
 *   2. `schema` and `database` tenants / `shared`, same mix
 *   3. round trips and statements per nested read; server CPU ms per request
 *   4. noisy neighbour: quiet tenants' p99 while one tenant sends 10x their load / while it does not
 *   5. 2,000 schema and database tenants cycling under a 40-connection budget
 *   6. cold (evicted) database tenant vs warm
 *   7. RSS with 10,000 registered tenants, and per open tenant pool
 *   8. telemetry: nested-read throughput with OpenTelemetry tracing every request, and a sample of
 *      them, / without an SDK
 *
 * The servers run as child processes (server-process.ts), so that CPU and memory figures are the
 * server's own; the load generator (autocannon) and Postgres share the machine with them, as they
 * would on any one-machine benchmark. The tenants live in a cluster kept between runs (bench-cluster.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { BENCH_CLUSTER_DIR, BENCH_CLUSTER_PORT, openBenchCluster } from './bench-cluster.ts';
import {
  coldTenantItem,
  manyTenantsItem,
  memoryItem,
  noisyNeighbourItem,
  roundTripItem,
  serverConfig,
  telemetryItem,
  throughputItems,
  type BenchSettings,
} from './bench-items.ts';
import { checkTargets, targetsSummary, type TargetCheck } from './bench-targets.ts';
import { RESULTS_DIR } from './profiles.ts';
import { startServerChild } from './server-child.ts';
import { signed } from './stats.ts';
import { textTable } from './text-table.ts';

const HELP = `Usage: npm run bench -- [options]
  --rounds <n>        A/B rounds of the throughput items, and half the noisy neighbour's pairs (default 5)
  --seconds <n>       a variant's measured time per A/B round, in two runs (default 6), and the
                      noisy neighbour's window
  --connections <n>   requests in flight in the full-speed runs (default 16)
  --many <n>          schema and database tenants of item 5 (default 2000)
  --check             exit with status 1 when a target is missed (the run is written either way)
  --fresh             make the benchmark's Postgres cluster again (it is kept between runs in
                      ${BENCH_CLUSTER_DIR}; the first run creates its tenants, which takes many minutes)
  --cluster-dir <dir> --pg-port <port>   another cluster (default ${BENCH_CLUSTER_DIR}, port ${BENCH_CLUSTER_PORT})`;

function integer(value: string, option: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`--${option} "${value}" must be a whole number of at least 1`);
  return number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      seconds: { type: 'string', default: '6' },
      connections: { type: 'string', default: '16' },
      many: { type: 'string', default: '2000' },
      fresh: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      'cluster-dir': { type: 'string', default: BENCH_CLUSTER_DIR },
      'pg-port': { type: 'string', default: String(BENCH_CLUSTER_PORT) },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void console.log(HELP);
  const started = performance.now();
  const startedAt = new Date();
  const log = (line: string) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const settings: BenchSettings = {
    rounds: integer(values.rounds, 'rounds'),
    seconds: integer(values.seconds, 'seconds'),
    connections: integer(values.connections, 'connections'),
    logDir: RESULTS_DIR,
    log,
  };
  const manyTenants = integer(values.many, 'many');
  const loadBefore = os.loadavg()[0]!;

  log(`opening the benchmark cluster in ${values['cluster-dir']} (seeding what is missing)`);
  let lastProgress = 0;
  const cluster = await openBenchCluster({
    fresh: values.fresh,
    manyTenants,
    dataDir: values['cluster-dir'],
    port: integer(values['pg-port'], 'pg-port'),
    onProgress: (group, done, total) => {
      if (performance.now() - lastProgress < 5_000 && done < total) return;
      lastProgress = performance.now();
      log(`seeding ${group}: ${done}/${total}`);
    },
  });
  try {
    const seeded = performance.now();
    const server = await startServerChild(serverConfig(cluster), { logFile: path.join(RESULTS_DIR, 'bench-server.log') });
    let throughput, noisy, many;
    try {
      log('items 1–3: nested-read throughput per variant');
      throughput = await throughputItems(server, cluster, settings);
      log('item 4: noisy neighbour');
      noisy = await noisyNeighbourItem(server, cluster, throughput.medians.shared.throughput, settings);
      log(`item 5: ${manyTenants} schema and database tenants under the budget`);
      many = await manyTenantsItem(server, cluster, settings);
    } finally {
      await server.close();
    }
    log('item 3: round trips and statements');
    const roundTrips = await roundTripItem(cluster, settings);
    log('item 6: cold and warm database tenants');
    const cold = await coldTenantItem(cluster, settings);
    log('item 7: memory');
    const memory = await memoryItem(cluster, settings);
    log('item 8: telemetry off / every request traced / a sample traced');
    const telemetry = await telemetryItem(cluster, settings);

    const m = throughput.medians;
    const r = throughput.ratios;
    const t = telemetry.medians;
    const range = (values: number[]) => `${Math.min(...values)}–${Math.max(...values)}`;
    const c = throughput.tenancyCost;
    const rt = roundTrips.perRequest;
    const targets = checkTargets({
      tenancyOverhead: r.sharedVsOff.median,
      noisyNeighbour: noisy.ratio,
      manyTenants: { errors: many.errors, postgresConnectionsMax: many.postgresConnectionsMax, budget: many.budget },
    });
    const rows: (string | number)[][] = [
      ['#', 'measurement', 'result', 'target'],
      ['1', 'tenancy overhead: shared (RLS) / tenancy off, nested-read req/s', `${r.sharedVsOff.median} (rounds ${range(r.sharedVsOff.rounds)}); ${m.shared.throughput} vs ${m.off.throughput} req/s`, verdict(targets.tenancyOverhead)],
      [
        '1',
        "the tenancy's own cost, shared - off: CPU ms per nested read, Postgres / server",
        `${signed(c.postgresCpuMs.median)} (rounds ${range(c.postgresCpuMs.rounds)}) / ${signed(c.serverCpuMs.median)} (rounds ${range(c.serverCpuMs.rounds)})`,
        '',
      ],
      ['2', 'schema / shared, nested-read req/s', `${r.schemaVsShared.median} (rounds ${range(r.schemaVsShared.rounds)}); ${m.schema.throughput} req/s`, ''],
      ['2', 'database / shared, nested-read req/s', `${r.databaseVsShared.median} (rounds ${range(r.databaseVsShared.rounds)}); ${m.database.throughput} req/s`, ''],
      ['2', 'p99 ms at full speed: off / shared / schema / database', `${m.off.p99} / ${m.shared.p99} / ${m.schema.p99} / ${m.database.p99}`, ''],
      ['3', 'round trips per nested read: off / shared / schema / database', `${rt.off.roundTrips} / ${rt.shared.roundTrips} / ${rt.schema.roundTrips} / ${rt.database.roundTrips}`, ''],
      ['3', 'SQL statements per nested read (binding included)', `${rt.off.statements} / ${rt.shared.statements} / ${rt.schema.statements} / ${rt.database.statements}`, ''],
      ['3', 'server CPU ms per request: off / shared / schema / database', `${m.off.cpuMsPerRequest} / ${m.shared.cpuMsPerRequest} / ${m.schema.cpuMsPerRequest} / ${m.database.cpuMsPerRequest}`, ''],
      [
        '3',
        'Postgres CPU ms per request (all its processes): off / shared / schema / database',
        `${m.off.postgresCpuMsPerRequest} / ${m.shared.postgresCpuMsPerRequest} / ${m.schema.postgresCpuMsPerRequest} / ${m.database.postgresCpuMsPerRequest}`,
        '',
      ],
      [
        '4',
        `noisy neighbour: quiet p99 with / without, median of ${noisy.pairs} pairs (9 x ${noisy.quietRatePerTenant} req/s; + 1 x ${noisy.noisyRate} req/s in alternate ${noisy.windowSeconds} s windows = ${noisy.offeredShareOfCapacity} of capacity)`,
        `${noisy.ratio} (pairs ${range(noisy.pairRatios)}); pooled p99 ${noisy.quietWith.p99} vs ${noisy.quietWithout.p99} ms (x${noisy.pooledRatio}), p50 ${noisy.quietWith.p50} vs ${noisy.quietWithout.p50} ms; noisy tenant p99 ${noisy.noisy.p99} ms over ${noisy.noisy.requests} answers, ${noisy.noisy.errors} errors${formatCodes(noisy.noisy.errorsByCode)}`,
        verdict(targets.noisyNeighbour),
      ],
      ['5', `${many.tenants} tenants (${many.schemaTenants} schema, ${many.databaseTenants} database), budget ${many.budget}`, `${many.throughput} req/s, p99 ${many.latencyMs.p99} ms, ${many.errors} errors${formatCodes(many.errorsByCode)}, ${many.evictions} evictions`, verdict(targets.manyTenantsErrors)],
      ['5', 'connections: Postgres saw (max) / pool manager counted (max)', `${many.postgresConnectionsMax ?? 'n/a'} / ${many.poolOpenMax}`, verdict(targets.manyTenantsConnections)],
      ['6', 'evicted database tenant: first request vs warm (median ms)', `${cold.coldMs.median} vs ${cold.warmMs.median} (x${cold.ratio}, +${cold.extraMs} ms; ${cold.evictedConfirmed}/${cold.samples} evictions confirmed)`, ''],
      ['7', `RSS with ${memory.registeredTenants} registered tenants (fresh server, after GC)`, `${memory.rssMbWithTenants} MB (${memory.rssMbBefore} MB before); heap ${signed(memory.heapKbPerTenant)} KB per tenant`, ''],
      ['7', `per open database-tenant pool (${memory.openPools} pools, 1 connection each)`, `heap ${signed(memory.heapKbPerPool)} KB, RSS ${signed(memory.rssKbPerPool)} KB per pool`, ''],
      ['8', 'telemetry: every request traced (all spans exported over OTLP) / no SDK, shared nested-read req/s', `${telemetry.ratio.median} (rounds ${range(telemetry.ratio.rounds)}); ${t.on.throughput} vs ${t.off.throughput} req/s; CPU ms/request ${t.on.cpuMsPerRequest} vs ${t.off.cpuMsPerRequest}; ${telemetry.exported.on.kilobytes} KB in ${telemetry.exported.on.requests} exports`, ''],
      ['8', `telemetry: ${telemetry.sampledTraceRatio} of requests traced (parentbased_traceidratio), metrics exported / no SDK`, `${telemetry.sampledRatio.median} (rounds ${range(telemetry.sampledRatio.rounds)}); ${t.sampled.throughput} req/s; CPU ms/request ${t.sampled.cpuMsPerRequest}; ${telemetry.exported.sampled.kilobytes} KB in ${telemetry.exported.sampled.requests} exports`, ''],
    ];
    const table = textTable(rows);
    const seconds = (performance.now() - started) / 1000;
    const result = {
      startedAt: startedAt.toISOString(),
      seconds: Math.round(seconds),
      measuringSeconds: Math.round((performance.now() - seeded) / 1000),
      machine: { cpus: os.cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg()[0], node: process.version },
      settings: { rounds: settings.rounds, seconds: settings.seconds, connections: settings.connections, manyTenants },
      seeding: cluster.seeding,
      tenancyOverhead: throughput,
      roundTrips,
      noisyNeighbour: noisy,
      manyTenants: many,
      coldTenant: cold,
      memory,
      telemetry,
      targets,
      table: rows,
    };
    const file = path.join(RESULTS_DIR, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\n${table}\n`);
    console.log(
      `${Math.round(seconds)} s in all (${result.measuringSeconds} s measuring); load average ${loadBefore.toFixed(1)} before, ` +
        `${os.loadavg()[0]!.toFixed(1)} after, on ${os.cpus().length} cores. Written to ${path.relative(process.cwd(), file)}`,
    );
    console.log(targetsSummary(targets));
    if (values.check && Object.values(targets).some((target) => !target.met)) process.exitCode = 1;
  } finally {
    await cluster.postgres.stop();
  }
}

function verdict(target: TargetCheck): string {
  return `${target.wanted}: ${target.met ? 'met' : 'MISSED'}`;
}

function formatCodes(codes: Record<string, number>): string {
  const entries = Object.entries(codes);
  return entries.length === 0 ? '' : ` (${entries.map(([code, count]) => `${code} ${count}`).join(', ')})`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
