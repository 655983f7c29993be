#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""redis-server with every function of its executable traced, against untraced.

usage: bench/redis.py [--utrace PATH] [--rounds 3] [--repeat 1] [--seed 1]
                      [--requests 200000] [--clients 8] [--keep]

Needs Debian's redis-server and redis-benchmark (apt-get install -y
redis-server redis-tools).  Every run starts its own redis-server on a free
port of 127.0.0.1 in a temporary directory,

  redis-server --port P --bind 127.0.0.1 --save '' --appendonly no
               --daemonize no --dir D

and runs, on loopback,

  redis-benchmark -h 127.0.0.1 -p P -t set,get -c 8 -n N -q

in three ways, interleaved over --rounds rounds in a shuffled order:

  untraced        nothing else
  traced          rss-of F utrace record -v -d T -p PID -f '*'
  traced --lossy  rss-of F utrace record -v -d T -p PID -f '*' --lossy

utrace attaches before the benchmark starts (the script waits for its
`install:` line) and is detached with SIGINT once the benchmark is done;
the script waits for it to exit.  -f '*' is every function of the main
executable: the real one, whatever name started it (Debian's redis-server
is a symbolic link to redis-check-rdb).  rss-of (bench/rss-of.c, as in
lossless.py) gives utrace's own peak RSS.

Output: requests per second of SET and GET (median, minimum, maximum over
the rounds, the best run of a round counting), then per traced row the
medians of the events recorded, the events dropped, the trace's size on
disk and bytes per event, utrace's peak RSS, the waits on full rings and
the drain rate.  Goal, on the medians: traced / untraced >= 45% for SET and
for GET (PASS or MISS; the --lossy row is shown beside it).

Correctness (a failure prints a WARNING line and makes the exit status 1):
every trace has 0 torn and invalid, is complete and, without --lossy, has
0 dropped (`utrace info`), else the run does not count; --lossy drops are
reported, not a failure.
utrace exits 0 after SIGINT; redis-server still answers PING after the
detach, is no longer traced, its text in memory equals its file, and it
exits 0 on SIGTERM; redis-benchmark exits 0 and reports both tests.
"""

import argparse
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

from benchlib import (add_common_args, require_utrace, scratch_dir, REPO_DIR,
                      KIB_PER_MIB, RSS_SOURCE, build, child_pid, dir_bytes,
                      find_line, finish, info_count, info_problems,
                      load_line, machine_line,
                      parse_install, parse_output, read_maxrss, utrace_info,
                      utrace_version, warn)

sys.path.insert(0, os.path.join(REPO_DIR, "tests", "integration"))
from harness import text_mismatches, tracer_pid  # noqa: E402

# Goal of the issue; never loosen it here.
MIN_TRACED_RATIO = 0.45

TESTS = ("SET", "GET")
INSTALL_HINT = "apt-get install -y redis-server redis-tools"
RPS_RE = re.compile(r"^\s*([A-Z]+): ([0-9]+(?:\.[0-9]+)?) requests per second")
WARM_UP_SHARE = 10        # the untimed warm-up makes requests / 10 requests
READY_TIMEOUT = 10        # s for redis-server to answer PING
INSTALL_TIMEOUT = 60      # s for utrace to say it installed its probes
BENCH_TIMEOUT = 600       # s for one redis-benchmark run
EXIT_TIMEOUT = 600        # s for utrace to drain and exit after SIGINT
STOP_TIMEOUT = 30         # s for redis-server to exit after SIGTERM
POLL_S = 0.01


class Row:
    """One way of running the benchmark, and what its runs measured."""

    def __init__(self, name, options):
        self.name = name
        self.options = options      # None: untraced
        self.rps = {t: [] for t in TESTS}
        self.trace = {k: [] for k in ("events", "dropped", "bytes", "rss",
                                      "waits", "drain")}
        self.runs = [0, 0]


# ---- redis-server ----------------------------------------------------------

def free_port():
    """A TCP port of 127.0.0.1 nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port):
    """True when redis-server on @port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(server, d):
    """Start redis-server in @d; return (Popen, port) once it answers PING."""
    os.makedirs(d, exist_ok=True)
    port = free_port()
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--dir", d]
    with open(os.path.join(d, "redis.log"), "w") as log:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, cwd=d)
    deadline = time.monotonic() + READY_TIMEOUT
    while not ping(port):
        if p.poll() is not None or time.monotonic() > deadline:
            stop(p, STOP_TIMEOUT)
            sys.exit("redis: %s did not start (see %s)" % (
                shlex.join(argv), os.path.join(d, "redis.log")))
        time.sleep(POLL_S)
    return p, port


def stop(p, timeout):
    """SIGTERM, then SIGKILL after @timeout s; return the exit status."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def stop_redis(p, port, exe, traced):
    """After a run: redis must answer, be untraced with its text intact
    (when it was traced), and exit 0 on SIGTERM."""
    if p.poll() is not None:
        warn("redis-server died during the run (status %d)" % p.returncode)
        return
    if not ping(port):
        warn("redis-server does not answer PING after the run")
    if traced:
        if tracer_pid(p.pid):
            warn("redis-server is still traced by %d after detach" %
                 tracer_pid(p.pid))
        diff = text_mismatches(p.pid, exe)
        if diff:
            warn("%d bytes of redis-server's text differ from %s after "
                 "detach" % (diff, exe))
    rc = stop(p, STOP_TIMEOUT)
    if rc != 0:
        warn("redis-server exited with status %d after SIGTERM" % rc)


# ---- one run ---------------------------------------------------------------

def bench_argv(bench, port, args, requests):
    return [bench, "-h", "127.0.0.1", "-p", str(port), "-t", "set,get",
            "-c", str(args.clients), "-n", str(requests), "-q"]


def run_benchmark(argv):
    """{test: requests/s} of one redis-benchmark run, None when it failed."""
    try:
        res = subprocess.run(argv, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True,
                             timeout=BENCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        warn("%s did not finish within %d s" % (shlex.join(argv),
                                                BENCH_TIMEOUT))
        return None
    rps = {}
    # -q rewrites a progress line with \r; the result ends each test.
    for line in res.stdout.replace("\r", "\n").splitlines():
        m = RPS_RE.match(line)
        if m:
            rps[m.group(1)] = float(m.group(2))
    if res.returncode != 0 or set(rps) != set(TESTS):
        warn("redis-benchmark exited with status %d, results %s: %s" % (
            res.returncode, rps, " | ".join(res.stderr.splitlines()[-2:])))
        return None
    return rps


def utrace_argv(utrace, trace, pid, options):
    return [utrace, "record", "-v", "-d", trace, "-p", str(pid), "-f", "*"] + \
        options


def wait_install(p, err_path):
    """Wait for utrace's install line on its stderr (a file); the parsed
    line, or None when utrace ended or said nothing in time."""
    deadline = time.monotonic() + INSTALL_TIMEOUT
    while time.monotonic() < deadline:
        with open(err_path) as f:
            got = find_line(f.read(), parse_install)
        if got or p.poll() is not None:
            return got
        time.sleep(POLL_S)
    return None


def detach(p):
    """SIGINT to utrace (rss-of's child), then wait for rss-of; its status."""
    kid = child_pid(p.pid)
    if kid is not None:
        os.kill(kid, signal.SIGINT)
    try:
        return p.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        warn("utrace did not exit within %d s of SIGINT; killed" %
             EXIT_TIMEOUT)
        if child_pid(p.pid):
            os.kill(child_pid(p.pid), signal.SIGKILL)
        return p.wait()


def traced_run(row, ctx, pid, port, d):
    """Attach utrace, run the benchmark, detach; return the requests/s and
    the trace's figures, or (None, None) when the run failed."""
    trace = os.path.join(d, "utrace.data")
    err_path = os.path.join(d, "utrace.stderr")
    rss_path = os.path.join(d, "maxrss")
    argv = utrace_argv(ctx.utrace, trace, pid, row.options)
    with open(err_path, "w") as err:
        p = subprocess.Popen([ctx.rss_of, rss_path] + argv,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, cwd=d)
    installed = wait_install(p, err_path)
    rps = None
    if installed:
        rps = run_benchmark(bench_argv(ctx.bench, port, ctx.args,
                                       ctx.args.requests))
    else:
        warn("%s: no install line from utrace within %d s" % (
            row.name, INSTALL_TIMEOUT))
    rc = detach(p)
    with open(err_path) as f:
        err_text = f.read()
    if rc != 0:
        warn("%s: utrace exited with status %d: %s" % (
            row.name, rc, " | ".join(err_text.splitlines()[-3:])))
        return None, None
    figures = trace_figures(row, ctx.utrace, trace, err_text, rss_path)
    if not ctx.args.keep:
        shutil.rmtree(trace, ignore_errors=True)
    return (rps if installed else None), figures


def trace_figures(row, utrace, trace, err_text, rss_path):
    """What `utrace info`, the trace's size, rss-of and utrace -v say, or
    None (after a warning) when the run must not count: a trace that lost
    events without --lossy, is torn or invalid, or is incomplete."""
    info = utrace_info(utrace, trace)
    problems = info_problems(info, lossy="--lossy" in row.options)
    if not problems:
        events = info_count(info, "events")
        dropped = info_count(info, "dropped")
        if events is None or dropped is None:
            problems.append("utrace info says events: %s, dropped: %s" % (
                info.get("events"), info.get("dropped")))
    for p in problems:
        warn("%s: %s" % (row.name, p))
    if problems:
        return None
    output = find_line(err_text, parse_output)
    return {"events": events, "dropped": dropped, "bytes": dir_bytes(trace),
            "rss": read_maxrss(rss_path), "waits": info_count(info, "waits"),
            "drain": output["mevents_per_s"] if output else None}


def one_run(row, ctx, run_no):
    """A fresh redis-server, the benchmark (traced or not), stop it."""
    d = os.path.join(ctx.tmp, "run-%d" % run_no)
    p, port = start_redis(ctx.server, d)
    exe = os.path.realpath("/proc/%d/exe" % p.pid)
    if row.options is None:
        rps, figures = run_benchmark(bench_argv(ctx.bench, port, ctx.args,
                                                ctx.args.requests)), None
    else:
        rps, figures = traced_run(row, ctx, p.pid, port, d)
    stop_redis(p, port, exe, row.options is not None)
    if not ctx.args.keep:
        shutil.rmtree(d, ignore_errors=True)
    ok = rps is not None and (row.options is None or figures is not None)
    return (rps if ok else None), figures


# ---- rounds ----------------------------------------------------------------

class Context:
    def __init__(self, args, utrace, rss_of, server, bench, tmp):
        self.args = args
        self.utrace = utrace
        self.rss_of = rss_of
        self.server = server
        self.bench = bench
        self.tmp = tmp
        self.runs = 0


def measure(rows, ctx):
    """Interleaved rounds: every row --repeat times per round, shuffled; per
    test the best run of the round counts."""
    rng = random.Random(ctx.args.seed)
    for r in range(ctx.args.rounds):
        jobs = list(rows) * ctx.args.repeat
        rng.shuffle(jobs)
        best = {}
        for row in jobs:
            ctx.runs += 1
            rps, figures = one_run(row, ctx, ctx.runs)
            row.runs[0] += 1
            if rps is None:
                continue
            row.runs[1] += 1
            got = best.setdefault(row.name, {})
            for t in TESTS:
                got[t] = max(got.get(t, 0), rps[t])
            if figures:
                for k, v in figures.items():
                    if v is not None:
                        row.trace[k].append(v)
        for row in rows:
            for t, v in best.get(row.name, {}).items():
                row.rps[t].append(v)
        print("round %d/%d: %s" % (r + 1, ctx.args.rounds, "; ".join(
            "%s %s" % (row.name, ", ".join(
                "%s %.0f/s" % (t, best[row.name][t]) for t in TESTS)
                if row.name in best else "failed") for row in rows)),
            flush=True)


# ---- reporting -------------------------------------------------------------

def print_setup(ctx, rows, builds):
    print(machine_line())
    print(load_line("start"))
    print("utrace:  %s" % utrace_version(ctx.utrace))
    for cmd in builds:
        print("build:   %s" % shlex.join(cmd))
    print("redis:   %s -> %s (%s)" % (
        ctx.server, os.path.realpath(ctx.server), subprocess.run(
            [ctx.server, "--version"], capture_output=True,
            text=True).stdout.strip()))
    print("rounds:  %d, interleaved, each row %d time(s) per round (best "
          "counts), shuffle seed %d; a fresh redis-server every run" % (
              ctx.args.rounds, ctx.args.repeat, ctx.args.seed))
    print("commands:")
    print("  server          %s" % shlex.join(
        [ctx.server, "--port", "P", "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--dir", "D"]))
    print("  benchmark       %s" % shlex.join(
        bench_argv(ctx.bench, "P", ctx.args, ctx.args.requests)))
    for row in rows:
        if row.options is not None:
            print("  %-15s %s" % (row.name, shlex.join(
                ["rss-of", "F"] + utrace_argv(ctx.utrace, "T", "PID",
                                               row.options))))
    print(flush=True)


def med(xs, fmt):
    return fmt % statistics.median(xs) if xs else "-"


def print_tables(rows):
    row_fmt = "%-15s %10s %10s %10s %10s %10s %10s %8s"
    print()
    print(row_fmt % ("row", "SET", "min", "max", "GET", "min", "max", "runs"))
    print(row_fmt % ("", "req/s", "", "", "req/s", "", "", "ok"))
    for row in rows:
        cells = []
        for t in TESTS:
            xs = row.rps[t]
            cells += [med(xs, "%.0f"), "%.0f" % min(xs) if xs else "-",
                      "%.0f" % max(xs) if xs else "-"]
        print(row_fmt % tuple([row.name] + cells + ["%d/%d" % (
            row.runs[1], row.runs[0])]))
    print("median/min/max over the rounds of the best run of the round.")

    trace_fmt = "%-15s %12s %12s %14s %8s %8s %8s %10s"
    print()
    print(trace_fmt % ("row", "events", "dropped", "trace", "bytes/", "utrace",
                       "waits", "drain"))
    print(trace_fmt % ("", "recorded", "", "bytes", "event", "MiB", "",
                       "M ev/s"))
    for row in rows:
        if row.options is None:
            continue
        f = row.trace
        per_event = [b / e for b, e in zip(f["bytes"], f["events"]) if e]
        print(trace_fmt % (
            row.name, med(f["events"], "%d"), med(f["dropped"], "%d"),
            med(f["bytes"], "%d"), med(per_event, "%.2f"),
            med([r / KIB_PER_MIB for r in f["rss"]], "%.1f"),
            med(f["waits"], "%d"), med(f["drain"], "%.2f")))
    print("medians over the runs: events recorded and dropped (utrace info), "
          "the trace directory's bytes, utrace's ru_maxrss (rss-of), times a "
          "thread waited for room in a full ring, and utrace -v's drain rate.")
    for row in rows:
        if row.options is not None and row.trace["dropped"]:
            print("%s: dropped per run: %s" % (row.name, ", ".join(
                "%d" % d for d in row.trace["dropped"])))


def print_targets(rows):
    print("\ngoal (medians over the rounds): traced / untraced >= %.0f%%" %
          (MIN_TRACED_RATIO * 100))
    base = rows[0]
    for row in rows[1:]:
        for t in TESTS:
            if not row.rps[t] or not base.rps[t]:
                print("  %s %s: n/a (no successful run)" % (row.name, t))
                continue
            a = statistics.median(row.rps[t])
            b = statistics.median(base.rps[t])
            print("  %-15s %s: %.0f / %.0f req/s = %.1f%%: %s" % (
                row.name, t, a, b, 100 * a / b,
                "PASS" if a / b >= MIN_TRACED_RATIO else "MISS"))


def find_redis():
    server = shutil.which("redis-server")
    bench = shutil.which("redis-benchmark")
    if not server or not bench:
        sys.exit("redis: %s not found; install with: %s" % (
            " and ".join(n for n, p in (("redis-server", server),
                                        ("redis-benchmark", bench)) if not p),
            INSTALL_HINT))
    return server, bench


def main():
    ap = argparse.ArgumentParser(
        description="redis-server traced (every function) against untraced")
    add_common_args(ap, rounds=3, kept="traces, redis logs", repeat=1)
    ap.add_argument("--requests", type=int, default=200_000,
                    help="requests of each test, redis-benchmark -n "
                    "(default 200000)")
    ap.add_argument("--clients", type=int, default=8,
                    help="parallel connections, redis-benchmark -c "
                    "(default 8)")
    args = ap.parse_args()
    if min(args.rounds, args.repeat, args.requests, args.clients) < 1:
        ap.error("--rounds, --repeat, --requests and --clients must be at "
                 "least 1")

    server, bench = find_redis()
    utrace = require_utrace(args.utrace, "redis")
    start = time.perf_counter()
    rows = [Row("untraced", None), Row("traced", []),
            Row("traced --lossy", ["--lossy"])]
    with scratch_dir("utrace-redis-", args.keep) as tmp:
        rss_of, rss_cmd = build(tmp, RSS_SOURCE, ("-O2",))
        ctx = Context(args, utrace, rss_of, server, bench, tmp)
        print_setup(ctx, rows, [rss_cmd])
        p, port = start_redis(server, os.path.join(tmp, "warm-up"))
        print("traced:  %s, the executable of the running redis-server" %
              os.path.realpath("/proc/%d/exe" % p.pid))
        run_benchmark(bench_argv(bench, port, args,
                                 max(1, args.requests // WARM_UP_SHARE)))
        stop_redis(p, port, None, False)
        measure(rows, ctx)
        print_tables(rows)
        print_targets(rows)
    return finish(start)


if __name__ == "__main__":
    sys.exit(main())
