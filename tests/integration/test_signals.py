#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace run and signals: SIGINT sent to utrace reaches the program, job
control (SIGSTOP / SIGCONT) behaves as untraced, and `utrace symbols`."""

import os
import signal
import subprocess
import time
import unittest

import harness as h


class RunTarget(h.Target):
    """s-attach launched under `utrace run` instead of directly."""

    def __init__(self, tc, out):
        self.tc = tc
        self.name = "utrace run s-attach"
        argv = [h.utrace_path(), "run", *h.probe_argv(), "-f", "work_*", "-o", out, "--json", "--",
                h.prog("s-attach")]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.utrace_pid = self.proc.pid
        self.buf = b""
        self.lines = []
        tc.addCleanup(self.kill)
        self.expect("ready")
        self.pid = self.program_pid()

    def program_pid(self):
        with open("/proc/%d/task/%d/children" % (self.utrace_pid, self.utrace_pid)) as f:
            kids = f.read().split()
        self.tc.assertEqual(len(kids), 1, "utrace should have one child: %r" % kids)
        return int(kids[0])

    def finish(self):
        """SIGTERM to the program; utrace exits with its status."""
        os.kill(self.pid, signal.SIGTERM)
        try:
            rest, self.stderr = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.tc.fail("utrace did not exit")
        self.lines += (self.buf + rest).decode().splitlines()
        return self.lines, h.exit_status(self.proc.returncode)

    def wait(self):
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.tc.fail("utrace did not exit")
        return h.exit_status(self.proc.returncode), err


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_state(tc, pid, states, timeout=5):
    deadline = time.monotonic() + timeout
    while proc_state(pid) not in states:
        if time.monotonic() > deadline:
            tc.fail("process %d never reached state %s (is %s)" % (pid, states, proc_state(pid)))
        time.sleep(0.01)


class SignalTest(unittest.TestCase):
    def test_sigint_to_utrace_is_forwarded_to_the_program(self):
        """Not from the terminal, so the program did not get it: utrace forwards it,
        keeps recording until the program dies of it, and exits 128 + SIGINT."""
        out = os.path.join(h.tmpdir(self), "sigint.json")
        t = RunTarget(self, out)
        t.phase(1)
        calls = int(t.lines[-1].split()[-1])
        os.kill(t.utrace_pid, signal.SIGINT)
        status, err = t.wait()
        self.assertEqual(status, 128 + signal.SIGINT, "utrace stderr: %r" % err)
        events, summary = h.parse_jsonl(self, out)
        h.check_counts(self, events, {"work_phase": calls, "work_phase_leaf": calls})
        self.assertEqual(summary["dropped"], 0)

    def test_stop_and_continue_behave_as_untraced(self):
        """SIGSTOP stops the program; a signal sent meanwhile waits; SIGCONT resumes it."""
        out = os.path.join(h.tmpdir(self), "stop.json")
        t = RunTarget(self, out)
        os.kill(t.pid, signal.SIGSTOP)
        wait_state(self, t.pid, ("T", "t"))
        os.kill(t.pid, signal.SIGUSR1)
        time.sleep(0.2)
        self.assertIn(proc_state(t.pid), ("T", "t"), "the program ran while stopped")
        os.kill(t.pid, signal.SIGCONT)
        t.expect("phase 1 done")
        t.phase(2)
        lines, status = t.finish()
        self.assertEqual(status, 15, "utrace stderr: %r" % t.stderr)
        counts = h.prog_counts(("\n".join(lines) + "\n").encode())
        self.assertEqual(set(counts), {"work_phase", "work_phase_leaf"})
        events, _ = h.parse_jsonl(self, out)
        h.check_counts(self, events, counts)


# ---- job control under load: s-jobctl ----------------------------------------

JOBCTL_STATUS = 17
CTRL_Z_TIMES = 3
SIGSTOP_TIMES = 3
JOBCTL_SIGNALS = b"signals tstp %d cont %d\n" % (CTRL_Z_TIMES, CTRL_Z_TIMES + SIGSTOP_TIMES)


class JobctlRun(RunTarget):
    """s-jobctl under `utrace run`."""

    def __init__(self, tc, out):
        self.tc = tc
        self.name = "utrace run s-jobctl"
        argv = [h.utrace_path(), "run", *h.probe_argv(), "-f", "work_*", "-o", out,
                "--format", "summary", "--", h.prog("s-jobctl")]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.utrace_pid = self.proc.pid
        self.buf = b""
        self.lines = []
        tc.addCleanup(self.kill)
        self.expect("ready")
        self.pid = self.program_pid()


def job_control(tc, t):
    """Ctrl-Z (SIGTSTP: the handler stops the process) and SIGSTOP, each
    followed by SIGCONT, while 4 threads call traced functions; each
    handler says when it ran, so no signal is sent before the last one
    was handled (a stop signal discards a pending SIGCONT), and no SIGCONT
    before the stop (h.wait_job_stopped: not a thread's state t)."""
    for _ in range(CTRL_Z_TIMES):
        os.kill(t.pid, signal.SIGTSTP)
        t.expect("tstp")
        check_job_stop(tc, h.wait_job_stopped(tc, t))
        os.kill(t.pid, signal.SIGCONT)
        t.expect("cont")
    for _ in range(SIGSTOP_TIMES):
        os.kill(t.pid, signal.SIGSTOP)
        check_job_stop(tc, h.wait_job_stopped(tc, t))
        os.kill(t.pid, signal.SIGCONT)
        t.expect("cont")


def check_job_stop(tc, sig):
    """Both stops are by SIGSTOP (None: utrace run, where utrace is the parent)."""
    if sig is not None:
        tc.assertEqual(sig, signal.SIGSTOP)


def jobctl_finish(tc, t):
    """SIGTERM: the threads stop and the prog prints its counts."""
    lines, status = t.finish()
    out = ("\n".join(lines) + "\n").encode()
    tc.assertIn(JOBCTL_SIGNALS, out)
    tc.assertEqual(status, JOBCTL_STATUS, "stdout %r" % out)
    return h.prog_counts(out)


class JobControlTest(unittest.TestCase):
    def test_untraced_reference(self):
        """The sequence itself, untraced: what the traced runs must equal."""
        t = h.start_target(self, "s-jobctl")
        job_control(self, t)
        counts = jobctl_finish(self, t)
        # tstp, cont and the final SIGTERM: one handler call each
        self.assertEqual(counts["work_jc_signal"], 2 * CTRL_Z_TIMES + SIGSTOP_TIMES + 1)

    def test_job_control_under_utrace_run(self):
        """Millions of calls: the summary, not millions of JSON lines."""
        out = os.path.join(h.tmpdir(self), "jobctl.summary")
        t = JobctlRun(self, out)
        job_control(self, t)
        counts = jobctl_finish(self, t)
        self.assertEqual(h.summary_counts(self, out), {f: [n, n, 0] for f, n in counts.items()})

    def test_job_control_while_attached(self):
        t = h.start_target(self, "s-jobctl")
        out = os.path.join(h.tmpdir(self), "jobctl.summary")
        # with int3 probes the workers are in a trap stop at any moment: the
        # attach could not be seen to settle; the handlers alone then
        int3 = os.environ.get("UTRACE_TEST_PROBE") == "int3"
        funcs = ("work_jc_signal",) if int3 else ("work_*",)
        att = h.attach(self, t.pid, funcs, out=out, extra=("--format", "summary"))
        h.wait_attached(self, t, att)
        job_control(self, t)
        att.proc.send_signal(signal.SIGINT)
        try:
            err = att.communicate(h.RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("utrace did not detach")
        self.assertEqual(att.proc.returncode, 0, err)
        h.check_untouched(self, t)
        counts = jobctl_finish(self, t)
        got = h.summary_counts(self, out)
        # every handler ran while traced, once per signal
        handled = CTRL_Z_TIMES + CTRL_Z_TIMES + SIGSTOP_TIMES
        self.assertEqual(got["work_jc_signal"], [handled, handled, 0])
        self.assertEqual(counts["work_jc_signal"], handled + 1)
        self.assertEqual(set(got), {"work_jc_signal"} if int3 else set(counts))
        for func in set(got) - {"work_jc_signal"}:
            calls, returns, _ = got[func]
            self.assertGreater(calls, 0, func)
            self.assertLessEqual(calls, counts[func], func)
            # a call running at attach or detach has only its exit or its entry
            self.assertLessEqual(abs(calls - returns), 8, func)


class SymbolsTest(unittest.TestCase):
    def check_listing(self, target, expect_names, kind="jmp", opts=()):
        """Every work_* function of the progs gets `kind`; the tally counts them."""
        res = h.run([h.utrace_path(), "symbols", *opts, target, "work_*"])
        self.assertEqual(res.status, 0, res.stderr)
        lines = res.stdout.decode().splitlines()
        names = sorted(l.split()[3] for l in lines if not l.startswith("#"))
        self.assertEqual(names, sorted(expect_names))
        for l in lines:
            if not l.startswith("#"):
                self.assertEqual(l.split()[2], kind, l)
        n = len(expect_names)
        per_kind = {k: n if k == kind else 0 for k in ("int3", "jmp", "call")}
        self.assertIn("# %d functions: %d int3, %d jmp, %d call, 0 refused" %
                      (n, per_kind["int3"], per_kind["jmp"], per_kind["call"]), lines)
        return lines

    def test_symbols_of_a_file(self):
        self.check_listing(h.prog("s-chain"), ["work_a", "work_b", "work_c"])

    def test_symbols_with_int3_forced(self):
        lines = self.check_listing(h.prog("s-chain"), ["work_a", "work_b", "work_c"], "int3",
                                   ("--probe=int3",))
        self.assertIn("#        3  int3  --probe=int3", lines)

    def test_symbols_of_a_process(self):
        t = h.start_target(self)
        self.check_listing(str(t.pid), ["work_phase", "work_phase_leaf"])

    def test_symbols_of_a_missing_file(self):
        res = h.run([h.utrace_path(), "symbols", "/nonexistent/prog"])
        h.check_error(self, res, "/nonexistent/prog")


if __name__ == "__main__":
    h.main()
