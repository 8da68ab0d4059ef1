// CPU accounting for the XMPP bench, from /proc (Linux): what each process on
// the message path (the relay or gateway, Prosody, the clients in the bench
// process) spends per message, and how long it waited for a CPU. On a shared
// 2-core box message rates swing with other load; CPU per message does not,
// and its sum per path is what the box pays for each message.
import { readFileSync, readdirSync } from 'node:fs';

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

function statFields(file: string): string[] {
  const s = readFileSync(file, 'utf8');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

/** Cumulative counters of one process at one moment (microseconds unless named otherwise). */
export interface CpuMark {
  /** utime + stime, all threads. */
  all: number;
  /** Main thread only (the event loop), and its user part. */
  main: number;
  mainUser: number;
  /** Time the main thread was runnable but waited for a CPU (schedstat). */
  mainWait: number;
  /** Main thread read and write syscalls. */
  reads: number;
  writes: number;
}

const ZERO: CpuMark = { all: 0, main: 0, mainUser: 0, mainWait: 0, reads: 0, writes: 0 };

/** Reads the counters of `pid`; zeros when it is 0 or gone. */
export function cpuMark(pid: number): CpuMark {
  if (!pid) return ZERO;
  try {
    const all = statFields(`/proc/${pid}/stat`);
    const main = statFields(`/proc/${pid}/task/${pid}/stat`);
    const io = readFileSync(`/proc/${pid}/task/${pid}/io`, 'utf8');
    const get = (k: string): number => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    const wait = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1000;
    return {
      all: (Number(all[11]) + Number(all[12])) * TICK_US,
      main: (Number(main[11]) + Number(main[12])) * TICK_US,
      mainUser: Number(main[11]) * TICK_US,
      mainWait: wait,
      reads: get('syscr'),
      writes: get('syscw'),
    };
  } catch {
    return ZERO;
  }
}

/** This process (the bench's clients): CPU only. */
export function selfMark(): CpuMark {
  const u = process.cpuUsage();
  return { ...ZERO, all: u.user + u.system, main: u.user + u.system, mainUser: u.user };
}

/** Per-message difference of two marks. */
export function perMessage(before: CpuMark, after: CpuMark, msgs: number): CpuMark {
  const n = Math.max(1, msgs);
  return {
    all: (after.all - before.all) / n,
    main: (after.main - before.main) / n,
    mainUser: (after.mainUser - before.mainUser) / n,
    mainWait: (after.mainWait - before.mainWait) / n,
    reads: (after.reads - before.reads) / n,
    writes: (after.writes - before.writes) / n,
  };
}

/** CPU microseconds per message by thread name (the main thread as 'main'; Node's other threads are all called 'node'). */
export function threadMarks(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = t === String(pid) ? 'main' : s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      m.set(name, (m.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * TICK_US);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return m;
}
