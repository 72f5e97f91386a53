import type { GroupReport, LoadReport } from './load-report.ts';

/**
 * The report as one self-contained HTML page (inline SVG charts, no script, no CDN), to open from
 * disk or attach to an issue: latency and throughput over time, throughput per tenant, pool wait
 * and connections against the budget.
 */
export function htmlReport(report: LoadReport): string {
  const poolCharts = report.pool ? poolSection(report.pool) : '<p>No pool figures: the server serves no platform API, or refused the key.</p>';
  const busiest = [...report.tenants].sort((a, b) => b.requests - a.requests);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(`load ${report.profile} ${report.startedAt}`)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.fail { color: #b00; font-weight: bold; } .ok { color: #070; }
svg { background: #fafafa; border: 1px solid #eee; margin-bottom: 1.5em; }
</style></head><body>
<h1>Load profile <code>${escape(report.profile)}</code></h1>
<p>${escape(report.description)}</p>
<p>${escape(report.startedAt)}, ${report.seconds} s against ${escape(report.target.origin)} (${escape(report.target.server)}).</p>
<h2>Summary</h2>
${groupTable([
  ['overall', report.overall],
  ...Object.entries(report.operations).map(([name, group]): [string, GroupReport] => [`operation ${name}`, group]),
  ...Object.entries(report.strategies).map(([name, group]): [string, GroupReport] => [`strategy ${name}`, group]),
])}
<p>Errors by code: ${Object.keys(report.errorsByCode).length === 0 ? 'none' : Object.entries(report.errorsByCode).map(([code, count]) => `${escape(code)} ${count}`).join(', ')}.
${report.server ? `Server: ${report.server.cpuMsPerRequest} ms CPU per request, RSS ${report.server.rssMb} MB.` : ''}</p>
<h2>Thresholds</h2>
<table><tr><th>threshold</th><th>actual</th><th>limit</th><th></th></tr>
${report.thresholds.map((t) => `<tr><td>${escape(t.name)}</td><td>${t.actual}</td><td>${t.limit}</td><td class="${t.ok ? 'ok' : 'fail'}">${t.ok ? 'ok' : 'FAIL'}</td></tr>`).join('\n')}
</table>
<h2>Latency over time</h2>
${lineChart({
  yLabel: 'ms',
  series: [
    { name: 'p50', color: '#1f77b4', points: report.timeline.map((s) => [s.second, s.p50]) },
    { name: 'p99', color: '#d62728', points: report.timeline.map((s) => [s.second, s.p99]) },
  ],
})}
<h2>Throughput over time</h2>
${lineChart({
  yLabel: 'requests/s',
  series: [
    { name: 'requests', color: '#2ca02c', points: report.timeline.map((s) => [s.second, s.requests]) },
    { name: 'errors', color: '#d62728', points: report.timeline.map((s) => [s.second, s.errors]) },
  ],
})}
<h2>Throughput per tenant</h2>
<p>The ${Math.min(40, busiest.length)} busiest of ${report.tenants.length} tenants, in requests per second (shared blue, schema orange, database green).</p>
${barChart(busiest.slice(0, 40).map((tenant) => ({ label: tenant.slug, value: tenant.throughput, color: STRATEGY_COLORS[tenant.strategy] ?? '#888' })))}
<h2>Pool</h2>
${poolCharts}
<h2>Tenants</h2>
${groupTable(busiest.slice(0, 300).map((tenant): [string, GroupReport] => [`${tenant.slug} (${tenant.strategy})`, tenant]))}
${busiest.length > 300 ? `<p>${busiest.length - 300} quieter tenants are in the JSON report.</p>` : ''}
</body></html>
`;
}

const STRATEGY_COLORS: Record<string, string> = { shared: '#1f77b4', schema: '#ff7f0e', database: '#2ca02c' };

function poolSection(pool: NonNullable<LoadReport['pool']>): string {
  const seconds = (at: number) => Math.round(at / 100) / 10;
  const waits: [number, number][] = [];
  for (let i = 1; i < pool.samples.length; i += 1) {
    const before = pool.samples[i - 1]!;
    const after = pool.samples[i]!;
    const acquired = after.acquired - before.acquired;
    const waited = after.waitMsSum - before.waitMsSum;
    // An evicted pool takes its counters with it: such an interval says nothing about waiting.
    if (acquired > 0 && waited >= 0) waits.push([seconds(after.at), waited / acquired]);
  }
  const connections = [
    { name: 'open (pool manager)', color: '#1f77b4', points: pool.samples.map((s): [number, number] => [seconds(s.at), s.open]) },
    { name: 'budget', color: '#999', points: pool.samples.map((s): [number, number] => [seconds(s.at), s.budget]) },
    { name: 'waiting checkouts', color: '#d62728', points: pool.samples.map((s): [number, number] => [seconds(s.at), s.pending]) },
  ];
  if (pool.samples.some((s) => s.postgresConnections !== undefined)) {
    connections.push({
      name: 'seen by Postgres',
      color: '#2ca02c',
      points: pool.samples.map((s): [number, number] => [seconds(s.at), s.postgresConnections ?? 0]),
    });
  }
  return `<p>Connections open at most ${pool.openMax} of a budget of ${pool.budget}${pool.postgresConnectionsMax === undefined ? '' : `; Postgres listed at most ${pool.postgresConnectionsMax}`}.
Wait for a connection: mean ${pool.waitMsMean} ms, longest ${pool.waitMsMax} ms; p99 over tenants of their longest wait ${pool.tenantWaitMsMaxP99} ms.
Timeouts ${pool.timeouts}, shed ${pool.shed}, evictions ${pool.evictions}.</p>
<h3>Mean wait for a connection, per sampling interval</h3>
${lineChart({ yLabel: 'ms', series: [{ name: 'mean wait', color: '#9467bd', points: waits }] })}
<h3>Connections</h3>
${lineChart({ yLabel: 'connections', series: connections })}`;
}

function groupTable(rows: [string, GroupReport][]): string {
  return `<table><tr><th></th><th>requests</th><th>errors</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>
${rows
  .map(
    ([name, g]) =>
      `<tr><td>${escape(name)}</td><td>${g.requests}</td><td>${g.errors}</td><td>${g.throughput}</td><td>${g.latencyMs.p50}</td><td>${g.latencyMs.p95}</td><td>${g.latencyMs.p99}</td><td>${g.latencyMs.max}</td></tr>`,
  )
  .join('\n')}</table>`;
}

const WIDTH = 900;
const HEIGHT = 260;
const MARGIN = { left: 60, right: 190, top: 15, bottom: 30 };

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

function lineChart(chart: { yLabel: string; series: Series[] }): string {
  const points = chart.series.flatMap((series) => series.points);
  if (points.length === 0) return '<p>(no data)</p>';
  const xMax = Math.max(1, ...points.map(([x]) => x));
  const yMax = niceCeiling(Math.max(...points.map(([, y]) => y)));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (value: number) => MARGIN.left + (value / xMax) * plotWidth;
  const y = (value: number) => MARGIN.top + plotHeight - (value / yMax) * plotHeight;
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(f * yMax)}" y2="${y(f * yMax)}" stroke="#e4e4e4"/>` +
      `<text x="${MARGIN.left - 6}" y="${y(f * yMax) + 4}" text-anchor="end" font-size="11">${formatNumber(f * yMax)}</text>`)
    .join('');
  const lines = chart.series
    .map((series, index) => {
      const path = series.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
      return `<polyline fill="none" stroke="${series.color}" stroke-width="1.5" points="${path}"/>` +
        `<rect x="${WIDTH - MARGIN.right + 15}" y="${MARGIN.top + index * 18}" width="10" height="10" fill="${series.color}"/>` +
        `<text x="${WIDTH - MARGIN.right + 30}" y="${MARGIN.top + index * 18 + 9}" font-size="12">${escape(series.name)}</text>`;
    })
    .join('');
  return `<svg width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" xmlns="http://www.w3.org/2000/svg">${grid}
<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 5}" text-anchor="middle" font-size="11">seconds</text>
<text x="${MARGIN.left + plotWidth}" y="${HEIGHT - 5}" text-anchor="end" font-size="11">${formatNumber(xMax)}</text>
<text x="12" y="${MARGIN.top + plotHeight / 2}" font-size="11" transform="rotate(-90 12 ${MARGIN.top + plotHeight / 2})" text-anchor="middle">${escape(chart.yLabel)}</text>
${lines}</svg>`;
}

function barChart(bars: { label: string; value: number; color: string }[]): string {
  if (bars.length === 0) return '<p>(no data)</p>';
  const rowHeight = 16;
  const labelWidth = 200;
  const height = bars.length * rowHeight + 10;
  const max = niceCeiling(Math.max(...bars.map((bar) => bar.value)));
  const scale = (WIDTH - labelWidth - 80) / max;
  const rows = bars
    .map((bar, index) => {
      const top = 5 + index * rowHeight;
      return `<text x="${labelWidth - 6}" y="${top + 11}" text-anchor="end" font-size="11">${escape(bar.label)}</text>` +
        `<rect x="${labelWidth}" y="${top}" width="${Math.max(1, bar.value * scale).toFixed(1)}" height="${rowHeight - 4}" fill="${bar.color}"/>` +
        `<text x="${labelWidth + bar.value * scale + 4}" y="${top + 11}" font-size="11">${formatNumber(bar.value)}</text>`;
    })
    .join('');
  return `<svg width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg">${rows}</svg>`;
}

function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((step) => step * magnitude).find((candidate) => candidate >= value)!;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
