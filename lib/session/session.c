// SPDX-License-Identifier: MIT
/*
 * A session from start to end: launch or attach, install the probes with the
 * world stopped, then a loop that answers ptrace stops until the program
 * exits or we are asked to detach, while the drainer (drainer.c) moves the
 * records from the rings into the trace.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "procfs.h"
#include "tracer.h"
#include "log.h"
#include "remote.h"
#include "base.h"

/*
 * Adaptive polling: a stop wakes the loop through the SIGCHLD signalfd;
 * idle, the wait doubles from POLL_MIN_US up to POLL_MAX_US, so that
 * ending (the family reaped, a detach asked for) is seen soon enough.
 */
#define POLL_MIN_US 50
#define POLL_MAX_US 2000
#define USEC_PER_SEC 1000000
/* Busy with stops, the loop reads the signals that ask it to end this often. */
#define SIGNALS_EVERY_WAITS 256
#define SPIN_AFTER_STOP_NS 200000ULL
#define SYSCALL_THREAD_WAIT_NS (2ULL * 1000 * 1000 * 1000)
#define SYSCALL_THREAD_POLL_NS (1000 * 1000)
/* Waiting for a program let go to exit: its SIGCHLD wakes us, this is a backstop. */
#define EXIT_POLL_US 100000

/* The drainer's work: every ring of the session and of the processes it follows. */
static long drain_family(void *session)
{
	struct ut_session *s = session;
	long n;

	ut_lock(s);
	n = ut_family_drain(s);
	ut_unlock(s);
	return n;
}

/* The thread table hands its stops up to the event handler of the session they belong to. */
static struct ut_proc *stop_owner(struct ut_proc *p, pid_t tid)
{
	return &ut_family_owner(ut_session_of_proc(p), tid)->proc;
}

static int stop_handle(struct ut_proc *p, pid_t tid, int status)
{
	return ut_handle_status(ut_session_of_proc(p), tid, status);
}

static const struct ut_stop_ops session_stop_ops = {
	.owner = stop_owner,
	.handle = stop_handle,
};

static int session_init(struct ut_session *s, const struct ut_session_opts *o)
{
	const char *unsupported = arch_cpu_unsupported();
	sigset_t chld;

	memset(s, 0, sizeof(*s));
	s->proc.stop_ops = &session_stop_ops;
	s->inj.memfd = -1;
	s->chld_fd = -1;
	if (unsupported) {
		ut_error("%s", unsupported);
		return -ENOTSUP;
	}
	s->start_ns = utrace_monotonic_ns();
	/* the rate once the probes are planned (plan_probes): its 2 ms pass meanwhile */
	utrace_tsc_begin(&s->tsc);
	s->opts = *o;
	ut_session_parts_link(s);
	s->traced = true;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	/* SIGCHLD is only ever consumed through the signalfd. */
	sigprocmask(SIG_BLOCK, &chld, NULL);
	s->chld_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (o->follow_fork && ut_family_new(s) < 0)
		return -ENOMEM;
	s->output = ut_output_new(o);
	if (!s->output)
		return utrace_error_last() ? -EIO : -ENOMEM;
	if (s->chld_fd < 0)
		return -ENOMEM;
	return ut_drainer_start(&s->drainer, drain_family, s);
}

static void session_fini(struct ut_session *s)
{
	if (s->output)
		ut_drainer_stop(&s->drainer);
	ut_family_free(s);
	if (s->consumer)
		utrace_consumer_free(s->consumer);
	ut_output_free(s->output);
	ut_stacks_free(&s->stacks);
	ut_release_data(&s->inj);
	ut_probes_free(&s->pr);
	ut_rtld_free(s);
	free(s->gid);
	free(s->proc.threads);
	if (s->chld_fd >= 0)
		close(s->chld_fd);
}

/* What a signal sent to utrace means: run forwards it, attach detaches. */
static void on_our_signal(struct ut_session *s, const struct signalfd_siginfo *si)
{
	if (!s->proc.launched) {
		s->detach_requested = true;
		return;
	}
	/* From the terminal, the program's process group got it already. */
	if (si->ssi_code == SI_KERNEL)
		return;
	kill(s->proc.pid, (int)si->ssi_signo);
	/* run waits for every followed process: `timeout utrace run -F` must end them too */
	ut_family_kill(s, (int)si->ssi_signo);
}

static void read_signals(struct ut_session *s)
{
	struct signalfd_siginfo si;

	while (read(s->chld_fd, &si, sizeof(si)) == sizeof(si))
		;
	if (s->opts.sigfd < 0)
		return;
	while (read(s->opts.sigfd, &si, sizeof(si)) == sizeof(si))
		on_our_signal(s, &si);
}

static void wait_for_work(struct ut_session *s, int timeout_us)
{
	struct pollfd fds[2] = { { s->chld_fd, POLLIN, 0 }, { s->opts.sigfd, POLLIN, 0 } };
	struct timespec ts = { timeout_us / USEC_PER_SEC,
			       (long)((timeout_us % USEC_PER_SEC) * NSEC_PER_USEC) };

	ppoll(fds, s->opts.sigfd >= 0 ? 2 : 1, &ts, NULL);
	read_signals(s);
}

/* Until the program and (--follow-fork) every child followed are gone, or we must stop. */
static bool session_busy(struct ut_session *s)
{
	if (s->failed || s->detach_requested)
		return false;
	if (ut_output_limit_reached(s)) {
		s->detach_requested = true;
		return false;
	}
	ut_family_reap(s);
	return (s->traced && !s->exited) || ut_family_busy(s);
}

/*
 * Answer stops as they come.  Waking from a sleep when the next stop comes
 * costs some 40 us on a VM (a halted CPU and an interrupt): for a while
 * after a stop, when int3 probes make the next one likely, poll without
 * sleeping.
 */
static int session_loop(struct ut_session *s)
{
	uint64_t last_stop = 0;
	int timeout = 0, waits = 0, r;

	while (session_busy(s)) {
		r = ut_wait_one(&s->proc, false);
		if (r == -ECHILD)
			break; /* nothing of ours is left to wait for */
		if (r < 0)
			return r;
		if (r > 0)
			last_stop = utrace_monotonic_ns();
		if (r > 0 && ++waits < SIGNALS_EVERY_WAITS)
			continue;
		waits = 0;
		if (r > 0 || utrace_monotonic_ns() - last_stop < SPIN_AFTER_STOP_NS) {
			timeout = 0;
			read_signals(s); /* never waiting, so never told otherwise */
			continue;
		}
		timeout = timeout ? timeout * 2 : POLL_MIN_US;
		if (timeout > POLL_MAX_US)
			timeout = POLL_MAX_US;
		wait_for_work(s, timeout);
	}
	return s->failed;
}

#define NOTLS_NAMES_MAX 8

/*
 * One line naming the matched functions that ran, not traced, while a thread
 * had no TLS on a CPU without FSGSBASE (a static program's start-up).
 */
static void report_notls(const struct ut_output *o, const struct ut_stats *st)
{
	char line[1024];
	size_t len = 0, shown = 0, more = 0;

	if (!st->notls)
		return;
	for (size_t i = 0; i < st->nfuncs && i < o->nfuncs; i++) {
		uint64_t n = st->func_notls[i];

		if (!n)
			continue;
		if (shown == NOTLS_NAMES_MAX) {
			more++;
			continue;
		}
		len += (size_t)snprintf(line + len, len < sizeof(line) ? sizeof(line) - len : 0,
					"%s%s (%llu %s)", shown++ ? ", " : "",
					o->funcs[i].info.name, (unsigned long long)n,
					n == 1 ? "call" : "calls");
	}
	if (more)
		ut_warn("not traced while a thread had no TLS (this CPU has no FSGSBASE): %.900s and "
			"%zu more functions",
			line, more);
	else
		ut_warn("not traced while a thread had no TLS (this CPU has no FSGSBASE): %.900s",
			line);
}

static void report_losses(const struct ut_session *s, const struct ut_stats *st)
{
	if (st->drops && !s->opts.block_timeout_ns)
		ut_warn("%llu events dropped: ring full (--lossy; a larger --bufsize keeps more)",
			(unsigned long long)st->drops);
	else if (st->drops)
		ut_warn("%llu events dropped: a ring stayed full while utrace drained nothing "
			"for --block-timeout",
			(unsigned long long)st->drops);
	if (st->torn || st->invalid)
		ut_warn("%llu records torn, %llu invalid", (unsigned long long)st->torn,
			(unsigned long long)st->invalid);
	if (st->rs_overflow)
		ut_warn("%llu calls got no exit event: shadow stack full",
			(unsigned long long)st->rs_overflow);
	if (st->no_slot)
		ut_warn("%llu events of untraced threads not recorded",
			(unsigned long long)st->no_slot);
	if (st->lost_return)
		ut_warn("%llu returns lost", (unsigned long long)st->lost_return);
}

static int finish_output(struct ut_session *s)
{
	struct ut_stats st = { 0 };
	int e;

	ut_drainer_stop(&s->drainer);
	ut_drain(s);
	if (ut_output_stats(s, &st) < 0)
		ut_warn("out of memory: losses are not reported");
	st.no_returns = s->pr.no_returns;
	st.stopped = s->output->stopped[0] ? s->output->stopped : NULL;
	/* the live view's events come before what is said of them */
	e = ut_output_finish(s, &st);
	report_losses(s, &st);
	report_notls(s->output, &st);
	ut_rtld_report(s);
	if (st.waits)
		ut_info("threads waited %llu times for room in a full ring: %.1f ms in all",
			(unsigned long long)st.waits, (double)st.wait_ns / NSEC_PER_MSEC);
	if (s->drain_ns)
		ut_info("output: %llu events in %.1f ms of draining (%.2f M events/s)",
			(unsigned long long)st.events, (double)s->drain_ns / NSEC_PER_MSEC,
			(double)st.events * 1e3 / (double)s->drain_ns);
	if (s->output->writer && utrace_writer_finish(s->output->writer, &st) < 0 && e == 0)
		e = -EIO;
	/* last: the live view's own last line (its summary) may be on stderr too */
	if (st.stopped)
		ut_warn("stopped tracing %s", st.stopped);
	ut_stats_free(&st);
	return e;
}

/*
 * After tracing (or to end a launch that failed): reap the program.  Stops
 * still reported by threads we are attached to (the exit event even of a
 * SIGKILLed thread) are continued.  A program let go at a limit may run on
 * for long: the signals sent to utrace still reach it meanwhile.
 */
static int wait_exit_status(struct ut_session *s)
{
	int status;
	pid_t tid;

	while (!s->exited) {
		tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid == 0) {
			wait_for_work(s, EXIT_POLL_US);
			continue;
		}
		if (tid < 0)
			return errno == EINTR ? 0 : -errno;
		if (WIFSTOPPED(status))
			ptrace(PTRACE_CONT, tid, 0, 0);
		else if (tid == s->proc.pid) {
			s->exited = true;
			s->exit_status = status;
		}
	}
	return 0;
}

static int shell_status(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void child_exec(char *const argv[], int go_fd, int err_fd)
{
	sigset_t none;
	char c;
	int err;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Wait until the parent has seized us (it writes one byte). */
	if (read(go_fd, &c, 1) != 1)
		_exit(127);
	execv(argv[0], argv);
	err = errno;
	if (write(err_fd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

static int launch(struct ut_session *s, char *const argv[], int *err_fd)
{
	int go[2], ep[2], e;

	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	s->proc.pid = s->proc.mm_pid = fork();
	if (s->proc.pid < 0)
		return -errno;
	if (s->proc.pid == 0)
		child_exec(argv, go[0], ep[1]);
	close(go[0]);
	close(ep[1]);
	*err_fd = ep[0];
	s->proc.launched = true;
	e = ut_thread_seize(&s->proc, s->proc.pid);
	if (e == 0 && !ut_thread_add(&s->proc, s->proc.pid, s->proc.pid, UT_THREAD_RUNNING))
		e = -ENOMEM;
	if (e < 0)
		kill(s->proc.pid, SIGKILL);
	else if (write(go[1], "", 1) != 1)
		e = -errno;
	close(go[1]);
	return e;
}

static void report_exec_failure(struct ut_session *s, const char *prog, int err_fd)
{
	int err;

	if (read(err_fd, &err, sizeof(err)) == sizeof(err)) {
		ut_error("cannot execute %s: %s", prog, strerror(err));
		s->failed = -err;
	}
}

/* attach's end, and run's at a limit: the program and every process followed go on untraced. */
static int let_go(struct ut_session *s)
{
	int e = 0;

	if (s->traced && !s->exited)
		e = ut_detach(s);
	/* after: a child forked while the world stopped for that detach is followed too */
	ut_family_end(s);
	return e;
}

/*
 * run at a limit: let go, and finish the trace now, however long the
 * program runs on.  A thread that would not stop was warned of; the
 * program's status is still what run reports.
 */
static int finish_at_limit(struct ut_session *s)
{
	let_go(s);
	return finish_output(s);
}

int utrace_session_run(const struct ut_session_opts *o, char *const argv[], int *exit_code)
{
	struct ut_session s;
	bool finished = false;
	int e, err_fd = -1;

	e = session_init(&s, o);
	if (e == 0)
		e = launch(&s, argv, &err_fd);
	if (e == 0)
		e = session_loop(&s);
	if (e == 0 && s.detach_requested) {
		e = finish_at_limit(&s);
		finished = true;
	}
	ut_family_end(&s);
	/* we launched it only to trace it; once let go, it is no longer ours to end */
	if (e < 0 && !finished && !s.exited && s.proc.pid > 0)
		kill(s.proc.pid, SIGKILL);
	if (s.proc.pid > 0)
		wait_exit_status(&s);
	if (err_fd >= 0) {
		if (!s.injected)
			report_exec_failure(&s, argv[0], err_fd);
		close(err_fd);
	}
	if (e == 0)
		e = s.failed;
	if (e == 0 && !finished)
		e = finish_output(&s);
	*exit_code = shell_status(s.exit_status);
	session_fini(&s);
	return e;
}

/*
 * In an event stop inside fork, vfork, clone or exec, the syscall's result is
 * still to be written to rax: an injected syscall there would be clobbered.
 */
static bool can_run_syscalls(const struct ut_thread *t)
{
	return t->state == UT_THREAD_STOPPED && !t->exiting && !t->group_stop &&
	       (t->stop_event == 0 || t->stop_event == PTRACE_EVENT_STOP);
}

static bool any_in_vfork(const struct ut_session *s)
{
	for (size_t i = 0; i < s->proc.nthreads; i++)
		if (s->proc.threads[i].pid == s->proc.pid && s->proc.threads[i].in_vfork)
			return true;
	return false;
}

/*
 * A thread to run our syscalls: let event stops finish their syscall and stop
 * again.  A thread in vfork cannot stop until its child execs or exits (its
 * VFORK_DONE stop): a process that vforks in a loop may have no other
 * thread, so wait for that, up to SYSCALL_THREAD_WAIT_NS.
 */
static pid_t syscall_thread(struct ut_session *s)
{
	uint64_t deadline = utrace_monotonic_ns() + SYSCALL_THREAD_WAIT_NS;
	struct timespec pause = { 0, SYSCALL_THREAD_POLL_NS };

	for (int tries = 0;; tries++) {
		for (size_t i = 0; i < s->proc.nthreads; i++)
			if (s->proc.threads[i].pid == s->proc.pid &&
			    can_run_syscalls(&s->proc.threads[i]))
				return s->proc.threads[i].tid;
		bool vforking = any_in_vfork(s);
		if ((!vforking && tries >= 3) || utrace_monotonic_ns() > deadline)
			break;
		for (size_t i = 0; i < s->proc.nthreads; i++)
			if (s->proc.threads[i].state == UT_THREAD_STOPPED &&
			    s->proc.threads[i].stop_event != PTRACE_EVENT_STOP &&
			    s->proc.threads[i].stop_event)
				ut_thread_resume(&s->proc, &s->proc.threads[i]);
		if (ut_world_stop(&s->proc) < 0)
			return -1;
		if (vforking && ut_wait_one(&s->proc, false) <= 0)
			nanosleep(&pause, NULL);
	}
	ut_error("no thread of process %d can run utrace's code now (stopped by a signal?)",
		 s->proc.pid);
	return -1;
}

static int attach_and_install(struct ut_session *s, pid_t pid)
{
	struct ut_modules mods = { 0 };
	int e;

	if (pid == getpid()) {
		ut_error("utrace cannot trace itself");
		return -EINVAL;
	}
	s->proc.pid = s->proc.mm_pid = pid;
	s->images = 1;
	e = ut_attach_all(&s->proc);
	ut_mm_pid_update(&s->proc);
	if (e == 0)
		e = ut_plan_probes(s, &mods);
	if (e == 0)
		e = ut_world_stop(&s->proc);
	if (e == 0) {
		pid_t tid = syscall_thread(s);

		e = tid > 0 ? ut_install_probes(s, tid, &mods) : -EAGAIN;
	}
	utrace_modules_free(&mods);
	if (e < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", utrace_error_last() ? utrace_error_last() : "");
		ut_detach(s);
		utrace_error_clear();
		if (why[0])
			ut_error("%s", why);
		return e;
	}
	e = ut_world_resume(&s->proc);
	ut_install_log(s, s->proc.stopped_ns);
	return e;
}

int utrace_session_attach(const struct ut_session_opts *o, pid_t pid)
{
	struct ut_session s;
	int e = session_init(&s, o), d;

	if (e == 0)
		e = attach_and_install(&s, pid);
	if (e == 0)
		e = session_loop(&s);
	d = let_go(&s);
	if (e == 0)
		e = d;
	if (e == 0 || s.injected)
		finish_output(&s);
	if (s.exited && e == 0)
		ut_info("process %d exited with status %d", pid, shell_status(s.exit_status));
	session_fini(&s);
	return e;
}
