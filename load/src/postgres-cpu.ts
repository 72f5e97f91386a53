import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Clock ticks per second of /proc's CPU times: 100 on every Linux the kernel's USER_HZ allows. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time a local Postgres cluster has used so far, in ms: the postmaster's own, its children's
 * that have exited (the kernel adds those to the postmaster when it reaps them), and every live
 * child's (backends, autovacuum, WAL writer …). Differences over a run give Postgres's side of each
 * request, which the server's own CPU time leaves out. Linux only: read from /proc.
 */
export function postgresCpuMs(dataDir: string): number {
  const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const own = cpuFields(postmaster);
  if (!own) throw new Error(`no Postgres process ${postmaster} (from ${dataDir}/postmaster.pid)`);
  let ticks = own.utime + own.stime + own.cutime + own.cstime;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = cpuFields(Number(entry));
    if (child?.ppid === postmaster) ticks += child.utime + child.stime;
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU time that the given live Postgres backends have used so far, in ms: the backends of the
 * connections a measurement holds, which leaves out the rest of the cluster and backends of earlier
 * connections that the postmaster reaps in the meantime. Linux only: read from /proc.
 */
export function backendsCpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = cpuFields(pid);
    if (!fields) throw new Error(`no Postgres backend ${pid}: its connection closed during the measurement`);
    ticks += fields.utime + fields.stime;
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

function cpuFields(pid: number): { ppid: number; utime: number; stime: number; cutime: number; cstime: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name, in parentheses, may hold spaces: the fields are counted after its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (number: number) => Number(fields[number - 3]);
  return { ppid: field(4), utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}
