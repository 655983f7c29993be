#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Functions named as users type them (test_names).

C++ functions by their qualified name without parameters (every overload)
or template arguments; a name without module that the program does not
define, found in its libraries (a stripped program too), said on one line;
the alias a user names carried by the events, the public name otherwise;
"no function matches" naming the closest functions.  s-cxxnames and s-alloc
count their own calls: the traces must hold exactly those."""

import harness as h
import unittest

CXX_CALLS = 1000
LIBC = "libc.so.6"


def entries_by_func(events):
    counts = {}
    for ev in events:
        if ev["type"] == "entry":
            counts[ev["func"]] = counts.get(ev["func"], 0) + 1
    return counts


def prog_calls(stdout):
    """s-cxxnames prints "calls NAME\\tN" (names hold spaces)."""
    return {name: int(n) for name, n in (line[len("calls "):].rsplit("\t", 1)
            for line in stdout.decode().splitlines() if line.startswith("calls "))}


class CxxNamesTest(unittest.TestCase):
    def test_overloads_by_name_without_parameters(self):
        """ns::Foo::bar is both overloads; ns::twice the template instance."""
        t = h.run_traced(self, "s-cxxnames", funcs=("ns::Foo::bar", "ns::twice"))
        h.check_like_untraced(self, "s-cxxnames", (), t)
        h.check_summary_clean(self, t.events, t.summary)
        calls = prog_calls(t.stdout)
        want = {f: calls[f] for f in ("ns::Foo::bar(int)", "ns::Foo::bar(long)",
                                      "int ns::twice<int>(int)")}
        self.assertEqual(set(want.values()), {CXX_CALLS})
        self.assertEqual(entries_by_func(t.events), want)
        self.assertEqual(t.stderr_lines(), [])

    def test_exclusion_by_full_name_keeps_the_other_overload(self):
        t = h.run_traced(self, "s-cxxnames", funcs=("ns::Foo::bar",),
                         extra=("-N", "ns::Foo::bar(long)"))
        h.check_like_untraced(self, "s-cxxnames", (), t)
        self.assertEqual(entries_by_func(t.events),
                         {"ns::Foo::bar(int)": prog_calls(t.stdout)["ns::Foo::bar(int)"]})

    def test_near_miss_names_the_closest(self):
        res = h.run([h.utrace_path(), "run", "-f", "ns::Foo::bax", "--",
                     h.prog("s-cxxnames")])
        line = h.check_error(self, res, "no function matches 'ns::Foo::bax'", "closest:",
                             "'ns::Foo::baz' (s-cxxnames)", "'ns::Foo::bar' (s-cxxnames)")
        self.assertIn("-f takes NAME, a glob or MODULE:GLOB (e.g. 's-cxxnames:ns::Foo::ba", line)

    def test_symbols_lists_overloads_by_name(self):
        res = h.run([h.utrace_path(), "symbols", h.prog("s-cxxnames"), "ns::Foo::bar"])
        self.assertEqual(res.status, 0, res.stderr)
        names = [line.split(None, 3)[3] for line in res.stdout.decode().splitlines()
                 if not line.startswith("#")]
        self.assertEqual(sorted(names), ["ns::Foo::bar(int)", "ns::Foo::bar(long)"])


class LibraryNamesTest(unittest.TestCase):
    def check_found_in_libc(self, prog):
        """-f malloc -f calloc without module: not in prog, found in libc, said once each."""
        t = h.run_traced(self, prog, funcs=("malloc", "calloc"))
        h.check_like_untraced(self, prog, (), t)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_nesting(self, t.events)
        counts = h.prog_counts(t.stdout)
        self.assertEqual(entries_by_func(t.events),
                         {"malloc": counts["malloc"], "calloc": counts["calloc"]})
        self.assertEqual({ev["module"] for ev in t.events}, {LIBC})
        self.assertEqual(t.stderr_lines(), [
            "utrace: 'malloc' is not in the program: tracing it in %s (-f '%s:malloc')"
            % (LIBC, LIBC),
            "utrace: 'calloc' is not in the program: tracing it in %s (-f '%s:calloc')"
            % (LIBC, LIBC)])

    def test_library_function_without_module(self):
        self.check_found_in_libc("s-alloc")

    def test_stripped_program_library_function(self):
        self.check_found_in_libc("s-alloc-stripped")

    def test_stripped_program_without_patterns(self):
        res = h.run([h.utrace_path(), "run", "--", h.prog("s-alloc-stripped")])
        h.check_error(self, res, "s-alloc-stripped has no function symbols (stripped?)",
                      "-f NAME")

    def test_near_miss_in_a_library(self):
        res = h.run([h.utrace_path(), "run", "-f", "mallco", "--", h.prog("s-alloc")])
        h.check_error(self, res, "no function matches 'mallco' in the program or its "
                      "libraries", "'malloc' (%s)" % LIBC, "(e.g. '%s:malloc')" % LIBC)

    def test_events_carry_the_alias_asked(self):
        """__libc_malloc is malloc's alias: named so, the events say so."""
        t = h.run_traced(self, "s-alloc", funcs=(LIBC + ":__libc_malloc",))
        h.check_like_untraced(self, "s-alloc", (), t)
        self.assertEqual(entries_by_func(t.events),
                         {"__libc_malloc": h.prog_counts(t.stdout)["malloc"]})

    def test_glob_shows_public_names(self):
        """A glob over the allocator shows malloc, calloc, realloc, never __libc_*."""
        t = h.run_traced(self, "s-alloc", funcs=(LIBC + ":*alloc",))
        h.check_like_untraced(self, "s-alloc", (), t)
        counts = h.prog_counts(t.stdout)
        self.assertEqual(entries_by_func(t.events),
                         {f: counts[f] for f in ("malloc", "calloc", "realloc")})

    def test_unmatched_waits_and_is_named_at_the_end(self):
        t = h.run_traced(self, "s-cxxnames", funcs=("ns::Foo::baz", "nosuchfn"))
        h.check_like_untraced(self, "s-cxxnames", (), t)
        self.assertEqual(entries_by_func(t.events), {"ns::Foo::baz(double) const": CXX_CALLS})
        self.assertEqual(t.stderr_lines(), [
            "utrace: 'nosuchfn' matches nothing in the program or its libraries: it waits "
            "for a library loaded later",
            "utrace: pattern 'nosuchfn' traced nothing: no library loaded defined it"])

    def test_found_in_a_library_loaded_later(self):
        """dl_work_* without module: in libutdl.so once s-dlopen loads it, reloads too."""
        t = h.run_traced(self, "s-dlopen", ["reload"], funcs=("work_main", "dl_work_*"))
        self.assertEqual(t.stdout, h.run_untraced("s-dlopen", ["reload"]).stdout)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_counts(self, t.events, h.prog_counts(t.stdout))
        self.assertEqual({(ev["func"], ev["module"]) for ev in t.events},
                         {("work_main", "s-dlopen"), ("dl_work_a", "libutdl.so"),
                          ("dl_work_b", "libutdl.so")})
        self.assertEqual(t.stderr_lines(), [
            "utrace: 'dl_work_*' matches nothing in the program or its libraries: it waits "
            "for a library loaded later",
            "utrace: 'dl_work_*' is not in the program: tracing it in libutdl.so "
            "(-f 'libutdl.so:dl_work_*')"])


if __name__ == "__main__":
    h.main()
