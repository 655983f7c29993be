#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Typed arguments and return values from DWARF (test_args).

s-args calls each arg_* function CALLS times with arguments computed from
the call's index i; the expected values are computed here the same way and
compared with every event's typed "args" and "retval", value by value, in
the live JSON view, the text view and the views of a recorded trace; the
same for s-args-debuglink, whose debug info is in a separate file."""

import os
import unittest

import harness as h

CALLS = 100
WORDS = ["alpha", "beta", "gamma"]
COLORS = ["RED", "GREEN", "BLUE"]
NOT_IN_REGS = {"value": None, "error": "not in the recorded registers"}


def s8(v):
    return (v + 128) % 256 - 128


def s16(v):
    return (v + 32768) % 65536 - 32768


def word(lo, hi):
    """Two 32-bit ints packed in one 64-bit word, as "0x..."."""
    return "0x%x" % ((lo & 0xffffffff) | (hi & 0xffffffff) << 32)


def arg(name, type_, value, **more):
    d = {"name": name, "type": type_}
    d.update(value if isinstance(value, dict) else {"value": value})
    d.update(more)
    return d


def expected_args(func, i):
    """The typed args of call i (pointers: None, checked apart)."""
    if func == "arg_ints":
        return [arg("a", "int", i - 50), arg("b", "unsigned int", 3 * i),
                arg("c", "long int", -7 * i), arg("d", "short int", s16(i - 3)),
                arg("e", "signed char", s8(ord("a") + i % 26))]
    if func == "arg_misc":
        return [arg("b", "_Bool", bool(i % 2)), arg("c", "char", chr(ord("A") + i % 26)),
                arg("k", "enum color", COLORS[i % 3]), arg("u", "ulong_t", 11 * i)]
    if func == "arg_ptrs":
        return [arg("s", "const char *", None), arg("t", "char *", None),
                arg("p", "void *", "0x0")]
    if func == "arg_structs":
        return [arg("p", "struct pt", word(i, -i), size=8),
                arg("w", "struct wide", "0x%x 0x7" % (3 * i), size=16),
                arg("z", "int", 2)]
    if func == "arg_six":
        return [arg(n, "int", i + k) for k, n in enumerate("abcdef")]
    if func == "arg_fp":
        return [arg("x", "double", NOT_IN_REGS), arg("i", "int", i),
                arg("y", "float", NOT_IN_REGS)]
    if func == "arg_big":
        return [arg("b", "struct big", NOT_IN_REGS), arg("z", "unsigned char", (200 + i) % 256)]
    raise KeyError(func)


def expected_retval(func, i):
    if func == "arg_ints":
        v = (i - 50) + 3 * i - 7 * i + s16(i - 3) + s8(ord("a") + i % 26)
        return {"type": "int", "value": v}
    if func == "arg_misc":
        return {"type": "_Bool", "value": not (i % 2)}
    if func == "arg_ptrs":
        return {"type": "const char *", "value": None}
    if func == "arg_structs":
        return {"type": "struct pt", "value": word(i + 2 + 3 * i, -i - 7), "size": 8}
    if func == "arg_six":
        return {"type": "long int", "value": 6 * i + 15}
    if func == "arg_fp":
        return dict(NOT_IN_REGS, type="double")
    if func == "arg_big":
        return dict(NOT_IN_REGS, type="struct big")
    raise KeyError(func)


def check_events(tc, events):
    """Every event's typed words against the call's index, per function."""
    calls = {}
    ptrs = {}
    for ev in events:
        func = ev["func"]
        i = calls.get(func, 0)
        if ev["type"] == "entry":
            got = ev["args"]
            want = expected_args(func, i)
            if func == "arg_ptrs":
                # s points at words[i % 3], t at a buffer on odd calls
                ptrs.setdefault(i % 3, set()).add(got[0]["value"])
                tc.assertEqual(got[1]["value"] == "0x0", i % 2 == 0, got)
                for k in (0, 1):
                    tc.assertRegex(got[k]["value"], "^0x[0-9a-f]+$")
                    want[k]["value"] = got[k]["value"]
            tc.assertEqual(got, want, "%s call %d" % (func, i))
        else:
            tc.assertEqual(ev["type"], "exit")
            want = expected_retval(func, i)
            if func == "arg_ptrs":
                want["value"] = ptrs and next(iter(ptrs[i % 3]))
            tc.assertEqual(ev["retval"], want, "%s return %d" % (func, i))
            calls[func] = i + 1
    tc.assertEqual(sorted(calls), sorted(["arg_ints", "arg_misc", "arg_ptrs", "arg_structs",
                                          "arg_six", "arg_fp", "arg_big"]))
    tc.assertEqual(set(calls.values()), {CALLS})
    # one address per string: the same argument every third call
    tc.assertEqual([len(v) for v in ptrs.values()], [1, 1, 1])


class ArgsTest(unittest.TestCase):
    def check_prog(self, prog):
        t = h.run_traced(self, prog, funcs=("arg_*",), extra=("--args", "--retval"))
        h.check_like_untraced(self, prog, (), t)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_counts(self, t.events, h.prog_counts(t.stdout))
        check_events(self, t.events)

    def test_typed_json(self):
        self.check_prog("s-args")

    def test_debug_info_in_a_separate_file(self):
        """s-args-debuglink has no .debug_info: it is found through .gnu_debuglink."""
        with open(h.prog("s-args-debuglink"), "rb") as f:
            self.assertNotIn(b".debug_info", f.read())
        self.check_prog("s-args-debuglink")

    def test_text_view(self):
        t = h.run_traced(self, "s-args", funcs=("arg_ints", "arg_misc", "arg_six"),
                         extra=("--args", "--retval"), fmt="text")
        with open(t.path) as f:
            lines = [line.split("| ", 1)[1].strip() for line in f if "| " in line]
        self.assertEqual(lines[:3], [
            "arg_ints(a=-50, b=0, c=0, d=-3, e=97) = 44;",
            "arg_misc(b=false, c='A', k=RED, u=0) = true;",
            "arg_six(a=0, b=1, c=2, d=3, e=4, f=5) = 15;"])
        self.assertEqual(len(lines), 3 * CALLS)

    def test_recorded_trace_views(self):
        """record keeps the prototypes in the trace: dump --json shows the same values."""
        d = os.path.join(h.tmpdir(self), "trace")
        res = h.run([h.utrace_path(), "record"] + h.probe_argv() +
                    ["-f", "arg_*", "--args", "--retval", "-d", d, "--", h.prog("s-args")])
        h.check_like_untraced(self, "s-args", (), res)
        events, _ = h.dump_json(self, d)
        check_events(self, events)
        res = h.run([h.utrace_path(), "replay", "-d", d])
        self.assertEqual(res.status, 0, res.stderr)
        self.assertIn("| arg_misc(b=true, c='B', k=GREEN, u=11) = false;\n",
                      res.stdout.decode())

    def test_raw_words_without_debug_info(self):
        """A function without a prototype keeps its raw words."""
        t = h.run_traced(self, "s-demo", funcs=("work_number",), extra=("--args", "--retval"))
        entries = [ev for ev in t.events if ev["type"] == "entry"]
        self.assertTrue(entries)
        # s-demo has debug info too: its prototype names the parameter
        self.assertEqual([a["name"] for a in entries[0]["args"]], ["s"])
        stripped = h.run_traced(self, "s-kinds-stripped", funcs=("work_*",),
                                extra=("--args",))
        for ev in stripped.events:
            if ev["type"] == "entry":
                self.assertEqual(len(ev["args"]), 6)
                for a in ev["args"]:
                    self.assertRegex(a, "^0x[0-9a-f]+$")


if __name__ == "__main__":
    h.main()
