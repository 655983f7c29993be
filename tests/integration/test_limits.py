#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--max-events and --duration: utrace stops tracing at the limit and lets go
of the program as attach does on SIGINT.  The trace holds exactly what came
before the cut (calls then in flight left open); the program runs on
untraced, its output, status and code as untraced, and `run` waits for it.

s-limit ROUNDS detached makes its calls, waits until no tracer is attached,
makes one more round and compares its code with its file: its "tracer 0"
and "text intact" lines, equal to an untraced run's, say that utrace let go
while it ran and left its text as the file's."""

import os
import re
import time
import unittest

import harness as h

PROG = "s-limit"
# Its calls, in order, on its one thread: each round repeats this 500 times.
CALL_PATTERN = (("work_limit_outer", "entry"), ("work_limit_inner", "entry"),
                ("work_limit_inner", "exit"), ("work_limit_outer", "exit"))
ROUND_EVENTS = 2000
# Some 25 ms untraced: a limit of events falls in the first rounds.
SHORT_ROUNDS = 20
# Over 2 s untraced (each round pauses 1 ms): longer than DURATION_S.
LONG_ROUNDS = 2000
DURATION_S = 0.4
ATTACH_DURATION_S = 1.0
# Generous bounds on when a --duration cut comes (a loaded machine, ASan).
EARLIEST, LATEST = 0.5, 10
ATTACH_EXIT_TIMEOUT = 60
PID_RE = re.compile(rb"^pid \d+ ", re.M)


def max_events_reason(n):
    return "after %d event%s (--max-events)" % (n, "" if n == 1 else "s")


def stopped_line(reason):
    return "utrace: stopped tracing " + reason


class LimitTest(unittest.TestCase):
    def run_limited(self, limit, rounds, fmt="json"):
        """utrace run LIMIT -- s-limit ROUNDS detached: as untraced, so let go."""
        args = (str(rounds), "detached")
        t = h.run_traced(self, PROG, args, extra=limit, fmt=fmt)
        plain = h.check_like_untraced(self, PROG, args, t)
        self.assertIn(b"tracer 0\n", plain.stdout)
        self.assertIn(b"text intact\n", plain.stdout)
        return t

    def check_cut(self, events, summary, stderr_lines, reason):
        """The events are the prog's first calls in order (none missing, none
        past the cut, the last ones open); the summary and one stderr line
        say why tracing stopped; nothing was lost."""
        got = [(ev["func"], ev["type"]) for ev in events]
        want = [CALL_PATTERN[i % len(CALL_PATTERN)] for i in range(len(events))]
        self.assertEqual(got, want, "not the prog's first calls in order")
        h.check_nesting(self, events, open_ok=True)
        self.assertEqual(summary.get("stopped"), reason, summary)
        self.assertEqual(summary["events"], len(events), summary)
        for k in h.LOSS_COUNTERS:
            self.assertEqual(summary.get(k), 0, "summary %s: %r" % (k, summary))
        self.assertEqual(stderr_lines.count(stopped_line(reason)), 1, stderr_lines)

    # ---- run ----

    def test_run_max_events_cuts_exactly_and_lets_go(self):
        for n in (1, 1001, 5000):
            with self.subTest(n=n):
                t = self.run_limited(["--max-events", str(n)], SHORT_ROUNDS)
                self.assertEqual(len(t.events), n)
                self.check_cut(t.events, t.summary, t.stderr_lines(), max_events_reason(n))
                calls = h.prog_counts(t.stdout)
                self.assertEqual(calls["work_limit_outer"], (SHORT_ROUNDS + 1) * 500)

    def test_run_max_events_not_reached(self):
        """A limit the program never reaches changes nothing."""
        t = h.check_traced_prog(self, PROG, ("2",), extra=["--max-events", "1000000"])
        self.assertNotIn("stopped", t.summary)
        self.assertEqual(t.stderr, b"")

    def test_run_max_events_at_the_last_event(self):
        """The limit reached by the program's last event: it may exit before
        or while utrace lets go; either way the whole trace, its status."""
        total = 2 * ROUND_EVENTS
        t = h.run_traced(self, PROG, ("2",), extra=["--max-events", str(total)])
        h.check_like_untraced(self, PROG, ("2",), t)
        self.assertEqual(len(t.events), total)
        h.check_counts(self, t.events, h.prog_counts(t.stdout))
        h.check_nesting(self, t.events)

    def test_run_max_events_text(self):
        """The call graph shows the calls open at the cut, then says why it ends."""
        t = self.run_limited(["--max-events", "1002"], SHORT_ROUNDS, fmt="text")
        with open(t.path) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[-1], "# stopped tracing " + max_events_reason(1002))
        self.assertTrue(lines[-2].endswith("{"), "the last call is not open: %r" % lines[-4:])

    def test_run_duration(self):
        t = self.run_limited(["--duration", "%dms" % (DURATION_S * 1000)], LONG_ROUNDS)
        self.check_cut(t.events, t.summary, t.stderr_lines(),
                       "after %dms (--duration)" % (DURATION_S * 1000))
        span = (t.events[-1]["ts"] - t.events[0]["ts"]) / 1e9
        self.assertGreaterEqual(span, EARLIEST * DURATION_S, "stopped too early")
        self.assertLessEqual(span, LATEST * DURATION_S, "stopped too late")
        made = 2 * 2 * h.prog_counts(t.stdout)["work_limit_outer"]
        self.assertLess(len(t.events), made, "every call traced")

    def test_run_follow_exec_and_fork_cut(self):
        """Cut near an exec (the new program not at its entry point yet) or a
        fork: every process runs on as untraced, run exits with the status
        of its own program."""
        for mode in ("exec", "forkexec", "orphan"):
            plain = h.run_untraced("s-follow", (mode,))
            for n in (1, 1400, 1401):
                with self.subTest(mode=mode, n=n):
                    out = os.path.join(h.tmpdir(self), "follow-%s-%d.json" % (mode, n))
                    res = h.run([h.utrace_path(), "run", "-F", "--max-events", str(n)] +
                                h.trace_argv(("work_*",), out) + ["--", h.prog("s-follow"), mode],
                                timeout=h.TRACED_TIMEOUT)
                    self.assertEqual(res.status, plain.status, res.stderr)
                    self.assertEqual(PID_RE.sub(b"", res.stdout), PID_RE.sub(b"", plain.stdout))
                    events, summary = h.parse_jsonl(self, out)
                    self.assertEqual(len(events), n)
                    self.assertEqual(summary["events"], len(events))

    # ---- record and the views ----

    def test_record_max_events(self):
        d = os.path.join(h.tmpdir(self), "trace")
        args = (str(SHORT_ROUNDS), "detached")
        res = h.run([h.utrace_path(), "record"] + h.probe_argv() +
                    ["-f", "work_*", "--max-events", "1001", "-d", d, "--", h.prog(PROG)] +
                    list(args), timeout=h.TRACED_TIMEOUT)
        h.check_like_untraced(self, PROG, args, res)
        events, summary = h.dump_json(self, d)
        self.assertEqual(len(events), 1001)
        self.check_cut(events, summary, res.stderr_lines(), max_events_reason(1001))
        info = h.run([h.utrace_path(), "info", "-d", d])
        self.assertEqual(info.status, 0, info.stderr)
        self.assertIn("stopped:        " + max_events_reason(1001), info.stdout.decode())
        replay = h.run([h.utrace_path(), "replay", "-d", d])
        self.assertEqual((replay.status, replay.stderr), (0, b""))
        self.assertTrue(replay.stdout.decode().endswith("# stopped tracing " +
                                                        max_events_reason(1001) + "\n"))

    # ---- attach ----

    def test_attach_max_events(self):
        """utrace exits 0 by itself at the limit; the process lives on untouched."""
        t = h.start_target(self)
        att = h.attach(self, t.pid, extra=["--max-events", "1001"])
        h.wait_attached(self, t, att)
        t.phase(1)  # 8000 events
        events, summary = h.attach_ended(self, att, ATTACH_EXIT_TIMEOUT, "--max-events")
        self.assertEqual(len(events), 1001)
        h.check_nesting(self, events, open_ok=True)
        self.assertEqual(summary.get("stopped"), max_events_reason(1001))
        self.assertEqual(summary["events"], 1001)
        self.assertIn(stopped_line(max_events_reason(1001)).encode(), att.err)
        h.check_unharmed(self, t, 2)

    def test_attach_duration(self):
        t = h.start_target(self)
        start = time.monotonic()
        att = h.attach(self, t.pid, extra=["--duration", "%gs" % ATTACH_DURATION_S])
        h.wait_installed(self, t, att, start + ATTACH_EXIT_TIMEOUT)
        installed = time.monotonic()
        t.phase(1)
        events, summary = h.attach_ended(self, att, ATTACH_EXIT_TIMEOUT, "--duration")
        ended = time.monotonic()
        self.assertGreaterEqual(ended - start, EARLIEST * ATTACH_DURATION_S, "stopped too early")
        self.assertLessEqual(ended - installed, LATEST * ATTACH_DURATION_S, "stopped too late")
        h.check_nesting(self, events, open_ok=True)
        self.assertEqual(summary.get("stopped"), "after %gs (--duration)" % ATTACH_DURATION_S)
        h.check_unharmed(self, t, 2)


if __name__ == "__main__":
    h.main()
