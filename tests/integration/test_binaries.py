#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Kinds of binaries: one workload (tests/progs/s-kinds.c) built static,
static-pie, with -fcf-protection=full, stripped to .dynsym and with LTO,
traced in run and attach: output and status as untraced, the prog's own
counts exactly."""

import os
import re
import unittest

import harness as h

ENDBR64 = bytes.fromhex("f30f1efa")
JMP_REL32 = 0xe9
INT3 = 0xcc
# Run once each, before TLS exists (fs base 0): glibc's static start-up.
PRE_TLS = {"_dl_aux_init": 1, "__libc_setup_tls": 1}
SHSTK_WHY = "it runs with a CET shadow stack"
CLONE_RE = re.compile(r"^(\w+)\.(constprop|isra|part|lto_priv)\.\d+$")


def clone_names(path):
    """{base name: clone name} of the clones in .symtab."""
    return {m.group(1): name for name in h.func_symbols(path)
            for m in [CLONE_RE.match(name)] if m}


class BinariesTest(unittest.TestCase):
    def check_kinds(self, name, mode, funcs=("work_*",), more=None, renamed=None):
        """Trace s-kinds-NAME; the events of each function are exactly the
        prog's count of it (more: counts the prog does not print; renamed:
        {counted name: traced name})."""
        t = h.trace_prog(self, mode, name, funcs=funcs)
        h.check_like_untraced(self, name, (), t)
        h.check_summary_clean(self, t.events, t.summary)
        want = {(renamed or {}).get(f, f): n for f, n in h.prog_counts(t.stdout).items()}
        want.update(more or {})
        h.check_counts(self, t.events, want)
        h.check_nesting(self, t.events)
        self.assertEqual({ev["module"] for ev in t.events}, {name})
        return t

    # ---- static and static-pie: no ld.so, no TLS before __libc_setup_tls ----
    #
    # Each down both of utrace's paths: with rdfsbase (CPUs with FSGSBASE) and
    # without (UTRACE_NO_FSGSBASE=1 on any CPU).

    def check_static(self, name, mode, **kw):
        for path in h.CPU_PATHS:
            with self.subTest(cpu=path), h.cpu_path(self, path):
                yield path, self.check_kinds(name, mode, **kw)

    def bias(self, name, t):
        """The one load bias between the events' addresses and the symbols."""
        syms = h.func_symbols(h.prog(name))
        biases = {int(ev["addr"], 16) - syms[ev["func"]] for ev in t.events}
        self.assertEqual(len(biases), 1, "functions moved by different biases")
        return biases.pop()

    def test_static_run(self):
        for _, t in self.check_static("s-kinds-static", "run"):
            self.assertEqual(self.bias("s-kinds-static", t), 0)

    def test_static_attach(self):
        for _ in self.check_static("s-kinds-static", "attach"):
            pass

    def test_static_pie_run(self):
        for _, t in self.check_static("s-kinds-static-pie", "run"):
            bias = self.bias("s-kinds-static-pie", t)
            self.assertNotEqual(bias, 0, "a static-pie runs at a load bias")
            self.assertEqual(bias % 4096, 0)

    def test_static_pie_attach(self):
        for _ in self.check_static("s-kinds-static-pie", "attach"):
            pass

    def test_static_threads(self):
        for path in h.CPU_PATHS:
            for mode in h.MODES:
                with self.subTest(cpu=path, mode=mode), h.cpu_path(self, path):
                    t = h.check_traced_prog(self, "s-threads-static", mode=mode)
                    self.assertEqual(len({ev["tid"] for ev in t.events}), 4)

    def test_static_traced_before_tls(self):
        """With rdfsbase, run starts tracing at the program's own _start, fs
        base 0: the functions of glibc's start-up before __libc_setup_tls
        are traced like any other."""
        for name in ("s-kinds-static", "s-kinds-static-pie"):
            with self.subTest(name), h.cpu_path(self, "fsgsbase"):
                self.check_kinds(name, "run", funcs=("work_*",) + tuple(PRE_TLS),
                                 more=PRE_TLS)

    def test_static_before_tls_named_without_fsgsbase(self):
        """Without rdfsbase %fs:0 would fault before the TLS exists: tracing
        begins once the thread has it, and the functions that ran before are
        counted and named on one line, none traced."""
        for name in ("s-kinds-static", "s-kinds-static-pie"):
            with self.subTest(name), h.cpu_path(self, "no-fsgsbase"):
                t = h.run_traced(self, name, funcs=("work_*",) + tuple(PRE_TLS))
                h.check_like_untraced(self, name, (), t)
                self.assertEqual(t.summary["no_tls"], sum(PRE_TLS.values()), t.summary)
                self.assertEqual({d["func"]: d["calls"] for d in t.summary["no_tls_by_func"]},
                                 PRE_TLS)
                t.summary["no_tls"] = 0
                h.check_summary_clean(self, t.events, t.summary)
                h.check_counts(self, t.events, h.prog_counts(t.stdout))
                said = [line for line in t.stderr_lines() if "had no TLS" in line]
                self.assertEqual(said, [
                    "utrace: not traced while a thread had no TLS (this CPU has no FSGSBASE): "
                    "__libc_setup_tls (1 call), _dl_aux_init (1 call)"], t.stderr_lines())

    def test_static_everything(self):
        """-f '*': every function of the program and of its libc, from the
        first instruction (with rdfsbase; without, from the TLS on: what ran
        before is counted); nothing lost, the prog unharmed."""
        name = "s-kinds-static"
        for path in h.CPU_PATHS:
            with self.subTest(cpu=path), h.cpu_path(self, path):
                t = h.run_traced(self, name, funcs=("*",))
                h.check_like_untraced(self, name, (), t)
                before = {d["func"]: d["calls"] for d in t.summary["no_tls_by_func"]}
                self.assertEqual(t.summary["no_tls"], sum(before.values()))
                t.summary["no_tls"] = 0
                h.check_summary_clean(self, t.events, t.summary)
                got = h.trace_counts(t.events)
                for func, n in h.prog_counts(t.stdout).items():
                    self.assertEqual(got.get(func), [n, n, 0], func)
                if path == "fsgsbase":
                    self.assertEqual(before, {})
                    for func, n in PRE_TLS.items():
                        self.assertEqual(got.get(func), [n, n, 0], func)
                    self.assertEqual(got["_start"], [1, 0, 0])
                else:
                    self.assertEqual({f: before.get(f) for f in PRE_TLS}, PRE_TLS)
                    self.assertEqual(before["_start"], 1)
                    self.assertNotIn("_start", got)
                self.assertGreater(len(set(got) | set(before)), 100)

    # ---- threads from a raw clone(2) ----

    def test_rawclone_sharing_tls(self):
        """A thread cloned without CLONE_SETTLS runs on its creator's TCB:
        one slot cannot serve both.  Its calls are counted as untraced, said
        once; its creator's are traced exactly; the program runs as
        untraced."""
        name = "s-rawclone"
        for path, mode in ((p, m) for p in h.CPU_PATHS for m in h.MODES):
            with self.subTest(cpu=path, mode=mode), h.cpu_path(self, path):
                t = h.trace_prog(self, mode, name, ("share",))
                h.check_like_untraced(self, name, ("share",), t)
                calls = h.prog_counts(t.stdout)
                self.assertEqual(t.summary["no_slot"], calls["work_thread"], t.summary)
                t.summary["no_slot"] = 0
                h.check_summary_clean(self, t.events, t.summary)
                h.check_counts(self, t.events, {"work_main": calls["work_main"]})
                said = [line for line in t.stderr_lines() if "shares the TLS" in line]
                self.assertEqual(len(said), 1, t.stderr_lines())

    def test_rawclone_without_tls(self):
        """A thread cloned with an fs base of 0.  With rdfsbase it is traced
        like any other; without, %fs:0 would fault: while it lives no entry
        reads the fs base, and every call not traced is counted."""
        name = "s-rawclone"
        for path, mode in ((p, m) for p in h.CPU_PATHS for m in h.MODES):
            with self.subTest(cpu=path, mode=mode), h.cpu_path(self, path):
                t = h.trace_prog(self, mode, name, ("tls0",))
                h.check_like_untraced(self, name, ("tls0",), t)
                calls = h.prog_counts(t.stdout)
                before = {d["func"]: d["calls"] for d in t.summary["no_tls_by_func"]}
                self.assertEqual(t.summary["no_tls"], sum(before.values()))
                t.summary["no_tls"] = 0
                h.check_summary_clean(self, t.events, t.summary)
                got = h.trace_counts(t.events)
                for func, n in calls.items():
                    traced = got.get(func, [0, 0, 0])
                    self.assertEqual(traced[0], traced[1], func)
                    self.assertEqual(traced[0] + before.get(func, 0), n, func)
                if path == "fsgsbase":
                    self.assertEqual(before, {})
                else:
                    self.assertEqual(before.get("work_thread"), calls["work_thread"])

    # ---- endbr64 ----

    def test_cet_run(self):
        self.check_kinds("s-kinds-cet", "run")

    def test_cet_attach(self):
        self.check_kinds("s-kinds-cet", "attach")

    def test_cet_probe_follows_endbr64(self):
        """Indirect calls land on the endbr64, which the probe leaves in place."""
        name = "s-kinds-cet"
        g = h.GatedProg(self, name)
        att = h.attach(self, g.pid)
        h.wait_attached(self, g, att)
        bias = h.load_bias(g.pid, h.prog(name))
        syms = h.func_symbols(h.prog(name))
        with open("/proc/%d/mem" % g.pid, "rb", buffering=0) as mem:
            for func in ("work_ind_a", "work_ind_b", "work_cmp", "work_mid"):
                mem.seek(bias + syms[func])
                code = mem.read(5)
                self.assertEqual(code[:4], ENDBR64, func)
                self.assertIn(code[4], (JMP_REL32, INT3), func)
        res = g.release()
        events, summary = h.attach_ended(self, att, h.RUN_TIMEOUT, "the exit of " + name)
        h.check_like_untraced(self, name, (), res)
        h.check_summary_clean(self, events, summary)
        h.check_counts(self, events, h.prog_counts(res.stdout))

    # ---- stripped ----

    def test_stripped_run(self):
        self.assertEqual(h.func_symbols(h.prog("s-kinds-stripped")), {}, "has a .symtab")
        self.check_kinds("s-kinds-stripped", "run")

    def test_stripped_attach(self):
        self.check_kinds("s-kinds-stripped", "attach")

    def test_no_symbols_at_all(self):
        """A static binary stripped of everything: nothing to trace by name."""
        out = os.path.join(h.tmpdir(self), "nosyms.json")
        for mode in ("run", "attach"):
            with self.subTest(mode):
                if mode == "run":
                    res = h.run([h.utrace_path(), "run", "-f", "work_*", "-o", out, "--",
                                 h.prog("s-kinds-nosyms")])
                else:
                    g = h.GatedProg(self, "s-kinds-nosyms")
                    res = h.run([h.utrace_path(), "attach", str(g.pid), "-f", "work_*",
                                 "-o", out])
                    h.check_untouched(self, g)
                    self.assertEqual(g.release().status, 5)
                h.check_error(self, res, "no function symbols")

    # ---- LTO: clones ----

    def test_lto_run(self):
        renamed = clone_names(h.prog("s-kinds-lto"))
        self.assertIn("work_scale", renamed, "gcc made no clone of work_scale")
        self.check_kinds("s-kinds-lto", "run", renamed=renamed)

    def test_lto_attach(self):
        self.check_kinds("s-kinds-lto", "attach", renamed=clone_names(h.prog("s-kinds-lto")))

    def test_lto_pattern_matches_clone(self):
        """-f work_scale traces work_scale.constprop.0, the code that runs
        for work_scale; -f with the clone's whole name too."""
        clone = clone_names(h.prog("s-kinds-lto"))["work_scale"]
        for pattern in ("work_scale", clone):
            with self.subTest(pattern):
                t = h.run_traced(self, "s-kinds-lto", funcs=(pattern,))
                h.check_like_untraced(self, "s-kinds-lto", (), t)
                h.check_summary_clean(self, t.events, t.summary)
                h.check_counts(self, t.events,
                               {clone: h.prog_counts(t.stdout)["work_scale"]})

    def test_cold_part_is_no_function(self):
        """work_check.cold is a block of work_check moved away, entered by a
        jump: never listed, never probed, not even by -f 'work_check*'."""
        for name in ("s-kinds-cet", "s-kinds-static"):
            with self.subTest(name):
                self.assertIn("work_check.cold", h.func_symbols(h.prog(name)))
                res = h.run([h.utrace_path(), "symbols", h.prog(name), "work_check*"])
                self.assertEqual(res.status, 0, res.stderr)
                funcs = [line.split()[-1] for line in res.stdout.decode().splitlines()
                         if not line.startswith("#")]
                self.assertEqual(funcs, ["work_check"])
                t = h.run_traced(self, name, funcs=("work_check*",), extra=("-v",))
                h.check_like_untraced(self, name, (), t)
                h.check_summary_clean(self, t.events, t.summary)
                h.check_counts(self, t.events,
                               {"work_check": h.prog_counts(t.stdout)["work_check"]})
                self.assertIn(b"utrace: 1 functions traced", t.stderr)

    # ---- CET shadow stack ----

    def test_shstk_entry_only(self):
        """A process with a CET shadow stack gets entry events only: a
        hijacked return would fault.  utrace says so once on stderr and in
        the summary."""
        h.require(self, "user-shstk")
        name = "s-shstk"
        g = h.GatedProg(self, name)
        att = h.attach(self, g.pid)
        h.wait_attached(self, g, att)
        res = g.release()
        events, summary = h.attach_ended(self, att, h.RUN_TIMEOUT, "the exit of " + name)
        h.check_like_untraced(self, name, (), res)
        self.assertEqual(summary.get("returns"), "not traced: " + SHSTK_WHY)
        warned = [line for line in att.err.decode().splitlines() if SHSTK_WHY in line]
        self.assertEqual(len(warned), 1, att.err)
        self.assertIn("returns are not traced", warned[0])
        got = h.trace_counts(events)
        self.assertEqual(got, {f: [n, 0, 0] for f, n in h.prog_counts(res.stdout).items()})


if __name__ == "__main__":
    h.main()
