#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Non-local exits the unwinder makes through traced frames
(docs/ARCHITECTURE.md, "C++ exceptions and unwinding"): C++ exceptions from
4 std::threads with rethrow, cleanups and catches in traced and untraced
frames, backtraces, and pthread_exit's forced unwind, in run and attach
modes; detach while exceptions fly."""

import time
import unittest

import harness as h

# s-except rounds per thread for the detach (about 2 s untraced), and when
DETACH_ITERATIONS = 200000
DETACH_AFTER = 0.2


# s-except: threads, rounds per thread, one round in RETURN_EVERY throws nothing
EXCEPT_THREADS, EXCEPT_ITERATIONS, EXCEPT_RETURN_EVERY = 4, 1000, 5
# s-except's functions an exception leaves (the rest always return)
EXCEPT_FUNCS = ("work_throw_leaf", "work_pass", "work_catch_traced", "work_cleanup",
                "work_nested_throw", "work_rethrow", "work_bt_outer", "work_bt_mid",
                "work_bt_leaf")
PEXIT_FUNCS = ("work_pe_outer", "work_pe_mid", "work_pe_leaf", "work_pe_cleanup",
               "work_pe_main")


def check_exact(tc, t, funcs):
    """Entries, exits and unwinds per function equal what the prog counted."""
    calls = h.prog_counts(t.stdout)
    unwound = h.prog_counts(t.stdout, "unwound ")
    counts = h.trace_counts(t.events)
    tc.assertEqual(sorted(calls), sorted(funcs))
    for func in funcs:
        n, u = calls[func], unwound.get(func, 0)
        tc.assertEqual(counts.get(func), [n, n - u, u], func)
    tc.assertEqual(set(counts), set(funcs), "events of functions the prog does not count")


def check_except(tc, mode, name="s-except"):
    t = h.check_traced_prog(tc, name, allow_unwinds=True, mode=mode)
    tc.assertIn(b"short backtraces 0\n", t.stdout)
    rounds = EXCEPT_THREADS * EXCEPT_ITERATIONS
    thrown = rounds - rounds // EXCEPT_RETURN_EVERY
    tc.assertIn(b"caught traced %d untraced %d nested %d\n" % (thrown, thrown, rounds),
                t.stdout)
    check_exact(tc, t, EXCEPT_FUNCS)
    tc.assertEqual(len({ev["tid"] for ev in t.events}), 4, "events of 4 threads")


def check_pexit(tc, mode):
    t = h.check_traced_prog(tc, "s-pexit", allow_unwinds=True, mode=mode)
    tc.assertIn(b"cleanups 800\n", t.stdout)
    check_exact(tc, t, PEXIT_FUNCS)


def check_backtrace_late_unwinder(tc, mode):
    """The unwinder glibc dlopens at the first backtrace() is hooked as it
    comes: every backtrace names the traced callers, as untraced."""
    t = h.check_traced_prog(tc, "s-backtrace", mode=mode, extra=("-v",))
    tc.assertIn(b"bad 0\n", t.stdout)
    tc.assertIn("utrace: the unwinder in libgcc_s.so.1 is hooked: 6 hidden probes",
                t.stderr_lines())


class ExceptTest(unittest.TestCase):
    def test_backtrace_with_unwinder_loaded_late_run(self):
        check_backtrace_late_unwinder(self, "run")

    def test_backtrace_with_unwinder_loaded_late_attach(self):
        check_backtrace_late_unwinder(self, "attach")

    def test_exceptions_from_4_threads_run(self):
        check_except(self, "run")

    def test_exceptions_from_4_threads_attach(self):
        check_except(self, "attach")

    def test_pthread_exit_forced_unwind_run(self):
        check_pexit(self, "run")

    def test_pthread_exit_forced_unwind_attach(self):
        check_pexit(self, "attach")

    def test_unwinder_linked_into_the_executable_run(self):
        for path in h.CPU_PATHS:
            with self.subTest(cpu=path), h.cpu_path(self, path):
                check_except(self, "run", "s-except-static")

    def test_unwinder_linked_into_the_executable_attach(self):
        for path in h.CPU_PATHS:
            with self.subTest(cpu=path), h.cpu_path(self, path):
                check_except(self, "attach", "s-except-static")

    def test_unwinder_without_symbols_refuses_return_probes(self):
        """The unwinder is linked in but its symbols are gone: no hook, so
        entry events only, said once; the program runs as untraced."""
        name = "s-except-nounwind"
        t = h.run_traced(self, name)
        h.check_like_untraced(self, name, (), t)
        refusals = [line for line in t.stderr_lines() if "return probes refused" in line]
        self.assertEqual(refusals, [
            "utrace: return probes refused: %s has C++ exception tables but no unwinder "
            "utrace can hook (linked in without symbols?); tracing function entries only"
            % name])
        calls = h.prog_counts(t.stdout)
        counts = h.trace_counts(t.events)
        self.assertEqual({f: c[:2] for f, c in counts.items()},
                         {f: [n, 0] for f, n in calls.items()})
        # entry-only calls keep no shadow entry: none is unwound when a thread ends
        self.assertEqual(sum(c[2] for c in counts.values()), 0)

    def test_detach_while_exceptions_fly(self):
        """Attach, let the threads throw for a moment, detach: no slot may
        keep a trampoline address (a crash or a lost return), so output
        and status are as untraced."""
        args = (str(DETACH_ITERATIONS),)
        g = h.GatedProg(self, "s-except", args)
        att = h.attach(self, g.pid)
        h.wait_attached(self, g, att)
        g.proc.stdin.write(h.GATE_RELEASE)
        g.proc.stdin.flush()
        time.sleep(DETACH_AFTER)
        self.assertIsNone(g.proc.poll(), "s-except ended before the detach")
        events, _ = h.detach(self, att)
        self.assertGreater(len(events), 0)
        # on a loaded machine the program may end while utrace lets go
        if g.proc.poll() is None:
            h.check_untouched(self, g)
        res = g.release()
        plain = h.run_untraced("s-except", args)
        self.assertEqual(res.status, plain.status, res.stderr)
        self.assertEqual(res.stdout, plain.stdout)

CXX_FUNCS = ("ns::Foo::bar(int)", "ns::Foo::bar(long)", "ns::Foo::baz(double) const",
             "int ns::twice<int>(int)")


class NamesTest(unittest.TestCase):
    def test_patterns_match_demangled_and_mangled_names(self):
        """-f matches the demangled name (ns::Foo::*) and the mangled one;
        JSON "func" holds the demangled name, "mangled" the symbol."""
        t = h.run_traced(self, "s-cxxnames", funcs=("ns::Foo::*", "_ZN2ns5twiceIiEET_S1_"))
        h.check_like_untraced(self, "s-cxxnames", (), t)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_nesting(self, t.events)
        calls = dict(line[len("calls "):].rsplit("\t", 1)
                     for line in t.stdout.decode().splitlines() if line.startswith("calls "))
        self.assertEqual(sorted(calls), sorted(CXX_FUNCS))
        self.assertEqual(h.trace_counts(t.events),
                         {f: [int(n), int(n), 0] for f, n in calls.items()})
        self.assertEqual({(ev["func"], ev.get("mangled")) for ev in t.events}, {
            ("ns::Foo::bar(int)", "_ZN2ns3Foo3barEi"),
            ("ns::Foo::bar(long)", "_ZN2ns3Foo3barEl"),
            ("ns::Foo::baz(double) const", "_ZNK2ns3Foo3bazEd"),
            ("int ns::twice<int>(int)", "_ZN2ns5twiceIiEET_S1_")})

    def test_text_and_summary_show_demangled_names(self):
        t = h.run_traced(self, "s-cxxnames", funcs=("ns::Foo::bar*",), fmt="text")
        with open(t.path) as f:
            text = f.read()
        self.assertIn("| ns::Foo::bar(int);\n", text)
        self.assertIn("| ns::Foo::bar(long);\n", text)
        t = h.run_traced(self, "s-cxxnames", funcs=("ns::Foo::baz*",), fmt="summary")
        with open(t.path) as f:
            rows = [line.split() for line in f if not line.startswith("#")]
        self.assertEqual([r[:3] + [" ".join(r[7:])] for r in rows],
                         [["1000", "1000", "0", "ns::Foo::baz(double) const"]])

    def test_symbols_lists_demangled_names(self):
        res = h.run([h.utrace_path(), "symbols", h.prog("s-cxxnames"), "ns::Foo::*"])
        self.assertEqual(res.status, 0, res.stderr)
        names = [line.split(None, 3)[3] for line in res.stdout.decode().splitlines()
                 if not line.startswith("#")]
        self.assertEqual(sorted(names), sorted(CXX_FUNCS[:3]))


if __name__ == "__main__":
    h.main()
