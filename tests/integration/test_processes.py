#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Programs whose tasks come and go under the tracer: a child process that
shares the parent's memory, threads created faster than their clone events
arrive, a parent waiting in vfork while utrace attaches and detaches."""

import time
import unittest

import harness as h

CHURN_TIME = 0.5


class ProcessTest(unittest.TestCase):
    def test_clone_vm_child_run(self):
        """clone(CLONE_VM|SIGCHLD) is reported as a fork, but shares our memory:
        its calls are traced, and the parent keeps its probes."""
        h.check_traced_prog(self, "s-clonevm")

    def test_clone_vm_child_attach(self):
        h.check_traced_prog(self, "s-clonevm", mode="attach")

    def churn(self, mode):
        """Attach, trace for a while, detach: the program runs on unharmed."""
        t = h.start_target(self, "s-churn", args=(mode,))
        att = h.attach(self, t.pid, funcs=("work_churn",))
        h.wait_attached(self, t, att)
        time.sleep(CHURN_TIME)
        events, summary = h.detach(self, att)
        h.check_untouched(self, t)
        h.check_summary_clean(self, events, summary)
        counts = h.trace_counts(events)
        self.assertGreater(counts.get("work_churn", [0])[0], 0, "nothing traced")
        time.sleep(0.1)
        lines, status = t.finish()
        self.assertEqual(status, 15, "the program did not end on its own terms: %r" % lines)
        self.assertTrue(lines[-1].startswith("count work_churn "), lines)

    def test_attach_while_threads_churn(self):
        self.churn("threads")

    def test_attach_while_parent_waits_in_vfork(self):
        self.churn("vfork")


if __name__ == "__main__":
    h.main()
