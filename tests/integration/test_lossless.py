#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Nothing dropped by default: a thread whose ring is full waits for utrace
to drain it (--block-timeout at most), so a 4K ring against busy threads
still gives every call; --lossy drops and counts instead.  A thread whose
tracer was killed waits once, then goes on.  s-busy counts its own calls;
counts are compared exactly, stdout and exit status with an untraced run."""

import os
import re
import subprocess
import time
import unittest

import harness as h

INT3 = os.environ.get("UTRACE_TEST_PROBE") == "int3"
# --args: a thread's call numbers are work_busy_outer's first argument
TINY_RING = ("--bufsize", "4K", "--args")
NTHREADS = 4
# s-busy: 4 threads of some 20,000 calls each (320,000 events), fewer through
# int3 probes, whose traps take 10-20 us each
BUSY_ARGS = (str(NTHREADS), "5000" if INT3 else "20000")
BUSY_STATUS = 23
FUNCS = ("work_busy_outer", "work_busy_inner")
THREAD_RE = re.compile(rb"^thread (\d+) (work_busy_\w+) (\d+)$", re.M)
LONGEST_RE = re.compile(rb"^longest call ns (\d+)$", re.M)
# Traced while attached to the running prog: until it ran this many clock
# ticks of CPU time (some 50 ms: 100,000 to 200,000 events), however long a
# loaded machine makes it wait.
ATTACHED_TICKS = 5
# s-busy for a kill of utrace: far more calls than utrace formats before it
# is killed, so that the threads still run when it dies.
KILL_ARGS = (str(NTHREADS), "1000000")
# A clock read by the prog's threads against the TSC that times their waits:
# a wait of T measures at least this share of T.
CLOCK_SLACK = 0.9
WAITER_TIMEOUT = 60


# ---- helpers -----------------------------------------------------------------

def per_thread_calls(stdout):
    """{func: sorted per-thread calls} from s-busy's `thread I FUNC N` lines."""
    calls = {}
    for _, func, n in THREAD_RE.findall(stdout):
        calls.setdefault(func.decode(), []).append(int(n))
    return {f: sorted(ns) for f, ns in calls.items()}


def outer_seqs(events):
    """{tid: [first argument of each work_busy_outer entry]}: the thread's call numbers."""
    seqs = {}
    for ev in events:
        if ev["func"] == "work_busy_outer" and ev["type"] == "entry":
            seqs.setdefault(ev["tid"], []).append(h.arg_int(ev, 0))
    return seqs


def longest_call_ns(tc, stderr):
    m = LONGEST_RE.search(stderr)
    tc.assertIsNotNone(m, "s-busy did not say its longest call: %r" % stderr)
    return int(m.group(1))


def area_ranges(pid):
    """[(lo, hi)] of utrace's data area (the memfd it maps) in process pid."""
    ranges = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/memfd:utrace"):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                ranges.append((lo, hi))
    return ranges


SYS_FUTEX = 202


def ring_waiters(pid):
    """Threads of pid asleep on a ring's tail (a futex in utrace's data area)."""
    ranges = area_ranges(pid)
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                words = f.read().split()
        except OSError:
            continue
        if len(words) > 1 and words[0] == str(SYS_FUTEX):
            addr = int(words[1], 16)
            n += any(lo <= addr < hi for lo, hi in ranges)
    return n


def wait_ring_waiter(tc, proc, timeout=WAITER_TIMEOUT):
    """Until a thread of proc sleeps waiting for room in its ring."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tc.assertIsNone(proc.poll(), "the prog ended before any thread waited for room")
        if ring_waiters(proc.pid):
            return
        time.sleep(0.001)
    tc.fail("no thread of %d waited for room in its ring within %ss" % (proc.pid, timeout))


def check_worker_waits(tc, events, summary):
    """Threads waited, and only the threads making calls."""
    waits = h.check_waits_account(tc, events, summary)
    # through int3 probes every call stops for utrace, which drains between
    # the stops: a 4K ring may never fill
    if not INT3:
        tc.assertGreater(summary["waits"], 0, "no 4K ring ever filled: %r" % summary)
        tc.assertGreater(summary["wait_ns"], 0, summary)
    workers = set(outer_seqs(events))
    tc.assertLessEqual(set(waits), workers, "waits of threads that make no call")


# ---- the tests -----------------------------------------------------------------

class LosslessTest(unittest.TestCase):
    def test_tiny_ring_waits_and_loses_nothing(self):
        """4 busy threads, 4K rings, no --lossy: they wait for room; every
        call is traced, per thread one unbroken run of calls."""
        for mode in h.MODES:
            with self.subTest(mode=mode):
                t = h.check_traced_prog(self, "s-busy", BUSY_ARGS, mode=mode, extra=TINY_RING)
                check_worker_waits(self, t.events, t.summary)
                printed = per_thread_calls(t.stdout)
                self.assertEqual(len(printed["work_busy_outer"]), NTHREADS)
                for func in FUNCS:
                    per_tid = h.per_tid_entries(t.events, func)
                    self.assertEqual(sorted(per_tid.values()), printed[func], func)
                for tid, seqs in outer_seqs(t.events).items():
                    self.assertEqual(seqs, list(range(len(seqs))), "calls of thread %d" % tid)
                self.assertNotIn(b"dropped", t.stderr, "utrace reported drops")

    def test_lossy_tiny_ring_drops_and_counts(self):
        """--lossy: the threads never wait; per function, events recorded
        plus events dropped are exactly the prog's calls."""
        for mode in h.MODES:
            with self.subTest(mode=mode):
                t = h.trace_prog(self, mode, "s-busy", BUSY_ARGS, extra=TINY_RING + ("--lossy",))
                h.check_like_untraced(self, "s-busy", BUSY_ARGS, t)
                by_func = h.check_drops_account(self, t.events, t.summary,
                                                h.prog_counts(t.stdout))
                self.assertLessEqual(set(by_func), set(FUNCS), "dropped_by_func: %r" % t.summary)
                # through int3 probes every call stops for utrace, which drains
                # between the stops: whether a 4K ring fills is up to the
                # scheduler, so only the accounting above is exact there
                if not INT3:
                    self.assertGreater(t.summary["dropped"], 0, "a 4K ring dropped nothing")
                    self.assertEqual(set(by_func), set(FUNCS),
                                     "dropped_by_func: %r" % t.summary)
                self.assertEqual((t.summary["waits"], t.summary["wait_ns"],
                                  t.summary["waited_by_thread"]), (0, 0, []),
                                 "waits with --lossy")
                if t.summary["dropped"]:
                    self.assertIn(b"events dropped: ring full (--lossy", t.stderr)
                else:
                    self.assertNotIn(b"dropped", t.stderr)

    def test_attach_running_busy_threads_then_detach(self):
        """Attach to threads already running, 4K rings: they wait for room;
        at the detach (SIGINT) nothing was dropped and each thread's calls
        are one unbroken run; the prog ends as it should."""
        t = h.start_target(self, "s-busy", ("loop", str(NTHREADS)))
        att = h.attach(self, t.pid, extra=TINY_RING)
        h.wait_patched(self, t, att)
        h.wait_cpu_ticks(self, t.pid, ATTACHED_TICKS)
        events, summary = h.detach(self, att)
        h.check_untouched(self, t)
        h.check_summary_clean(self, events, summary)
        check_worker_waits(self, events, summary)
        seqs = outer_seqs(events)
        self.assertEqual(len(seqs), NTHREADS, "threads traced")
        for tid, s in seqs.items():
            self.assertEqual(s, list(range(s[0], s[0] + len(s))),
                             "calls of thread %d are not one unbroken run" % tid)
        for (tid, func), (entries, exits, unwinds) in per_tid_counts(events).items():
            # a call in flight at the detach returns untraced
            self.assertIn(exits, (entries - 1, entries), "thread %d %s" % (tid, func))
            self.assertEqual(unwinds, 0)
        lines, status = t.finish()
        self.assertEqual(status, BUSY_STATUS, lines)
        calls = h.prog_counts("\n".join(lines).encode())
        traced = h.trace_counts(events)
        for func in FUNCS:
            self.assertLessEqual(traced[func][0], calls[func], func)

    if not INT3:
        # 5-byte patches only: an int3 probe hit after utrace died raises a
        # SIGTRAP nobody answers, which kills the program (test_load.py).

        def test_kill9_while_threads_wait(self):
            """utrace killed while the threads wait for room in their 4K
            rings: each waits --block-timeout once (200ms here; 1s by
            default), then drops and goes on, and the prog ends as untraced."""
            for timeout_s, extra in ((0.2, ("--block-timeout", "200ms")), (1.0, ())):
                with self.subTest(block_timeout=timeout_s):
                    self.check_kill9_while_waiting(timeout_s, extra)

    def check_kill9_while_waiting(self, timeout_s, extra):
        plain = h.run_untraced("s-busy", KILL_ARGS)
        g = h.GatedProg(self, "s-busy", KILL_ARGS)
        out = os.path.join(h.tmpdir(self), "kill-%s.summary" % timeout_s)
        att = h.attach(self, g.pid, out=out,
                       extra=TINY_RING + ("--format", "summary") + extra)
        h.wait_attached(self, g, att)
        # at the gate no thread runs in a function's first bytes: no int3
        self.assertEqual(h.install_counts(self, att)["int3"], 0, att.err)
        g.proc.stdin.write(h.GATE_RELEASE)
        g.proc.stdin.flush()
        wait_ring_waiter(self, g.proc)
        att.proc.kill()
        att.proc.wait()
        try:
            stdout, stderr = g.proc.communicate(timeout=h.TRACED_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("s-busy did not end within %ss of utrace's death" % h.TRACED_TIMEOUT)
        self.assertEqual(stdout, plain.stdout, "stdout differs from the untraced run")
        self.assertEqual(h.exit_status(g.proc.returncode), plain.status, stderr)
        # every thread still calling waited once, in one call, the whole timeout
        longest = longest_call_ns(self, g.err + stderr)
        self.assertGreaterEqual(longest, CLOCK_SLACK * timeout_s * 1e9,
                                "no call waited for --block-timeout")


def per_tid_counts(events):
    """{(tid, func): [entries, exits, unwinds]}."""
    counts = {}
    for ev in events:
        c = counts.setdefault((ev["tid"], ev["func"]), [0, 0, 0])
        c[h.EVENT_TYPES.index(ev["type"])] += 1
    return counts


class BlockTimeoutOptionTest(unittest.TestCase):
    def test_bad_values_are_refused(self):
        """One error line naming the option, a non-zero status, for run and attach."""
        with open("/proc/sys/kernel/pid_max") as f:
            no_pid = f.read().strip()  # were the value taken, no process to attach to
        for value in ("0", "abc", "2h", "-1s", "1x", ""):
            for argv in ([h.utrace_path(), "run", "--block-timeout", value, "--",
                          h.prog("s-chain")],
                         [h.utrace_path(), "attach", "--block-timeout=" + value, no_pid]):
                with self.subTest(value=value, cmd=argv[1]):
                    res = h.run(argv)
                    h.check_error(self, res, "--block-timeout")
                    self.assertEqual(res.stdout, b"")

    def test_good_values_are_taken(self):
        for value in ("250us", "1000000ns", "0.5", "2s", "3600s"):
            with self.subTest(value=value):
                t = h.check_traced_prog(self, "s-chain", extra=("--block-timeout", value))
                self.assertEqual(t.stderr, b"", "utrace said something")


if __name__ == "__main__":
    h.main()
