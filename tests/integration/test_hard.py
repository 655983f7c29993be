#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace run on the hard cases: threads, deep recursion, longjmp, tail
calls, register preservation, signal handlers running traced code."""

import re
import shutil
import subprocess
import unittest

import harness as h


def disassemble(name, func):
    """objdump lines of one function (None without objdump)."""
    objdump = shutil.which("objdump")
    if objdump is None:
        return None
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", "--disassemble=" + func,
                          h.prog(name)], stdout=subprocess.PIPE, check=True).stdout.decode()
    return [line for line in out.splitlines() if re.match(r"\s+[0-9a-f]+:\t", line)]


class HardTest(unittest.TestCase):
    def test_threads_counted_per_thread(self):
        t = h.check_traced_prog(self, "s-threads")
        printed = sorted(int(line.split()[-1]) for line in t.stdout.decode().splitlines()
                         if re.match(r"thread \d+ work_thread_outer ", line))
        per_tid = h.per_tid_entries(t.events, "work_thread_outer")
        self.assertEqual(sorted(per_tid.values()), printed)
        self.assertEqual(per_tid, h.per_tid_entries(t.events, "work_thread_inner"))

    def test_recursion_10000_deep(self):
        t = h.check_traced_prog(self, "s-recursion")
        depths = [ev["depth"] for ev in t.events if ev["type"] == "entry"]
        self.assertEqual(max(depths) - min(depths), 10000)

    def test_longjmp_out_of_traced_frames(self):
        t = h.check_traced_prog(self, "s-longjmp", allow_unwinds=True)
        jumps = int(re.search(rb"^longjmps (\d+)$", t.stdout, re.M).group(1))
        counts = h.trace_counts(t.events)
        calls = h.prog_counts(t.stdout)
        for func in ("work_lj_outer", "work_lj_middle", "work_lj_inner"):
            self.assertEqual(counts[func], [calls[func], calls[func] - jumps, jumps], func)

    def test_tail_calls_end_each_traced_call(self):
        for func, callee in (("work_tail_a", "work_tail_b"), ("work_tail_b", "work_tail_c")):
            insns = disassemble("s-tailcall", func)
            if insns is not None:
                self.assertTrue(any(re.search(r"\sjmp\s+[0-9a-f]+ <%s>" % callee, i)
                                    for i in insns), "%s does not jmp to %s" % (func, callee))
        t = h.check_traced_prog(self, "s-tailcall")
        self.assertEqual(h.callers(t.events), {
            "work_tail_a": {None}, "work_tail_b": {"work_tail_a"},
            "work_tail_c": {"work_tail_b"}, "work_tail_leaf": {"work_tail_c"}})

    def test_clobber_prog_keeps_values_in_clobbered_registers(self):
        """The prog really relies on -fipa-ra: after the call to the traced
        leaf, rcx, rsi and r8 are read before anything writes them."""
        insns = disassemble("s-clobber", "work_clobber_caller")
        if insns is None:
            self.skipTest("no objdump")
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
        t = h.check_traced_prog(self, "s-clobber")
        self.assertIn(b"corrupt 0\n", t.stdout)

    def test_signal_handler_raised_inside_traced_function(self):
        t = h.check_traced_prog(self, "s-signal")
        self.assertEqual(h.callers(t.events), {
            "work_sig_body": {None}, "work_sig_handler": {"work_sig_body"},
            "work_sig_leaf": {"work_sig_body", "work_sig_handler"}})

    def check_timer(self, mode):
        t = h.check_traced_prog(self, "s-signal", (mode,), strict_depth=False,
                                same_stdout=False)
        self.assertIn(b"signals ok\n", t.stdout)

    def test_signal_timer_interrupts_anywhere(self):
        self.check_timer("timer")

    def test_signal_timer_on_sigaltstack(self):
        self.check_timer("altstack")


if __name__ == "__main__":
    h.main()
