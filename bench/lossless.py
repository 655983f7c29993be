#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Every event kept: what recording everything costs, against uftrace.

usage: bench/lossless.py [--utrace PATH] [--rounds 5] [--repeat 1] [--seed 1]
                         [--calls 2000000] [--threads 8]
                         [--thread-calls 200000] [--int3-calls 2000]
                         [--events 100000000] [--mem-rounds 1] [--keep]

Builds bench/bench-calls.c (`cc -O2 -g`), bench/bench-threads.c
(`cc -O2 -g -pthread`) and bench/rss-of.c (`cc -O2`), and measures, in one
run, the targets of the "Every event kept" issue that concern recording:

1. Wall time of the whole command, 2 M calls of one function, every event
   kept (utrace's default options: a full ring makes the thread wait):
     untraced           bench-calls N
     utrace record      utrace record -d D -f bench_target -- bench-calls N
     utrace run --json  utrace run -f bench_target --json -o T bench-calls N
     uftrace            uftrace record -d D -P bench_target bench-calls N
   Target: utrace record <= 1/2 of uftrace, on the medians; utrace run
   --json (every event formatted as it comes) is shown for information.
2. Bytes an event takes in the ring, measured: utrace run --bufsize 4K
   --lossy -f leaf --json -- bench-threads --gate 1 K; once the program is
   at its gate, utrace is stopped (SIGSTOP), the program makes its 2 K
   calls of leaf (4 K events), then utrace continues.  Nothing drained the
   ring meanwhile, so it held all it could: bytes per event = 4096 / events
   recorded.  Target <= 16 without --args/--retval; --retval and --args
   are measured the same way.  Beside it, for information, the bytes per
   event on disk of the utrace record row: its trace's events file (headers
   included) / the events utrace info counts.
3. T threads x C calls of mid(), each calling leaf() twice (8 x 200,000):
     threads untraced            bench-threads T C
     threads utrace record       utrace record -d D -f mid -f leaf
                                   -- bench-threads T C
     threads uftrace             uftrace record -d D -P mid -P leaf
                                   bench-threads T C
     threads int3 utrace record  utrace record --probe=int3 ...
                                   bench-threads T 2000
   The trace must hold exactly the calls the program counted, with both
   probe kinds; the table shows the summary's waits and wait_ns.
4. Peak memory of utrace record over --events events (100 M: bench-calls
   50 M; the trace, some 1.6 GB, goes to the scratch directory and is
   deleted after the check): ru_maxrss from wait4() in rss-of, a small C
   program that forks and execs the command (Python's own wait4() would
   report at least Python's peak: see rss-of.c); target <= 256 MiB.  The
   trace is checked by utrace info only (events = 2 N, none dropped, torn
   or invalid, complete).  One round by default (--mem-rounds).
Every command runs under rss-of, so the table has a maxrss column too.

Rows 1 and 3 run interleaved: every round runs each row --repeat times
(default once) in a shuffled order, the fastest correct run counts (a run
that is not exact is never timed); the table shows medians over the rounds.
Correctness (untimed, after each run): every utrace run exits 0 and prints
the untraced checksum; a recorded trace's utrace info says events = the
events the program made, none dropped, torn or invalid, complete; the JSON
Lines (of utrace run --json, or of utrace dump --json -o FILE of a recorded
trace) end in a summary that says events = the events the program made and
no loss, and hold exactly that many entry and exit events per function;
every uftrace run exits 0 and `uftrace report` counts the calls.  Recorded
traces and their dumps are deleted once checked, unless --keep.  A failure
prints a WARNING line and makes the exit status 1; a missed target prints
MISS.
"""

import argparse
import os
import random
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

from benchlib import (add_common_args, scratch_dir, BENCH_DIR, KIB_PER_MIB,
                      LOSS_KEYS, RSS_SOURCE, TARGET, Uftrace, Untraced, Utrace,
                      build,
                      count_events, count_trace, find_utrace, finish,
                      info_count, info_problems, load_line, machine_line,
                      open_child_dir,
                      read_checksum, read_maxrss, run_waited, stderr_tail,
                      stderr_text, summary_problems, uftrace_problems,
                      unknown_option, utrace_info, utrace_version, vm_hwm_kib,
                      warn)

# Targets of the issue; never loosen them here.
WALL_RATIO = 1 / 2
REC_MAX_BYTES = 16
PEAK_MAX_MIB = 256

THREADS_SOURCE = os.path.join(BENCH_DIR, "bench-threads.c")
THREAD_FUNCS = ("mid", "leaf")
LEAF_PER_MID = 2

# The ring of the record-size measurement, and the calls of mid() that fill
# it: 2 K leaf calls, 4 K events, far more than 4 KiB of records of any size.
RING = "4K"
RING_BYTES = 4096
GATE_CALLS = 1000
READY_TIMEOUT = 60   # s for utrace to start the program up to its gate
STOP_TIMEOUT = 5     # s for SIGSTOP to stop every thread of utrace
BURST_TIMEOUT = 10   # s for the burst while utrace is stopped
EXIT_TIMEOUT = 120   # s for utrace to drain and exit once continued
RECORD_OPTIONS = (("no --args/--retval", []), ("--retval", ["--retval"]),
                  ("--args", ["--args"]))

# The events file of a trace directory: 16 bytes an event (without
# --args/--retval) after a file header and a header per chunk.
EVENTS_FILE = "events"
TRACE_EVENT_BYTES = 16
# Disk space the memory row leaves free when it records its trace.
DISK_RESERVE = 2 << 30
DISK_MARGIN = 1.25
MEM_POLL_S = 0.05

# ---- what bench-threads counts -----------------------------------------------

def program_calls(text, func):
    """The calls of @func that bench-threads counted itself."""
    for line in text.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "calls" and f[1] == func:
            return int(f[2])
    return None


# ---- recorded traces ---------------------------------------------------------



class Recorded:
    """A row timed on `utrace record -d D`.  Its trace is checked after the
    run, untimed: by `utrace info`, and by `utrace dump --json -o FILE`,
    whose lines are those `utrace run --json` writes, counted the same way.
    The trace and the dump are deleted once checked, unless --keep."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data = os.path.join(self.dir, "utrace.data")
        self.dump = os.path.join(self.dir, "dump.json")
        self.keep = False
        self.disk = []  # (bytes of the events file, events) of each check

    def record_argv(self, funcs, prog):
        return ([self.utrace, "record"] + self.options + ["-d", self.data] +
                sum((["-f", f] for f in funcs), []) + ["--"] + prog)

    def prepare(self, n):
        self.remove()

    def remove(self):
        shutil.rmtree(self.data, ignore_errors=True)
        if os.path.exists(self.dump):
            os.unlink(self.dump)

    def check_record(self, want):
        """Problems of the trace against @want, {function: calls}."""
        try:
            problems = self.check_info(want) + self.check_dump(want)
        finally:
            if not self.keep:
                self.remove()
        return ["%s %s" % (self.name, p) for p in problems]

    def check_info(self, want):
        info = utrace_info(self.utrace, self.data)
        events_file = os.path.join(self.data, EVENTS_FILE)
        if not isinstance(info, str) and info_count(info, "events") and \
                os.path.exists(events_file):
            self.disk.append((os.path.getsize(events_file),
                              info_count(info, "events")))
        return info_problems(info, 2 * sum(want.values()))

    def check_dump(self, want):
        res = subprocess.run([self.utrace, "dump", "-d", self.data, "--json",
                              "-o", self.dump], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        if res.returncode != 0:
            return ["utrace dump --json exited with status %d: %s" % (
                res.returncode, " | ".join(res.stderr.splitlines()[-3:]))]
        c = count_events(self.dump, tuple(want))
        self.summary = c["summary"]
        problems = ["dump " + p for p in
                    summary_problems(c["summary"], 2 * sum(want.values()))]
        for f, n in want.items():
            e, x = c[(f, "entry")], c[(f, "exit")]
            if (e, x) != (n, n):
                problems.append("dump has %d entry and %d exit events of %s, "
                                "the program made %d calls" % (e, x, f, n))
        if c["other"]:
            problems.append("dump has %d other lines" % c["other"])
        return problems


# ---- the rows of the interleaved rounds --------------------------------------

class CallsUntraced(Untraced):
    name = "untraced"


class CallsRecord(Recorded, Utrace):
    """utrace record -d D -f bench_target -- bench-calls N: the target."""

    name = "utrace record"

    def argv(self, n):
        return self.record_argv([TARGET], [self.exe, str(n)])

    def check(self, n, out):
        return self.check_record({TARGET: n})


class CallsRun(Utrace):
    """utrace run -f bench_target --json -o T bench-calls N: every event
    formatted as it comes, for information."""

    name = "utrace run --json"

    def argv(self, n):
        return ([self.utrace, "run"] + self.options +
                ["-f", TARGET, "--json", "-o", self.trace, self.exe, str(n)])

    def check(self, n, out):
        if not os.path.exists(self.trace):
            return ["%s wrote no trace %s" % (self.name, self.trace)]
        c = count_trace(self.trace, TARGET)
        self.summary = c["summary"]
        problems = ["%s %s" % (self.name, p)
                    for p in summary_problems(c["summary"], 2 * n)]
        if (c["entry"], c["exit"], c["other"]) != (n, n, 0):
            problems.append("%s trace of N=%d has %d entry and %d exit events "
                            "of %s, %d other lines" % (
                                self.name, n, c["entry"], c["exit"], TARGET,
                                c["other"]))
        return problems


class Threads:
    """bench-threads T C: argv(n) runs n = C calls of mid() per thread."""

    def threads_argv(self, n):
        return [self.exe, str(self.nthreads), str(n)]

    def want(self, n):
        return {"mid": self.nthreads * n, "leaf": LEAF_PER_MID * self.nthreads * n}


class ThreadsUntraced(Threads, Untraced):
    name = "threads untraced"

    def __init__(self, exe, tmp, nthreads):
        self.nthreads = nthreads
        super().__init__(exe, tmp)

    def argv(self, n):
        return self.threads_argv(n)


class ThreadsRecord(Threads, Recorded, Utrace):
    name = "threads utrace record"

    def __init__(self, exe, tmp, utrace, nthreads, options=(), name=None):
        self.nthreads = nthreads
        super().__init__(exe, tmp, utrace, options, name)

    def argv(self, n):
        return self.record_argv(THREAD_FUNCS, self.threads_argv(n))

    def check(self, n, out):
        want = self.want(n)
        problems = []
        for f in THREAD_FUNCS:
            ran = program_calls(out, f)
            if ran != want[f]:
                problems.append("%s: the program counted %s calls of %s, not "
                                "%d" % (self.name, ran, f, want[f]))
        return problems + self.check_record(want)


class ThreadsUftrace(Threads, Uftrace):
    name = "threads uftrace"

    def __init__(self, exe, tmp, nthreads):
        self.nthreads = nthreads
        super().__init__(exe, tmp)

    def argv(self, n):
        return (["uftrace", "record", "-d", self.data] +
                sum((["-P", f] for f in THREAD_FUNCS), []) +
                self.threads_argv(n))

    def check(self, n, out):
        return uftrace_problems(self.name, self.data, self.want(n))


def make_rows(calls_exe, threads_exe, tmp, utrace, args):
    u = utrace or "utrace"
    rows = [
        (CallsUntraced(calls_exe, tmp), args.calls),
        (CallsRecord(calls_exe, tmp, u), args.calls),
        (CallsRun(calls_exe, tmp, u), args.calls),
        (Uftrace(calls_exe, tmp), args.calls),
        (ThreadsUntraced(threads_exe, tmp, args.threads), args.thread_calls),
        (ThreadsRecord(threads_exe, tmp, u, args.threads), args.thread_calls),
        (ThreadsUftrace(threads_exe, tmp, args.threads), args.thread_calls),
        (ThreadsRecord(threads_exe, tmp, u, args.threads, ["--probe=int3"],
                       "threads int3 utrace record"), args.int3_calls),
    ]
    for cfg, n in rows:
        cfg.n = n
        cfg.summary = None
        cfg.keep = args.keep
    return [cfg for cfg, _ in rows]


def describe_n(cfg):
    if isinstance(cfg, Threads):
        return "%d x %d" % (cfg.nthreads, cfg.n)
    return "%d" % cfg.n


def run_problems(cfg, n, text, rc):
    if rc != 0:
        return ["%s exited with status %d: %s" % (cfg.name, rc,
                                                  stderr_tail(cfg))]
    found = read_checksum(text)
    if cfg.checksum is not None and found != cfg.checksum:
        return ["%s printed checksum %s, the untraced run %s" % (
            cfg.name, found, cfg.checksum)]
    return cfg.check(n, text)


def untraced_checksum(argv):
    res = subprocess.run(argv, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("lossless: %s exited with status %d" % (shlex.join(argv),
                                                         res.returncode))
    return read_checksum(res.stdout)


class Results:
    def __init__(self, configs):
        self.walls = {c.name: [] for c in configs}
        self.rss = {c.name: [] for c in configs}
        self.waits = {c.name: [] for c in configs}
        self.wait_ms = {c.name: [] for c in configs}
        self.checked = {c.name: [0, 0] for c in configs}


def measure(configs, usable, args, rss_of):
    """Interleaved rounds: every row --repeat times per round, shuffled; the
    fastest correct run of a row in a round counts: a run that failed, lost
    events or miscounted them is not timed.
    A row whose utrace lacks an option is dropped at its first run with the
    reason as its note."""
    rng = random.Random(args.seed)
    res = Results(configs)
    active = list(usable)
    for r in range(args.rounds):
        jobs = [cfg for cfg in active] * args.repeat
        rng.shuffle(jobs)
        best = {}
        for cfg in jobs:
            if cfg not in active:
                continue
            secs, text, rc, rss = run_waited(rss_of, cfg, cfg.n)
            if rc != 0 and isinstance(cfg, Utrace):
                bad = unknown_option(stderr_text(cfg))
                if bad:
                    cfg.note = "n/a: this utrace lacks %s (%s)" % (
                        " ".join(cfg.options) or "an option", bad)
                    active.remove(cfg)
                    continue
            cfg.summary = None
            problems = run_problems(cfg, cfg.n, text, rc)
            res.checked[cfg.name][0] += 1
            for p in problems:
                warn("round %d: %s" % (r + 1, p))
            if not problems:
                res.checked[cfg.name][1] += 1
            s = cfg.summary or {}
            if problems:
                continue  # the time of a run that was not exact means nothing
            if cfg.name not in best or secs < best[cfg.name][0]:
                best[cfg.name] = (secs, rss, s.get("waits"), s.get("wait_ns"))
        for cfg in active:
            if cfg.name not in best:
                continue
            secs, rss, waits, wait_ns = best[cfg.name]
            res.walls[cfg.name].append(secs)
            if rss is not None:
                res.rss[cfg.name].append(rss)
            if waits is not None:
                res.waits[cfg.name].append(waits)
                res.wait_ms[cfg.name].append(wait_ns / 1e6)
        print("round %d/%d: %s" % (r + 1, args.rounds, ", ".join(
            "%s %s" % (c.name, "%.3f s" % best[c.name][0] if c.name in best
                       else "failed") for c in active)), flush=True)
    return res


# ---- bytes per event in the ring ---------------------------------------------

class LineReader:
    """Lines of an unbuffered pipe, with a timeout, nothing hidden in a buffer."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.buf = b""
        self.eof = False

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            data = os.read(self.fd, 4096)
            self.eof = not data
            self.buf += data
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def rest(self):
        while not self.eof:
            data = os.read(self.fd, 65536)
            self.eof = not data
            self.buf += data
        return self.buf.decode(errors="replace")


def all_stopped(pid):
    """True when every thread of @pid is in the stopped state (T)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
        for tid in tids:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state != "T":
                return False
    except (OSError, IndexError):
        return False
    return True


def wait_stopped(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all_stopped(pid):
            return True
        time.sleep(0.001)
    return False


def ring_records(utrace, exe, tmp, label, options):
    """{records, dropped, bytes} that one 4 KiB ring held, or {"na": why}.

    The program waits at its gate; utrace is stopped with SIGSTOP (all its
    threads), the program makes its calls, utrace is continued.  With
    --lossy the full ring drops instead of waiting, so the program never
    needs utrace meanwhile; what utrace then drains is what the ring held."""
    d = os.path.join(tmp, "ring " + label).replace(" ", "_")
    os.makedirs(d, exist_ok=True)
    trace = os.path.join(d, "trace.json")
    err_path = os.path.join(d, "stderr")
    argv = ([utrace, "run", "--bufsize", RING, "--lossy"] + options +
            ["-f", "leaf", "--json", "-o", trace, "--", exe, "--gate", "1",
             str(GATE_CALLS)])
    with open(err_path, "w") as err:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=err, cwd=d,
                             bufsize=0)
    out = LineReader(p.stdout)
    why = None
    try:
        if out.line(READY_TIMEOUT) != "ready":
            why = "the program never reached its gate"
        else:
            os.kill(p.pid, signal.SIGSTOP)
            if not wait_stopped(p.pid, STOP_TIMEOUT):
                why = "utrace did not stop within %d s of SIGSTOP" % STOP_TIMEOUT
            try:
                p.stdin.write(b"go\n")
            except BrokenPipeError:
                why = why or "the program ended at its gate"
            if not why and out.line(BURST_TIMEOUT) != "burst done":
                why = ("the program did not finish its calls while utrace "
                       "was stopped (it waited for utrace?)")
    finally:
        try:
            os.kill(p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
    text = out.rest()
    try:
        rc = p.wait(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
        warn("ring %s: utrace did not exit within %d s; killed" % (
            label, EXIT_TIMEOUT))
        return {"na": "utrace did not exit"}
    with open(err_path) as f:
        err_text = f.read()
    if rc != 0:
        bad = unknown_option(err_text)
        if bad:
            return {"na": "this utrace lacks %s (%s)" % (
                " ".join(["--bufsize", RING, "--lossy"] + options), bad)}
        warn("ring %s: utrace exited with status %d: %s" % (
            label, rc, " | ".join(err_text.splitlines()[-3:])))
        return {"na": "utrace failed"}
    if why:
        warn("ring %s: %s" % (label, why))
        return {"na": why}
    c = count_events(trace, ("leaf",))
    s = c["summary"]
    leaf = program_calls(text, "leaf")
    if s is None or leaf is None:
        warn("ring %s: no summary in the trace or no calls from the program"
             % label)
        return {"na": "no summary"}
    recorded = c[("leaf", "entry")] + c[("leaf", "exit")]
    if recorded != s.get("events") or c["other"]:
        why = ("the trace holds %d events of leaf and %d other lines, its "
               "summary says %s events" % (recorded, c["other"],
                                           s.get("events")))
        warn("ring %s: %s" % (label, why))
        return {"na": why}
    if recorded + s.get("dropped", 0) != 2 * leaf:
        why = ("%d events recorded + %d dropped, the program made %d"
               % (recorded, s.get("dropped", 0), 2 * leaf))
        warn("ring %s: %s" % (label, why))
        return {"na": why}
    losses = ["%s %s" % (k, s[k]) for k in LOSS_KEYS
              if k != "dropped" and s.get(k)]
    if losses:
        why = "summary: " + ", ".join(losses)
        warn("ring %s: %s" % (label, why))
        return {"na": why}
    if not s.get("dropped"):
        return {"na": "the ring never filled (%d events recorded)" % recorded}
    if not recorded:
        return {"na": "nothing recorded"}
    return {"records": recorded, "dropped": s["dropped"],
            "bytes": RING_BYTES / recorded}


def measure_records(utrace, exe, tmp):
    if not utrace:
        return {label: {"na": "utrace not found"} for label, _ in RECORD_OPTIONS}
    return {label: ring_records(utrace, exe, tmp, label, opts)
            for label, opts in RECORD_OPTIONS}


# ---- peak memory -------------------------------------------------------------

def memory_room(tmp, events):
    """None when the disk holds the memory row's trace with room to spare,
    else why not."""
    need = events * TRACE_EVENT_BYTES * DISK_MARGIN
    free = shutil.disk_usage(tmp).free
    if free - need >= DISK_RESERVE:
        return None
    return "only %.1f GB free in %s, the trace takes about %.1f GB" % (
        free / 1e9, tmp, need / 1e9)


def run_polled(rss_of, argv, d):
    """Run @argv under rss-of in @d, polling the VmHWM of rss-of's child
    (utrace alone); return (seconds, returncode, maxrss KiB or None,
    VmHWM KiB, stdout text, stderr text)."""
    rss_path = os.path.join(d, "maxrss")
    with open(os.path.join(d, "stdout"), "w") as out, \
            open(os.path.join(d, "stderr"), "w") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen([rss_of, rss_path] + argv,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             cwd=d)
        hwm = 0
        proc_dir = None
        try:
            while p.poll() is None:
                if proc_dir is None:
                    proc_dir = open_child_dir(p.pid)
                if proc_dir is not None:
                    hwm = max(hwm, vm_hwm_kib(proc_dir) or 0)
                time.sleep(MEM_POLL_S)
        finally:
            if proc_dir is not None:
                os.close(proc_dir)
        secs = time.perf_counter() - t0
    with open(os.path.join(d, "stdout")) as f:
        text = f.read()
    with open(os.path.join(d, "stderr")) as f:
        err_text = f.read()
    return secs, p.returncode, read_maxrss(rss_path), hwm, text, err_text


def memory_round(rss_of, utrace, exe, tmp, events, checksum):
    """One recording of events/2 calls: {secs, rss, hwm, waits, bytes,
    problems, argv}, its trace left in place."""
    n = events // 2
    d = os.path.join(tmp, "memory")
    os.makedirs(d, exist_ok=True)
    data = os.path.join(d, "utrace.data")
    shutil.rmtree(data, ignore_errors=True)
    argv = [utrace, "record", "-d", data, "-f", TARGET, "--", exe, str(n)]
    secs, rc, rss, hwm, text, err_text = run_polled(rss_of, argv, d)
    got = {"secs": secs, "rss": rss or 0, "hwm": hwm, "waits": None,
           "bytes": 0, "problems": [], "argv": argv, "data": data}
    problems = got["problems"]
    if rss is None:
        problems.append("rss-of wrote no maxrss")
    if rc != 0:
        problems.append("exited with status %d: %s" % (
            rc, " | ".join(err_text.splitlines()[-3:])))
        return got
    if read_checksum(text) != checksum:
        problems.append("checksum %s, untraced %s" % (read_checksum(text),
                                                      checksum))
    info = utrace_info(utrace, data)
    problems += info_problems(info, 2 * n)
    if not isinstance(info, str):
        got["waits"] = "waits %s" % info.get("waits", "n/a")
    events_file = os.path.join(data, EVENTS_FILE)
    if os.path.exists(events_file):
        got["bytes"] = os.path.getsize(events_file)
    return got


def fmt_hwm(kibs):
    """The median of the polled VmHWM figures, n/a when none was sampled."""
    kibs = [k for k in kibs if k]
    if not kibs:
        return "n/a (the run ended before a sample)"
    return "%.1f MiB" % (statistics.median(kibs) / KIB_PER_MIB)


def measure_memory(rss_of, utrace, exe, tmp, args):
    """{rss, hwm, ok} over the --mem-rounds, or {"na": why}."""
    if not utrace:
        return {"na": "utrace not found"}
    why = memory_room(tmp, args.events)
    if why:
        return {"na": why}
    checksum = untraced_checksum([exe, str(args.events // 2)])
    runs = []
    for r in range(args.mem_rounds):
        got = memory_round(rss_of, utrace, exe, tmp, args.events, checksum)
        if not args.keep:
            shutil.rmtree(got["data"], ignore_errors=True)
        if r == 0:
            print("memory:  %s" % shlex.join(got["argv"]))
        for p in got["problems"]:
            warn("memory round %d: %s" % (r + 1, p))
        print("memory round %d/%d: %.1f s, ru_maxrss %.1f MiB, utrace's own "
              "VmHWM %s (polled), %s, events file %.2f GB (%.4g bytes per "
              "event)%s" % (
                  r + 1, args.mem_rounds, got["secs"],
                  got["rss"] / KIB_PER_MIB, fmt_hwm([got["hwm"]]),
                  got["waits"] or "waits n/a", got["bytes"] / 1e9,
                  got["bytes"] / args.events,
                  "" if got["problems"] else ", correct"), flush=True)
        runs.append((got["rss"], got["hwm"], not got["problems"]))
    # Only the correct runs are figures: one that lost events used less.
    return {"rss": [r[0] for r in runs if r[2]],
            "hwm": [r[1] for r in runs if r[2]],
            "ok": sum(r[2] for r in runs)}


# ---- reporting ---------------------------------------------------------------

NAME_WIDTH = len("threads int3 utrace record")

def verdict(ok):
    return "PASS" if ok else "MISS"


def print_setup(utrace, builds, configs, args):
    print(machine_line())
    print(load_line("start"))
    print("utrace:  %s" % utrace_version(utrace))
    for cmd in builds:
        print("build:   %s" % shlex.join(cmd))
    print("rounds:  %d, interleaved, each row %d time(s) per round (fastest "
          "counts), shuffle seed %d; memory: %d round(s) of %d events" % (
              args.rounds, args.repeat, args.seed, args.mem_rounds,
              args.events))
    print("timing:  wall clock of the whole command (start-up, tracing and "
          "draining to the end)")
    print("commands:")
    for cfg in configs:
        print("  %-*s %s" % (NAME_WIDTH, cfg.name,
                             shlex.join(cfg.argv(cfg.n))))
    print(flush=True)


def med(xs, fmt="%.3f"):
    return fmt % statistics.median(xs) if xs else "-"


def print_table(configs, res):
    row = "%-" + str(NAME_WIDTH) + "s %12s %8s %8s %8s %8s %8s %8s %9s"
    print()
    print(row % ("row", "calls", "median", "min", "max", "runs", "maxrss",
                 "waits", "wait"))
    print(row % ("", "", "s", "s", "s", "correct", "MiB", "", "ms"))
    for cfg in configs:
        w = res.walls[cfg.name]
        if not w:
            print("%-*s %12s   %s" % (NAME_WIDTH, cfg.name, describe_n(cfg),
                                       cfg.note or "no run"))
            continue
        total, ok = res.checked[cfg.name]
        print(row % (cfg.name, describe_n(cfg), med(w), "%.3f" % min(w),
                     "%.3f" % max(w), "%d/%d" % (ok, total),
                     med([r / KIB_PER_MIB for r in res.rss[cfg.name]], "%.1f"),
                     med(res.waits[cfg.name], "%.0f"),
                     med(res.wait_ms[cfg.name], "%.1f")))
    print("median/min/max: over the rounds, of the fastest run of the round; "
          "maxrss: ru_maxrss of the command (the tracer or the program, "
          "whichever peaked higher); waits, wait: the JSON summary's waits "
          "and wait_ns, of utrace run --json or of utrace dump --json of the "
          "recorded trace (times a thread found its ring full and waited).")


def na_of(configs, res, *names):
    for c in configs:
        if c.name in names and not res.walls[c.name]:
            why = c.note or "no successful run"
            if why.startswith("n/a: "):
                why = why[len("n/a: "):]
            return "n/a (%s: %s)" % (c.name, why)
    return None


def print_wall(m, configs, res, args):
    label = "wall, %d calls, every event kept" % args.calls
    miss = na_of(configs, res, "utrace record", "uftrace")
    if miss:
        print("  %s: utrace record/uftrace <= 1/2: %s" % (label, miss))
    else:
        r = m["utrace record"] / m["uftrace"]
        print("  %s: utrace record/uftrace = %.3f/%.3f s = %.3f (1/%.3g) "
              "<= 1/2: %s%s" % (label, m["utrace record"], m["uftrace"], r,
                                1 / r if r > 0 else float("inf"),
                                verdict(r <= WALL_RATIO),
                                over_untraced(m, "utrace record")))
    miss = na_of(configs, res, "utrace run --json", "uftrace")
    if miss:
        print("  (info) utrace run --json/uftrace: %s" % miss)
    else:
        print("  (info) %d calls: utrace run --json/uftrace = %.3f/%.3f s = "
              "%.3f%s" % (args.calls, m["utrace run --json"], m["uftrace"],
                          m["utrace run --json"] / m["uftrace"],
                          over_untraced(m, "utrace run --json")))


def over_untraced(m, name):
    """The ratio of @name's and uftrace's times over the untraced one."""
    if "untraced" not in m:
        return ""
    u = m["untraced"]
    return "  [over untraced: %.3f/%.3f s = %.3f]" % (
        m[name] - u, m["uftrace"] - u, (m[name] - u) / (m["uftrace"] - u))


def print_bytes(records, configs):
    plain = records[RECORD_OPTIONS[0][0]]
    if "na" in plain:
        print("  ring: bytes per event without --args/--retval <= %d: n/a (%s)"
              % (REC_MAX_BYTES, plain["na"]))
    else:
        print("  ring: %.3g bytes per event without --args/--retval (a %d-byte "
              "ring held %d events) <= %d: %s" % (
                  plain["bytes"], RING_BYTES, plain["records"], REC_MAX_BYTES,
                  verdict(plain["bytes"] <= REC_MAX_BYTES)))
    for label, _ in RECORD_OPTIONS[1:]:
        got = records[label]
        if "na" in got:
            print("  (info) ring with %s: n/a (%s)" % (label, got["na"]))
        else:
            print("  (info) ring with %s: %.3g bytes per event (%d events in "
                  "%d bytes)" % (label, got["bytes"], got["records"],
                                 RING_BYTES))
    disk = next(c for c in configs if c.name == "utrace record").disk
    if not disk:
        print("  (info) disk: bytes per event of the utrace record row: n/a "
              "(no trace checked)")
    else:
        size, events = sorted(disk, key=lambda d: d[0] / d[1])[
            (len(disk) - 1) // 2]
        print("  (info) disk: %.6g bytes per event in the utrace record row's "
              "trace (events file %d bytes / %d events, headers included; "
              "median of %d)" % (size / events, size, events, len(disk)))


def print_memory(memory, args):
    label = "peak memory, utrace record of %d events" % args.events
    if "na" in memory:
        print("  %s <= %d MiB: n/a (%s)" % (label, PEAK_MAX_MIB, memory["na"]))
    elif memory["ok"] == 0:
        print("  %s <= %d MiB: n/a (no correct run)" % (label, PEAK_MAX_MIB))
    else:
        rss = statistics.median(memory["rss"]) / KIB_PER_MIB
        print("  %s: ru_maxrss %.1f MiB <= %d MiB: %s  [utrace alone, VmHWM "
              "polled: %s]" % (label, rss, PEAK_MAX_MIB,
                               verdict(rss <= PEAK_MAX_MIB),
                               fmt_hwm(memory["hwm"])))


def print_threads(m, configs, res, args):
    rec = "threads utrace record"
    miss = na_of(configs, res, rec, "threads uftrace")
    if miss:
        print("  (info) threads: utrace record/uftrace: %s" % miss)
    else:
        print("  (info) threads %d x %d: utrace record/uftrace = %.3f/%.3f s "
              "= %.3f, %s waits, %s ms waited" % (
                  args.threads, args.thread_calls, m[rec],
                  m["threads uftrace"], m[rec] / m["threads uftrace"],
                  med(res.waits[rec], "%.0f"), med(res.wait_ms[rec], "%.1f")))
    int3 = "threads int3 utrace record"
    if int3 in m:
        print("  (info) threads int3 %d x %d: %.3f s, %.1f us per traced call "
              "(whole command / calls of mid and leaf)"
              % (args.threads, args.int3_calls, m[int3],
                 m[int3] * 1e6 /
                 (args.threads * args.int3_calls * (1 + LEAF_PER_MID))))


def print_targets(configs, res, records, memory, args):
    m = {k: statistics.median(v) for k, v in res.walls.items() if v}
    print("\ntargets (medians over the rounds):")
    print_wall(m, configs, res, args)
    print_bytes(records, configs)
    print_memory(memory, args)
    print_threads(m, configs, res, args)
    for name in ("threads utrace record", "threads int3 utrace record"):
        total, ok = res.checked[name]
        if total:
            print("  %s: %d/%d runs exact (every call the program counted, "
                  "0 dropped): %s" % (name, ok, total, verdict(ok == total)))


def main():
    ap = argparse.ArgumentParser(
        description="every event kept: wall time, ring bytes per event, "
        "threads and peak memory, against uftrace")
    add_common_args(ap, kept="traces, their JSON dumps, logs; the memory "
                    "row's trace too", repeat=1)
    ap.add_argument("--calls", type=int, default=2_000_000,
                    help="calls of bench_target in the wall-time rows "
                    "(default 2000000)")
    ap.add_argument("--threads", type=int, default=8,
                    help="threads of bench-threads (default 8)")
    ap.add_argument("--thread-calls", type=int, default=200_000,
                    help="calls of mid() per thread (default 200000)")
    ap.add_argument("--int3-calls", type=int, default=2_000,
                    help="calls of mid() per thread under --probe=int3 "
                    "(default 2000)")
    ap.add_argument("--events", type=int, default=100_000_000,
                    help="events of the memory row, 2 per call (default "
                    "100000000)")
    ap.add_argument("--mem-rounds", type=int, default=1,
                    help="rounds of the memory row (default 1)")
    args = ap.parse_args()
    if min(args.rounds, args.repeat, args.calls, args.thread_calls,
           args.int3_calls, args.mem_rounds) < 1:
        ap.error("--rounds, --repeat, --calls, --thread-calls, --int3-calls "
                 "and --mem-rounds must be at least 1")
    if not 1 <= args.threads <= 1024:
        ap.error("--threads must lie within 1 and 1024")
    if not 2 <= args.events <= 2 * (2**31 - 1):
        ap.error("--events must lie within 2 and 2 * INT_MAX")

    utrace = find_utrace(args.utrace)
    if utrace and not os.access(utrace, os.X_OK):
        utrace = None
    start = time.perf_counter()
    with scratch_dir("utrace-lossless-", args.keep) as tmp:
        calls_exe, calls_cmd = build(tmp)
        threads_exe, threads_cmd = build(tmp, THREADS_SOURCE,
                                         ("-O2", "-g", "-pthread"))
        rss_of, rss_cmd = build(tmp, RSS_SOURCE, ("-O2",))
        configs = make_rows(calls_exe, threads_exe, tmp, utrace, args)
        print_setup(utrace, [calls_cmd, threads_cmd, rss_cmd], configs, args)
        if not utrace:
            warn("utrace not found; pass --utrace PATH")

        sums = {}
        for cfg in configs:
            key = (isinstance(cfg, Threads), cfg.n)
            if key not in sums:
                argv = ([threads_exe, str(args.threads), str(cfg.n)] if key[0]
                        else [calls_exe, str(cfg.n)])
                sums[key] = untraced_checksum(argv)
            cfg.checksum = sums[key]
        usable = []
        for cfg in configs:
            if cfg.tool() is False:
                cfg.note = "skipped: not installed / not found"
            else:
                usable.append(cfg)

        records = measure_records(utrace, threads_exe, tmp)
        for label, _ in RECORD_OPTIONS:
            got = records[label]
            print("ring %s: %s" % (label, got["na"] if "na" in got else
                                   "%d events recorded, %d dropped: %.3g "
                                   "bytes per event" % (
                                       got["records"], got["dropped"],
                                       got["bytes"])), flush=True)

        res = measure(configs, usable, args, rss_of)
        print_table(configs, res)

        print()
        memory = measure_memory(rss_of, utrace, calls_exe, tmp, args)
        print_targets(configs, res, records, memory, args)
    return finish(start)


if __name__ == "__main__":
    sys.exit(main())
