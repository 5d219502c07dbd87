"""Each environment's supervisor: when an environment ends, the worker and everything it started end too.

One small process per environment sits between the lab and the worker. On Linux it is a child subreaper
(prctl PR_SET_CHILD_SUBREAPER), so descendants orphaned by a double fork or a setsid stay its descendants.
It holds the read end of a pipe whose only write end is in the lab: the lab closes it to retire the
environment, and the kernel closes it when the lab's process dies, even by SIGKILL (a Jupyter kernel
restart). Either way the supervisor SIGKILLs its whole descendant tree, reaps it and exits. When the worker
ends by itself, the supervisor ends the rest of the tree and exits as the worker did (same status or
signal), so the lab reports the worker's own exit. The worker gets PR_SET_PDEATHSIG, so it dies with its
supervisor; its parent (os.getppid() in a handler) is the supervisor, never the lab.

A pipe rather than the supervisor's own PR_SET_PDEATHSIG tells it the lab has gone, because the parent-death
signal fires when the *thread* that started the process ends, and the lab starts environments from whichever
thread invokes. A getppid() check once a second also covers a copy of the lab made by fork.

Other systems do what they can: on macOS and the BSDs there is no subreaper and no parent-death signal, so
the worker gets its own process group and the supervisor kills that group (descendants that start their own
session survive there, and a worker whose supervisor is SIGKILLed lives on). Windows runs workers without a
supervisor (no fork): the lab kills the worker process, not its children.

    python -I -S _supervisor.py <command ...>        # Node.js workers: the supervisor forks and execs it
    _supervisor.supervise()                          # Python workers: the bootstrap forks early

Standard library only, and quick to import: it runs before every cold start.
"""

import json
import os
import select
import signal
import struct
import sys
import time

__all__ = ["FD_VARIABLE", "descendants", "harden_host_process", "prctl", "runqueue_wait_ms", "supervise"]

FD_VARIABLE = "_LAMBDA_LAB_SUPERVISOR_FD"  # the lab's pipe, by number; popped before the worker starts
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 1, 4, 36
_LINUX = sys.platform.startswith("linux")
_libc = None


def prctl(option: int, value: int) -> bool:
    """prctl(2) through ctypes; False where there is none or it failed."""
    global _libc
    if not _LINUX:
        return False
    try:
        if _libc is None:
            import ctypes
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def harden_host_process() -> bool:
    """Make the lab's process non-dumpable (Linux): same-user handlers cannot read its memory or environ.

    /proc/<pid>/mem, environ, maps and ptrace need the process to be dumpable for another process of the
    same user; signals do not (a handler can still signal the lab if it finds its pid).
    """
    return prctl(_PR_SET_DUMPABLE, 0)


class _Stop(Exception):
    """A signal asked the supervisor to end the environment."""


def _stop(signum, frame):
    raise _Stop()


def supervise(argv=None):
    """Fork the worker; return in it (or exec `argv` there). The calling process stays the supervisor."""
    death_fd = int(os.environ.pop(FD_VARIABLE))
    lab, me = os.getppid(), os.getpid()
    prctl(_PR_SET_CHILD_SUBREAPER, 1)
    go_r, go_w = os.pipe()
    worker = os.fork()
    if worker == 0:
        os.close(go_w)
        os.close(death_fd)
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setpgid(0, 0)
        os.read(go_r, 1)  # wait until the lab has been told this pid, so it is the first frame it reads
        os.close(go_r)
        if os.getppid() != me:  # the supervisor died before the parent-death signal was set
            os._exit(137)
        if argv:
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        return
    os.close(go_r)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _stop)
    head = json.dumps({"kind": "hello", "request_id": "init", "pid": worker}).encode()
    try:
        os.write(1, struct.pack("!II", len(head), 0) + head)
    except OSError:
        pass
    os.write(go_w, b"1")
    os.close(go_w)
    # keep no end of the worker's pipes: the lab reads end-of-file once the worker's tree has gone
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    status = None
    try:
        status = _watch(worker, death_fd, lab)
    except _Stop:
        pass
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    status = _kill_tree(worker, status)
    _exit_as(status)


def _watch(worker, death_fd, lab):
    """Wait for the worker's end (return its status) or the lab's word or death (return None)."""
    poller = select.poll()
    poller.register(death_fd, select.POLLIN)
    pidfd = None
    try:
        pidfd = os.pidfd_open(worker)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): poll more often
        pass
    while True:
        told = any(fd == death_fd for fd, _ in poller.poll(1000 if pidfd is not None else 50))
        while True:  # reap the worker, and orphans that ended meanwhile
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            if pid == worker:
                return status
        if told or os.getppid() != lab:
            return None


def _kill_tree(worker, status):
    """SIGKILL every descendant until none is left; return the worker's wait status."""
    while True:
        for pid in descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(worker, signal.SIGKILL)  # where /proc cannot list descendants, the worker's group
        except OSError:
            pass
        try:
            while True:
                pid, st = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                if pid == worker:
                    status = st
        except ChildProcessError:  # no children left, so no descendants either
            return status
        time.sleep(0.002)


def runqueue_wait_ms(task="thread-self"):
    """Time a thread spent ready but waiting for a core (Linux's /proc/<task>/schedstat; 0 elsewhere): a busy
    machine's delay, not the handler's. `task` is a pid (its main thread) or "thread-self"."""
    try:
        with open(f"/proc/{task}/schedstat", "rb") as stat:
            return int(stat.read().split()[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def descendants(root):
    """Every descendant of `root`, from /proc (Linux); empty elsewhere."""
    found, stack = [], [root]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children", "rb") as children:
                    pids = [int(p) for p in children.read().split()]
            except (OSError, ValueError):
                continue
            found += pids
            stack += pids
    return found


def _exit_as(status):
    """End as the worker ended, so the lab reads the worker's exit status or signal."""
    if status is None:
        os._exit(0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        prctl(_PR_SET_DUMPABLE, 0)  # no core file from the supervisor's own death
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL and SIGSTOP have no handler to reset
            pass
        try:
            os.kill(os.getpid(), sig)
        except OSError:
            pass
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    supervise(sys.argv[1:])
