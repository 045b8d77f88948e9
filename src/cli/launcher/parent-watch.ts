import { readFileSync } from 'node:fs';

/**
 * Notices that whoever started `npm start` is gone, so the launcher can stop what it runs.
 *
 * `kill -TERM <npm pid>` (what `timeout`, systemd and CI runners send) does not reliably reach
 * the launcher: npm 11 forwards SIGTERM to the `sh -c` it runs the script in, which dies without
 * passing it on; older npm versions forward nothing; and npm forwards no SIGHUP at all. Left
 * alone, the launcher would live on with the API, the worker and the sandbox on their ports. So
 * it polls: its parent changing (reparented to init: the shell or npm died), or, when its
 * parent is that shell, the shell's parent (npm) no longer existing.
 */

const SHELLS = new Set(['sh', 'dash', 'bash', 'ash', 'zsh']);

/** `/proc/<pid>/stat` (Linux) as [command, state, parent pid], or undefined where there is no /proc. */
function procStat(pid: number): { comm: string; state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may contain spaces and parentheses, so split at the last ")"
    const close = stat.lastIndexOf(')');
    const [state = '', ppid = ''] = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), state, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (procStat(process.pid)) {
    const stat = procStat(pid);
    return stat !== undefined && stat.state !== 'Z'; // a zombie has exited, only not been reaped yet
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Calls `onGone` once, with the reason, when the parent (or npm above a shell) has exited. */
export function watchParent(onGone: (reason: string) => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  const parentStat = procStat(parent);
  const grandparent = parentStat && SHELLS.has(parentStat.comm) && parentStat.ppid > 1 ? parentStat.ppid : undefined;
  const timer = setInterval(() => {
    let reason: string | undefined;
    if (process.ppid !== parent) reason = `the parent process (pid ${parent}) exited`;
    else if (grandparent !== undefined && !alive(grandparent)) reason = `the process that started the shell (pid ${grandparent}, npm) exited`;
    if (reason) {
      clearInterval(timer);
      onGone(reason);
    }
  }, intervalMs);
  timer.unref(); // never keeps the launcher alive by itself
  return () => clearInterval(timer);
}
