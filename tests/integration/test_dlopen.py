#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Libraries loaded at run time (dlopen) and ltrace-style library tracing.

s-dlopen loads libutdl.so, calls it, unloads it and loads it again: a
-f 'libutdl.so:...' pattern waits for the library (it is not loaded when
the probes go in), which is patched before its constructor runs (whose
calls are counted too) and released before dlclose unmaps it.  Each case
runs under `utrace run` and under `utrace attach` at the prog's gate.
s-alloc counts its own malloc, calloc and realloc calls of libc."""

import os
import re
import time
import unittest

import harness as h

DL_FUNCS = ("work_main", "libutdl.so:dl_work_*")
DL_STATUS = 6
ALLOC_STATUS = 8
NEVER = "libutdl-never.so:*"
# glibc's names of one function: utrace reports one of them
ALIASES = {"__libc_malloc": "malloc", "__libc_calloc": "calloc", "__libc_realloc": "realloc"}
PYTHON = "/usr/bin/python3"
PYTHON_SCRIPT = "import json; print(json.dumps({str(i): [i] * i for i in range(200)})[:80])"
FFI_CALLS = 100
# every foreign call of ctypes is one ffi_call of libffi, which _ctypes (loaded by
# import) brings in
CTYPES_SCRIPT = ("import ctypes; libc = ctypes.CDLL(None); "
                 "print(sum(libc.abs(-i) for i in range(%d)))" % FFI_CALLS)


def modules_of(events):
    """{func: {modules}}"""
    found = {}
    for ev in events:
        found.setdefault(ev["func"], set()).add(ev["module"])
    return found


def check_dlopen(tc, mode, args, same_stdout=True, funcs=DL_FUNCS):
    """s-dlopen ARGS traced: the prog's counts exactly, nothing lost, each
    function in its module.  Returns the trace."""
    t = h.trace_prog(tc, mode, "s-dlopen", args, funcs)
    untraced = h.run_untraced("s-dlopen", args)
    tc.assertEqual(t.status, DL_STATUS if mode == "run" else untraced.status)
    if same_stdout:
        tc.assertEqual(t.stdout, untraced.stdout, "stdout differs; stderr %r" % t.stderr)
    else:
        # main's own count depends on timing: everything else must match
        strip = re.compile(rb"^count work_main .*\n", re.M)
        tc.assertEqual(strip.sub(b"", t.stdout), strip.sub(b"", untraced.stdout))
    h.check_summary_clean(tc, t.events, t.summary)
    counts = h.prog_counts(t.stdout)
    tc.assertEqual(counts["dl_work_a"], 3009 if args[0] == "reload" else 6009)
    modules = {"work_main": {"s-dlopen"}, "dl_work_a": {"libutdl.so"},
               "dl_work_b": {"libutdl.so"}}
    if "work_main" not in funcs:
        del counts["work_main"], modules["work_main"]
    h.check_counts(tc, t.events, counts)
    h.check_nesting(tc, t.events)
    tc.assertEqual(modules_of(t.events), modules)
    err = t.stderr.decode(errors="replace")
    tc.assertNotIn("runtime error", err)
    if mode == "attach":
        tc.assertIn("module 'libutdl.so' is not loaded in process %d: pattern "
                    "'libutdl.so:dl_work_*' waits for it to be loaded (dlopen)" %
                    t.events[0]["pid"], err)
        tc.assertIn("dlopen and dlclose are followed", err)
    tc.assertNotIn("traced nothing", err)
    return t


def check_nesting_cut(tc, events):
    """Per thread, exits close the innermost open entry of their function;
    a detach may leave the calls in flight (at most work_main, dl_work_b,
    dl_work_a) open."""
    stacks = {}
    for ev in events:
        st = stacks.setdefault(ev["tid"], [])
        if ev["type"] == "entry":
            st.append(ev["func"])
        else:
            tc.assertTrue(st and st[-1] == ev["func"], "%r closes %r" % (ev, st))
            st.pop()
    for tid, st in stacks.items():
        tc.assertLessEqual(len(st), 3, "thread %d: open at the end: %r" % (tid, st))


def ldso_path(pid):
    """The dynamic linker mapped in process pid."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and "/ld-linux" in parts[5]:
                return os.path.realpath(parts[5].strip())
    raise AssertionError("no dynamic linker in process %d" % pid)


def alloc_counts(events):
    """{malloc|calloc|realloc|other name: entries}, by glibc's aliases."""
    counts = {}
    for ev in events:
        if ev["type"] == "entry":
            name = ALIASES.get(ev["func"], ev["func"])
            counts[name] = counts.get(name, 0) + 1
    return counts


def trace_lib_prog(tc, mode, name, funcs):
    """h.trace_prog for patterns of libraries only (h.wait_attached looks
    for patches in the executable's text): attach at the gate, open it once
    utrace says its probes are in and every thread runs."""
    if mode == "run":
        return h.run_traced(tc, name, (), funcs)
    g = h.GatedProg(tc, name)
    att = h.attach(tc, g.pid, funcs)
    deadline = time.monotonic() + 10
    h.wait_installed(tc, g, att, deadline)
    while h.any_thread_stopped(g.pid) or h.tracer_pid(g.pid) != att.proc.pid:
        tc.assertLess(time.monotonic(), deadline, "utrace did not let the prog run")
        time.sleep(0.02)
    res = g.release()
    events, summary = h.attach_ended(tc, att, h.RUN_TIMEOUT, "the exit of " + name)
    res.stderr = att.err + res.stderr
    return h.Trace(res, events, summary, att.out)


class DlopenTest(unittest.TestCase):
    def check_reload(self, mode):
        t = check_dlopen(self, mode, ["reload"])
        # the constructor's calls come from no traced function; the others
        # from work_main, or from dl_work_b
        self.assertEqual(h.callers(t.events),
                         {"work_main": {None}, "dl_work_a": {None, "work_main", "dl_work_b"},
                          "dl_work_b": {"work_main"}})
        ctor = sum(1 for ev in t.events
                   if ev["type"] == "entry" and ev["func"] == "dl_work_a" and ev["depth"] == 0)
        self.assertEqual(ctor, 9, "3 constructor calls per load")

    def test_reload_run(self):
        self.check_reload("run")

    def test_reload_attach(self):
        self.check_reload("attach")

    def test_library_pattern_only_run(self):
        """Nothing to patch at the start: the library's probes still get
        their code area (mapped through a stub-less one)."""
        t = check_dlopen(self, "run", ["reload"], funcs=DL_FUNCS[1:])
        self.assertIn("dl_work_b", h.callers(t.events)["dl_work_a"])

    def test_dlopen_from_a_second_thread_run(self):
        check_dlopen(self, "run", ["thread"], same_stdout=False)

    def test_dlopen_from_a_second_thread_attach(self):
        check_dlopen(self, "attach", ["thread"], same_stdout=False)

    def test_fork_child_loads_untraced(self):
        """A forked child (not followed) gets a copy of our int3 at r_brk:
        it is taken out before the child runs, or its dlopen would kill it."""
        t = h.trace_prog(self, "run", "s-dlopen", ["fork"], DL_FUNCS)
        h.check_like_untraced(self, "s-dlopen", ["fork"], t)
        self.assertIn(b"child status 7\n", t.stdout)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_counts(self, t.events, h.prog_counts(t.stdout), pids={t.events[0]["pid"]})
        h.check_nesting(self, t.events)

    def test_followed_fork_child_loads_traced(self):
        """With -F the child inherits our int3 at r_brk as its own: its
        loads are traced under its pid, each call exactly."""
        t = h.trace_prog(self, "run", "s-dlopen", ["fork"], DL_FUNCS, extra=("-F",))
        h.check_like_untraced(self, "s-dlopen", ["fork"], t)
        self.assertIn(b"child status 7\n", t.stdout)
        h.check_summary_clean(self, t.events, t.summary)
        parent = t.events[0]["pid"]
        children = {ev["pid"] for ev in t.events} - {parent}
        self.assertEqual(len(children), 1, "pids with events")
        h.check_counts(self, t.events, h.prog_counts(t.stdout), pids={parent})
        h.check_counts(self, t.events, h.prog_counts(t.stdout, "child count "),
                       pids=children)
        h.check_nesting(self, t.events)

    def check_textrel_refused(self, mode):
        """A library with text relocations would be relocated over our
        patches (the program dies of SIGSEGV): it is refused with a
        message, the rest is traced."""
        t = h.trace_prog(self, mode, "s-dlopen", ["textrel"],
                         ("work_main", "libuttextrel.so:*"))
        h.check_like_untraced(self, "s-dlopen", ["textrel"], t)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_counts(self, t.events, {"work_main": h.prog_counts(t.stdout)["work_main"]})
        self.assertIn("utrace: libuttextrel.so not traced: it has text relocations, which the "
                      "dynamic linker applies after utrace would patch it", t.stderr_lines())

    def test_textrel_refused_run(self):
        self.check_textrel_refused("run")

    def test_textrel_refused_attach(self):
        self.check_textrel_refused("attach")

    def check_never_loaded(self, mode):
        """A library that never comes: the rest is traced, the prog runs as
        untraced, and utrace says so at the end (no error: like a pattern of
        ltrace or uftrace that matches nothing)."""
        t = h.trace_prog(self, mode, "s-dlopen", ["none"], ("work_main", NEVER))
        h.check_like_untraced(self, "s-dlopen", ["none"], t)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_counts(self, t.events, h.prog_counts(t.stdout))
        self.assertNotIn("runtime error", t.stderr.decode(errors="replace"))
        self.assertIn("utrace: pattern '%s' traced nothing: no module matching "
                      "'libutdl-never.so' was loaded" % NEVER, t.stderr_lines())

    def test_never_loaded_run(self):
        self.check_never_loaded("run")

    def test_never_loaded_attach(self):
        self.check_never_loaded("attach")

    def check_attach_to_loop(self, attach_first):
        """s-dlopen loop traced for a while: attached at its gate, or while it
        loads and unloads the library (patched at attach maybe, then
        unloaded; or loaded in the middle of the attach).  Detached while it
        goes on: our int3 at r_brk goes with us (the dlopens after would die
        of it), the text of the program and of the dynamic linker equals
        the files again, and the prog ends as untraced."""
        g = h.GatedProg(self, "s-dlopen", ["loop"])
        if not attach_first:
            g.proc.stdin.write(h.GATE_RELEASE)
            g.proc.stdin.flush()
            time.sleep(0.2)
        att = h.attach(self, g.pid, DL_FUNCS)
        h.wait_patched(self, g, att)
        self.assertEqual(h.text_mismatches(g.pid, ldso_path(g.pid)), 1,
                         "not one int3 in the dynamic linker's text")
        if attach_first:
            g.proc.stdin.write(h.GATE_RELEASE)
            g.proc.stdin.flush()
        time.sleep(0.3)
        events, summary = h.detach(self, att)
        self.assertIn("dlopen and dlclose are followed", att.err.decode(errors="replace"))
        self.assertNotIn("runtime error", att.err.decode(errors="replace"))
        self.assertTrue(any(ev["module"] == "libutdl.so" for ev in events),
                        "no call of the library traced before the detach")
        h.check_summary_clean(self, events, summary)
        check_nesting_cut(self, events)
        h.check_untouched(self, g)
        self.assertEqual(h.text_mismatches(g.pid, ldso_path(g.pid)), 0,
                         "the dynamic linker's text differs from its file")
        out, _ = g.proc.communicate(h.GATE_RELEASE, timeout=h.TRACED_TIMEOUT)
        self.assertEqual((out, h.exit_status(g.proc.returncode)),
                         (b"loads after the byte 100\n", DL_STATUS))

    def test_detach_between_loads(self):
        self.check_attach_to_loop(True)

    def test_attach_while_loading(self):
        self.check_attach_to_loop(False)

    def test_attach_without_library_patterns_leaves_ldso_alone(self):
        """Attaching with no pattern naming a module to a program whose
        unwinder is loaded (s-pexit links libgcc_s): no int3 at r_brk, the
        dynamic linker is untouched."""
        g = h.GatedProg(self, "s-pexit", [])
        att = h.attach(self, g.pid, ("work_*",))
        h.wait_attached(self, g, att)
        self.assertEqual(h.text_mismatches(g.pid, ldso_path(g.pid)), 0)
        res = g.release()
        events, _ = h.attach_ended(self, att, h.RUN_TIMEOUT, "the exit of s-pexit")
        err = att.err.decode(errors="replace")
        self.assertIn("the unwinder is hooked", err)
        self.assertNotIn("dlopen and dlclose are followed", err)
        self.assertEqual(res.stdout, h.run_untraced("s-pexit").stdout)

    def test_attach_awaiting_the_unwinder_follows_dlopen(self):
        """Return probes and no unwinder loaded yet: glibc may dlopen one
        (at a backtrace() or pthread_exit()), so the int3 at r_brk is set
        even with no pattern naming a module."""
        g = h.GatedProg(self, "s-dlopen", ["reload"])
        att = h.attach(self, g.pid, ("work_main",))
        h.wait_attached(self, g, att)
        res = g.release()
        events, _ = h.attach_ended(self, att, h.RUN_TIMEOUT, "the exit of s-dlopen")
        self.assertIn("dlopen and dlclose are followed", att.err.decode(errors="replace"))
        self.assertEqual(res.stdout, h.run_untraced("s-dlopen", ["reload"]).stdout)
        h.check_counts(self, events, {"work_main": h.prog_counts(res.stdout)["work_main"]})

    def check_alloc(self, mode):
        """-f 'libc.so.6:*alloc': exactly the prog's own calls."""
        t = trace_lib_prog(self, mode, "s-alloc", ("libc.so.6:*alloc",))
        h.check_like_untraced(self, "s-alloc", (), t)
        h.check_summary_clean(self, t.events, t.summary)
        h.check_nesting(self, t.events)
        self.assertEqual(alloc_counts(t.events), h.prog_counts(t.stdout))
        self.assertEqual({ev["module"] for ev in t.events}, {"libc.so.6"})
        self.assertNotIn("runtime error", t.stderr.decode(errors="replace"))

    def test_libc_alloc_run(self):
        self.check_alloc("run")

    def test_libc_alloc_attach(self):
        self.check_alloc("attach")

    def trace_python(self, script, pattern):
        """`utrace run -f PATTERN -- python3 -c SCRIPT`: output and status as
        untraced; the run's events, summary and stderr."""
        argv = [PYTHON, "-c", script]
        out = os.path.join(h.tmpdir(self), "python.json")
        res = h.run([h.utrace_path(), "run"] + h.trace_argv((pattern,), out) + ["--"] + argv,
                    timeout=h.TRACED_TIMEOUT)
        untraced = h.run(argv)
        self.assertEqual((res.stdout, res.status), (untraced.stdout, untraced.status),
                         "stderr %r" % res.stderr)
        events, summary = h.parse_jsonl(self, out)
        return events, summary, res.stderr.decode(errors="replace")

    def test_libc_alloc_of_python(self):
        """ltrace-style on a real program: python3's allocations, traced
        with the same output and status as untraced, every call returned."""
        events, summary, _ = self.trace_python(PYTHON_SCRIPT, "libc.so.6:*alloc")
        h.check_summary_clean(self, events, summary)
        h.check_nesting(self, events)
        counts = h.trace_counts(events)
        for func, (entries, exits, unwinds) in counts.items():
            self.assertEqual(entries, exits + unwinds, "%s: calls not all returned" % func)
        self.assertGreater(alloc_counts(events).get("malloc", 0), 1000)

    def test_libffi_of_python_ctypes(self):
        """A library that comes with an extension module python imports
        (dlopen of _ctypes, which needs libffi): its calls counted exactly."""
        events, summary, _ = self.trace_python(CTYPES_SCRIPT, "libffi.so*:ffi_call")
        h.check_summary_clean(self, events, summary)
        h.check_nesting(self, events)
        h.check_counts(self, events, {"ffi_call": FFI_CALLS})

    def test_pattern_naming_a_library_by_soname(self):
        """Module patterns match file names ("libffi.so.8.1.2"): one that
        only names the start of it traces nothing, and utrace says which
        file it may have meant."""
        _, _, err = self.trace_python(CTYPES_SCRIPT, "libffi.so:ffi_call")
        self.assertRegex(err,
                         r"utrace: pattern 'libffi.so:ffi_call' traced nothing: no module "
                         r"matching 'libffi.so' was loaded \(module patterns match file names: "
                         r"'libffi\.so\.[0-9.]+' is loaded\)")


if __name__ == "__main__":
    h.main()
