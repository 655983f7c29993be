#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Errors a user can cause: each is one stderr line starting "utrace: ",
a non-zero exit status, and a target program that is left unharmed."""

import os
import shutil
import subprocess
import time
import unittest

import harness as h

EM_AARCH64 = 183
# An error is reported at once; a hang is a failure, not a long wait.
ERROR_TIMEOUT = 10


PF_KTHREAD = 0x00200000


def proc_state(pid):
    """The state letter of /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def kernel_thread():
    """The pid of a kernel thread (kthreadd is 2), None when this pid namespace shows none."""
    for name in sorted(os.listdir("/proc"), key=lambda n: (len(n), n)):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[6]) & PF_KTHREAD:  # field 9, the flags
            return int(name)
    return None


class ErrorTest(unittest.TestCase):
    def utrace(self, *args, preexec_fn=None):
        return h.run([h.utrace_path()] + list(args), timeout=ERROR_TIMEOUT,
                     preexec_fn=preexec_fn)

    def out(self, name="out.json"):
        return os.path.join(h.tmpdir(self), name)

    def attach_error(self, *opts, funcs=("work_*",), preexec_fn=None, target_preexec=None,
                     target_args=()):
        """utrace attach fails on a running s-attach, which stays unharmed."""
        t = h.start_target(self, args=target_args, preexec_fn=target_preexec)
        t.phase(1)
        argv = ["attach", str(t.pid)]
        for f in funcs:
            argv += ["-f", f]
        res = self.utrace(*argv, *opts, preexec_fn=preexec_fn)
        h.check_unharmed(self, t, 2)
        return res

    def binaries_for_nobody(self):
        """Run utrace and the progs from copies in the per-test directory: the
        build tree may not be reachable by user nobody (a fresh clone under a
        private directory)."""
        h.require(self, "nobody-exec")
        d = h.tmpdir(self)
        progs = os.path.join(d, "progs")
        os.mkdir(progs)
        os.chmod(progs, 0o755)
        utrace = os.path.join(d, "utrace")
        shutil.copy(h.utrace_path(), utrace)
        shutil.copy(h.prog("s-attach"), os.path.join(progs, "s-attach"))
        for var, path in (("UTRACE", utrace), ("UTRACE_PROGS", progs)):
            self.addCleanup(os.environ.__setitem__, var, os.environ[var])
            os.environ[var] = path

    def copy_prog(self, name, mode):
        path = os.path.join(h.tmpdir(self), name)
        shutil.copy(h.prog("s-chain"), path)
        os.chmod(path, mode)
        return path

    # ---- targets that do not exist or cannot be traced ----

    def test_nonexistent_pid(self):
        p = subprocess.Popen(["true"])
        p.wait()
        h.check_error(self, self.utrace("attach", str(p.pid), "-f", "work_*", "-o", self.out()))

    def test_zombie(self):
        p = subprocess.Popen(["true"])
        deadline = time.monotonic() + 10
        while proc_state(p.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            h.check_error(self, self.utrace("attach", str(p.pid), "-f", "work_*"),
                          "has exited", "zombie")
        finally:
            p.wait()

    def test_kernel_thread(self):
        pid = kernel_thread()
        if pid is None:
            self.skipTest("no kernel thread in this pid namespace")
        h.check_error(self, self.utrace("attach", str(pid), "-f", "work_*"), "kernel thread")

    def test_permission_denied(self):
        h.require(self, "root")
        self.binaries_for_nobody()
        h.check_error(self, self.attach_error("-o", self.out(), preexec_fn=h.as_nobody))

    def test_pid_already_traced(self):
        t = h.start_target(self)
        holder = h.attach(self, t.pid)
        h.wait_attached(self, t, holder)
        h.check_error(self, self.utrace("attach", str(t.pid), "-f", "work_*", "-o",
                                        self.out("second.json")))
        t.phase(1)
        events, _ = h.detach(self, holder)
        per_phase = h.check_unharmed(self, t, 2)
        h.check_counts(self, events, per_phase)

    def test_program_not_found(self):
        h.check_error(self, self.utrace("run", "-f", "work_*", "-o", self.out(), "--",
                                        "/nonexistent/s-chain"))
        h.check_error(self, self.utrace("run", "-f", "work_*", "-o", self.out(), "--",
                                        "utrace-no-such-program"))

    def test_program_not_executable(self):
        path = self.copy_prog("s-chain", 0o644)
        h.check_error(self, self.utrace("run", "-f", "work_*", "-o", self.out(), "--", path))

    def test_program_not_elf(self):
        path = os.path.join(h.tmpdir(self), "script")
        with open(path, "w") as f:
            f.write("echo this is no ELF file\n")
        os.chmod(path, 0o755)
        h.check_error(self, self.utrace("run", "-f", "work_*", "-o", self.out(), "--", path))

    def test_program_name_empty(self):
        h.check_error(self, self.utrace("run", "-f", "work_*", "--", ""), "name is empty")
        h.check_error(self, self.utrace("run", "-f", "work_*", "--", "/tmp"), "is a directory")

    def test_program_of_another_architecture(self):
        path = self.copy_prog("s-chain", 0o755)
        with open(path, "r+b") as f:
            f.seek(h.E_MACHINE_OFFSET)
            f.write(EM_AARCH64.to_bytes(2, "little"))
        h.check_error(self, self.utrace("run", "-f", "work_*", "-o", self.out(), "--", path))

    def test_binary_without_symbols(self):
        path = os.path.join(h.tmpdir(self), "s-chain")
        subprocess.run(["strip", "--strip-all", "-o", path, h.prog("s-chain")], check=True)
        h.check_error(self, self.utrace("run", "-f", "work_*", "-o", self.out(), "--", path))

    # ---- the command line ----

    def test_bad_options(self):
        """getopt's own complaints would not start with "utrace: "."""
        for argv, named in ((["run", "-f", "work_*", h.prog("s-chain"), "-c", "x"], "-c"),
                            (["run", h.prog("s-chain"), "-f"], "-f"),
                            (["run", "--bogus", h.prog("s-chain")], "--bogus"),
                            (["run", h.prog("s-chain"), "--format"], "--format"),
                            (["attach", "--max-threads"], "--max-threads")):
            h.check_error(self, self.utrace(*argv), named)

    def test_bad_limits(self):
        """--max-events and --duration: 0, negative, garbage, too large; the
        same line from run, record and attach (whose target stays unharmed)."""
        bad = {"--max-events": ("0", "-1", "abc", "10x", "1.5", "", "99999999999999999999"),
               "--duration": ("0", "-1s", "abc", "5d", "nan", "1e30s", "")}
        for opt, values in bad.items():
            for v in values:
                for argv in (["run", opt, v, "-f", "work_*", h.prog("s-chain")],
                             ["record", "-d", self.out("trace"), opt, v, "-f", "work_*", "--",
                              h.prog("s-chain")]):
                    with self.subTest(opt=opt, value=v, cmd=argv[0]):
                        line = h.check_error(self, self.utrace(*argv), opt)
                        self.assertTrue(line.startswith("utrace: %s %s: " % (opt, v)), line)
            line = h.check_error(self, self.attach_error(opt, values[0]), opt)
            self.assertTrue(line.startswith("utrace: %s %s: " % (opt, values[0])), line)
        self.assertFalse(os.path.exists(self.out("trace")), "record made a trace")

    # ---- filters that select nothing ----

    def test_no_function_matches_run(self):
        h.check_error(self, self.utrace("run", "-f", "nomatch_*", "-o", self.out(), "--",
                                        h.prog("s-chain")), "nomatch_*")

    def test_no_function_matches_attach(self):
        h.check_error(self, self.attach_error("-o", self.out(), funcs=("nomatch_*",)),
                      "nomatch_*")

    def test_module_not_loaded_static_run(self):
        """Without a dynamic linker no library can come: a pattern for one
        not loaded is an error.  (A dynamic program waits for it, run or
        attach: test_dlopen.py.)"""
        h.check_error(self, self.utrace("run", "-f", "libnothere.so:foo", "-o", self.out(),
                                        "--", h.prog("s-chain-static")), "libnothere.so",
                      "not loaded")

    # ---- output (as root, /proc/version opens for writing and fails only on write) ----

    def test_unwritable_output_run(self):
        h.check_error(self, self.utrace("run", "-f", "work_*", "-o", "/nonexistent/dir/out.json",
                                        "--", h.prog("s-chain")))

    def test_unwritable_output_attach(self):
        h.check_error(self, self.attach_error("-o", h.tmpdir(self)))

    # ---- seccomp ----

    def test_seccomp_unprivileged_refused(self):
        """Unprivileged, utrace cannot suspend the program's seccomp filter:
        it must refuse rather than run a syscall the filter kills for."""
        h.require(self, "root")
        self.binaries_for_nobody()
        h.check_error(self, self.attach_error("-o", self.out(), preexec_fn=h.as_nobody,
                                              target_preexec=h.as_nobody,
                                              target_args=("seccomp",)), "seccomp")


class OutputFileTest(unittest.TestCase):
    """-o never destroys a file: the program's, a running one, one a failed run names."""

    def setUp(self):
        self.dir = h.tmpdir(self)
        self.prog = os.path.join(self.dir, "prog")
        shutil.copy(h.prog("s-demo"), self.prog)
        with open(self.prog, "rb") as f:
            self.prog_bytes = f.read()

    def run_o(self, out, funcs=("work_*",), prog=None):
        argv = [h.utrace_path(), "run", "-o", out]
        for f in funcs:
            argv += ["-f", f]
        return h.run(argv + ["--", prog or self.prog])

    def left_over(self):
        return [n for n in os.listdir(self.dir) if ".utrace-" in n]

    def test_the_program_is_refused(self):
        res = self.run_o(self.prog)
        h.check_error(self, res, "-o " + self.prog, "the program traced")
        with open(self.prog, "rb") as f:
            self.assertEqual(f.read(), self.prog_bytes)
        self.assertEqual(self.left_over(), [])

    def test_a_running_program_is_refused(self):
        running = os.path.join(self.dir, "running")
        shutil.copy(h.prog("s-attach"), running)
        with open(running, "rb") as f:
            before = f.read()
        child = subprocess.Popen([running], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            child.stdout.readline()  # it runs
            res = self.run_o(running)
            h.check_error(self, res, "a program is running from that file")
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        with open(running, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_a_failed_run_leaves_the_file(self):
        out = os.path.join(self.dir, "trace.txt")
        with open(out, "w") as f:
            f.write("an earlier trace\n")
        res = self.run_o(out, funcs=("no_such_function",))
        h.check_error(self, res, "no function matches")
        with open(out) as f:
            self.assertEqual(f.read(), "an earlier trace\n")
        self.assertEqual(self.left_over(), [])

    def test_a_good_run_replaces_it(self):
        out = os.path.join(self.dir, "trace.txt")
        with open(out, "w") as f:
            f.write("an earlier trace\n")
        res = self.run_o(out)
        self.assertEqual(res.status, 0, res.stderr)
        with open(out) as f:
            self.assertIn("work_expr", f.read())
        self.assertEqual(self.left_over(), [])
        self.assertEqual(self.run_o("/dev/null").status, 0)


if __name__ == "__main__":
    h.main()
