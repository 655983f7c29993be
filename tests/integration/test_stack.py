#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stack traces (--stack) and the --caller filter (test_stack).

s-stack calls main -> stk_outer (traced) -> stk_mid (untraced, in a
library built without frame pointers) -> stk_inner ROUNDS times, then
main -> stk_inner once; stk_inner prints its own backtrace()'s return
addresses.  The stack utrace records at each entry of stk_inner must hold
exactly those addresses, named, and never a trampoline of utrace's."""

import os
import re
import unittest

import harness as h

ROUNDS = 20
CALLERS = ["stk_mid", "stk_outer", "main"]
MODULES = {"s-stack", "libutstk.so", "libc.so.6"}


def program_backtraces(stdout):
    """Each "bt A1 A2 ..." line of the program: its callers' return addresses."""
    return [[int(a, 16) for a in line.split()[1:]]
            for line in stdout.decode().splitlines() if line.startswith("bt")]


def without_addresses(stdout):
    return b"\n".join(line for line in stdout.split(b"\n") if not line.startswith(b"bt"))


class StackTest(unittest.TestCase):
    def check_stacks(self, events, stdout):
        entries = [ev for ev in events if ev["type"] == "entry" and ev["func"] == "stk_inner"]
        bts = program_backtraces(stdout)
        self.assertEqual(len(entries), ROUNDS + 1)
        self.assertEqual(len(bts), ROUNDS + 1)
        for n, (ev, bt) in enumerate(zip(entries, bts)):
            stack = ev["stack"]
            self.assertEqual(stack[0]["func"], "stk_inner")
            self.assertEqual(stack[0]["offset"], 0)
            self.assertEqual(stack[0]["addr"], ev["addr"])
            callers = stack[1:1 + len(bt)]
            # the same return addresses as the program's own backtrace()
            self.assertEqual([int(f["addr"], 16) for f in callers], bt, (n, stack))
            want = CALLERS if n < ROUNDS else ["main"]
            self.assertEqual([f["func"] for f in callers[:len(want)]], want, (n, stack))
            for f in stack:
                self.assertIn(f["module"], MODULES, stack)
                self.assertIsInstance(f["offset"], int)
        # no other function's entries carry a stack
        self.assertFalse([ev for ev in events if "stack" in ev and ev["func"] != "stk_inner"])

    def test_stack_json(self):
        t = h.run_traced(self, "s-stack", funcs=("stk_outer",), extra=("--stack", "stk_inner"))
        plain = h.run_untraced("s-stack")
        self.assertEqual(t.status, plain.status, t.stderr)
        self.assertEqual(without_addresses(t.stdout), without_addresses(plain.stdout))
        h.check_summary_clean(self, t.events, t.summary)
        h.check_counts(self, t.events, h.prog_counts(t.stdout))
        self.check_stacks(t.events, t.stdout)

    def test_stack_with_args_in_a_recorded_trace(self):
        d = os.path.join(h.tmpdir(self), "trace")
        res = h.run([h.utrace_path(), "record"] + h.probe_argv() +
                    ["-f", "stk_outer", "--stack", "stk_inner", "--args", "--retval",
                     "-d", d, "--", h.prog("s-stack")])
        self.assertEqual(res.status, 0, res.stderr)
        events, _ = h.dump_json(self, d)
        self.check_stacks(events, res.stdout)
        inner = [ev for ev in events if ev["type"] == "entry" and ev["func"] == "stk_inner"]
        self.assertEqual([ev["args"][0]["value"] for ev in inner],
                         [2 * i for i in range(ROUNDS)] + [-1])
        # the text view: a line per frame under the call
        res = h.run([h.utrace_path(), "replay", "-d", d])
        self.assertEqual(res.status, 0, res.stderr)
        frames = re.findall(r"\|\s+@ (\w+)\+0x[0-9a-f]+ \(([^)]*)\) 0x[0-9a-f]+$",
                            res.stdout.decode(), re.M)
        self.assertEqual(frames[:4], [("stk_inner", "s-stack"), ("stk_mid", "libutstk.so"),
                                      ("stk_outer", "s-stack"), ("main", "s-stack")])
        # the folded view: the direct call of stk_inner under its recorded callers
        res = h.run([h.utrace_path(), "dump", "-d", d, "--folded"])
        self.assertEqual(res.status, 0, res.stderr)
        stacks = [line.rsplit(" ", 1)[0] for line in res.stdout.decode().splitlines()]
        self.assertIn("stk_outer", stacks)
        self.assertIn("stk_outer;stk_inner", stacks)
        direct = [s for s in stacks if s.endswith(";main;stk_inner")]
        self.assertEqual(len(direct), 1, stacks)
        self.assertEqual(len(stacks), 3, stacks)

    def test_bad_stack_options(self):
        for argv, words in ((["--stack", ""], ("--stack", "no function named")),
                            (["--stack-size", "100"], ("--stack-size 100", "power of two")),
                            (["--string-size", "0"], ("--string-size 0",)),
                            (["--stack", "stk_inner", "--bufsize", "4K"], ("--bufsize",))):
            res = h.run([h.utrace_path(), "run"] + argv + ["--", h.prog("s-stack")])
            h.check_error(self, res, *words)


class CallerTest(unittest.TestCase):
    def test_caller_records_only_inside(self):
        """--caller stk_outer: stk_inner's calls from inside stk_outer only, exactly."""
        t = h.run_traced(self, "s-stack", funcs=("stk_inner",),
                         extra=("--caller", "stk_outer"))
        self.assertEqual(without_addresses(t.stdout),
                         without_addresses(h.run_untraced("s-stack").stdout))
        h.check_summary_clean(self, t.events, t.summary)
        counts = h.trace_counts(t.events)
        self.assertEqual(counts, {"stk_outer": [ROUNDS, ROUNDS, 0], "stk_inner": [ROUNDS, ROUNDS, 0]})
        for ev in t.events:
            self.assertEqual(ev["depth"], 0 if ev["func"] == "stk_outer" else 1, ev)


if __name__ == "__main__":
    h.main()
