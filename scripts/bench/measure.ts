/**
 * Runs one program and measures it as the benchmark reports it: wall seconds, the peak RSS of the program's own
 * process (the one that moves the bytes: ours, Python Medusa or rclone — not a nodetool JVM it starts), and the CPU
 * seconds of the program and everything it started, detached children included (our embedded Temporal server).
 * Linux only: it samples /proc every 100 ms (VmHWM is a high-water mark, so sampling loses nothing of the peak but
 * the last 100 ms).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** VmHWM of the program's own process, MiB. */
  peakRssMiB: number;
  /** CPU (user + system) of the program and its descendants, seconds. */
  cpuSeconds: number;
}

const TICK = 100; // clock ticks per second (USER_HZ on Linux)

interface Sample { ppid: number; cpu: number; childCpu: number; hwmKiB: number }

function sample(pid: number): Sample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / TICK, childCpu: (Number(f[13]) + Number(f[14])) / TICK, hwmKiB: hwm };
  } catch {
    return undefined; // gone between the listing and the read
  }
}

/** Every live process below `root` (by parent links), root excluded. */
function descendants(root: number): Map<number, Sample> {
  const all = new Map<number, Sample>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = sample(pid);
    if (s) all.set(pid, s);
  }
  const out = new Map<number, Sample>();
  let frontier = [root];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const [pid, s] of all) if (frontier.includes(s.ppid) && !out.has(pid)) { out.set(pid, s); next.push(pid); }
    frontier = next;
  }
  return out;
}

/**
 * Runs `argv` (the program is exec'd directly, so its pid is the measured process) and resolves when it exits.
 * Descendants still running at that moment (a detached server) are counted with the CPU they had used.
 */
export function measure(argv: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    let own: Sample | undefined;
    // CPU of descendants not waited for by the program (detached), by pid: the last value seen.
    const others = new Map<number, number>();
    const poll = () => {
      if (child.pid === undefined) return;
      const now = sample(child.pid);
      // A zombie has no VmHWM: keep the last live sample's peak.
      if (now) own = { ...now, hwmKiB: Math.max(now.hwmKiB, own?.hwmKiB ?? 0) };
      for (const [pid, s] of descendants(child.pid)) others.set(pid, s.cpu + s.childCpu);
    };
    const timer = setInterval(poll, TICK);
    child.on('error', (err) => { clearInterval(timer); reject(err); });
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      // The program's waited children are in its childCpu; those it did not wait for are counted from `others`,
      // still running ones included. A waited child's own last sample would count it twice: only the excess counts.
      const waited = own?.childCpu ?? 0;
      const descendantCpu = [...others.values()].reduce((a, b) => a + b, 0);
      const cpuSeconds = (own?.cpu ?? 0) + Math.max(waited, descendantCpu);
      resolve({ code, stdout, stderr, seconds, peakRssMiB: (own?.hwmKiB ?? 0) / 1024, cpuSeconds });
    });
  });
}
