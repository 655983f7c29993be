#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The 5-byte fast path: a `jmp stub` over ordinary prologues, a `call` at
compiler-made entry sites, int3 where a 5-byte patch is unsafe.

Each prog is traced in run and attach mode, by default and with
--probe=int3 where that means something; counts are the prog's own,
exactly; stdout and exit status those of an untraced run; after a detach
the text equals the file.  `utrace symbols` must say which kind each
function gets."""

import os
import re
import signal
import subprocess
import time
import unittest

import harness as h

INT3 = ("--probe=int3",)
PROBE_MODES = {"default": (), "int3": INT3}
KINDS = ("jmp", "call", "int3", "refused")
FENTRY_BUILDS = ("s-fentry-pfe", "s-fentry-mcount", "s-fentry-cet")
FENTRY_CALL = ("work_fe_a", "work_fe_b", "work_fe_c", "work_fe_rec")
FENTRY_STATUS = 21
PARK_STATUS = 17
SYS_PAUSE = 34
PARK_SYSCALL_SIZE = 2  # 0f 05: a thread blocked in it has rip = F+2
WAIT = 10


# ---- utrace symbols -----------------------------------------------------------

def symbols(tc, target, glob="work_*"):
    """{func: (kind, reason or "")} from `utrace symbols TARGET GLOB`.

    A line: ADDR SIZE KIND [MODULE:]NAME [# REASON]; '#' lines are the tally."""
    res = h.run([h.utrace_path(), "symbols", str(target), glob])
    tc.assertEqual(res.status, 0, "utrace symbols %s: %r" % (target, res.stderr))
    found = {}
    for line in res.stdout.decode().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        body, _, reason = line.partition("#")
        words = body.split()
        tc.assertGreaterEqual(len(words), 4, "bad symbols line %r" % line)
        found[words[3].rsplit(":", 1)[-1]] = (words[2], reason.strip())
    return found, res.stdout.decode()


def check_kinds(tc, target, want):
    """utrace symbols says want[func] for each func; refused and int3 have a reason."""
    found, text = symbols(tc, target)
    for func, kind in want.items():
        tc.assertIn(func, found, "utrace symbols %s does not list %s:\n%s" %
                    (target, func, text))
        got, reason = found[func]
        tc.assertIn(got, KINDS, "%s: unknown probe kind %r:\n%s" % (func, got, text))
        tc.assertEqual(got, kind, "%s: probe kind in %s:\n%s" % (func, target, text))
        if kind in ("int3", "refused"):
            tc.assertTrue(reason, "%s: %s without a reason:\n%s" % (func, kind, text))
    tally = [line for line in text.splitlines() if line.startswith("#")]
    tc.assertTrue(tally, "no count by reason:\n%s" % text)
    return found


# ---- processes ------------------------------------------------------------------

def children(pid):
    kids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


def wait_child(tc, pid):
    """The one child of `utrace run` (pid): the traced prog."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        kids = children(pid)
        if kids:
            tc.assertEqual(len(kids), 1, "utrace run has several children")
            return kids[0]
        time.sleep(0.01)
    tc.fail("utrace run started no prog")


def syscall_state(tid):
    """(syscall number or None, user pc) of a thread, from /proc/TID/syscall."""
    with open("/proc/%d/syscall" % tid) as f:
        words = f.read().split()
    if not words or words[0] == "running":
        return None, None
    nr = int(words[0]) if words[0].lstrip("-").isdigit() else None
    return nr, int(words[-1], 16)


def wait_parked(tc, pid, pc=None):
    """Until pid's main thread blocks in pause(), with rip = pc if given
    (traced, it blocks in the stub's copy of the syscall)."""
    deadline = time.monotonic() + WAIT
    state = None
    while time.monotonic() < deadline:
        state = syscall_state(pid)
        if state[0] == SYS_PAUSE and pc in (None, state[1]):
            return
        time.sleep(0.01)
    tc.fail("s-park did not block in pause() at %#x: %r" % (pc, state))


def read_mem(pid, addr, n):
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        mem.seek(addr)
        return mem.read(n)


def file_bytes(path, vaddr, n):
    """n bytes of the executable segment of path at vaddr."""
    for off, seg_vaddr, filesz in h.exec_segments(path):
        if seg_vaddr <= vaddr < seg_vaddr + filesz:
            with open(path, "rb") as f:
                f.seek(off + vaddr - seg_vaddr)
                return f.read(n)
    raise AssertionError("%#x is in no executable segment of %s" % (vaddr, path))


def popen(tc, argv):
    """Popen with pipes; killed and reaped when the test ends."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def reap():
        if p.poll() is None:
            p.kill()
        p.communicate()
    tc.addCleanup(reap)
    return p


class Pid:
    """What harness.wait_attached needs of a target."""

    def __init__(self, pid):
        self.pid = pid


# ---- checks -------------------------------------------------------------------

def entry_args0(events, func):
    return [h.arg_int(ev, 0) for ev in events
            if ev["func"] == func and ev["type"] == "entry"]


def check_consecutive(tc, seqs, what):
    tc.assertTrue(seqs, "%s: no call traced" % what)
    tc.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                   "%s: traced calls are not one unbroken run" % what)


# ---- the summary table: counts of a trace too big to keep ---------------------

SUMMARY_LINE_RE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+(\S+)$")


def parse_summary_table(tc, path):
    """--format summary: {func: (calls, returns, unwound)}, {func: dropped}, dropped."""
    with open(path) as f:
        text = f.read()
    funcs, drops, dropped = {}, {}, 0
    for line in text.splitlines():
        m = SUMMARY_LINE_RE.match(line)
        if m:
            funcs[m.group(4)] = tuple(int(m.group(i)) for i in (1, 2, 3))
        elif line.startswith("# dropped by function: "):
            for part in line[len("# dropped by function: "):].split(", "):
                name, n = part.rsplit(": ", 1)
                drops[name] = int(n)
        elif re.match(r"^# \d+ events? dropped", line):
            dropped = int(line.split()[1])
        elif h.WAITS_LINE_RE.match(line):
            pass  # threads waited for room in their rings: no loss
        elif line.startswith("#") and "calls" not in line:
            tc.fail("a loss other than drops: %r" % line)
    return funcs, drops, dropped


def summary_trace(tc, mode, name, func):
    """Trace PROG (run, or attach at its gate) into a summary table.
    Returns (prog result, parse_summary_table's three)."""
    out = os.path.join(h.tmpdir(tc), name + ".summary")
    if mode == "run":
        res = h.run([h.utrace_path(), "run", "-f", func, "-o", out, "--format", "summary",
                     "--", h.prog(name)], timeout=h.TRACED_TIMEOUT)
    else:
        g = h.GatedProg(tc, name)
        att = h.attach(tc, g.pid, (func,), out, extra=("--format", "summary"))
        h.wait_attached(tc, g, att)
        res = g.release()
        err = att.communicate(h.TRACED_TIMEOUT)
        tc.assertEqual(att.proc.returncode, 0, "utrace attach: %r" % err)
    return (res,) + parse_summary_table(tc, out)


# ---- the tests ----------------------------------------------------------------

class FentryTest(unittest.TestCase):
    """Compiler-made sites get a `call`, the ordinary function a `jmp`."""

    def test_symbols_call_at_sites_jmp_elsewhere(self):
        for name in FENTRY_BUILDS:
            with self.subTest(build=name):
                want = {f: "call" for f in FENTRY_CALL}
                want["work_fe_plain"] = "jmp"
                check_kinds(self, h.prog(name), want)

    def check_fentry(self, name, mode, extra=()):
        t = h.check_traced_prog(self, name, mode=mode, extra=extra)
        self.assertEqual(h.callers(t.events)["work_fe_plain"], {"work_fe_b"})
        self.assertEqual(h.callers(t.events)["work_fe_c"], {"work_fe_b"})
        depths = [ev["depth"] for ev in t.events
                  if ev["type"] == "entry" and ev["func"] == "work_fe_rec"]
        self.assertEqual(max(depths) - min(depths), 40)

    def test_traced_exactly(self):
        for name in FENTRY_BUILDS:
            for mode in h.MODES:
                for probe, extra in PROBE_MODES.items():
                    if probe == "int3" and mode == "attach":
                        continue
                    with self.subTest(build=name, mode=mode, probe=probe):
                        self.check_fentry(name, mode, extra)

    def test_detach_restores_sites_and_prologues(self):
        """Attach, one traced phase, detach: the nops and prologues are the
        file's again and the next phase runs untraced."""
        for name in ("s-fentry-mcount", "s-fentry-cet"):
            with self.subTest(build=name):
                t = h.start_target(self, name, ("phases",))
                att = h.attach(self, t.pid)
                h.wait_attached(self, t, att)
                t.phase(1)
                events, summary = h.detach(self, att)
                h.check_untouched(self, t)
                t.phase(2)
                lines, status = t.finish()
                self.assertEqual(status, FENTRY_STATUS)
                per_phase = {f: n // 2 for f, n in
                             h.prog_counts("\n".join(lines).encode()).items()}
                h.check_summary_clean(self, events, summary)
                h.check_counts(self, events, per_phase)
                h.check_nesting(self, events)


class RegistersTest(unittest.TestCase):
    """Every register and flag survives each patch kind."""

    def test_symbols_kinds(self):
        check_kinds(self, h.prog("s-regs"), {
            "work_regs_jmp": "jmp", "work_regs_ripjcc": "jmp", "work_regs_pfe": "call",
            "work_regs_fentry": "call", "work_regs_short": "int3"})
        check_kinds(self, h.prog("s-clobber"), {"work_clobber_leaf": "jmp"})
        check_kinds(self, h.prog("s-clobber-pfe"), {"work_clobber_leaf": "call"})
        check_kinds(self, h.prog("s-clobber-mcount"), {"work_clobber_leaf": "call"})

    def test_regs_and_flags(self):
        for mode in h.MODES:
            for probe, extra in PROBE_MODES.items():
                with self.subTest(mode=mode, probe=probe):
                    t = h.check_traced_prog(self, "s-regs", mode=mode, extra=extra)
                    self.assertIn(b"corrupt 0\n", t.stdout, t.stderr)

    def test_ipa_ra_caller(self):
        builds = [("s-clobber", ()), ("s-clobber", INT3), ("s-clobber-pfe", ()),
                  ("s-clobber-mcount", ())]
        for name, extra in builds:
            for mode in h.MODES:
                with self.subTest(build=name, mode=mode, extra=extra):
                    t = h.check_traced_prog(self, name, mode=mode, extra=extra)
                    self.assertIn(b"corrupt 0\n", t.stdout)


# The busy thread of s-park calls F in a loop, some 5 M events/s with 5-byte
# patches (a thread that only calls F makes about 18 M events/s): more than
# a writer formats, so it waits for room in its ring; nothing is dropped.
# Traced per window: until the busy thread ran 2 clock ticks (some 20 ms) of CPU
# time, however long a loaded machine makes it wait for one.
BUSY_TICKS = 2


class ParkTest(unittest.TestCase):
    """A thread blocked at F+2, inside the range a jmp displaces, while
    utrace patches F."""

    def park_pc(self):
        return h.func_symbols(h.prog("s-park"))["work_park"] + PARK_SYSCALL_SIZE

    def untraced_pause(self):
        p = popen(self, [h.prog("s-park"), "pause"])
        self.assertEqual(p.stdout.readline(), b"parked\n")
        wait_parked(self, p.pid, self.park_pc())
        os.kill(p.pid, signal.SIGUSR1)
        out, err = p.communicate(timeout=h.RUN_TIMEOUT)
        return b"parked\n" + out, h.exit_status(p.returncode)

    def check_woken(self, out, status, events, summary, traced_calls):
        plain_out, plain_status = self.untraced_pause()
        self.assertEqual(out, plain_out, "stdout differs from the untraced run")
        self.assertEqual(status, plain_status)
        self.assertIn(b"signals 1\n", out)
        self.assertIn(b"bad 0\n", out)
        h.check_summary_clean(self, events, summary)
        h.check_counts(self, events, {"work_park": traced_calls})
        h.check_nesting(self, events)

    def test_attach_while_parked(self):
        for probe, extra in PROBE_MODES.items():
            with self.subTest(probe=probe):
                p = popen(self, [h.prog("s-park"), "pause"])
                self.assertEqual(p.stdout.readline(), b"parked\n")
                wait_parked(self, p.pid, self.park_pc())
                att = h.attach(self, p.pid, extra=extra)
                h.wait_attached(self, Pid(p.pid), att)
                # The stops did not end pause(): it still waits for its signal.
                self.assertEqual(syscall_state(p.pid)[0], SYS_PAUSE)
                os.kill(p.pid, signal.SIGUSR1)
                out, _ = p.communicate(timeout=h.TRACED_TIMEOUT)
                events, summary = h.attach_ended(self, att, h.RUN_TIMEOUT, "s-park's exit")
                out = b"parked\n" + out
                # The parked call began before the attach: every later one is traced.
                calls = h.prog_counts(out)["work_park"]
                self.check_woken(out, h.exit_status(p.returncode), events, summary,
                                 calls - 1)

    def test_run_parked_then_woken(self):
        out_path = os.path.join(h.tmpdir(self), "park.json")
        p = popen(self, [h.utrace_path(), "run"] + h.trace_argv(("work_*",), out_path) +
                  ["--", h.prog("s-park"), "pause"])
        self.assertEqual(p.stdout.readline(), b"parked\n")
        child = wait_child(self, p.pid)
        wait_parked(self, child)
        os.kill(child, signal.SIGUSR1)
        out, err = p.communicate(timeout=h.TRACED_TIMEOUT)
        out = b"parked\n" + out
        events, summary = h.parse_jsonl(self, out_path)
        self.check_woken(out, h.exit_status(p.returncode), events, summary,
                         h.prog_counts(out)["work_park"])

    def test_busy_attach_detach_cycles(self):
        """A thread in F's syscall at most stops: three attach/detach cycles;
        each traces one unbroken run of calls and leaves the text intact."""
        for probe, extra in PROBE_MODES.items():
            with self.subTest(probe=probe):
                t = h.start_target(self, "s-park", ("busy",))
                for cycle in range(3):
                    # --args: the call numbers are work_park's first argument
                    att = h.attach(self, t.pid, extra=extra + ("--args",))
                    h.wait_attached(self, t, att)
                    h.wait_cpu_ticks(self, t.pid, BUSY_TICKS)
                    events, summary = h.detach(self, att)
                    h.check_untouched(self, t)
                    h.check_summary_clean(self, events, summary)
                    seqs = entry_args0(events, "work_park")
                    check_consecutive(self, seqs, "cycle %d" % cycle)
                    entries, exits, unwinds = h.trace_counts(events)["work_park"]
                    # the call in flight at detach returns untraced
                    self.assertIn(exits, (entries - 1, entries), "cycle %d" % cycle)
                    self.assertEqual(unwinds, 0)
                lines, status = t.finish()
                self.assertEqual(status, PARK_STATUS, lines)
                self.assertIn("bad 0", lines)

    def test_busy_run(self):
        out_path = os.path.join(h.tmpdir(self), "busy.json")
        p = popen(self, [h.utrace_path(), "run", "--args"] +
                  h.trace_argv(("work_*",), out_path) + ["--", h.prog("s-park"), "busy"])
        self.assertEqual(p.stdout.readline(), b"ready\n")
        child = wait_child(self, p.pid)
        h.wait_cpu_ticks(self, child, BUSY_TICKS)
        os.kill(child, signal.SIGTERM)
        out, err = p.communicate(timeout=h.TRACED_TIMEOUT)
        self.assertEqual(h.exit_status(p.returncode), PARK_STATUS, err)
        self.assertIn(b"bad 0\n", out)
        events, summary = h.parse_jsonl(self, out_path)
        # a thread that does nothing but call F outruns any writer: it waits
        # for room in its ring, and every call is traced
        h.check_drops_account(self, events, summary, h.prog_counts(out))
        h.check_summary_clean(self, events, summary)
        check_consecutive(self, entry_args0(events, "work_park"), "busy run")


class VolumeTest(unittest.TestCase):
    def test_threads8_million_calls_each(self):
        """8 x 1,000,000 calls: every event recorded (the threads wait for
        room in their rings).  The summary table counts them: 16 M JSON
        lines would take longer to read than to make."""
        for mode in h.MODES:
            with self.subTest(mode=mode):
                res, funcs, drops, dropped = summary_trace(self, mode, "s-threads8",
                                                           "work_t8_leaf")
                h.check_like_untraced(self, "s-threads8", (), res)
                calls = h.prog_counts(res.stdout)["work_t8_leaf"]
                self.assertEqual(calls, 8 * 1000000)
                self.assertEqual(set(funcs), {"work_t8_leaf"}, "events of other functions")
                self.assertEqual(set(drops) - {"work_t8_leaf"}, set())
                self.assertEqual(sum(drops.values()), dropped)
                entries, exits, unwound = funcs["work_t8_leaf"]
                self.assertEqual(unwound, 0)
                self.assertEqual(entries + exits + dropped, 2 * calls,
                                 "entries %d exits %d dropped %d" % (entries, exits, dropped))
                self.assertEqual(dropped, 0, "dropped without --lossy")
                self.assertEqual((entries, exits), (calls, calls))

    def test_tiny_ring_drops_are_counted(self):
        """--lossy --bufsize 4K against a burst: drops happen, are reported,
        and recorded + dropped is exactly what the prog did, per function;
        nobody waited."""
        for mode in h.MODES:
            with self.subTest(mode=mode):
                t = h.trace_prog(self, mode, "s-burst", extra=("--bufsize", "4K", "--lossy"))
                h.check_like_untraced(self, "s-burst", (), t)
                by_func = h.check_drops_account(self, t.events, t.summary,
                                                h.prog_counts(t.stdout))
                self.assertGreater(t.summary["dropped"], 0, "a 4K ring dropped nothing")
                self.assertTrue(by_func, "no dropped_by_func entry")
                self.assertEqual((t.summary["waits"], t.summary["waited_by_thread"]), (0, []),
                                 "waits with --lossy")

    def test_tiny_ring_without_lossy_drops_nothing(self):
        """The same burst and 4K ring without --lossy: the prog waits for
        room in its ring, every call is traced."""
        for mode in h.MODES:
            with self.subTest(mode=mode):
                t = h.check_traced_prog(self, "s-burst", mode=mode, extra=("--bufsize", "4K"))
                self.assertGreater(t.summary["waits"], 0, "a 4K ring never filled")


class LiveTextTest(unittest.TestCase):
    """A function whose live bytes differ from the file is not patched."""

    def edited(self, pid):
        name = "s-live"
        addr = h.func_symbols(h.prog(name))["work_live_edited"]
        return addr + h.load_bias(pid, h.prog(name)), addr

    def test_refused_and_others_traced(self):
        for probe, extra in PROBE_MODES.items():
            with self.subTest(probe=probe):
                g = h.GatedProg(self, "s-live")
                live_addr, file_addr = self.edited(g.pid)
                edited = read_mem(g.pid, live_addr, 8)
                self.assertEqual(edited[:4], b"\x55\x48\x8b\xec", "s-live did not rewrite")
                self.assertNotEqual(edited, file_bytes(h.prog("s-live"), file_addr, 8))
                if probe == "default":
                    check_kinds(self, g.pid, {"work_live_edited": "refused",
                                              "work_live_outer": "jmp",
                                              "work_live_leaf": "jmp"})
                att = h.attach(self, g.pid, extra=extra)
                h.wait_attached(self, g, att)
                self.assertEqual(read_mem(g.pid, live_addr, 8), edited,
                                 "utrace wrote over bytes that are not the file's")
                res = g.release()
                events, summary = h.attach_ended(self, att, h.RUN_TIMEOUT, "s-live's exit")
                h.check_like_untraced(self, "s-live", (), res)
                self.assertIn(b"rewrote 2\n", res.stdout)
                counts = h.prog_counts(res.stdout)
                del counts["work_live_edited"]
                h.check_summary_clean(self, events, summary)
                h.check_counts(self, events, counts)
                h.check_nesting(self, events)
                warned = [line for line in att.err.decode(errors="replace").splitlines()
                          if "work_live_edited" in line]
                self.assertTrue(warned, "no warning names work_live_edited: %r" % att.err)


if __name__ == "__main__":
    h.main()
