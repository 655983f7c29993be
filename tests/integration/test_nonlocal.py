#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Real programs, part one: many threads, a zombie leader, signals at a high
rate, SIGSEGV handlers that siglongjmp, swapcontext coroutines and fibers,
100,000-deep recursion, functions that never return.  Each prog counts its
own calls; every case runs under `utrace run` and, where it means something,
`utrace attach`, with the probes of the run (UTRACE_TEST_PROBE)."""

import os
import re
import signal
import subprocess
import time
import unittest

import harness as h

INT3 = os.environ.get("UTRACE_TEST_PROBE") == "int3"
# Each int3 probe hit is a trap answered by the tracer (10-20 us, more under
# ASan): the call counts are smaller with int3 probes.
T64_CALLS = "300" if INT3 else "1000"
T64_THREADS = 64
# s-sigprof: 2 million traced calls (100,000 with int3 probes, whose traps
# take seconds); its threads, handlers included, wait for room in their rings.
PROF_CALLS = "50000" if INT3 else "1000000"
PROF_MIN_SIGNALS = 100


# ---- a prog driven through its stdin ----------------------------------------

class StdinProg(h.Target):
    """A prog reading commands on stdin; its stdout read line by line."""

    def __init__(self, tc, name, args=()):
        self.tc = tc
        self.name = name
        self.proc = subprocess.Popen([h.prog(name)] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.buf = b""
        self.lines = []
        tc.addCleanup(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self, timeout=h.TRACED_TIMEOUT):
        """End of file on stdin; returns (all stdout, exit status)."""
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.tc.fail("%s did not exit at the end of its input" % self.name)
        out = self.buf + rest
        self.buf = b""
        return (("\n".join(self.lines) + "\n").encode() if self.lines else b"") + out, \
            h.exit_status(self.proc.returncode)


def live_tid(pid):
    """A thread of pid other than its (zombie) leader."""
    tids = [int(t) for t in os.listdir("/proc/%d/task" % pid) if int(t) != pid]
    if not tids:
        raise AssertionError("process %d has no thread besides its leader" % pid)
    return tids[0]


def task_state(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_attached_via(tc, target, att, tid, exe, timeout=10):
    """h.wait_attached, looking at the process through thread tid (its
    leader is a zombie: it has no tracer, maps or memory of its own)."""
    deadline = time.monotonic() + timeout
    h.wait_installed(tc, target, att, deadline)
    settled = 0
    while time.monotonic() < deadline:
        if att.proc.poll() is not None:
            tc.fail("utrace attach exited with %d: %r" % (h.exit_status(att.proc.returncode),
                                                           att.communicate(h.RUN_TIMEOUT)))
        ready = (h.tracer_pid(tid) == att.proc.pid and h.text_mismatches(tid, exe) > 0 and
                 not h.any_thread_stopped(target.pid))
        settled = settled + 1 if ready else 0
        if settled >= 3:
            return
        time.sleep(0.02)
    tc.fail("utrace did not attach within %ss" % timeout)


def run_traced_input(tc, name, args, data, funcs=("work_*",), extra=()):
    """utrace run PROG with data on its stdin; the Trace of its JSON output."""
    out = os.path.join(h.tmpdir(tc), "%s.json" % name)
    argv = [h.utrace_path(), "run"] + h.trace_argv(funcs, out) + list(extra)
    res = h.run(argv + ["--", h.prog(name)] + list(args), timeout=h.TRACED_TIMEOUT, input=data)
    tc.assertTrue(os.path.exists(out), "no output file; utrace stderr: %r" % res.stderr)
    events, summary = h.parse_jsonl(tc, out)
    return h.Trace(res, events, summary, out)


# ---- 1. 64 threads ------------------------------------------------------------

def check_per_thread(tc, t):
    """Each thread's work_t64_outer entries equal what one thread counted."""
    printed = sorted(int(m.group(1)) for m in re.finditer(
        rb"^thread \d+ work_t64_outer (\d+)$", t.stdout, re.M))
    tc.assertEqual(len(printed), T64_THREADS)
    per_tid = h.per_tid_entries(t.events, "work_t64_outer")
    tc.assertEqual(sorted(per_tid.values()), printed, "per-thread entries")
    tc.assertEqual(per_tid, h.per_tid_entries(t.events, "work_t64_inner"))


def check_threads64_attach(tc):
    """32 threads exist before the attach; 32 more are born while traced."""
    p = StdinProg(tc, "s-threads64", (T64_CALLS, "wait"))
    p.expect("ready")
    att = h.attach(tc, p.pid)
    h.wait_attached(tc, p, att)
    p.send(b"g")
    out, status = p.close()
    events, summary = h.attach_ended(tc, att, h.RUN_TIMEOUT, "the exit of s-threads64")
    t = h.Trace(h.Result(out, att.err, status), events, summary, att.out)
    plain = h.run([h.prog("s-threads64"), T64_CALLS, "wait"], stdin=subprocess.DEVNULL)
    tc.assertEqual((t.stdout, t.status), (plain.stdout, plain.status))
    h.check_summary_clean(tc, t.events, t.summary)
    h.check_counts(tc, t.events, h.prog_counts(t.stdout))
    h.check_nesting(tc, t.events)
    check_per_thread(tc, t)


# ---- 2. zombie leader ---------------------------------------------------------

ZOMBIE_STATUS = 11
ZOMBIE_PHASE = {"work_zl_phase": 20000, "work_zl_leaf": 20000}


def zombie_counts(tc, out):
    counts = h.prog_counts(out)
    tc.assertIn(b"spin ok\n", out)
    return counts


def check_zombie_run(tc):
    t = run_traced_input(tc, "s-zombie", (), b"gg")
    tc.assertEqual(t.status, ZOMBIE_STATUS, "utrace stderr: %r" % t.stderr)
    h.check_summary_clean(tc, t.events, t.summary)
    h.check_counts(tc, t.events, zombie_counts(tc, t.stdout))
    h.check_nesting(tc, t.events)


def check_zombie_attach(tc):
    p = StdinProg(tc, "s-zombie")
    p.expect("ready")
    tc.assertEqual(task_state(p.pid, p.pid), "Z", "the leader is not a zombie")
    tid = live_tid(p.pid)
    exe = os.path.realpath(h.prog("s-zombie"))
    # with int3 probes the spinner would be in a trap stop at any moment:
    # the attach could not be seen to settle
    funcs = tuple(ZOMBIE_PHASE) if INT3 else ("work_*",)
    att = h.attach(tc, p.pid, funcs)
    wait_attached_via(tc, p, att, tid, exe)
    p.send(b"g")
    p.expect("phase 1 done", timeout=h.RUN_TIMEOUT)
    events, summary = h.detach(tc, att)
    h.check_summary_clean(tc, events, summary)
    got = h.trace_counts(events)
    for func, n in ZOMBIE_PHASE.items():
        tc.assertEqual(got.get(func), [n, n, 0], func)
    tc.assertEqual(h.tracer_pid(tid), 0, "still traced")
    tc.assertEqual(h.text_mismatches(tid, exe), 0, "text differs from the file")
    p.send(b"g")
    p.expect("phase 2 done", timeout=h.RUN_TIMEOUT)
    out, status = p.close()
    tc.assertEqual(status, ZOMBIE_STATUS)
    counts = zombie_counts(tc, out)
    tc.assertEqual({f: counts[f] for f in ZOMBIE_PHASE}, {f: 2 * n for f, n in
                                                          ZOMBIE_PHASE.items()})


# ---- 3. SIGPROF at 10 kHz -----------------------------------------------------

def check_sigprof(tc, mode):
    """Millions of calls: the summary, not millions of JSON lines."""
    if mode == "run":
        t = h.run_traced(tc, "s-sigprof", (PROF_CALLS,), fmt="summary")
    else:
        out = os.path.join(h.tmpdir(tc), "sigprof.summary")
        g = h.GatedProg(tc, "s-sigprof", (PROF_CALLS,))
        att = h.attach(tc, g.pid, out=out, extra=("--format", "summary"))
        h.wait_attached(tc, g, att)
        t = g.release()
        try:
            att.communicate(h.RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            tc.fail("utrace did not exit with s-sigprof")
        tc.assertEqual(att.proc.returncode, 0, "utrace stderr %r" % att.err)
        t.path = out
    tc.assertEqual(t.status, h.run_untraced("s-sigprof", ("1000",)).status,
                   "exit status; utrace stderr %r" % t.stderr)
    signals = int(re.search(rb"^signals (\d+)$", t.stdout, re.M).group(1))
    calls = h.prog_counts(t.stdout)
    tc.assertEqual(calls["work_prof_body"], int(PROF_CALLS))
    # one traced handler call per signal handled
    tc.assertEqual(calls["work_prof_handler"], signals)
    tc.assertGreaterEqual(signals, PROF_MIN_SIGNALS, "the timer hardly fired")
    got = h.summary_counts(tc, t.path)
    tc.assertEqual(got, {f: [n, n, 0] for f, n in calls.items()})


# ---- 4. SIGSEGV and siglongjmp ------------------------------------------------

def check_segv(tc, mode, args=()):
    t = h.check_traced_prog(tc, "s-segv", args, allow_unwinds=True, mode=mode)
    faults = int(re.search(rb"^faults (\d+)$", t.stdout, re.M).group(1))
    calls = h.prog_counts(t.stdout)
    got = h.trace_counts(t.events)
    for func in ("work_segv_outer", "work_segv_fault"):
        tc.assertEqual(got[func], [calls[func], calls[func] - faults, faults], func)
    tc.assertEqual(got["work_segv_escape"], [faults, 0, faults])
    tc.assertEqual(got["work_segv_leaf"], [faults, faults, 0])


# ---- 5. coroutines and fibers ---------------------------------------------------

def check_exits_match_entries(tc, events):
    """Per thread, every exit or unwind closes an open entry of the same
    function and depth, not necessarily the innermost: coroutines interleave
    frames of several stacks on one thread."""
    open_entries = {}
    for i, ev in enumerate(events):
        key = (ev["tid"], ev["func"], ev["depth"])
        if ev["type"] == "entry":
            open_entries[key] = open_entries.get(key, 0) + 1
        elif open_entries.get(key):
            open_entries[key] -= 1
        else:
            tc.fail("event %d closes no open entry: %r" % (i, ev))


# 100,000 events in some 20 ms: more than a writer formats, as for s-longjmp
def check_pingpong(tc, mode):
    t = h.trace_prog(tc, mode, "s-coro")
    h.check_like_untraced(tc, "s-coro", (), t)
    h.check_summary_clean(tc, t.events, t.summary)
    calls = h.prog_counts(t.stdout)
    got = h.trace_counts(t.events)
    tc.assertEqual(set(got), set(calls))
    for func, n in calls.items():
        entries, exits, unwinds = got[func]
        tc.assertEqual(entries, n, func)
        if func in ("work_co_produce", "work_co_yield"):
            # the generator's last frames stay suspended when the program ends
            tc.assertEqual((exits, unwinds), (n - 1, 1), func)
        else:
            tc.assertEqual((exits, unwinds), (n, 0), func)
    check_exits_match_entries(tc, t.events)


def check_migrate(tc, mode):
    t = h.trace_prog(tc, mode, "s-coro", ("migrate",))
    h.check_like_untraced(tc, "s-coro", ("migrate",), t)
    tc.assertIn(b"fibers done 200, resumed on another thread 200\n", t.stdout)
    h.check_summary_clean(tc, t.events, t.summary)
    h.check_counts(tc, t.events, h.prog_counts(t.stdout))
    fiber = ("work_fiber_body", "work_fiber_suspend")
    entered = {ev["tid"] for ev in t.events if ev["func"] in fiber and ev["type"] == "entry"}
    returned = {ev["tid"] for ev in t.events if ev["func"] in fiber and ev["type"] == "exit"}
    tc.assertEqual(len(entered), 1, "fibers started on one thread")
    tc.assertEqual(len(returned), 1, "fibers finished on one thread")
    tc.assertNotEqual(entered, returned, "the fibers' exits are on the resuming thread")


def check_orphan(tc, mode):
    """The thread that started the fibers exits before another resumes
    them: their suspended calls are reported unwound at its exit (their
    return addresses put back), and they return untraced, unharmed."""
    t = h.trace_prog(tc, mode, "s-coro", ("orphan",))
    h.check_like_untraced(tc, "s-coro", ("orphan",), t)
    tc.assertIn(b"fibers done 200, resumed on another thread 200\n", t.stdout)
    h.check_summary_clean(tc, t.events, t.summary)
    counts = h.prog_counts(t.stdout)
    got = h.trace_counts(t.events)
    for func in ("work_fiber_body", "work_fiber_suspend"):
        tc.assertEqual(got[func], [counts[func], 0, counts[func]], func)
    tc.assertEqual(got["work_co_leaf"], [counts["work_co_leaf"]] * 2 + [0])


# ---- 6. deep recursion ------------------------------------------------------------

DEEP = 100000


# 600,000 events in a few ms: the thread waits for room in its ring
def check_deeprec(tc, mode):
    t = h.check_traced_prog(tc, "s-deeprec", mode=mode)
    depths = [ev["depth"] for ev in t.events if ev["type"] == "entry"]
    tc.assertEqual(max(depths) - min(depths), DEEP - 1)


# ---- 7. functions that never return ------------------------------------------------

NORETURN_LIVE = ("work_nr_outer", "work_nr_middle", "work_nr_end")


def check_noreturn(tc, mode, how, status):
    t = h.check_traced_prog(tc, "s-noreturn", (how,), allow_unwinds=True, mode=mode)
    tc.assertEqual(t.status, status)
    calls = h.prog_counts(t.stdout)
    got = h.trace_counts(t.events)
    for func, n in calls.items():
        live = 1 if func in NORETURN_LIVE else 0
        tc.assertEqual(got[func], [n, n - live, live], func)
    # the frames live at the end are closed innermost first, after every other event
    tail = [(ev["type"], ev["func"]) for ev in t.events[-3:]]
    tc.assertEqual(tail, [("unwind", f) for f in reversed(NORETURN_LIVE)])


class NonLocalTest(unittest.TestCase):
    def test_64_threads_run(self):
        t = h.check_traced_prog(self, "s-threads64", (T64_CALLS,))
        check_per_thread(self, t)

    def test_64_threads_attach_before_and_during(self):
        check_threads64_attach(self)

    def test_zombie_leader_run(self):
        check_zombie_run(self)

    def test_zombie_leader_attach_and_detach(self):
        check_zombie_attach(self)

    def test_sigprof_10khz_run(self):
        check_sigprof(self, "run")

    def test_sigprof_10khz_attach(self):
        check_sigprof(self, "attach")

    def test_segv_siglongjmp_run(self):
        check_segv(self, "run")

    def test_segv_siglongjmp_on_sigaltstack_run(self):
        check_segv(self, "run", ("altstack",))

    def test_segv_siglongjmp_on_sigaltstack_attach(self):
        check_segv(self, "attach", ("altstack",))

    def test_coroutine_pingpong_run(self):
        check_pingpong(self, "run")

    def test_coroutine_pingpong_attach(self):
        check_pingpong(self, "attach")

    def test_fiber_resumed_on_another_thread_run(self):
        check_migrate(self, "run")

    def test_fiber_resumed_on_another_thread_attach(self):
        check_migrate(self, "attach")

    def test_fiber_resumed_after_its_thread_exited_run(self):
        check_orphan(self, "run")

    def test_fiber_resumed_after_its_thread_exited_attach(self):
        check_orphan(self, "attach")

    def test_mutual_recursion_100000_deep_run(self):
        check_deeprec(self, "run")

    def test_mutual_recursion_100000_deep_attach(self):
        check_deeprec(self, "attach")

    def test_exit_inside_traced_function_run(self):
        check_noreturn(self, "run", "exit", 16)

    def test_exit_inside_traced_function_attach(self):
        check_noreturn(self, "attach", "exit", 16)

    def test_abort_inside_traced_function_run(self):
        check_noreturn(self, "run", "abort", 128 + signal.SIGABRT)


if __name__ == "__main__":
    h.main()
