import type { GroupReport, LoadReport } from './load-report.ts';
import { textTable } from './text-table.ts';

/** Tenants listed one by one in the console; the JSON and HTML reports have all of them. */
const TENANTS_SHOWN = 10;

const groupRow = (name: string, group: GroupReport) => [
  name,
  group.requests,
  group.errors,
  group.throughput,
  group.latencyMs.p50,
  group.latencyMs.p95,
  group.latencyMs.p99,
];
const HEADER = ['', 'requests', 'errors', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms'];

/** The report for a person at a terminal. */
export function formatReport(report: LoadReport): string {
  const busiest = [...report.tenants].sort((a, b) => b.requests - a.requests).slice(0, TENANTS_SHOWN);
  const lines = [
    `profile ${report.profile}: ${report.seconds} s against ${report.target.origin} (${report.target.server})`,
    '',
    textTable([
      HEADER,
      groupRow('overall', report.overall),
      ...Object.entries(report.operations).map(([name, group]) => groupRow(`op ${name}`, group)),
      ...Object.entries(report.strategies).map(([name, group]) => groupRow(`strategy ${name}`, group)),
    ]),
    '',
    `tenants: ${report.tenants.length} were sent requests; the ${busiest.length} busiest:`,
    textTable([HEADER, ...busiest.map((tenant) => groupRow(`${tenant.slug} (${tenant.strategy})`, tenant))]),
    '',
    `errors by code: ${Object.keys(report.errorsByCode).length === 0 ? 'none' : Object.entries(report.errorsByCode).map(([code, count]) => `${code} ${count}`).join(', ')}`,
  ];
  const pool = report.pool;
  lines.push(
    pool
      ? `pool: connections open max ${pool.openMax} of budget ${pool.budget}` +
          (pool.postgresConnectionsMax === undefined ? '' : ` (Postgres saw at most ${pool.postgresConnectionsMax})`) +
          `; wait mean ${pool.waitMsMean} ms, max ${pool.waitMsMax} ms, p99 of tenants' longest wait ${pool.tenantWaitMsMaxP99} ms; ` +
          `timeouts ${pool.timeouts}, shed ${pool.shed}, evictions ${pool.evictions}`
      : 'pool: no figures (the server serves no platform API, or the platform key was refused)',
  );
  if (report.server) lines.push(`server: ${report.server.cpuMsPerRequest} ms CPU per request, RSS ${report.server.rssMb} MB`);
  lines.push('', 'thresholds:', ...report.thresholds.map((t) => `  ${t.ok ? 'ok  ' : 'FAIL'} ${t.name}: ${t.actual} (limit ${t.limit})`));
  return lines.join('\n');
}
