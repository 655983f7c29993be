#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Typed arguments and return values from DWARF (test_args).

s-args calls each arg_* function CALLS times with arguments computed from
the call's index i; the expected values are computed here the same way and
compared with every event's typed "args" and "retval", value by value, in
the live JSON view, the text view and the views of a recorded trace; the
same for s-args-debuglink, whose debug info is in a separate file."""

import os
import re
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
        return [arg("s", "const char *", WORDS[i % 3]),
                arg("t", "char *", "b%d" % i if i % 2 else None), arg("p", "void *", "0x0")]
    if func == "arg_structs":
        return [arg("p", "struct pt", word(i, -i), size=8),
                arg("w", "struct wide", "0x%x 0x7" % (3 * i), size=16),
                arg("z", "int", 2)]
    if func == "arg_six":
        return [arg(n, "int", i + k) for k, n in enumerate("abcdef")]
    if func == "arg_fp":
        return [arg("x", "double", 1.5 * i), arg("i", "int", i), arg("y", "float", 2.5)]
    if func == "arg_big":
        # passed in memory: its first two words, from the stack arguments
        return [arg("b", "struct big", "0x%x 0x2" % i, size=24),
                arg("z", "unsigned char", (200 + i) % 256)]
    if func == "arg_strs":
        return [arg("wild", "const char *", "0x10", error="unreadable"),
                arg("null", "const char *", None),
                arg("cut", "const char *", "abc", error="unreadable after 3 bytes"),
                arg("lng", "const char *", "x" * 64, truncated=True)]
    if func == "arg_fp9":
        # h does not fit in xmm7 (the ABI puts it on the stack), i does
        return ([arg(n, "double", v) for n, v in zip("abcdefg", [i, 1, 2, 3, 4, 5, 6])] +
                [arg("h", "struct dd", "0x3fe0000000000000 0x3fd0000000000000", size=16),
                 arg("i", "double", -i)])
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
        return {"type": "double", "value": 1.5 * i + i + 2.5}
    if func == "arg_strs":
        return {"type": "int", "value": 100}
    if func == "arg_fp9":
        return {"type": "double", "value": 21.75}
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
            tc.assertEqual(got, want, "%s call %d" % (func, i))
        else:
            tc.assertEqual(ev["type"], "exit")
            want = expected_retval(func, i)
            if func == "arg_ptrs":
                # s returned: words[i % 3]'s address, the same every third call
                tc.assertRegex(ev["retval"]["value"], "^0x[0-9a-f]+$")
                ptrs.setdefault(i % 3, set()).add(ev["retval"]["value"])
                want["value"] = ev["retval"]["value"]
            tc.assertEqual(ev["retval"], want, "%s return %d" % (func, i))
            calls[func] = i + 1
    tc.assertEqual(sorted(calls), sorted(["arg_ints", "arg_misc", "arg_ptrs", "arg_structs",
                                          "arg_six", "arg_fp", "arg_big", "arg_strs",
                                          "arg_fp9"]))
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

    def test_text_strings_and_floats(self):
        t = h.run_traced(self, "s-args", funcs=("arg_ptrs", "arg_strs", "arg_fp"),
                         extra=("--args", "--retval", "--string-size", "8"), fmt="text")
        with open(t.path) as f:
            lines = [line.split("| ", 1)[1].strip() for line in f if "| " in line]
        self.assertEqual(re.sub("0x[0-9a-f]+;$", "ADDR;", lines[0]),
                         'arg_ptrs(s="alpha", t=NULL, p=0x0) = ADDR;')
        self.assertEqual(lines[1], "arg_fp(x=0, i=0, y=2.5) = 2.5;")
        self.assertEqual(lines[2], 'arg_strs(wild=0x10 (unreadable), null=NULL, '
                         'cut="abc" (unreadable after 3 bytes), lng="xxxxxxxx"...) = 100;')
        self.assertTrue(lines[3].startswith('arg_ptrs(s="beta", t="b1", p=0x0)'), lines[3])
        self.assertEqual(len(lines), 3 * CALLS)

    def test_strings_without_args_words(self):
        """--retval alone records no argument: no string is read either."""
        t = h.run_traced(self, "s-args", funcs=("arg_strs",), extra=("--retval",))
        h.check_like_untraced(self, "s-args", (), t)
        exits = [ev for ev in t.events if ev["type"] == "exit"]
        self.assertEqual(len(exits), CALLS)
        self.assertNotIn("args", t.events[0])

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

    def test_srcline(self):
        """--srcline: each function's "file:line", its definition's line in the source."""
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "progs", "s-args.c")
        with open(src) as f:
            lines = f.read().split("\n")
        defs = {}
        for n, line in enumerate(lines, 1):
            m = re.match(r"NOINL [^(]*\b(arg_\w+)\(", line)
            body = n + (n < len(lines) and lines[n].startswith("\t\t"))  # a continued line
            if m and body < len(lines) and lines[body] == "{":
                defs[m.group(1)] = n
        self.assertEqual(len(defs), 9)
        t = h.run_traced(self, "s-args", funcs=("arg_*",), extra=("--srcline",))
        got = {ev["func"]: ev["srcline"] for ev in t.events}
        self.assertEqual(sorted(got), sorted(defs))
        for func, srcline in got.items():
            self.assertTrue(srcline.endswith("s-args.c:%d" % defs[func]), (func, srcline))
        self.assertNotIn("args", t.events[0])


def libc_debug_file():
    """The separate debug file of the libc s-alloc uses, when installed (libc6-dbg)."""
    res = h.run(["ldd", h.prog("s-alloc")])
    libc = [line.split()[2] for line in res.stdout.decode().splitlines()
            if line.strip().startswith("libc.so.6 =>")]
    if not libc:
        return None
    note = h.run(["readelf", "-n", libc[0]]).stdout.decode()
    ids = [line.split()[-1] for line in note.splitlines() if "Build ID:" in line]
    path = ids and "/usr/lib/debug/.build-id/%s/%s.debug" % (ids[0][:2], ids[0][2:])
    return path if path and os.path.exists(path) else None


def alloc_calls(tc, events):
    """s-alloc's calls in order: [(func, {arg: value}, retval)]."""
    calls, stack = [], []
    for ev in events:
        if ev["type"] == "entry":
            stack.append((ev["func"], [a["value"] for a in ev["args"]]))
        else:
            func, args = stack.pop()
            tc.assertEqual(ev["func"], func)
            calls.append((func, args, ev["retval"]["value"]))
    return calls


class LibcTest(unittest.TestCase):
    def check_alloc(self, extra, names):
        """Every malloc, calloc and realloc of s-alloc with its exact sizes, each
        realloc given the pointer the call before it on that block returned."""
        t = h.run_traced(self, "s-alloc", funcs=("libc.so.6:*alloc",),
                         extra=("--args", "--retval") + extra)
        h.check_like_untraced(self, "s-alloc", (), t)
        h.check_summary_clean(self, t.events, t.summary)
        calls = alloc_calls(self, t.events)
        entry = next(ev for ev in t.events if ev["func"] == "malloc")
        self.assertEqual([a["name"] for a in entry["args"]], names)
        self.assertEqual([a["type"] for a in entry["args"]], ["size_t"])
        self.assertEqual(len(calls), 300 + 200 + 500)
        blocks = []
        for i, (func, args, ret) in enumerate(calls[:300]):
            self.assertEqual((func, args), ("malloc", [16 + i]))
            blocks.append(ret)
        for i, (func, args, ret) in enumerate(calls[300:500]):
            self.assertEqual((func, args), ("calloc", [i + 1, 8]))
        for i, (func, args, ret) in enumerate(calls[500:]):
            self.assertEqual((func, args), ("realloc", [blocks[i % 300], 64 + 3 * i]))
            blocks[i % 300] = ret
        self.assertTrue(all(isinstance(b, str) and int(b, 16) for b in blocks))

    def test_builtin_prototypes_without_debug_info(self):
        """--debug-dir with no debug file in it: libc's built-in prototypes."""
        self.check_alloc(("--debug-dir", h.tmpdir(self)), ["size"])

    def test_libc_debug_info_by_build_id(self):
        if not libc_debug_file():
            self.skipTest("no separate debug file for libc (Debian's libc6-dbg) here")
        # glibc's own name for malloc's parameter
        self.check_alloc((), ["bytes"])


class SpecTest(unittest.TestCase):
    def test_specs_on_a_stripped_program(self):
        """-A/-R give a program without debug info or .symtab typed words."""
        t = h.run_traced(self, "s-args-stripped", funcs=("arg_ints", "arg_six"),
                         extra=("-A", "arg_ints@arg1/d32,arg2/u32,arg3/d,arg5/d8",
                                "-R", "arg_ints@retval/d32", "-A", "arg_six@arg6/x"))
        h.check_like_untraced(self, "s-args-stripped", (), t)
        n = {"arg_ints": 0, "arg_six": 0}
        for ev in t.events:
            i = n[ev["func"]]
            want_ints = expected_args("arg_ints", i)
            if ev["type"] == "entry" and ev["func"] == "arg_ints":
                self.assertEqual(ev["args"], [
                    {"name": "arg1", "type": "int", "value": want_ints[0]["value"]},
                    {"name": "arg2", "type": "unsigned int", "value": want_ints[1]["value"]},
                    {"name": "arg3", "type": "long", "value": want_ints[2]["value"]},
                    {"name": "arg5", "type": "signed char", "value": want_ints[4]["value"]}])
            elif ev["type"] == "entry":
                self.assertEqual(ev["args"], [{"name": "arg6", "value": hex(i + 5)}])
            elif ev["func"] == "arg_ints":
                self.assertEqual(ev["retval"], expected_retval("arg_ints", i))
                n["arg_ints"] += 1
            else:
                self.assertEqual(ev["retval"], {"value": hex(6 * i + 15)})
                n["arg_six"] += 1
        self.assertEqual(n, {"arg_ints": CALLS, "arg_six": CALLS})

    def test_bad_specs(self):
        for opt, spec, words in (("-A", "arg_ints", "want FUNC@arg1/FMT"),
                                 ("-A", "arg_ints@arg7/d", "argN/FMT (N from 1 to 6)"),
                                 ("-R", "arg_ints@retval/q", "retval/FMT")):
            res = h.run([h.utrace_path(), "run", opt, spec, "-f", "arg_ints", "--",
                         h.prog("s-args")])
            h.check_error(self, res, "%s '%s'" % (opt, spec), words)


if __name__ == "__main__":
    h.main()
