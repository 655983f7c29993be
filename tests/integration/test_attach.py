#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace attach: trace a running program for some of its work, detach on
SIGINT and leave it running exactly as before."""

import unittest

import harness as h


class AttachTest(unittest.TestCase):
    def traced_phases(self, t, first, last):
        """Attach, run phases first..last traced, detach; returns the events."""
        att = h.attach(self, t.pid)
        h.wait_attached(self, t, att)
        for k in range(first, last + 1):
            t.phase(k)
        events, summary = h.detach(self, att)
        h.check_untouched(self, t)
        h.check_summary_clean(self, events, summary)
        h.check_nesting(self, events)
        self.assertEqual({ev["pid"] for ev in events}, {t.pid})
        self.assertEqual({ev["module"] for ev in events}, {"s-attach"})
        return events

    def check_phases(self, events, per_phase, nphases):
        h.check_counts(self, events, {f: n * nphases for f, n in per_phase.items()})

    def test_attach_traces_phases_and_detaches_cleanly(self):
        t = h.start_target(self)
        self.assertEqual(h.text_mismatches(t.pid), 0)
        t.phase(1)
        events = self.traced_phases(t, 2, 3)
        per_phase = h.check_unharmed(self, t, 4)
        self.check_phases(events, per_phase, 2)

    def test_attach_again_after_detach(self):
        t = h.start_target(self)
        first = self.traced_phases(t, 1, 1)
        t.phase(2)
        second = self.traced_phases(t, 3, 4)
        per_phase = h.check_unharmed(self, t, 5)
        self.check_phases(first, per_phase, 1)
        self.check_phases(second, per_phase, 2)

    def test_attach_under_seccomp_as_root(self):
        """Privileged, utrace suspends the filter that would kill the
        program on memfd_create, and traces it like any other."""
        h.require(self, "root")
        t = h.start_target(self, args=("seccomp",))
        events = self.traced_phases(t, 1, 2)
        per_phase = h.check_unharmed(self, t, 3)
        self.check_phases(events, per_phase, 2)


if __name__ == "__main__":
    h.main()
