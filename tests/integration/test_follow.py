#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Processes that fork and execute programs: --follow-exec (default in run),
--follow-fork (-F), posix_spawn, system(), Python's subprocess and an exec
from a second thread.  s-follow prints `pid P count FUNC N` for each process;
the trace must hold exactly those calls under each pid."""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

import harness as h

PID_RE = re.compile(rb"^pid (\d+) count (\S+) (\d+)$", re.M)
FOLLOWING_RE = re.compile(rb"^utrace: following child (\d+) of process (\d+)$", re.M)
NO_MATCH_RE = re.compile(r"^utrace: process \d+ executed (\S+): .*; following it untraced$")
# With int3 probes each call is a trap the tracer answers, draining the
# rings between traps: a single thread's 4K ring never fills.
INT3 = os.environ.get("UTRACE_TEST_PROBE") == "int3"


def counts_by_pid(stdout):
    """{pid: {func: n}} from s-follow's `pid P count FUNC N` lines."""
    by_pid = {}
    for pid, func, n in PID_RE.findall(stdout):
        by_pid.setdefault(int(pid), {})[func.decode()] = int(n)
    return by_pid


def without_pids(stdout):
    return re.sub(rb"^pid \d+ ", b"pid N ", stdout, flags=re.M)


def run_follow(tc, argv, extra=(), funcs=("work_*",)):
    """utrace run [extra] -- argv; the trace parsed."""
    out = os.path.join(h.tmpdir(tc), "follow-%d.json" % len(os.listdir(h.tmpdir(tc))))
    cmd = [h.utrace_path(), "run"] + h.trace_argv(funcs, out) + list(extra) + ["--"] + argv
    res = h.run(cmd, timeout=h.TRACED_TIMEOUT)
    tc.assertTrue(os.path.exists(out), "no output file; utrace stderr: %r" % res.stderr)
    events, summary = h.parse_jsonl(tc, out)
    return h.Trace(res, events, summary, out)


def check_follow(tc, args, extra=(), unwound=(), mode="run", name="s-follow", untraced=()):
    """PROG ARGS traced (run, or attach at its gate): output and status as
    untraced (pids aside), every process's calls exactly under its pid
    (none for the processes counting the functions in `untraced`), nothing
    else, nothing lost."""
    if mode == "run":
        t = run_follow(tc, [h.prog(name)] + list(args), extra)
    else:
        t = h.attach_traced(tc, name, args, extra=extra)
    plain = h.run_untraced(name, args)
    tc.assertEqual(without_pids(t.stdout), without_pids(plain.stdout))
    tc.assertEqual(t.status, plain.status, "status; utrace stderr %r" % t.stderr)
    h.check_summary_clean(tc, t.events, t.summary)
    by_pid = counts_by_pid(t.stdout)
    traced = {ev["pid"] for ev in t.events}
    tc.assertEqual(traced, {p for p, c in by_pid.items() if not set(c) & set(untraced)},
                   "pids with events")
    for pid in traced:
        got = h.trace_counts(t.events, {pid})
        want = {f: [n, n - (f in unwound), int(f in unwound)] for f, n in by_pid[pid].items()}
        tc.assertEqual(got, want, "calls of process %d" % pid)
    h.check_nesting(tc, t.events)
    tc.assertEqual({ev["module"] for ev in t.events}, {name})
    if mode == "run":
        warnings = [line for line in t.stderr_lines() if not NO_MATCH_RE.match(line)]
        tc.assertEqual(warnings, [], "utrace said more than the programs it follows untraced")
    return t, by_pid


def check_parent_only(tc, mode):
    """Without -F: the parent's calls exactly, nothing of its child."""
    t = run_follow(tc, [h.prog("s-follow"), mode])
    plain = h.run_untraced("s-follow", [mode])
    tc.assertEqual(without_pids(t.stdout), without_pids(plain.stdout))
    tc.assertEqual(t.status, plain.status)
    h.check_summary_clean(tc, t.events, t.summary)
    by_pid = counts_by_pid(t.stdout)
    tc.assertEqual(len(by_pid), 2)
    parent = [p for p, c in by_pid.items() if "work_parent" in c]
    tc.assertEqual({ev["pid"] for ev in t.events}, set(parent))
    h.check_counts(tc, t.events, by_pid[parent[0]])


def untraced_programs(t):
    return [NO_MATCH_RE.match(line).group(1) for line in t.stderr_lines()
            if NO_MATCH_RE.match(line)]


def real_python():
    """The ELF interpreter behind sys.executable (a pyenv shim is a script)."""
    return os.path.realpath(sys.executable)


class FollowExecTest(unittest.TestCase):
    def test_exec_is_followed_by_default(self):
        """The old image's calls are drained at the exec; the new one is traced
        again from its entry point, under the same pid."""
        _, by_pid = check_follow(self, ["exec"])
        self.assertEqual(len(by_pid), 1)
        self.assertEqual(set(next(iter(by_pid.values()))), {"work_before", "work_leaf"})

    def test_no_follow_exec_stops_at_exec(self):
        t = run_follow(self, [h.prog("s-follow"), "exec"], ("--no-follow-exec",))
        self.assertEqual(t.status, h.run_untraced("s-follow", ["exec"]).status)
        by_pid = counts_by_pid(t.stdout)
        (pid,) = by_pid
        self.assertEqual(h.trace_counts(t.events),
                         {"work_before": [by_pid[pid]["work_before"]] * 2 + [0]})
        self.assertEqual(t.stderr_lines(),
                         ["utrace: process %d executed a new program: tracing stops" % pid])

    def test_program_without_match_is_followed_untraced(self):
        """s-follow -> sh (nothing to trace: one line says so) -> s-follow."""
        t, _ = check_follow(self, ["execsh"])
        self.assertEqual(len(untraced_programs(t)), 1, t.stderr_lines())

    def test_exec_from_a_second_thread(self):
        """The exec'ing thread takes the leader's tid; work_main, left open
        by the main thread the exec ends, gets an unwind event."""
        t, by_pid = check_follow(self, ["threadexec"], unwound=("work_main",))
        (pid,) = by_pid
        self.assertEqual({ev["tid"] for ev in t.events if ev["func"] == "work_leaf"}, {pid})

    def test_fork_exec_without_follow_fork(self):
        """Without -F the child is let go untraced, exec or not."""
        check_parent_only(self, "forkexec")


class FollowForkTest(unittest.TestCase):
    def test_fork_followed(self):
        _, by_pid = check_follow(self, ["fork"], ("-F",))
        self.assertEqual(sorted(sorted(c) for c in by_pid.values()),
                         [["work_child"], ["work_parent"]])

    def test_fork_not_followed(self):
        check_parent_only(self, "fork")

    def test_fork_exec_followed(self):
        _, by_pid = check_follow(self, ["forkexec"], ("-F",))
        self.assertEqual(sorted(sorted(c) for c in by_pid.values()),
                         [["work_child", "work_leaf"], ["work_parent"]])

    def test_fork_followed_until_exec(self):
        """-F --no-follow-exec: the child is traced until it executes a program."""
        t = run_follow(self, [h.prog("s-follow"), "forkexec"], ("-F", "--no-follow-exec"))
        plain = h.run_untraced("s-follow", ["forkexec"])
        self.assertEqual(without_pids(t.stdout), without_pids(plain.stdout))
        self.assertEqual(t.status, plain.status)
        h.check_summary_clean(self, t.events, t.summary)
        by_pid = counts_by_pid(t.stdout)
        for pid, counts in by_pid.items():
            counts.pop("work_leaf", None)
            self.assertEqual(h.trace_counts(t.events, {pid}),
                             {f: [n, n, 0] for f, n in counts.items()})
        (child,) = [p for p, c in by_pid.items() if "work_child" in c]
        self.assertEqual(t.stderr_lines(),
                         ["utrace: process %d executed a new program: tracing stops" % child])

    def test_child_outliving_its_parent(self):
        """run exits with the parent's status, once the child it left behind
        has exited and its events are written."""
        _, by_pid = check_follow(self, ["orphan"], ("-F",))
        self.assertEqual(sorted(sorted(c) for c in by_pid.values()),
                         [["work_child"], ["work_parent"]])

    def test_children_forked_from_several_threads(self):
        """32 children forked from 4 threads at once, each with its own rings."""
        t, by_pid = check_follow(self, ["threadfork"], ("-F",))
        self.assertIn(b"failed children 0\n", t.stdout)
        kids = [c for c in by_pid.values() if "work_child" in c]
        self.assertEqual(len(kids), 32)

    def test_vfork_child_calls_carry_its_pid(self):
        """A vfork child records on its parent's slot (same TLS) while the
        parent waits: its events carry its own pid and tid, -F or not."""
        for extra in ((), ("-F",)):
            t, by_pid = check_follow(self, ["vfork"], extra)
            (child,) = [p for p, c in by_pid.items() if "work_child" in c]
            self.assertEqual({ev["tid"] for ev in t.events if ev["pid"] == child}, {child})

    def test_losses_of_every_process_and_program(self):
        """With --lossy a 4K ring drops most events: the summary counts the
        losses of the child (its own rings) and of the program it executed
        (its own function ids) under the right names: per function, events
        written plus dropped make two per call."""
        t = run_follow(self, [h.prog("s-follow"), "forkexec"],
                       ("-F", "--bufsize", "4K", "--lossy"))
        self.assertEqual(t.status, h.run_untraced("s-follow", ["forkexec"]).status)
        if not INT3:
            self.assertGreater(t.summary["dropped"], 0, "a 4K ring dropped nothing")
        self.assertEqual(t.summary["waits"], 0, "waits with --lossy")
        calls = {}
        for counts in counts_by_pid(t.stdout).values():
            for func, n in counts.items():
                calls[func] = calls.get(func, 0) + n
        drops = {d["func"]: d["dropped"] for d in t.summary["dropped_by_func"]}
        got = h.trace_counts(t.events)
        for func, n in calls.items():
            entries, exits, _ = got.get(func, [0, 0, 0])
            self.assertEqual(entries + exits + drops.get(func, 0), 2 * n, func)
        self.assertEqual(sum(drops.values()), t.summary["dropped"])
        self.assertEqual(t.summary["events"], len(t.events))

    def test_tiny_rings_of_every_process_lose_nothing(self):
        """The same 4K rings without --lossy: the parent, its child and the
        program the child executes (each with rings of its own) wait for
        room; every call of every process is traced."""
        t, _ = check_follow(self, ["forkexec"], ("-F", "--bufsize", "4K"))
        if not INT3:
            self.assertGreater(t.summary["waits"], 0, "no 4K ring filled")
            waited = {ev["pid"] for ev in t.events
                      if ev["tid"] in {d["tid"] for d in t.summary["waited_by_thread"]}}
            self.assertGreater(len(waited), 1, "only one process waited: %r" % t.summary)

    def test_child_forked_before_the_entry_point(self):
        """A library constructor forks while run's entry breakpoint is in the
        text: an unfollowed child must not die of it; a followed one is
        traced from there."""
        check_follow(self, [], name="s-ctorfork", untraced=("work_ctor_child",))
        check_follow(self, [], ("-F",), name="s-ctorfork")

    def test_signal_to_run_reaches_followed_children(self):
        """SIGTERM to `utrace run -F` (as `timeout` sends it) is forwarded to
        the followed child too: run waits for every followed process, so a
        child left running would keep it waiting."""
        out = os.path.join(h.tmpdir(self), "term.json")
        argv = [h.utrace_path(), "run", "-v", "-F"] + h.trace_argv(("work_*",), out) + [
            "--", h.prog("s-follow"), "orphan"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        att = h.Attached(proc, out)
        wait_stderr(self, att, FOLLOWING_RE)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=h.RUN_TIMEOUT)
        self.assertNotIn(b"work_child", stdout, "the child outlived SIGTERM")
        self.assertIn(h.exit_status(proc.returncode), (9, 128 + signal.SIGTERM))
        events, summary = h.parse_jsonl(self, out)
        h.check_summary_clean(self, events, summary)

    def test_posix_spawn_and_system(self):
        """posix_spawn's child and the program system()'s shell runs are
        traced; the shell itself has nothing to trace."""
        t, by_pid = check_follow(self, ["spawn"], ("-F",))
        self.assertEqual(sorted(sorted(c) for c in by_pid.values()),
                         [["work_leaf"], ["work_leaf"], ["work_parent"]])

    def test_fork_children_return_through_hijacked_frames(self):
        """s-fork forks inside a traced function: each child returns through
        the hijacked frame (one exit of work_fork_spawn), then makes its calls."""
        t = h.run_traced(self, "s-fork", extra=("-F",))
        plain = h.run_untraced("s-fork")
        mappings = re.compile(rb"tracer mappings \d+")
        self.assertEqual(mappings.sub(b"", t.stdout), mappings.sub(b"", plain.stdout))
        self.assertEqual(t.status, plain.status)
        h.check_summary_clean(self, t.events, t.summary)
        parent = {ev["pid"] for ev in t.events if ev["func"] == "work_fork_parent"}
        self.assertEqual(len(parent), 1)
        h.check_counts(self, t.events, h.prog_counts(t.stdout), pids=parent)
        children = sorted({ev["pid"] for ev in t.events} - parent)
        printed = [int(n) for n in re.findall(rb"^child \d+ count work_fork_child (\d+)$",
                                               t.stdout, re.M)]
        self.assertEqual(len(children), len(printed))
        for pid, n in zip(children, printed):
            self.assertEqual(h.trace_counts(t.events, {pid}),
                             {"work_fork_child": [n, n, 0], "work_fork_spawn": [0, 1, 0]})
        # a followed child has a data area of its own (an unfollowed one: none)
        self.assertEqual(re.findall(rb"tracer mappings (\d+)", t.stdout), [b"1"] * len(printed))
        h.check_nesting(self, t.events, orphan_exits_ok=set(children))

    def check_one_leaf_process(self, argv):
        """`run -F ARGV` as untraced; exactly one process has events: the
        s-follow leaf it runs, each of its calls traced.  Returns the run."""
        t = run_follow(self, argv, ("-F",))
        plain = h.run(argv)
        self.assertEqual(without_pids(t.stdout), without_pids(plain.stdout))
        self.assertEqual(t.status, plain.status)
        h.check_summary_clean(self, t.events, t.summary)
        (pid,) = by_pid = counts_by_pid(t.stdout)
        self.assertEqual(h.trace_counts(t.events),
                         {"work_leaf": [by_pid[pid]["work_leaf"]] * 2 + [0]})
        self.assertEqual({ev["pid"] for ev in t.events}, {pid})
        return t, plain

    def test_shell_script(self):
        """With -F the program may be a script: the shell has nothing to
        trace, the program it executes is traced."""
        script = os.path.join(h.tmpdir(self), "run-leaf.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n'%s' leaf 2\nexit $?\n" % h.prog("s-follow"))
        os.chmod(script, 0o755)
        t, _ = self.check_one_leaf_process([script])
        self.assertTrue(untraced_programs(t), t.stderr_lines())

    def test_32bit_program_followed_untraced(self):
        """A script runs an i386 program (left alone: what utrace injects is
        x86-64's), then executes s-follow, which is traced."""
        h.require(self, "i386-exec")
        elf32 = os.path.join(h.tmpdir(self), "exit32")
        h.write_elf32(elf32)
        script = os.path.join(h.tmpdir(self), "run-32.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n'%s'\necho \"exit32 $?\"\nexec '%s' leaf 2\n" %
                    (elf32, h.prog("s-follow")))
        os.chmod(script, 0o755)
        t, plain = self.check_one_leaf_process([script])
        self.assertIn(b"exit32 %d\n" % h.ELF32_STATUS, plain.stdout)
        said = [line for line in t.stderr_lines() if "not an x86-64 program" in line]
        self.assertEqual(len(said), 1, t.stderr_lines())
        self.assertIn(elf32, said[0])
        # run's own program, too
        t = run_follow(self, [elf32], ("-F",))
        self.assertEqual(t.status, h.ELF32_STATUS)
        self.assertEqual(t.events, [])
        self.assertEqual(len(t.stderr_lines()), 1, t.stderr_lines())
        self.assertIn("%s: not an x86-64 program" % elf32, t.stderr_lines()[0])

    def test_python_subprocess(self):
        """Python (untraced: nothing matches) runs s-follow through
        subprocess (vfork + exec): the exec'd child is traced exactly."""
        code = ("import subprocess, sys; "
                "sys.exit(subprocess.run([%r, 'leaf', '3']).returncode)" % h.prog("s-follow"))
        t, _ = self.check_one_leaf_process([real_python(), "-c", code])
        self.assertEqual(untraced_programs(t), [real_python()], t.stderr_lines())



class FollowAttachTest(unittest.TestCase):
    def test_attach_lets_go_at_exec_by_default(self):
        t = h.attach_traced(self, "s-follow", ["exec"])
        self.assertEqual(t.status, h.run_untraced("s-follow", ["exec"]).status)
        h.check_summary_clean(self, t.events, t.summary)
        (pid,) = counts_by_pid(t.stdout)
        self.assertEqual(h.trace_counts(t.events),
                         {"work_before": [counts_by_pid(t.stdout)[pid]["work_before"]] * 2 + [0]})
        self.assertIn("utrace: process %d executed a new program: tracing stops" % pid,
                      t.stderr_lines())

    def test_attach_follow_exec(self):
        check_follow(self, ["exec"], ("--follow-exec",), mode="attach")

    def test_attach_follow_fork_spawn_and_system(self):
        check_follow(self, ["spawn"], ("--follow-exec", "-F"), mode="attach")

    def test_attach_follow_fork_exec(self):
        check_follow(self, ["forkexec"], ("--follow-exec", "-F"), mode="attach")

    def test_detach_lets_followed_child_run_on(self):
        """SIGINT once the parent is done, while its followed child sleeps
        (s-follow orphan: 1 s before its calls): the child is cleaned and let
        go, and runs on untraced to the end; int3 probes left in it would
        kill it."""
        g = h.GatedProg(self, "s-follow", ["orphan"])
        att = h.attach(self, g.pid, extra=("-F",))
        h.wait_attached(self, g, att)
        g.proc.stdin.write(h.GATE_RELEASE)
        g.proc.stdin.flush()
        child = int(wait_stderr(self, att, FOLLOWING_RE).group(1))
        # the parent's last line: its calls are all made
        first, _ = h.read_line(g.proc.stdout, b"", h.RUN_TIMEOUT)
        events, summary = h.detach(self, att)
        out, _ = g.proc.communicate(timeout=h.RUN_TIMEOUT)
        out = first + out
        plain = h.run_untraced("s-follow", ["orphan"])
        self.assertEqual(without_pids(out), without_pids(plain.stdout))
        self.assertEqual(h.exit_status(g.proc.returncode), plain.status)
        h.check_summary_clean(self, events, summary)
        by_pid = counts_by_pid(out)
        self.assertIn(child, by_pid)
        self.assertEqual({ev["pid"] for ev in events}, set(by_pid) - {child})
        h.check_counts(self, events, by_pid[g.pid])


def wait_stderr(tc, att, regex, timeout=10):
    """Read utrace's stderr until regex matches it; the match."""
    deadline = time.monotonic() + timeout
    while not regex.search(att.err):
        chunk = h.read_chunk(att.proc.stderr, max(deadline - time.monotonic(), 0))
        if not chunk:
            tc.fail("utrace did not say %r; stderr %r" % (regex.pattern, att.err))
        att.err += chunk
    return regex.search(att.err)


if __name__ == "__main__":
    h.main()
