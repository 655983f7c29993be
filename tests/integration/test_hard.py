#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace run on the hard cases: threads, deep recursion, longjmp, tail
calls, register preservation, signal handlers running traced code."""

import re
import subprocess
import unittest

import harness as h


def disassemble(name, func):
    """objdump lines of one function."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "--disassemble=" + func,
                          h.prog(name)], stdout=subprocess.PIPE, check=True).stdout.decode()
    return [line for line in out.splitlines() if re.match(r"\s+[0-9a-f]+:\t", line)]


class HardTest(unittest.TestCase):
    def test_threads_counted_per_thread(self):
        h.check_threads(self, "run")

    def test_recursion_10000_deep(self):
        h.check_recursion(self, "run")

    def test_longjmp_out_of_traced_frames(self):
        h.check_longjmp(self, "run")

    def test_tail_calls_end_each_traced_call(self):
        for func, callee in (("work_tail_a", "work_tail_b"), ("work_tail_b", "work_tail_c")):
            insns = disassemble("s-tailcall", func)
            if insns is not None:
                self.assertTrue(any(re.search(r"\sjmp\s+[0-9a-f]+ <%s>" % callee, i)
                                    for i in insns), "%s does not jmp to %s" % (func, callee))
        h.check_tailcall(self, "run")

    def test_clobber_prog_keeps_values_in_clobbered_registers(self):
        """The prog really relies on -fipa-ra: after the call to the traced
        leaf, rcx, rsi and r8 are read before anything writes them."""
        insns = disassemble("s-clobber", "work_clobber_caller")
        call = [i for i, line in enumerate(insns) if re.search(r"call.*<work_clobber_leaf>",
                                                               line)]
        self.assertEqual(len(call), 1, insns)
        for reg in ("rcx", "rsi", "r8"):
            uses = [line for line in insns[call[0] + 1:] if re.search(r"%%%s\b" % reg, line)]
            self.assertTrue(uses, "%s unused after the call" % reg)
            first = uses[0].split("\t")[-1]
            writes = re.match(r"(mov|pop|lea|xor)\S*\s.*,%%%s$" % reg, first)
            self.assertIsNone(writes, "%s is written before it is read: %s" % (reg, first))

    def test_registers_preserved_across_traced_calls(self):
        h.check_clobber(self, "run")

    def test_signal_handler_raised_inside_traced_function(self):
        h.check_signal_raise(self, "run")

    def test_signal_timer_interrupts_anywhere(self):
        h.check_signal_timer(self, "run", "timer")

    def test_signal_timer_on_sigaltstack(self):
        h.check_signal_timer(self, "run", "altstack")


if __name__ == "__main__":
    h.main()
