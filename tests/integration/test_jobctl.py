#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Job control while 4 threads call traced functions millions of times a
second (s-jobctl fast) under `utrace attach`: each SIGTSTP is handled once
and stops the process, each SIGSTOP stops it, each SIGCONT resumes it and is
handled once, as untraced.

The test, the prog's parent, waits for each stop with waitid(WSTOPPED) as a
shell does (h.wait_job_stopped): a traced thread's state t in /proc says
only that it is in some ptrace stop, and a SIGCONT sent on its word, before
the handler's raise(SIGSTOP), leaves the process stopped, traced or not."""

import os
import random
import re
import signal
import subprocess
import threading
import time
import unittest

import harness as h

ROUNDS = int(os.environ.get("UTRACE_JOBCTL_ROUNDS", "20"))
CYCLES = int(os.environ.get("UTRACE_JOBCTL_CYCLES", "10"))
JOBCTL_STATUS = 17
ATTACH_CYCLES = int(os.environ.get("UTRACE_JOBCTL_ATTACH_CYCLES", "150"))
# an attach while the job is stopped, or a stop signal in the middle of the
# install, is refused: utrace's code cannot run in a stopped thread, and a
# remote syscall a stop interrupts is not retried
REFUSED = re.compile(rb"utrace: [^\n]*(can run utrace's code now \(stopped by a signal\?\)|"
                     rb"has signal \d+ to deliver before more remote syscalls|"
                     rb"Interrupted system call)\n\Z")
# a handler's line or the stop comes within milliseconds; a lost signal never
TIMEOUT = 10
STATUS_FIELDS = ("State", "SigBlk", "SigPnd", "ShdPnd")


def thread_states(pid):
    """What each thread is doing, for the message of a hang."""
    lines = []
    if not os.path.exists("/proc/%d/task" % pid):
        return "(the process is gone)"
    for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                fields = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        lines.append("%s: %s" % (tid, " ".join("%s=%s" % (k, fields[k].strip())
                                               for k in STATUS_FIELDS)))
    return "\n".join(lines)


def summary_calls(path):
    """{func: calls} of a --format summary file; its '#' lines (drops) aside."""
    with open(path) as f:
        return {m.group(4): int(m.group(1))
                for m in map(h.SUMMARY_LINE.match, f.read().splitlines()) if m}


class JobctlRace(unittest.TestCase):
    def hang(self, t, what):
        self.fail("%s; output %r; threads:\n%s" % (what, t.lines, thread_states(t.pid)))

    def expect(self, t, line, what):
        try:
            t.expect(line, TIMEOUT)
        except AssertionError:
            self.hang(t, "%s: no %r within %d s" % (what, line, TIMEOUT))

    def cycle(self, t, k, sig):
        what = "cycle %d, %s" % (k, signal.Signals(sig).name)
        os.kill(t.pid, sig)
        if sig == signal.SIGTSTP:
            self.expect(t, "tstp", what)
        try:
            sig = h.wait_job_stopped(self, t, TIMEOUT)
        except AssertionError as e:
            self.hang(t, "%s: %s" % (what, e))
        self.assertEqual(sig, signal.SIGSTOP, what)
        os.kill(t.pid, signal.SIGCONT)
        self.expect(t, "cont", what + ", SIGCONT")

    def round(self, r):
        t = h.start_target(self, "s-jobctl", ("fast",))
        out = os.path.join(h.tmpdir(self), "jobctl-%d.summary" % r)
        att = h.attach(self, t.pid, ("work_*",), out=out, extra=("--format", "summary"))
        # with int3 probes the threads are in a trap stop at any moment:
        # waiting for all to run (wait_attached) would not end
        h.wait_installed(self, t, att, time.monotonic() + TIMEOUT)
        for k in range(CYCLES):
            self.cycle(t, k, signal.SIGTSTP)
            self.cycle(t, k, signal.SIGSTOP)
        att.proc.send_signal(signal.SIGINT)
        try:
            err = att.communicate(h.RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("utrace did not detach")
        self.assertEqual(att.proc.returncode, 0, err)
        h.check_untouched(self, t)
        lines, status = t.finish()
        self.assertIn("signals tstp %d cont %d" % (CYCLES, 2 * CYCLES), lines)
        self.assertEqual(status, JOBCTL_STATUS)
        counts = h.prog_counts(("\n".join(lines) + "\n").encode())
        # tstp, cont and the final SIGTERM: one handler call each
        self.assertEqual(counts["work_jc_signal"], 3 * CYCLES + 1)
        # rings overflow at this rate (the summary says how much): no exact count
        got = summary_calls(out)
        self.assertGreater(got.get("work_jc_body", 0), 0)
        self.assertLessEqual(got.get("work_jc_signal", 0), 3 * CYCLES)

    def attach_detach_loop(self, t, stop, results):
        """Attach, trace a random while, detach; again until stop is set."""
        n = 0
        while not stop.is_set():
            out = os.path.join(h.tmpdir(self), "again-%d.summary" % n)
            att = h.attach(self, t.pid, ("work_*",), out=out, extra=("--format", "summary"))
            # SIGINT once utrace says how its install went (or exits): an
            # earlier one finds its default action
            while att.proc.poll() is None and b"install:" not in att.err:
                chunk = h.read_chunk(att.proc.stderr, 1)
                if chunk:
                    att.err += chunk
            time.sleep(random.uniform(0, 0.05))
            att.proc.send_signal(signal.SIGINT)
            try:
                err = att.communicate(h.RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                results.append((n, "utrace did not detach", att.err))
                return
            results.append((n, att.proc.returncode, err))
            n += 1

    def test_attach_and_detach_during_job_control(self):
        """The world stops of attach and detach and the int3 traps race with
        the stops, the handlers and the SIGCONTs: a thread in a group-stop
        may hold the SIGTRAP of an int3 it hit (it used to die of it after
        detach).  No signal lost, none duplicated, the program never
        killed; an attach while stopped is refused with its message."""
        t = h.start_target(self, "s-jobctl", ("fast",))
        stop = threading.Event()
        results = []
        loop = threading.Thread(target=self.attach_detach_loop, args=(t, stop, results))
        loop.start()
        try:
            for k in range(ATTACH_CYCLES):
                self.cycle(t, k, signal.SIGTSTP)
                self.cycle(t, k, signal.SIGSTOP)
                time.sleep(random.uniform(0, 0.02))
        except (AssertionError, OSError) as e:
            stop.set()
            loop.join()
            self.fail("%s\nthe last attaches: %r" % (e, results[-3:]))
        finally:
            stop.set()
            loop.join()
        traced = 0
        for n, status, err in results:
            self.assertTrue(status == 0 or (status == 1 and REFUSED.search(err)),
                            "attach %d: %s %r" % (n, status, err))
            traced += status == 0
        self.assertGreater(traced, 0, "no attach succeeded: %r" % results[:3])
        lines, status = t.finish()
        self.assertIn("signals tstp %d cont %d" % (ATTACH_CYCLES, 2 * ATTACH_CYCLES), lines)
        self.assertEqual(status, JOBCTL_STATUS)
        counts = h.prog_counts(("\n".join(lines) + "\n").encode())
        self.assertEqual(counts["work_jc_signal"], 3 * ATTACH_CYCLES + 1)

    def test_untraced_reference(self):
        """The same cycles untraced: what the traced rounds must equal."""
        t = h.start_target(self, "s-jobctl", ("fast",))
        for k in range(CYCLES):
            self.cycle(t, k, signal.SIGTSTP)
            self.cycle(t, k, signal.SIGSTOP)
        lines, status = t.finish()
        self.assertIn("signals tstp %d cont %d" % (CYCLES, 2 * CYCLES), lines)
        self.assertEqual(status, JOBCTL_STATUS)

    def test_job_control_at_millions_of_calls(self):
        for r in range(ROUNDS):
            with self.subTest(round=r):
                self.round(r)


if __name__ == "__main__":
    unittest.main()
