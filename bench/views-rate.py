#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""How fast utrace's views read a recorded trace, against uftrace's.

usage: bench/views-rate.py [--utrace PATH] [--rounds 5] [--repeat 1]
                           [--seed 1] [--calls 5000000] [--keep]

Builds bench/bench-calls.c (`cc -O2 -g`) and bench/rss-of.c (`cc -O2`) and
records --calls calls of bench_target (2 events a call: 10 M events) once
with each tracer:

  utrace record -d T -f bench_target -- bench-calls N
  uftrace record --no-libcall --no-event -d U -P bench_target bench-calls N

(--no-libcall and --no-event keep uftrace's data to the same 2 N events:
without them it also records the program's PLT calls and schedule events).
Then it times, interleaved over --rounds rounds in a shuffled order, every
view of both traces, all of them writing to /dev/null:

  utrace dump --json   utrace dump -d T --json -o /dev/null
  utrace replay        utrace replay -d T -o /dev/null
  utrace report        utrace report -d T -o /dev/null
  uftrace dump         uftrace dump -d U > /dev/null
  uftrace replay       uftrace replay -d U > /dev/null
  uftrace report       uftrace report -d U > /dev/null

Each runs under rss-of, which gives its peak memory too.  The table shows,
per view, the median, minimum and maximum over the rounds of the fastest
run of the round, events per second (2 N / median) and utrace's time
against uftrace's for the same kind of view.  Targets, on the medians:
`utrace dump --json` and `utrace replay` >= 10 M events/s, PASS or MISS.

Correctness, untimed: the recording exits 0 and prints the untraced
checksum; `utrace info` says events 2 N, dropped 0, torn and invalid 0 and
a complete trace; `utrace dump --json` holds exactly N entry and N exit
events of bench_target and no other line but the summary; every view exits
0.  A failure prints a WARNING line and makes the exit status 1: a trace
that is not exact fails the benchmark.  uftrace is optional: missing or
failing, its rows are skipped with a note; its recording must count N calls
in `uftrace report`.
"""

import argparse
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time

from benchlib import (add_common_args, scratch_dir, Config, KIB_PER_MIB,
                      RSS_SOURCE, TARGET, build, dir_bytes, finish,
                      info_problems, load_line, machine_line, read_checksum,
                      require_utrace,
                      run_waited, stderr_tail, stderr_text, trace_problems,
                      uftrace_problems, unknown_option, utrace_info,
                      utrace_version, warn)

# Target of the issue, for `dump --json` and `replay`; never loosen it here.
TARGET_MEVENTS = 10.0
TARGET_VIEWS = ("utrace dump --json", "utrace replay")
EVENTS_PER_CALL = 2
MAX_CALLS = 2**31 - 1  # bench-calls takes N <= INT_MAX


class View(Config):
    """One view of a recorded trace: a fixed command, its output discarded.
    @peer names the row of the other tracer that does the same job."""

    def __init__(self, tmp, name, argv, peer):
        super().__init__(None, tmp, name)
        self.cmd = argv
        self.peer = peer

    def argv(self, n):
        return self.cmd


def make_views(utrace, trace, data, tmp):
    null = os.devnull
    return [
        View(tmp, "utrace dump --json",
             [utrace, "dump", "-d", trace, "--json", "-o", null],
             "uftrace dump"),
        View(tmp, "utrace replay", [utrace, "replay", "-d", trace, "-o", null],
             "uftrace replay"),
        View(tmp, "utrace report", [utrace, "report", "-d", trace, "-o", null],
             "uftrace report"),
        View(tmp, "uftrace dump", ["uftrace", "dump", "-d", data], None),
        View(tmp, "uftrace replay", ["uftrace", "replay", "-d", data], None),
        View(tmp, "uftrace report", ["uftrace", "report", "-d", data], None),
    ]


# ---- recording and checking the traces -------------------------------------

def record(argv, cwd):
    """Run a recording; return (seconds, stdout, stderr, returncode)."""
    t0 = time.perf_counter()
    res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, cwd=cwd)
    return time.perf_counter() - t0, res.stdout, res.stderr, res.returncode




def dump_problems(utrace, trace, n, tmp):
    """[] when `utrace dump --json` holds exactly @n entries and @n exits of
    bench_target.  Counted from the pipe: the 2 n lines would take some
    1.5 GB on disk for 10 M events."""
    err_path = os.path.join(tmp, "dump-check.stderr")
    with open(err_path, "w") as err:
        p = subprocess.Popen([utrace, "dump", "-d", trace, "--json"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=err)
        problems = trace_problems("/proc/self/fd/%d" % p.stdout.fileno(),
                                  TARGET, n)
        p.stdout.close()
        rc = p.wait()
    if rc != 0:
        with open(err_path) as f:
            tail = " | ".join(f.read().splitlines()[-3:])
        return ["utrace dump --json exited with status %d: %s" % (rc, tail)]
    return ["utrace dump --json: " + q for q in problems]


def record_utrace(utrace, exe, n, tmp, checksum):
    """Record the utrace trace and check it; return (its dir, seconds) or
    (None, None) when there is no exact trace to read: views of a trace
    that lost or miscounted events are not timed."""
    trace = os.path.join(tmp, "utrace.data")
    argv = [utrace, "record", "-d", trace, "-f", TARGET, "--", exe, str(n)]
    print("record:  %s" % shlex.join(argv), flush=True)
    secs, out, err, rc = record(argv, tmp)
    if rc != 0:
        warn("utrace record exited with status %d: %s" % (
            rc, " | ".join(err.splitlines()[-3:])))
        return None, None
    problems = []
    if read_checksum(out) != checksum:
        problems.append("utrace record: the program printed checksum %s, "
                        "untraced %s" % (read_checksum(out), checksum))
    problems += info_problems(utrace_info(utrace, trace), EVENTS_PER_CALL * n)
    problems += dump_problems(utrace, trace, n, tmp)
    for p in problems:
        warn(p)
    print("record:  utrace %.2f s, %s, %s" % (
        secs, size_text(trace, EVENTS_PER_CALL * n),
        "not exact" if problems else "exact: %d entries, %d exits, 0 dropped"
        % (n, n)), flush=True)
    if problems:
        return None, None
    return trace, secs


def record_uftrace(exe, n, tmp, checksum):
    """Record the uftrace data and check it; return (its dir, why not)."""
    if not shutil.which("uftrace"):
        return None, "uftrace not installed"
    data = os.path.join(tmp, "uftrace.data")
    argv = ["uftrace", "record", "--no-libcall", "--no-event", "-d", data,
            "-P", TARGET, exe, str(n)]
    print("record:  %s" % shlex.join(argv), flush=True)
    secs, out, err, rc = record(argv, tmp)
    if rc != 0:
        return None, "uftrace record exited with status %d: %s" % (
            rc, " | ".join(err.splitlines()[-2:]))
    problems = uftrace_problems("uftrace record", data, {TARGET: n})
    if read_checksum(out) != checksum:
        problems.append("uftrace record: the program printed checksum %s, "
                        "untraced %s" % (read_checksum(out), checksum))
    if problems:
        return None, "; ".join(problems)
    print("record:  uftrace %.2f s, %s, %d calls in uftrace report" % (
        secs, size_text(data, EVENTS_PER_CALL * n), n), flush=True)
    return data, None


def size_text(path, events):
    size = dir_bytes(path)
    return "%d bytes on disk (%.2f bytes/event)" % (size, size / events)


# ---- timing the views ------------------------------------------------------

def view_failed(cfg, rc):
    """The note of a view that exited with @rc (n/a when this utrace lacks
    it), and whether that is a failure."""
    bad = unknown_option(stderr_text(cfg))
    if bad and cfg.name.startswith("utrace"):
        return "n/a: this utrace lacks it (%s)" % bad, False
    return "failed: exited with status %d: %s" % (rc, stderr_tail(cfg)), True


def warm_up(views, rss_of, n):
    """Run each view once, untimed: page in the trace and the tools; drop
    the views that fail (a utrace view failing is a warning)."""
    usable = []
    for cfg in views:
        _, _, rc, _ = run_waited(rss_of, cfg, n, keep_stdout=False)
        if rc == 0:
            usable.append(cfg)
            continue
        cfg.note, serious = view_failed(cfg, rc)
        if serious and cfg.name.startswith("utrace"):
            warn("%s %s" % (cfg.name, cfg.note))
    return usable


def measure(views, rss_of, n, args):
    """Interleaved rounds: each view --repeat times per round, shuffled; the
    fastest run of the round counts.  Returns ({name: [s]}, {name: [KiB]},
    {name: [runs, exited 0]})."""
    rng = random.Random(args.seed)
    secs = {v.name: [] for v in views}
    rss = {v.name: [] for v in views}
    runs = {v.name: [0, 0] for v in views}
    for r in range(args.rounds):
        jobs = list(views) * args.repeat
        rng.shuffle(jobs)
        best = {}
        for cfg in jobs:
            t, _, rc, kib = run_waited(rss_of, cfg, n, keep_stdout=False)
            runs[cfg.name][0] += 1
            if rc != 0:
                warn("round %d: %s exited with status %d: %s" % (
                    r + 1, cfg.name, rc, stderr_tail(cfg)))
                continue
            runs[cfg.name][1] += 1
            if cfg.name not in best or t < best[cfg.name][0]:
                best[cfg.name] = (t, kib)
        for name, (t, kib) in best.items():
            secs[name].append(t)
            if kib is not None:
                rss[name].append(kib)
        print("round %d/%d: %s" % (r + 1, args.rounds, ", ".join(
            "%s %s" % (v.name, "%.3f s" % best[v.name][0] if v.name in best
                       else "failed") for v in views)), flush=True)
    return secs, rss, runs


# ---- reporting -------------------------------------------------------------

def print_setup(utrace, builds, args):
    print(machine_line())
    print(load_line("start"))
    print("utrace:  %s" % utrace_version(utrace))
    for cmd in builds:
        print("build:   %s" % shlex.join(cmd))
    print("events:  %d (%d calls of %s)" % (EVENTS_PER_CALL * args.calls,
                                             args.calls, TARGET))
    print("rounds:  %d, interleaved, each view %d time(s) per round (fastest "
          "counts), shuffle seed %d" % (args.rounds, args.repeat, args.seed))
    print("timing:  wall clock of the whole command, output to /dev/null",
          flush=True)


def print_table(views, secs, rss, runs, events):
    m = {k: statistics.median(v) for k, v in secs.items() if v}
    row = "%-19s %8s %8s %8s %10s %8s %8s  %s"
    print()
    print(row % ("view", "median", "min", "max", "M events", "runs", "maxrss",
                 "utrace/uftrace"))
    print(row % ("", "s", "s", "s", "/s", "ok", "MiB", "time"))
    for v in views:
        if v.name not in m:
            print("%-19s %s" % (v.name, v.note or "no successful run"))
            continue
        vs = ""
        if v.peer in m:
            r = m[v.name] / m[v.peer]
            vs = "%.3f (%.2fx %s)" % (r, 1 / r if r < 1 else r,
                                      "faster" if r < 1 else "slower")
        elif v.peer:
            note = next((p.note for p in views if p.name == v.peer), "")
            vs = "n/a (%s)" % (note or "no successful run")
        print(row % (v.name, "%.3f" % m[v.name], "%.3f" % min(secs[v.name]),
                     "%.3f" % max(secs[v.name]),
                     "%.2f" % (events / m[v.name] / 1e6),
                     "%d/%d" % tuple(reversed(runs[v.name])),
                     "%.1f" % (statistics.median(rss[v.name]) / KIB_PER_MIB)
                     if rss[v.name] else "-", vs))
    print("median/min/max: over the rounds, of the fastest run of the round; "
          "M events/s: %d events / median; maxrss: ru_maxrss of the view; "
          "utrace/uftrace: the medians' ratio against the same kind of view "
          "of uftrace." % events)


def print_targets(views, secs, events):
    print("\ntargets (medians over the rounds):")
    for name in TARGET_VIEWS:
        if not secs.get(name):
            note = next((v.note for v in views if v.name == name), "")
            print("  %s >= %.3g M events/s: n/a (%s)" % (
                name, TARGET_MEVENTS, note or "no successful run"))
            continue
        rate = events / statistics.median(secs[name]) / 1e6
        print("  %s: %.2f M events/s >= %.3g M events/s: %s" % (
            name, rate, TARGET_MEVENTS,
            "PASS" if rate >= TARGET_MEVENTS else "MISS"))


def main():
    ap = argparse.ArgumentParser(
        description="events per second of utrace's views, against uftrace's")
    add_common_args(ap, kept="both traces", repeat=1)
    ap.add_argument("--calls", type=int, default=5_000_000,
                    help="calls of bench_target recorded, 2 events each "
                    "(default 5000000)")
    args = ap.parse_args()
    if min(args.rounds, args.repeat, args.calls) < 1:
        ap.error("--rounds, --repeat and --calls must be at least 1")
    if args.calls > MAX_CALLS:
        ap.error("--calls must be at most %d" % MAX_CALLS)

    utrace = require_utrace(args.utrace, "views-rate")
    start = time.perf_counter()
    with scratch_dir("utrace-views-", args.keep) as tmp:
        exe, cc_cmd = build(tmp)
        rss_of, rss_cmd = build(tmp, RSS_SOURCE, ("-O2",))
        print_setup(utrace, [cc_cmd, rss_cmd], args)
        checksum = read_checksum(subprocess.run(
            [exe, str(args.calls)], capture_output=True, text=True,
            check=True).stdout)
        trace, _ = record_utrace(utrace, exe, args.calls, tmp, checksum)
        data, why = record_uftrace(exe, args.calls, tmp, checksum)
        views = make_views(utrace, trace, data, tmp)
        for v in views:
            if v.name.startswith("utrace") and not trace:
                v.note = "skipped: no exact utrace trace"
            elif v.name.startswith("uftrace") and not data:
                v.note = "skipped: " + why
        print("commands:")
        for v in views:
            print("  %-19s %s%s" % (v.name, shlex.join(v.cmd),
                                    "" if v.cmd[-1] == os.devnull
                                    else " > /dev/null"))
        print(flush=True)
        usable = warm_up([v for v in views if not v.note], rss_of, args.calls)
        secs, rss, runs = measure(usable, rss_of, args.calls, args)
        events = EVENTS_PER_CALL * args.calls
        print_table(views, secs, rss, runs, events)
        print_targets(views, secs, events)
    return finish(start)


if __name__ == "__main__":
    sys.exit(main())
