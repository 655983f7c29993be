#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace attach, from the first call: every prog the run-mode tests trace,
attached to while held at its gate before main (tests/progs/attach-gate.h),
must be traced exactly as `utrace run` traces it: the same stdout and exit
status as untraced, the prog's own counts, balanced nesting.  utrace must
exit 0 by itself when the prog exits."""

import unittest

import harness as h

MODE = "attach"


class AttachProgsTest(unittest.TestCase):
    def test_chain(self):
        h.check_chain(self, MODE)

    def test_recursion_10000_deep(self):
        h.check_recursion(self, MODE)

    def test_threads_counted_per_thread(self):
        h.check_threads(self, MODE)

    def test_signal_handler_raised_inside_traced_function(self):
        h.check_signal_raise(self, MODE)

    def test_signal_timer_interrupts_anywhere(self):
        h.check_signal_timer(self, MODE, "timer")

    def test_signal_timer_on_sigaltstack(self):
        h.check_signal_timer(self, MODE, "altstack")

    def test_longjmp_out_of_traced_frames(self):
        h.check_longjmp(self, MODE)

    def test_tail_calls(self):
        h.check_tailcall(self, MODE)

    def test_registers_preserved_across_traced_calls(self):
        h.check_clobber(self, MODE)

    def test_pie(self):
        h.check_pie(self, MODE)

    def test_nopie(self):
        h.check_nopie(self, MODE)

    def test_heavy_stdout_is_byte_identical(self):
        h.check_heavy_stdout(self, MODE)

    def test_fork_children_exit_with_their_status(self):
        h.check_fork(self, MODE)

    def test_spawned_children_exit_with_their_status(self):
        h.check_spawn(self, MODE)


if __name__ == "__main__":
    h.main()
