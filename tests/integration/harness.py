# SPDX-License-Identifier: MIT
"""Helpers for the utrace integration tests (Python 3 standard library only).

Environment:
  UTRACE        path of the utrace executable
  UTRACE_PROGS  directory of the built target programs (tests/progs)

Every target program counts its own calls and prints `count <func> <n>`
lines; the tests compare those with the events of a traced run, exactly,
and compare the traced run's stdout and exit status with an untraced run.
"""

import ctypes
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77
RUN_TIMEOUT = 60
# A traced prog's whole run: s-longjmp alone takes up to a minute on a slow VM.
TRACED_TIMEOUT = 180
NOBODY = 65534
# Counters of the summary line that must be zero in every ordinary run.
LOSS_COUNTERS = ("dropped", "torn", "invalid", "rstack_overflow", "no_slot", "lost_return",
                 "no_tls")
EVENT_FIELDS = ("ts", "pid", "tid", "type", "func", "module", "addr", "depth")
EVENT_TYPES = ("entry", "exit", "unwind")
MAX_DEPTH = 1 << 20
ATTACH_EXIT_STATUS = 15  # s-attach's status after SIGTERM


def utrace_path():
    return os.environ["UTRACE"]


def prog(name):
    return os.path.join(os.environ["UTRACE_PROGS"], name)


# ---- skipping ---------------------------------------------------------------

def ptrace_available():
    """True when a child may be traced at all (ptrace not denied by policy)."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            if f.read().strip() == "3":
                return False
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    pid = os.fork()
    if pid == 0:
        ptrace_traceme = 0
        rc = libc.ptrace(ptrace_traceme, 0, None, None)
        os._exit(0 if rc == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def main():
    """unittest main for a test file; exit 77 when ptrace is unavailable."""
    if not ptrace_available():
        print("ptrace is not available here: skipping", file=sys.stderr)
        sys.exit(SKIP)
    if not os.access(utrace_path(), os.X_OK):
        print("utrace not found at %s" % utrace_path(), file=sys.stderr)
        sys.exit(1)
    print_capabilities(sys.stderr)
    unittest.main(verbosity=2)


# ---- what this machine has --------------------------------------------------
#
# Machines of this project's kind differ: some CPUs have FSGSBASE and some do
# not, some kernels cannot run i386 programs, user shadow stacks (CET) need a
# recent kernel built for them and a CPU that has them.  Each capability is
# probed once, here, and printed at the start of every test file; a test
# skips only when the machine lacks what it needs, and says which.

AT_HWCAP2 = 26
HWCAP2_FSGSBASE = 1 << 1
ELF32_BASE = 0x08048000
ELF32_STATUS = 7
# mov $1, %eax (exit); mov $7, %ebx; int $0x80
ELF32_CODE = bytes([0xb8, 1, 0, 0, 0, 0xbb, ELF32_STATUS, 0, 0, 0, 0xcd, 0x80])
SHSTK_UNSUPPORTED = b"shstk unsupported\n"


def auxv(key):
    """The value of an auxiliary vector entry of this process, 0 when absent."""
    with open("/proc/self/auxv", "rb") as f:
        data = f.read()
    for k, v in struct.iter_unpack("<QQ", data):
        if k == key:
            return v
    return 0


def write_elf32(path):
    """A minimal i386 program that exits with ELF32_STATUS."""
    ehsize, phsize = 52, 32
    entry = ELF32_BASE + ehsize + phsize
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    eh = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, ehsize, 0, 0, ehsize, phsize,
                             1, 0, 0, 0)
    size = ehsize + phsize + len(ELF32_CODE)
    ph = struct.pack("<IIIIIIII", 1, 0, ELF32_BASE, ELF32_BASE, size, size, 5, 0x1000)
    with open(path, "wb") as f:
        f.write(eh + ph + ELF32_CODE)
    os.chmod(path, 0o755)


def probe_i386():
    """Whether the kernel runs i386 programs (IA-32 emulation on: execve does
    not fail with ENOEXEC)."""
    d = tempfile.mkdtemp(prefix="utrace-i386-")
    try:
        path = os.path.join(d, "exit32")
        write_elf32(path)
        try:
            return subprocess.run([path], timeout=RUN_TIMEOUT).returncode == ELF32_STATUS
        except OSError:
            return False
    finally:
        shutil.rmtree(d, True)


def probe_shstk():
    """Whether s-shstk could enable a CET shadow stack (kernel and CPU)."""
    return run([prog("s-shstk")]).stdout != SHSTK_UNSUPPORTED


def probe_nobody_exec():
    """Whether user nobody can run a program from a fresh temporary directory
    (not in a chroot whose root directory only root may enter)."""
    if not is_root():
        return False
    d = tempfile.mkdtemp(prefix="utrace-nobody-")
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "true")
        shutil.copy("/bin/true", path)
        try:
            return subprocess.run([path], preexec_fn=as_nobody,
                                  timeout=RUN_TIMEOUT).returncode == 0
        except OSError:
            return False
    finally:
        shutil.rmtree(d, True)


_capabilities = {}


def capabilities():
    """{name: bool} of what this machine has, probed once."""
    if not _capabilities:
        _capabilities["fsgsbase"] = bool(auxv(AT_HWCAP2) & HWCAP2_FSGSBASE)
        _capabilities["i386-exec"] = probe_i386()
        _capabilities["user-shstk"] = probe_shstk()
        _capabilities["root"] = is_root()
        _capabilities["nobody-exec"] = probe_nobody_exec()
    return _capabilities


def print_capabilities(f):
    print("this machine: " + ", ".join("%s %s" % (cap, "yes" if have else "no")
                                       for cap, have in capabilities().items()), file=f)


WHY_LACKING = {
    "fsgsbase": "this CPU has no FSGSBASE",
    "i386-exec": "this kernel does not run i386 programs (IA-32 emulation off)",
    "user-shstk": "no CET user shadow stack here (kernel without "
                  "CONFIG_X86_USER_SHADOW_STACK, or CPU without it)",
    "root": "needs root",
    "nobody-exec": "user nobody cannot run programs from a temporary directory here (a "
                   "root directory only root may enter)",
}


def require(tc, cap):
    """Skip the test, saying why, when this machine lacks `cap`."""
    if not capabilities()[cap]:
        tc.skipTest(WHY_LACKING[cap])


# How utrace reads a thread's fs base: with rdfsbase where the CPU has
# FSGSBASE, else without (UTRACE_NO_FSGSBASE makes it behave so on any CPU).
CPU_PATHS = ("fsgsbase", "no-fsgsbase")
NO_FSGSBASE_ENV = "UTRACE_NO_FSGSBASE"


class cpu_path:
    """utrace runs down `path` inside; the FSGSBASE path skips where the CPU
    lacks it.  Each path in turn:

        for path in h.CPU_PATHS:
            with self.subTest(cpu=path), h.cpu_path(self, path):
                ...
    """

    def __init__(self, tc, path):
        assert path in CPU_PATHS
        self.tc, self.path = tc, path

    def __enter__(self):
        self.old = os.environ.pop(NO_FSGSBASE_ENV, None)
        if self.path == "fsgsbase":
            require(self.tc, "fsgsbase")
        else:
            os.environ[NO_FSGSBASE_ENV] = "1"
        return self

    def __exit__(self, *exc):
        os.environ.pop(NO_FSGSBASE_ENV, None)
        if self.old is not None:
            os.environ[NO_FSGSBASE_ENV] = self.old
        return False



def is_root():
    return os.geteuid() == 0


def as_nobody():
    """preexec_fn: drop every privilege to user and group nobody."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


# ---- running ------------------------------------------------------------------

class Result:
    def __init__(self, stdout, stderr, status):
        self.stdout = stdout
        self.stderr = stderr
        self.status = status

    def stderr_lines(self):
        return self.stderr.decode(errors="replace").splitlines()


def exit_status(returncode):
    """A shell-style status: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def run(argv, timeout=RUN_TIMEOUT, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       **kw)
    return Result(p.stdout, p.stderr, exit_status(p.returncode))


def run_untraced(name, args=()):
    return run([prog(name)] + list(args))


class Trace(Result):
    def __init__(self, result, events, summary, path):
        super().__init__(result.stdout, result.stderr, result.status)
        self.events = events
        self.summary = summary
        self.path = path


def probe_argv():
    """The probe kind the suite runs with: meson runs it once as utrace
    chooses (5-byte patches) and once with UTRACE_TEST_PROBE=int3."""
    kind = os.environ.get("UTRACE_TEST_PROBE")
    return ["--probe=" + kind] if kind else []


def trace_argv(funcs, out, fmt="json"):
    argv = probe_argv()
    for f in funcs:
        argv += ["-f", f]
    return argv + ["-o", out, "--format", fmt]


def run_traced(tc, name, args=(), funcs=("work_*",), extra=(), fmt="json"):
    """utrace run [options] -- PROG ARGS; parse the JSON output file."""
    out = os.path.join(tmpdir(tc), "%s.%s" % (name, fmt))
    argv = [utrace_path(), "run"] + trace_argv(funcs, out, fmt) + list(extra)
    argv += ["--", prog(name)] + list(args)
    res = run(argv, timeout=TRACED_TIMEOUT)
    tc.assertTrue(os.path.exists(out), "no output file; utrace stderr: %r" % res.stderr)
    if fmt != "json":
        return Trace(res, None, None, out)
    events, summary = parse_jsonl(tc, out)
    return Trace(res, events, summary, out)


def record_prog(tc, name, args=(), funcs=("work_*",)):
    """utrace record PROG ARGS into a fresh trace directory, the program
    behaving as untraced; the directory and utrace's result."""
    d = os.path.join(tmpdir(tc), "trace")
    argv = [utrace_path(), "record"] + probe_argv()
    for f in funcs:
        argv += ["-f", f]
    argv += ["-d", d, "--", prog(name)] + list(args)
    res = run(argv, timeout=TRACED_TIMEOUT)
    check_like_untraced(tc, name, args, res)
    return d, res


def tmpdir(tc):
    """A per-test temporary directory, removed when the test ends (writable by all)."""
    d = getattr(tc, "_utrace_tmp", None)
    if d is None:
        d = tempfile.mkdtemp(prefix="utrace-itest-")
        os.chmod(d, 0o777)
        tc._utrace_tmp = d
        tc.addCleanup(shutil.rmtree, d, True)
    return d


# ---- JSON Lines ---------------------------------------------------------------

def parse_jsonl(tc, path):
    """Events and the final summary object; every line must be one JSON object.

    The lines are parsed as one JSON array (one C-level call: traces have
    hundreds of thousands of lines); on failure, line by line to find the
    culprit."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        tc.fail("%s: not UTF-8 at byte %d" % (path, e.start))
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    try:
        objs = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        objs = None
    if objs is None or len(objs) != len(lines):
        for n, line in enumerate(lines, 1):
            try:
                json.loads(line)
            except ValueError as e:
                tc.fail("%s:%d: not a JSON line (%s): %r" % (path, n, e, line[:200]))
        tc.fail("%s: a line holds more than one JSON value" % path)
    tc.assertTrue(objs, "%s: empty output" % path)
    summary = objs.pop()
    tc.assertEqual(summary.get("type") if isinstance(summary, dict) else None, "summary",
                   "%s: the last line is not the summary: %r" % (path, summary))
    check_event_fields(tc, objs, path)
    return objs, summary


INCOMPLETE_WARNING = "did not finish this trace"


def dump_json(tc, d, warn=False):
    """Events and summary of `utrace dump -d D --json`, which must succeed
    silently; with warn, saying only the one line that the trace is
    incomplete (utrace did not finish it)."""
    res = run([utrace_path(), "dump", "-d", d, "--json"])
    tc.assertEqual(res.status, 0, "dump --json failed: %r" % res.stderr)
    lines = res.stderr_lines()
    if warn:
        tc.assertEqual(len(lines), 1, "expected one warning line: %r" % lines)
        tc.assertTrue(lines[0].startswith("utrace: warning: "), "bad warning: %r" % lines[0])
        tc.assertIn(INCOMPLETE_WARNING, lines[0])
    else:
        tc.assertEqual(res.stderr, b"", "dump --json said something")
    fd, path = tempfile.mkstemp(prefix="dump-", suffix=".json", dir=tmpdir(tc))
    with os.fdopen(fd, "wb") as f:
        f.write(res.stdout)
    return parse_jsonl(tc, path)


ADDR_RE = re.compile(r"0x[0-9a-f]+")


def check_event_fields(tc, events, path):
    """Fields of every event (set operations first: this sees every line)."""
    fields = frozenset(EVENT_FIELDS)
    for n, ev in enumerate(events, 1):
        if not (type(ev) is dict and ev.keys() >= fields and ev["type"] in EVENT_TYPES and
                0 <= ev["depth"] < MAX_DEPTH and ev.get("dur_ns", 0) >= 0):
            tc.fail("%s:%d: malformed event (fields %s, type in %s, depth < %d, "
                    "dur_ns >= 0): %r" % (path, n, EVENT_FIELDS, EVENT_TYPES, MAX_DEPTH, ev))
    for addr in {ev["addr"] for ev in events}:
        if not isinstance(addr, str) or not ADDR_RE.fullmatch(addr):
            tc.fail("%s: bad addr %r" % (path, addr))


def check_summary_clean(tc, events, summary):
    """Nothing lost, torn or invalid, and the event total matches; waits
    for room in full rings (no loss) add up."""
    for k in LOSS_COUNTERS:
        tc.assertEqual(summary.get(k), 0, "summary %s is not 0: %r" % (k, summary))
    tc.assertEqual(summary.get("events"), len(events),
                   "summary events != event lines: %r" % summary)
    tc.assertEqual(summary.get("dropped_by_thread"), [], summary)
    tc.assertEqual(summary.get("dropped_by_func"), [], summary)
    check_waits_account(tc, events, summary)


def load_bias(pid, path):
    """Where path's first mapping (file offset 0) starts in process pid."""
    exe = os.path.realpath(path)
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip() == exe and int(parts[2], 16) == 0:
                return int(parts[0].split("-")[0], 16)
    raise AssertionError("%s is not mapped in %d" % (exe, pid))


# ---- counting -------------------------------------------------------------------

SUMMARY_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+(\S+)$")


# The text and summary formats' line saying how long threads waited for room
# in full rings: no loss.
WAITS_LINE_RE = re.compile(r"^# threads waited \d+ times? for room in a full ring, "
                           r"\d+\.\d{3} ms in all(: tid \d+: \d+\.\d{3} ms(, tid \d+: "
                           r"\d+\.\d{3} ms)*)?$")


def summary_counts(tc, path):
    """{func: [calls, returns, unwound]} of a --format summary file (for
    millions of calls), which must report no loss: every '#' line but the
    header and the waits line (threads waited for room: no loss) is one."""
    with open(path) as f:
        lines = f.read().splitlines()
    tc.assertTrue(lines and lines[0].startswith("#") and "calls" in lines[0], lines[:1])
    counts = {}
    for line in lines[1:]:
        if WAITS_LINE_RE.match(line):
            continue
        tc.assertFalse(line.startswith("#"), "loss reported: %r" % lines)
        m = SUMMARY_LINE.match(line)
        tc.assertIsNotNone(m, "bad summary line %r" % line)
        counts[m.group(4)] = [int(m.group(i)) for i in (1, 2, 3)]
    return counts


def arg_int(ev, k):
    """Argument k of an entry as an integer: typed (a function with debug
    info: {"value": N or "0x..."}) or a raw "0x..." word."""
    a = ev["args"][k]
    v = a["value"] if isinstance(a, dict) else a
    return int(v, 16) if isinstance(v, str) else v


def prog_counts(stdout, prefix="count "):
    """{func: n} from the `count <func> <n>` lines a prog prints."""
    counts = {}
    for line in stdout.decode().splitlines():
        if line.startswith(prefix):
            func, n = line[len(prefix):].split()
            counts[func] = int(n)
    return counts


def trace_counts(events, pids=None):
    """{func: [entries, exits, unwinds]}, optionally only for the given pids."""
    counts = {}
    for ev in events:
        if pids is not None and ev["pid"] not in pids:
            continue
        c = counts.setdefault(ev["func"], [0, 0, 0])
        c[EVENT_TYPES.index(ev["type"])] += 1
    return counts


def check_counts(tc, events, expected, pids=None, allow_unwinds=False):
    """Entries = calls and exits (+ unwinds) = calls, for exactly the expected functions."""
    got = trace_counts(events, pids)
    for func, n in expected.items():
        entries, exits, unwinds = got.get(func, [0, 0, 0])
        tc.assertEqual(entries, n, "%s: %d entries, prog counted %d calls" % (func, entries, n))
        if not allow_unwinds:
            tc.assertEqual(unwinds, 0, "%s: %d unexpected unwinds" % (func, unwinds))
        tc.assertEqual(exits + unwinds, n,
                       "%s: %d exits + %d unwinds, prog counted %d calls" %
                       (func, exits, unwinds, n))
    extra = {f: c for f, c in got.items() if f not in expected and any(c)}
    tc.assertEqual(extra, {}, "events of functions the prog does not count")


def check_nesting(tc, events, orphan_exits_ok=(), strict_depth=True, open_ok=False):
    """Per thread: entries and returns nest like a stack.

    An exit or unwind closes an open entry of the same function at the same
    depth (an exit the innermost one); an entry is one deeper than the
    innermost open entry, or at the thread's base depth when none is open;
    timestamps never go backwards.  Threads in orphan_exits_ok may start
    with exits of entries made before they existed (a fork child returning
    through its parent's frames).  Without strict_depth, entry depths are
    not checked against the open entries (a signal handler that interrupts
    the recorder between its shadow-stack update and its event may see
    either depth); exits must still match the innermost open entry.  With
    open_ok, entries may be left open at the end (tracing stopped at a
    limit: a detach leaves the calls in flight open).
    """
    stacks, base, last_ts = {}, {}, {}
    for i, ev in enumerate(events):
        tid = ev["tid"]
        st = stacks.setdefault(tid, [])
        if ev["ts"] < last_ts.get(tid, 0):
            nesting_error(tc, "time went backwards", i, ev, st)
        last_ts[tid] = ev["ts"]
        key = (ev["func"], ev["depth"])
        if ev["type"] == "entry":
            if strict_depth:
                want = st[-1][1] + 1 if st else base.setdefault(tid, ev["depth"])
                if ev["depth"] != want:
                    nesting_error(tc, "entry at depth %d, expected %d" % (ev["depth"], want),
                                  i, ev, st)
            st.append(key)
        elif ev["type"] == "exit":
            if st and st[-1] == key:
                st.pop()
            elif st or tid not in orphan_exits_ok:
                nesting_error(tc, "exit does not match the innermost open entry", i, ev, st)
        elif key in st:
            del st[len(st) - 1 - st[::-1].index(key)]
        else:
            nesting_error(tc, "unwind of no open entry", i, ev, st)
    open_entries = {tid: (len(st), st[-8:]) for tid, st in stacks.items() if st}
    if open_entries and not open_ok:
        tc.fail("entries never closed by an exit or unwind, per tid (count, innermost): %r" %
                open_entries)


def check_drops_account(tc, events, summary, calls):
    """Per function, recorded + dropped events == 2 calls; the summary's
    totals agree with its per-thread and per-function lists.  Returns
    {func: dropped}."""
    for k in LOSS_COUNTERS:
        if k != "dropped":
            tc.assertEqual(summary.get(k), 0, "summary %s: %r" % (k, summary))
    tc.assertEqual(summary["events"], len(events))
    by_func = {d["func"]: d["dropped"] for d in summary["dropped_by_func"]}
    by_thread = sum(d["dropped"] for d in summary["dropped_by_thread"])
    tc.assertEqual(sum(by_func.values()), summary["dropped"], "dropped_by_func: %r" % summary)
    tc.assertEqual(by_thread, summary["dropped"], "dropped_by_thread: %r" % summary)
    tc.assertTrue(all(d["dropped"] > 0 for d in summary["dropped_by_thread"]),
                  "a thread without drops in dropped_by_thread: %r" % summary)
    got = trace_counts(events)
    tc.assertEqual(set(got) - set(calls), set(), "events of functions the prog does not count")
    for func, n in calls.items():
        entries, exits, unwinds = got.get(func, [0, 0, 0])
        tc.assertEqual(unwinds, 0, func)
        tc.assertEqual(entries + exits + by_func.get(func, 0), 2 * n,
                       "%s: %d entries + %d exits + %d dropped, prog made %d calls" %
                       (func, entries, exits, by_func.get(func, 0), n))
    return by_func


def check_waits_account(tc, events, summary):
    """The summary's waits for room in full rings agree with its per-thread
    list, which names only threads that waited, each a thread of the trace
    (a thread that executed a program is listed once per program).  Returns
    {tid: waits}."""
    by_thread = summary["waited_by_thread"]
    tids = [d["tid"] for d in by_thread]
    tc.assertTrue(all(d["waits"] > 0 for d in by_thread),
                  "a thread without waits in waited_by_thread: %r" % summary)
    tc.assertEqual(sum(d["waits"] for d in by_thread), summary["waits"],
                   "waited_by_thread: %r" % summary)
    tc.assertEqual(sum(d["wait_ns"] for d in by_thread), summary["wait_ns"],
                   "waited_by_thread: %r" % summary)
    tc.assertLessEqual(set(tids), {ev["tid"] for ev in events},
                       "waits of threads without events: %r" % summary)
    waits = {}
    for d in by_thread:
        waits[d["tid"]] = waits.get(d["tid"], 0) + d["waits"]
    return waits


def nesting_error(tc, what, i, ev, stack):
    tc.fail("%s: event %d %r; open entries of its thread (innermost last): %r" %
            (what, i, ev, stack[-8:]))


def per_tid_entries(events, func):
    counts = {}
    for ev in events:
        if ev["func"] == func and ev["type"] == "entry":
            counts[ev["tid"]] = counts.get(ev["tid"], 0) + 1
    return counts


def check_like_untraced(tc, name, args, traced):
    """Traced stdout and exit status equal an untraced run's."""
    plain = run_untraced(name, args)
    tc.assertEqual(traced.stdout, plain.stdout, "stdout differs from the untraced run")
    tc.assertEqual(traced.status, plain.status,
                   "exit status differs from the untraced run; utrace stderr: %r" %
                   traced.stderr)
    return plain


def check_error(tc, res, *words):
    """One stderr line starting "utrace: " (containing words), non-zero status."""
    lines = res.stderr_lines()
    tc.assertNotEqual(res.status, 0, "utrace succeeded: %r" % lines)
    tc.assertEqual(len(lines), 1, "expected one stderr line: %r" % lines)
    tc.assertTrue(lines[0].startswith("utrace: "), "bad error line: %r" % lines[0])
    for w in words:
        tc.assertIn(w.lower(), lines[0].lower(), "error does not name %r" % w)
    return lines[0]


# ---- ELF (little-endian ELF64 only) -----------------------------------------

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
PT_LOAD = 1
PF_X = 1
SHT_SYMTAB = 2
STT_FUNC = 2
E_MACHINE_OFFSET = 18


def elf_header(data):
    h = EHDR.unpack_from(data, 0)
    return {"machine": h[2], "phoff": h[5], "shoff": h[6], "phentsize": h[9], "phnum": h[10],
            "shentsize": h[11], "shnum": h[12]}


def exec_segments(path):
    """[(p_offset, p_vaddr, p_filesz)] of the executable PT_LOAD segments."""
    with open(path, "rb") as f:
        data = f.read()
    h = elf_header(data)
    segs = []
    for i in range(h["phnum"]):
        p_type, p_flags, off, vaddr, _, filesz, _, _ = PHDR.unpack_from(
            data, h["phoff"] + i * h["phentsize"])
        if p_type == PT_LOAD and p_flags & PF_X:
            segs.append((off, vaddr, filesz))
    return segs


def func_symbols(path):
    """{name: st_value} of the STT_FUNC symbols of .symtab."""
    with open(path, "rb") as f:
        data = f.read()
    h = elf_header(data)
    shdrs = [SHDR.unpack_from(data, h["shoff"] + i * h["shentsize"]) for i in range(h["shnum"])]
    syms = {}
    for sh in shdrs:
        if sh[1] != SHT_SYMTAB:
            continue
        str_off = shdrs[sh[6]][4]
        for pos in range(sh[4], sh[4] + sh[5], SYM.size):
            name, info, _, _, value, _ = SYM.unpack_from(data, pos)
            if info & 0xf == STT_FUNC and value:
                end = data.index(b"\0", str_off + name)
                syms[data[str_off + name:end].decode()] = value
    return syms


def text_mismatches(pid, path=None):
    """Bytes of the executable segments in /proc/PID/mem that differ from the file."""
    exe = os.path.realpath(path or "/proc/%d/exe" % pid)
    maps = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip() == exe and "x" in parts[1]:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                maps.append((lo, hi, int(parts[2], 16)))
    diff = 0
    with open(exe, "rb") as f:
        data = f.read()
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for off, _, filesz in exec_segments(exe):
            m = [mp for mp in maps if mp[2] <= off < mp[2] + (mp[1] - mp[0])]
            if not m:
                raise AssertionError("segment at offset %#x of %s not mapped" % (off, exe))
            lo, _, moff = m[0]
            mem.seek(lo + off - moff)
            live = mem.read(filesz)
            want = data[off:off + filesz]
            diff += sum(1 for a, b in zip(live, want) if a != b) + abs(len(live) - len(want))
    return diff


def cpu_ticks(pid):
    """utime + stime of every thread of process pid, in clock ticks."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        total += int(fields[11]) + int(fields[12])
    return total


def wait_cpu_ticks(tc, pid, ticks, timeout=RUN_TIMEOUT):
    """Until process pid ran `ticks` more clock ticks of CPU time: on a loaded
    machine a busy prog may wait long for a CPU."""
    deadline = time.monotonic() + timeout
    want = cpu_ticks(pid) + ticks
    while time.monotonic() < deadline:
        if cpu_ticks(pid) >= want:
            return
        time.sleep(0.01)
    tc.fail("process %d did not run %d clock ticks within %ss" % (pid, ticks, timeout))


def child_pids(pid):
    """The children of process pid (of any of its threads)."""
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass  # the thread is gone
    return found


def tracer_pid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return 0


def any_thread_stopped(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state in ("t", "T"):
            return True
    return False


def thread_letter(pid, tid):
    """The state letter of thread tid of pid, None when it is gone."""
    try:
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def thread_letters(pid):
    """The state letter of each thread of pid."""
    letters = (thread_letter(pid, tid) for tid in os.listdir("/proc/%d/task" % pid))
    return [c for c in letters if c is not None]


JOB_STOP_SETTLE = 10


def wait_job_stopped(tc, target, timeout=10):
    """Until target's group-stop has happened, as a shell sees it.  A traced
    thread is in state t at each of its ptrace stops too (a signal about to
    be delivered, the trap every thread takes at a SIGCONT, an int3): /proc
    cannot say that the job stopped, and a SIGCONT sent on its word may come
    before the stop (a handler's raise(SIGSTOP) then stops the job for good).
    The prog's parent asks waitid(WSTOPPED), which reports only the stop of
    the whole group.  Under `utrace run` utrace is the parent: every thread
    stopped while utrace's main thread (the tracer, which answers the ptrace
    stops) sleeps, JOB_STOP_SETTLE times in a row, is a group-stop utrace
    left the threads in (it answers the others at once).  Its other threads
    do not count: the live view formats at idle priority, and on a busy
    machine it stays runnable for seconds."""
    deadline = time.monotonic() + timeout
    settled = 0
    while time.monotonic() < deadline:
        if target.proc.pid == target.pid:
            res = os.waitid(os.P_PID, target.pid, os.WSTOPPED | os.WNOHANG)
            if res is not None:
                tc.assertEqual(res.si_code, os.CLD_STOPPED)
                return res.si_status
        else:
            still = (all(c in ("t", "T") for c in thread_letters(target.pid)) and
                     thread_letter(target.utrace_pid, target.utrace_pid) == "S")
            settled = settled + 1 if still else 0
            if settled >= JOB_STOP_SETTLE:
                return None
        time.sleep(0.005)
    tc.fail("process %d did not stop within %ss (threads %s)" %
            (target.pid, timeout, thread_letters(target.pid)))


# ---- attach -------------------------------------------------------------------

PIPE_CHUNK = 65536


def read_chunk(pipe, timeout):
    """What the pipe delivers within timeout seconds: the bytes, b"" at end
    of file, None when nothing came."""
    fd = pipe.fileno()
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, PIPE_CHUNK) if ready else None


def read_line(pipe, buf, timeout):
    """Read the pipe onto buf until buf holds a whole line, the pipe ends or
    timeout seconds pass.  Returns (buf, at end of file)."""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        chunk = read_chunk(pipe, max(deadline - time.monotonic(), 0))
        if not chunk:
            return buf, chunk is not None
        buf += chunk
    return buf, False


class Target:
    """A running prog whose stdout is read line by line with timeouts."""

    def __init__(self, tc, name, args=(), preexec_fn=None):
        self.tc = tc
        self.name = name
        self.proc = subprocess.Popen([prog(name)] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self.buf = b""
        self.lines = []
        tc.addCleanup(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def readline(self, timeout=10):
        self.buf, eof = read_line(self.proc.stdout, self.buf, timeout)
        if b"\n" not in self.buf:
            if eof:
                self.tc.fail("%s: stdout closed (status %r, so far %r)" %
                             (self.name, self.proc.wait(), self.buf))
            self.tc.fail("%s: no output within %ss (so far %r)" %
                         (self.name, timeout, self.buf))
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line.decode())
        return self.lines[-1]

    def expect(self, prefix, timeout=10):
        line = self.readline(timeout)
        self.tc.assertTrue(line.startswith(prefix), "%s: expected %r, got %r" %
                           (self.name, prefix, line))
        return line

    def phase(self, k):
        """Run workload phase k (SIGUSR1) and wait for it to finish."""
        os.kill(self.pid, signal.SIGUSR1)
        self.expect("phase %d done" % k)

    def finish(self):
        """SIGTERM; returns (all stdout lines, exit status)."""
        os.kill(self.pid, signal.SIGTERM)
        try:
            rest, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.tc.fail("%s did not exit on SIGTERM" % self.name)
        self.lines += (self.buf + rest).decode().splitlines()
        self.buf = b""
        return self.lines, exit_status(self.proc.returncode)


def start_target(tc, name="s-attach", args=(), preexec_fn=None):
    t = Target(tc, name, args, preexec_fn)
    t.expect("ready")
    return t


class Attached:
    """A running `utrace attach`; err holds what was read of its stderr."""

    def __init__(self, proc, out):
        self.proc = proc
        self.out = out
        self.err = b""

    def communicate(self, timeout):
        """Wait for utrace to exit; returns its whole stderr."""
        _, rest = self.proc.communicate(timeout=timeout)
        self.err += rest
        return self.err


# What `utrace attach -v` says once its probes are installed.
INSTALLED_RE = re.compile(rb"^utrace: (\d+) functions traced in process (\d+)$", re.M)
# What `utrace attach -v` says once the world runs again with its probes.
INSTALL_RE = re.compile(rb"^utrace: install: \d+ functions \((\d+) jmp, (\d+) call, (\d+) int3\)",
                        re.M)


def attach(tc, pid, funcs=("work_*",), out=None, preexec_fn=None, extra=()):
    """Start `utrace attach PID -v -f ... -o FILE --format json` (does not wait)."""
    out = out or os.path.join(tmpdir(tc), "attach-%d-%d.json" % (pid, time.monotonic_ns()))
    argv = [utrace_path(), "attach", str(pid), "-v"] + trace_argv(funcs, out) + list(extra)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=preexec_fn)

    def reap():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    tc.addCleanup(reap)
    return Attached(proc, out)


def wait_installed(tc, target, att, deadline):
    """Until utrace says it installed its probes in the target (-v)."""
    while True:
        m = INSTALLED_RE.search(att.err)
        if m:
            tc.assertEqual(int(m.group(2)), target.pid, "utrace traces another process")
            tc.assertGreater(int(m.group(1)), 0, "no function traced")
            return
        chunk = read_chunk(att.proc.stderr, max(deadline - time.monotonic(), 0))
        if chunk is None:
            tc.fail("utrace did not install its probes in time; stderr so far %r" % att.err)
        if not chunk:
            err = att.communicate(RUN_TIMEOUT)
            tc.fail("utrace attach exited with %d before installing its probes: %r" %
                    (exit_status(att.proc.returncode), err))
        att.err += chunk


def install_counts(tc, att, timeout=10):
    """{kind: n} of utrace's install line, read from its stderr."""
    deadline = time.monotonic() + timeout
    while True:
        m = INSTALL_RE.search(att.err)
        if m:
            return dict(zip(("jmp", "call", "int3"), (int(x) for x in m.groups())))
        chunk = read_chunk(att.proc.stderr, max(deadline - time.monotonic(), 0))
        if not chunk:
            tc.fail("no install line from utrace: %r" % att.err)
        att.err += chunk


def wait_attached(tc, target, att, timeout=60):
    """Until utrace traces the target, its probes are in the text and every
    thread runs again: then the next phase is traced completely.  (Under int3
    probes on a loaded machine, moments when no thread is in a trap stop can
    be rare: the timeout is generous.)"""
    deadline = time.monotonic() + timeout
    wait_installed(tc, target, att, deadline)
    settled = 0
    while time.monotonic() < deadline:
        if att.proc.poll() is not None:
            err = att.communicate(RUN_TIMEOUT)
            tc.fail("utrace attach exited with %d: %r" % (exit_status(att.proc.returncode), err))
        ready = (tracer_pid(target.pid) == att.proc.pid and text_mismatches(target.pid) > 0 and
                 not any_thread_stopped(target.pid))
        settled = settled + 1 if ready else 0
        if settled >= 3:
            return
        time.sleep(0.02)
    tc.fail("utrace did not attach within %ss" % timeout)


def wait_patched(tc, target, att, timeout=60):
    """Until utrace installed its probes: traced and the text patched.  (Not
    wait_attached: under int3 probes busy threads are nearly always in a trap
    stop, and on a loaded machine three quiet samples in a row may not come.)"""
    deadline = time.monotonic() + timeout
    wait_installed(tc, target, att, deadline)
    while time.monotonic() < deadline:
        if tracer_pid(target.pid) == att.proc.pid and text_mismatches(target.pid) > 0:
            return
        if att.proc.poll() is not None:
            tc.fail("utrace attach exited with %d: %r" %
                    (exit_status(att.proc.returncode), att.communicate(RUN_TIMEOUT)))
        time.sleep(0.01)
    tc.fail("utrace did not patch within %ss" % timeout)


def detach(tc, att, timeout=60):
    """SIGINT utrace; it must exit 0.  Returns (events, summary)."""
    att.proc.send_signal(signal.SIGINT)
    return attach_ended(tc, att, timeout, "SIGINT")


def attach_ended(tc, att, timeout, cause):
    """utrace must exit 0 within timeout seconds of cause.  Returns (events, summary)."""
    try:
        err = att.communicate(timeout)
    except subprocess.TimeoutExpired:
        tc.fail("utrace did not exit within %ss of %s" % (timeout, cause))
    tc.assertEqual(att.proc.returncode, 0, "utrace attach exit status; stderr %r" % err)
    return parse_jsonl(tc, att.out)


def check_untouched(tc, target):
    """No tracer, and the text in memory equals the file's bytes."""
    tc.assertEqual(tracer_pid(target.pid), 0, "still traced")
    tc.assertEqual(text_mismatches(target.pid), 0, "text differs from the file")


# ---- attach from the first call ------------------------------------------------

# Set, it holds a prog before main (tests/progs/attach-gate.h).
GATE_ENV = "UTRACE_TEST_ATTACH_GATE"
GATE_RELEASE = b"g"


class GatedProg:
    """A prog held at its attach gate: it has made no traced call yet."""

    def __init__(self, tc, name, args=()):
        self.tc = tc
        self.name = name
        env = dict(os.environ)
        env[GATE_ENV] = "1"
        self.proc = subprocess.Popen([prog(name)] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        tc.addCleanup(self.kill)
        err, _ = read_line(self.proc.stderr, b"", RUN_TIMEOUT)
        line, _, self.err = err.partition(b"\n")
        tc.assertEqual(line.decode(errors="replace"), "gate %d" % self.pid,
                       "%s: no gate line on stderr (status %r)" % (name, self.proc.poll()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def release(self, timeout=TRACED_TIMEOUT):
        """Open the gate and wait for the prog to exit, reading its output
        meanwhile.  Returns its Result (stderr after the gate line)."""
        try:
            out, err = self.proc.communicate(GATE_RELEASE, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.tc.fail("%s did not exit within %ss of its gate opening" %
                         (self.name, timeout))
        return Result(out, self.err + err, exit_status(self.proc.returncode))


def attach_traced(tc, name, args=(), funcs=("work_*",), extra=()):
    """Start PROG held at its gate, `utrace attach` it, open the gate once the
    probes are in: every call is traced.  utrace must exit 0 by itself when
    the prog exits; the Trace has the prog's stdout and status and utrace's
    stderr followed by the prog's."""
    g = GatedProg(tc, name, args)
    att = attach(tc, g.pid, funcs, extra=extra)
    wait_attached(tc, g, att)
    res = g.release()
    events, summary = attach_ended(tc, att, RUN_TIMEOUT, "the exit of " + name)
    res.stderr = att.err + res.stderr
    return Trace(res, events, summary, att.out)


# ---- whole checks -------------------------------------------------------------

def callers(events):
    """{func: {innermost open function at its entries (None at the bottom)}} per thread."""
    stacks, found = {}, {}
    for ev in events:
        st = stacks.setdefault(ev["tid"], [])
        if ev["type"] == "entry":
            found.setdefault(ev["func"], set()).add(st[-1] if st else None)
            st.append(ev["func"])
        elif ev["func"] in st:
            del st[len(st) - 1 - st[::-1].index(ev["func"])]
    return found


MODES = ("run", "attach")


def trace_prog(tc, mode, name, args=(), funcs=("work_*",), extra=()):
    """Trace every call of PROG: `utrace run` it, or attach to it at its gate;
    extra: more utrace options."""
    tc.assertIn(mode, MODES)
    if mode == "run":
        return run_traced(tc, name, args, funcs, extra)
    return attach_traced(tc, name, args, funcs, extra)


def check_traced_prog(tc, name, args=(), funcs=("work_*",), allow_unwinds=False,
                      strict_depth=True, same_stdout=True, mode="run", extra=()):
    """The standard check: trace PROG, compare with an untraced run, compare
    the prog's own counts with the events exactly, check nesting and that
    nothing was lost.  Returns the trace."""
    t = trace_prog(tc, mode, name, args, funcs, extra)
    if same_stdout:
        check_like_untraced(tc, name, args, t)
    else:
        tc.assertEqual(t.status, run_untraced(name, args).status,
                       "exit status differs from the untraced run; stderr %r" % t.stderr)
    check_summary_clean(tc, t.events, t.summary)
    check_counts(tc, t.events, prog_counts(t.stdout), allow_unwinds=allow_unwinds)
    check_nesting(tc, t.events, strict_depth=strict_depth)
    modules = {ev["module"] for ev in t.events}
    tc.assertEqual(modules, {name}, "module of main-executable functions")
    return t


def check_unharmed(tc, target, phase):
    """After utrace is gone: untraced, text intact, phase `phase` runs, and
    SIGTERM ends it normally with a reader that never saw EINTR.  Returns
    the prog's counts per phase."""
    check_untouched(tc, target)
    target.phase(phase)
    lines, status = target.finish()
    tc.assertEqual(status, ATTACH_EXIT_STATUS, "s-attach exit status; stdout %r" % lines)
    tc.assertIn("reader eintr 0", lines)
    counts = prog_counts("\n".join(lines).encode())
    return {f: n // phase for f, n in counts.items()}



# ---- each prog's expectations, traced in either mode ------------------------------

def check_chain(tc, mode):
    t = check_traced_prog(tc, "s-chain", mode=mode)
    tc.assertEqual(callers(t.events),
                   {"work_a": {None}, "work_b": {"work_a"}, "work_c": {"work_b"}})
    for ev in t.events:
        if ev["type"] == "exit":
            tc.assertIn("dur_ns", ev, "exit without dur_ns: %r" % ev)


def check_addresses(tc, name, mode):
    """Every event's addr is its function's symbol address plus one load
    bias; returns the bias."""
    t = check_traced_prog(tc, name, mode=mode)
    syms = func_symbols(prog(name))
    biases = {int(ev["addr"], 16) - syms[ev["func"]] for ev in t.events}
    tc.assertEqual(len(biases), 1, "functions moved by different biases")
    return biases.pop()


def check_pie(tc, mode):
    bias = check_addresses(tc, "s-pie", mode)
    tc.assertNotEqual(bias, 0, "a PIE runs at a load bias")
    tc.assertEqual(bias % 4096, 0)


def check_nopie(tc, mode):
    tc.assertEqual(check_addresses(tc, "s-nopie", mode), 0)


def check_heavy_stdout(tc, mode):
    t = check_traced_prog(tc, "s-stdout", mode=mode)
    tc.assertGreater(len(t.stdout), 1 << 20)


def check_children(tc, t, parent_func, child_func):
    """Events of the parent match its counts; children are traced all or
    none, and then exactly what each child counted."""
    parent = {ev["pid"] for ev in t.events if ev["func"] == parent_func}
    tc.assertEqual(len(parent), 1, "events of %s from several pids" % parent_func)
    check_counts(tc, t.events, prog_counts(t.stdout), pids=parent)
    child_counts = sorted(int(line.split()[-1]) for line in t.stdout.decode().splitlines()
                          if line.startswith("child ") and " count %s " % child_func in line)
    others = {ev["pid"] for ev in t.events} - parent
    traced = sorted(per_tid_entries([ev for ev in t.events if ev["pid"] in others],
                                    child_func).values())
    if traced:
        tc.assertEqual(traced, child_counts, "per-child %s entries" % child_func)
    for pid in others:
        for func, (entries, exits, unwinds) in trace_counts(t.events, {pid}).items():
            if func == child_func:
                tc.assertEqual((exits, unwinds), (entries, 0), "child %s returns" % func)
            else:
                # at most the return from the frame that forked it
                tc.assertEqual((entries, unwinds), (0, 0), "child events of " + func)
                tc.assertLessEqual(exits, 1, "child exits of " + func)
    check_nesting(tc, t.events, orphan_exits_ok=others)


def check_prog_with_children(tc, mode, name, parent_func, child_func):
    t = trace_prog(tc, mode, name)
    check_like_untraced(tc, name, (), t)
    check_summary_clean(tc, t.events, t.summary)
    check_children(tc, t, parent_func, child_func)


def check_fork(tc, mode):
    check_prog_with_children(tc, mode, "s-fork", "work_fork_parent", "work_fork_child")


def check_spawn(tc, mode):
    check_prog_with_children(tc, mode, "s-spawn", "work_spawn_posix", "work_spawn_child")


def check_threads(tc, mode):
    t = check_traced_prog(tc, "s-threads", mode=mode)
    printed = sorted(int(line.split()[-1]) for line in t.stdout.decode().splitlines()
                     if re.match(r"thread \d+ work_thread_outer ", line))
    per_tid = per_tid_entries(t.events, "work_thread_outer")
    tc.assertEqual(sorted(per_tid.values()), printed)
    tc.assertEqual(per_tid, per_tid_entries(t.events, "work_thread_inner"))


def check_recursion(tc, mode):
    t = check_traced_prog(tc, "s-recursion", mode=mode)
    depths = [ev["depth"] for ev in t.events if ev["type"] == "entry"]
    tc.assertEqual(max(depths) - min(depths), 10000)


# s-longjmp makes 600,000 events in some 50 ms, more than the default ring
# holds: it waits for room in its ring (nothing is dropped).
def check_longjmp(tc, mode):
    t = check_traced_prog(tc, "s-longjmp", allow_unwinds=True, mode=mode)
    jumps = int(re.search(rb"^longjmps (\d+)$", t.stdout, re.M).group(1))
    counts = trace_counts(t.events)
    calls = prog_counts(t.stdout)
    for func in ("work_lj_outer", "work_lj_middle", "work_lj_inner"):
        tc.assertEqual(counts[func], [calls[func], calls[func] - jumps, jumps], func)


def check_tailcall(tc, mode):
    t = check_traced_prog(tc, "s-tailcall", mode=mode)
    tc.assertEqual(callers(t.events), {
        "work_tail_a": {None}, "work_tail_b": {"work_tail_a"},
        "work_tail_c": {"work_tail_b"}, "work_tail_leaf": {"work_tail_c"}})


def check_clobber(tc, mode):
    t = check_traced_prog(tc, "s-clobber", mode=mode)
    tc.assertIn(b"corrupt 0\n", t.stdout)


def check_signal_raise(tc, mode):
    t = check_traced_prog(tc, "s-signal", mode=mode)
    tc.assertEqual(callers(t.events), {
        "work_sig_body": {None}, "work_sig_handler": {"work_sig_body"},
        "work_sig_leaf": {"work_sig_body", "work_sig_handler"}})


def check_signal_timer(tc, mode, how):
    """s-signal timer|altstack: handlers land anywhere; counts vary."""
    t = check_traced_prog(tc, "s-signal", (how,), strict_depth=False, same_stdout=False,
                          mode=mode)
    tc.assertIn(b"signals ok\n", t.stdout)
