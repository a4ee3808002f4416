// CPU time and memory of a process from /proc (Linux): the figures the bench judges by,
// because CPU time per request drifts far less than req/s on a shared machine.
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* Linux default */
}

/** utime + stime of a process in milliseconds, or undefined when it is gone. */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/**
 * Where a process's resident memory is, in MB, from /proc/<pid>/smaps: `file` (the node binary and
 * libraries, shared), `anon` (V8's heap and other mappings), `[heap]` (glibc's brk heap: freed blocks
 * below a live one stay resident), and its open file descriptors (sockets among them).
 */
export function memoryParts(pid) {
  const parts = { file: 0, anon: 0, '[heap]': 0 };
  let region = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const name = line.trim().split(/\s+/)[5] ?? '';
      region = name.startsWith('/') ? 'file' : name === '' ? 'anon' : name;
    } else if (line.startsWith('Rss:') && region in parts)
      parts[region] += Number(line.split(/\s+/)[1]) / 1024;
  }
  return { ...parts, fds: readdirSync(`/proc/${pid}/fd`).length };
}

export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU spent by a group of processes between two snapshots. `pids` is re-read at each snapshot
 * (database backends come and go); a process that appears later counts from zero.
 */
export async function cpuSnapshot(listPids) {
  const pids = await listPids();
  return new Map(pids.map((pid) => [pid, cpuMs(pid) ?? 0]));
}

export function cpuDelta(before, after) {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/**
 * CPU of a whole process group (a command and everything it started), children already reaped
 * included (cutime + cstime): what a start-up costs, which unlike its wall time does not grow with
 * the machine's load.
 */
export function groupCpuMs(pgid) {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      total += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      /* gone meanwhile */
    }
  }
  return (total * 1000) / ticksPerSecond;
}

/** Busy and total CPU ticks of the whole machine (/proc/stat): was a round CPU-bound, and by whom? */
export function machineTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Share of the machine's CPUs that were busy between two `machineTicks` readings (0–1). */
export function busyShare(before, after) {
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : NaN;
}
