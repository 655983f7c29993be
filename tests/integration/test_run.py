#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace run: call chains, PIE and non-PIE, heavy stdout, fork and spawn,
output formats and the command line."""

import os
import unittest

import harness as h


class RunTest(unittest.TestCase):
    def test_chain_counts_and_call_graph(self):
        t = h.check_traced_prog(self, "s-chain")
        self.assertEqual(h.callers(t.events),
                         {"work_a": {None}, "work_b": {"work_a"}, "work_c": {"work_b"}})
        for ev in t.events:
            if ev["type"] == "exit":
                self.assertIn("dur_ns", ev, "exit without dur_ns: %r" % ev)

    def test_options_after_program_are_utrace_options(self):
        """getopt permutation: `utrace run ./prog -f GLOB -o FILE --json`."""
        out = os.path.join(h.tmpdir(self), "permuted.json")
        res = h.run([h.utrace_path(), "run", h.prog("s-chain"), "-f", "work_b", "-o", out,
                     "--json"])
        h.check_like_untraced(self, "s-chain", (), res)
        events, _ = h.parse_jsonl(self, out)
        h.check_counts(self, events, {"work_b": h.prog_counts(res.stdout)["work_b"]})

    def test_several_globs_and_exclude(self):
        out = os.path.join(h.tmpdir(self), "globs.json")
        res = h.run([h.utrace_path(), "run", "-f", "work_a", "-f", "work_c*", "-f", "work_b",
                     "-N", "work_b", "-o", out, "--format", "json", "--", h.prog("s-chain")])
        counts = h.prog_counts(res.stdout)
        events, _ = h.parse_jsonl(self, out)
        h.check_counts(self, events, {"work_a": counts["work_a"], "work_c": counts["work_c"]})
        h.check_nesting(self, events)

    def test_text_format_shows_the_call_graph(self):
        """In the text view each callee is printed indented under its caller."""
        t = h.run_traced(self, "s-chain", fmt="text")
        h.check_like_untraced(self, "s-chain", (), t)
        with open(t.path) as f:
            lines = f.read().splitlines()
        columns = []
        for func in ("work_a", "work_b", "work_c"):
            start = len(columns) and columns[-1][0] + 1
            found = [(i, line.index(func)) for i, line in enumerate(lines[start:], start)
                     if func in line]
            self.assertTrue(found, "no %s line after line %d in %r" % (func, start, lines[:20]))
            columns.append(found[0])
        self.assertEqual(columns[1][0], columns[0][0] + 1, "work_b not right under work_a")
        self.assertEqual(columns[2][0], columns[1][0] + 1, "work_c not right under work_b")
        self.assertLess(columns[0][1], columns[1][1], "work_b not indented under work_a")
        self.assertLess(columns[1][1], columns[2][1], "work_c not indented under work_b")

    def check_addresses(self, name):
        """Every event's addr is its function's symbol address plus one load bias."""
        t = h.check_traced_prog(self, name)
        syms = h.func_symbols(h.prog(name))
        biases = {int(ev["addr"], 16) - syms[ev["func"]] for ev in t.events}
        self.assertEqual(len(biases), 1, "functions moved by different biases")
        return biases.pop()

    def test_pie(self):
        bias = self.check_addresses("s-pie")
        self.assertNotEqual(bias, 0, "a PIE runs at a load bias")
        self.assertEqual(bias % 4096, 0)

    def test_nopie(self):
        self.assertEqual(self.check_addresses("s-nopie"), 0)

    def test_heavy_stdout_is_byte_identical(self):
        t = h.check_traced_prog(self, "s-stdout")
        self.assertGreater(len(t.stdout), 1 << 20)

    def check_children(self, t, parent_func, child_func):
        """Events of the parent match its counts; children are traced all or
        none, and then exactly what each child counted."""
        parent = {ev["pid"] for ev in t.events if ev["func"] == parent_func}
        self.assertEqual(len(parent), 1, "events of %s from several pids" % parent_func)
        h.check_counts(self, t.events, h.prog_counts(t.stdout), pids=parent)
        child_counts = sorted(int(line.split()[-1]) for line in t.stdout.decode().splitlines()
                              if line.startswith("child ") and " count %s " % child_func in line)
        others = {ev["pid"] for ev in t.events} - parent
        traced = sorted(h.per_tid_entries([ev for ev in t.events if ev["pid"] in others],
                                          child_func).values())
        if traced:
            self.assertEqual(traced, child_counts, "per-child %s entries" % child_func)
        for pid in others:
            for func, (entries, exits, unwinds) in h.trace_counts(t.events, {pid}).items():
                if func == child_func:
                    self.assertEqual((exits, unwinds), (entries, 0), "child %s returns" % func)
                else:
                    # at most the return from the frame that forked it
                    self.assertEqual((entries, unwinds), (0, 0), "child events of " + func)
                    self.assertLessEqual(exits, 1, "child exits of " + func)
        h.check_nesting(self, t.events, orphan_exits_ok=others)

    def test_fork_children_exit_with_their_status(self):
        t = h.run_traced(self, "s-fork")
        h.check_like_untraced(self, "s-fork", (), t)
        h.check_summary_clean(self, t.events, t.summary)
        self.check_children(t, "work_fork_parent", "work_fork_child")

    def test_spawned_children_exit_with_their_status(self):
        t = h.run_traced(self, "s-spawn")
        h.check_like_untraced(self, "s-spawn", (), t)
        h.check_summary_clean(self, t.events, t.summary)
        self.check_children(t, "work_spawn_posix", "work_spawn_child")


if __name__ == "__main__":
    h.main()
