#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Attach under load and tracer death: utrace attaches to and detaches from
a busy multi-threaded program receiving signals 50 times in a row, and a
`kill -9` of utrace while attached leaves a program patched with 5-byte
jumps running correctly."""

import os
import signal
import subprocess
import time
import unittest

import harness as h

CYCLES = 50
# s-load: no end of its own; its workers pause 1 ms after each batch of 32
# traced calls, which keeps each cycle's trace small.
LOAD_ARGS = ("0", "1000")
LOAD_FUNCS = ("work_load_*",)
LOAD_STATUS = 17
NWORKERS = 4
# Traced per cycle: at least this long, and until a worker's calls reached the trace.
TRACE_S = 0.05
WORKER_WAIT_S = 60
# While utrace is gone: long enough for each worker to make many calls.
RUN_ALONE_S = 0.5
SIGTRAP_STATUS = 128 + signal.SIGTRAP
JMP_ONLY_TRIES = 5


def int3_only():
    return os.environ.get("UTRACE_TEST_PROBE") == "int3"


def wait_traced(tc, att, func, timeout=WORKER_WAIT_S):
    """Until utrace's output holds an event of func (its writer's buffer
    reaches the file in blocks; until utrace ends, -o is written to a
    temporary file beside it): a loaded machine may keep the workers from
    running for a while."""
    deadline = time.monotonic() + timeout
    needle = b'"func":"%s"' % func.encode()
    d, base = os.path.split(att.out)
    while time.monotonic() < deadline:
        for name in os.listdir(d):
            if name.startswith(".%s.utrace-" % base):
                with open(os.path.join(d, name), "rb") as f:
                    if needle in f.read():
                        return
        if att.proc.poll() is not None:
            tc.fail("utrace attach exited with %d: %r" %
                    (h.exit_status(att.proc.returncode), att.communicate(h.RUN_TIMEOUT)))
        time.sleep(0.01)
    tc.fail("no event of %s within %ss" % (func, timeout))


class LoadTest(unittest.TestCase):
    def finish_load(self, t):
        """SIGTERM s-load: it must report no error of its own."""
        lines, status = t.finish()
        self.assertIn("errors 0", lines)
        self.assertEqual(status, LOAD_STATUS, "s-load status; stdout %r" % lines)
        return lines

    def check_alive(self, t, when):
        if t.proc.poll() is not None:
            rest = t.proc.stdout.read().decode(errors="replace")
            self.fail("s-load ended with status %d after %s; stdout %r" %
                      (h.exit_status(t.proc.returncode), when, t.lines + [rest]))

    def check_cycle(self, events, summary, err):
        """A window of tracing: events of the workers and of the handlers;
        returns of entries seen, nothing torn or lost.  Entries still open
        at detach (one per thread, two in a handler) get no exit."""
        for k in ("invalid", "lost_return", "no_slot", "rstack_overflow"):
            self.assertEqual(summary[k], 0, "%s: %r; utrace said %r" % (k, summary, err))
        # A handler that interrupted the recorder between reserving a
        # record and committing it may still run at detach: the record is
        # committed after the last drain (docs/ARCHITECTURE.md, "Records and
        # the consumer": counted as torn).
        self.assertLessEqual(summary["torn"], NWORKERS + 1, summary)
        got = h.trace_counts(events)
        self.assertLessEqual(set(got), {"work_load_outer", "work_load_inner", "work_load_sig"})
        for func, (entries, exits, unwinds) in got.items():
            self.assertEqual(unwinds, 0, func)
            self.assertLessEqual(exits, entries, func)
            self.assertLessEqual(entries - exits, 2 * (NWORKERS + 1), func)
        return "work_load_outer" in got

    def test_attach_detach_50_times_under_load(self):
        """Each cycle: attach, wait until every thread runs patched code,
        detach; the text must equal the file's again.  With the default
        probes every other cycle uses int3 probes."""
        t = h.start_target(self, "s-load", LOAD_ARGS)
        start = time.monotonic()
        traced = 0
        for i in range(CYCLES):
            extra = ("--probe=int3",) if i % 2 and not int3_only() else ()
            att = h.attach(self, t.pid, LOAD_FUNCS, extra=extra)
            h.wait_patched(self, t, att)
            time.sleep(TRACE_S)
            wait_traced(self, att, "work_load_outer")
            events, summary = h.detach(self, att)
            self.check_alive(t, "cycle %d (%s)" % (i, extra or "default probes"))
            h.check_untouched(self, t)
            traced += self.check_cycle(events, summary, att.err)
        elapsed = time.monotonic() - start
        self.assertEqual(traced, CYCLES, "cycles with worker events")
        self.finish_load(t)
        print("%d attach/detach cycles in %.1f s" % (CYCLES, elapsed))

    def attach_and_kill(self, target, funcs):
        """Attach with 5-byte patches only, wait until attached, kill -9
        utrace.  A thread inside a function's first bytes at attach gets
        that function an int3 probe instead (utrace says so in its install
        line): then detach and attach again."""
        for _ in range(JMP_ONLY_TRIES):
            att = h.attach(self, target.pid, funcs)
            h.wait_patched(self, target, att)
            if h.install_counts(self, att)["int3"] == 0:
                att.proc.kill()
                att.proc.wait()
                return
            h.detach(self, att)
        self.fail("no attach with 5-byte patches only in %d tries" % JMP_ONLY_TRIES)

    if not int3_only():
        # 5-byte patches only: the int3 run of this file has no such test (with int3
        # probes the program dies: test_kill9_with_int3_probes)

        def test_kill9_with_jmp_patches_keeps_program_running(self):
            """The rings fill and drop, nobody drains them; the program runs
            on through its patched functions and exits as untraced."""
            g = h.GatedProg(self, "s-threads8")
            self.attach_and_kill(g, ("work_*",))
            res = g.release()
            h.check_like_untraced(self, "s-threads8", (), res)

        def test_kill9_under_load_with_jmp_patches(self):
            t = h.start_target(self, "s-load", LOAD_ARGS)
            self.attach_and_kill(t, LOAD_FUNCS)
            time.sleep(RUN_ALONE_S)
            self.assertIsNone(t.proc.poll(), "s-load died after utrace did")
            self.assertEqual(h.tracer_pid(t.pid), 0)
            self.assertGreater(h.text_mismatches(t.pid), 0, "the patches are gone")
            self.finish_load(t)

    def test_kill9_with_int3_probes(self):
        """Documented (README, utrace(1)): an int3 probe hit after utrace
        died raises a SIGTRAP nobody answers, which kills the program."""
        t = h.start_target(self, "s-load", LOAD_ARGS)
        att = h.attach(self, t.pid, LOAD_FUNCS, extra=("--probe=int3",))
        h.wait_patched(self, t, att)
        att.proc.kill()
        att.proc.wait()
        try:
            t.proc.wait(timeout=h.RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("s-load survived its int3 probes without a tracer")
        self.assertEqual(h.exit_status(t.proc.returncode), SIGTRAP_STATUS)


if __name__ == "__main__":
    h.main()
