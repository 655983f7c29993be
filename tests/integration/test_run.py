#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""utrace run: call chains, PIE and non-PIE, heavy stdout, fork and spawn,
output formats and the command line."""

import os
import unittest

import harness as h


class RunTest(unittest.TestCase):
    def test_chain_counts_and_call_graph(self):
        h.check_chain(self, "run")

    def test_options_after_program_are_utrace_options(self):
        """getopt permutation: `utrace run ./prog -f GLOB -o FILE --json`."""
        out = os.path.join(h.tmpdir(self), "permuted.json")
        res = h.run([h.utrace_path(), "run", *h.probe_argv(), h.prog("s-chain"), "-f", "work_b", "-o", out,
                     "--json"])
        h.check_like_untraced(self, "s-chain", (), res)
        events, _ = h.parse_jsonl(self, out)
        h.check_counts(self, events, {"work_b": h.prog_counts(res.stdout)["work_b"]})

    def test_several_globs_and_exclude(self):
        out = os.path.join(h.tmpdir(self), "globs.json")
        res = h.run([h.utrace_path(), "run", *h.probe_argv(), "-f", "work_a", "-f", "work_c*", "-f", "work_b",
                     "-N", "work_b", "-o", out, "--format", "json", "--", h.prog("s-chain")])
        counts = h.prog_counts(res.stdout)
        events, _ = h.parse_jsonl(self, out)
        h.check_counts(self, events, {"work_a": counts["work_a"], "work_c": counts["work_c"]})
        h.check_nesting(self, events)

    def test_library_function_by_module_pattern(self):
        """-f 'libc.so.6:strtol': s-demo's work_number calls strtol exactly once."""
        out = os.path.join(h.tmpdir(self), "libc.json")
        res = h.run([h.utrace_path(), "run", *h.probe_argv(), "-f", "libc.so.6:strtol", "-f", "work_number",
                     "-o", out, "--json", "--", h.prog("s-demo")])
        h.check_like_untraced(self, "s-demo", (), res)
        n = h.prog_counts(res.stdout)["work_number"]
        events, _ = h.parse_jsonl(self, out)
        h.check_counts(self, events, {"work_number": n, "strtol": n})
        h.check_nesting(self, events)
        for ev in events:
            self.assertEqual(ev["module"], "libc.so.6" if ev["func"] == "strtol" else "s-demo")
        self.assertEqual(h.callers(events)["strtol"], {"work_number"})

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

    def test_pie(self):
        h.check_pie(self, "run")

    def test_nopie(self):
        h.check_nopie(self, "run")

    def test_heavy_stdout_is_byte_identical(self):
        h.check_heavy_stdout(self, "run")

    def test_fork_children_exit_with_their_status(self):
        h.check_fork(self, "run")

    def test_spawned_children_exit_with_their_status(self):
        h.check_spawn(self, "run")


if __name__ == "__main__":
    h.main()
