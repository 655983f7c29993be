// SPDX-License-Identifier: MIT
/*
 * Threads of the traced process and how we stop and resume them.
 *
 * Every thread is PTRACE_SEIZE'd with the same options, so group-stops are
 * reported as PTRACE_EVENT_STOP and can be continued with PTRACE_LISTEN
 * (job control behaves as untraced), and PTRACE_INTERRUPT stops a thread
 * without sending it a signal.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "control.h"
#include "log.h"
#include "procfs.h"
#include "tsc.h"

#define STOP_TIMEOUT_NS (2ULL * 1000 * 1000 * 1000)
#define STOP_POLL_NS (20 * 1000)
#define REINTERRUPT_NS (100ULL * 1000 * 1000)
#define RESUME_NICE (-10)

struct ut_thread *ut_thread_find(struct ut_proc *p, pid_t tid)
{
	for (size_t i = 0; i < p->nthreads; i++)
		if (p->threads[i].tid == tid)
			return &p->threads[i];
	return NULL;
}

struct ut_thread *ut_thread_add(struct ut_proc *p, pid_t tid, pid_t pid, enum ut_thread_state state)
{
	struct ut_thread *t;

	if (p->nthreads == p->cap_threads) {
		size_t cap = p->cap_threads ? p->cap_threads * 2 : 16;
		struct ut_thread *v = realloc(p->threads, cap * sizeof(*v));

		if (!v)
			return NULL;
		p->threads = v;
		p->cap_threads = cap;
	}
	t = &p->threads[p->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->pid = pid;
	t->state = state;
	t->slot = UT_NO_SLOT;
	return t;
}

/* Pointers into the table are invalidated: callers must not hold any. */
void ut_thread_remove(struct ut_proc *p, struct ut_thread *t)
{
	size_t i = (size_t)(t - p->threads);

	p->threads[i] = p->threads[--p->nthreads];
}

int ut_thread_seize(struct ut_proc *p, pid_t tid)
{
	uint64_t tracer = 0;
	int err;

	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)UT_PTRACE_OPTIONS) == 0)
		return 0;
	err = errno; /* the /proc reads below may change errno */
	if (err == EPERM && ut_proc_task_state(p->pid, tid) == 'Z')
		return -ESRCH; /* a zombie leader: nothing to trace there */
	/* a task refuses PTRACE_SEIZE while it exits: gone by now, it is no error */
	if (err == EPERM && ut_proc_status_field(tid, "TracerPid:", 10, &tracer) < 0)
		err = ESRCH;
	if (err == ESRCH) {
		ut_error("no such process: %d", tid);
		return -ESRCH;
	}
	if (err == EPERM) {
		if (tracer == (uint64_t)getpid())
			return -EALREADY; /* auto-attached, its first stop not read yet */
		if (tracer)
			ut_error("process %d is already traced by process %d", p->pid, (int)tracer);
		else
			ut_error("cannot trace process %d: permission denied", p->pid);
		return -EPERM;
	}
	ut_error("cannot trace process %d: %s", p->pid, strerror(err));
	return -err;
}

/* One word each way: answering a trap is the int3 path's whole cost. */
int ut_thread_get_ip(pid_t tid, uint64_t *ip)
{
	long v;

	errno = 0;
	v = ptrace(PTRACE_PEEKUSER, tid, (void *)ARCH_USER_IP_OFFSET, 0);
	if (errno)
		return -errno;
	*ip = (uint64_t)v;
	return 0;
}

int ut_thread_get_regs(pid_t tid, struct user_regs_struct *regs)
{
	return ptrace(PTRACE_GETREGS, tid, 0, regs) < 0 ? -errno : 0;
}

int ut_thread_set_ip(pid_t tid, uint64_t ip)
{
	return ptrace(PTRACE_POKEUSER, tid, (void *)ARCH_USER_IP_OFFSET, (void *)ip) < 0 ? -errno :
											   0;
}

int ut_thread_resume(struct ut_proc *p, struct ut_thread *t)
{
	long r;

	(void)p;
	if (t->group_stop)
		r = ptrace(PTRACE_LISTEN, t->tid, 0, 0);
	else
		r = ptrace(t->key_wait ? PTRACE_SYSCALL : PTRACE_CONT, t->tid, 0,
			   (void *)(long)t->resume_sig);
	t->resume_sig = 0;
	t->state = t->exiting ? UT_THREAD_EXITING : UT_THREAD_RUNNING;
	/* ESRCH: killed meanwhile; its exit is reported by wait. */
	if (r < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

int ut_thread_release(struct ut_proc *p, struct ut_thread *t)
{
	if (p->holding || t->state != UT_THREAD_STOPPED)
		return 0;
	return ut_thread_resume(p, t);
}

int ut_wait_one(struct ut_proc *p, bool block)
{
	int status, r;
	pid_t tid = waitpid(-1, &status, __WALL | (block ? 0 : WNOHANG));
	struct ut_proc *owner;

	if (tid < 0)
		return errno == EINTR ? 0 : -errno;
	if (tid == 0)
		return 0;
	owner = p->stop_ops->owner(p, tid);
	r = owner->stop_ops->handle(owner, tid, status);
	/* A followed process's trouble ends only its own tracing (ut_family_reap). */
	return r < 0 && owner == p ? r : 1;
}

/*
 * Threads the world waits for.  A thread in vfork cannot stop until its child
 * execs or exits, and that child (sharing our memory) is left running so it
 * can: neither is waited for.
 */
static bool must_stop(const struct ut_thread *t)
{
	return (t->state == UT_THREAD_RUNNING || t->state == UT_THREAD_NEW) && !t->in_vfork &&
	       !t->vfork_child;
}

static size_t count_unstopped(const struct ut_proc *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nthreads; i++)
		if (must_stop(&p->threads[i]))
			n++;
	return n;
}

static void interrupt_running(struct ut_proc *p)
{
	for (size_t i = 0; i < p->nthreads; i++) {
		struct ut_thread *t = &p->threads[i];

		if (t->state != UT_THREAD_RUNNING || t->interrupted || !must_stop(t))
			continue;
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) == 0)
			t->interrupted = true;
	}
}

/*
 * An interrupt can be spent on a stop that reported something else (an event
 * taken just before it): ask again.  A spare one only causes a stop we resume.
 */
static void reinterrupt_silent(struct ut_proc *p)
{
	for (size_t i = 0; i < p->nthreads; i++)
		if (must_stop(&p->threads[i]))
			p->threads[i].interrupted = false;
	interrupt_running(p);
}

static void name_unstopped(struct ut_proc *p)
{
	for (size_t i = 0; i < p->nthreads; i++)
		if (must_stop(&p->threads[i])) {
			ut_error(
				"thread %d of process %d did not stop within 2 s (uninterruptible sleep?)",
				p->threads[i].tid, p->pid);
			return;
		}
}

/*
 * Stop every thread.  Threads created meanwhile are auto-attached and stop
 * by themselves (state NEW); a thread that never reports (D state, zombie
 * leader) aborts the stop with a message instead of hanging.
 */
int ut_world_stop(struct ut_proc *p)
{
	uint64_t start = utrace_monotonic_ns(), quiet_since = start;
	struct timespec pause = { 0, STOP_POLL_NS };
	int r;

	p->stop_began_ns = start;
	p->holding = true;
	interrupt_running(p);
	while (count_unstopped(p)) {
		r = ut_wait_one(p, false);
		if (r < 0)
			return r;
		if (r > 0) {
			interrupt_running(p); /* threads seen for the first time */
			quiet_since = utrace_monotonic_ns();
			continue;
		}
		if (utrace_monotonic_ns() > start + STOP_TIMEOUT_NS) {
			name_unstopped(p);
			return -ETIMEDOUT;
		}
		if (utrace_monotonic_ns() > quiet_since + REINTERRUPT_NS) {
			reinterrupt_silent(p);
			quiet_since = utrace_monotonic_ns();
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

/*
 * Resume at raised priority when allowed: at normal priority the first
 * resumed thread preempts us and resuming many threads takes milliseconds.
 */
int ut_world_resume(struct ut_proc *p)
{
	int old_prio, err = 0;
	bool raised;

	errno = 0;
	old_prio = getpriority(PRIO_PROCESS, 0);
	raised = errno == 0 && setpriority(PRIO_PROCESS, 0, RESUME_NICE) == 0;
	p->holding = false;
	for (size_t i = 0; i < p->nthreads; i++) {
		struct ut_thread *t = &p->threads[i];
		int e = t->state == UT_THREAD_STOPPED ? ut_thread_resume(p, t) : 0;

		if (e < 0 && !err)
			err = e;
	}
	if (raised)
		setpriority(PRIO_PROCESS, 0, old_prio);
	p->stopped_ns = utrace_monotonic_ns() - p->stop_began_ns;
	return err;
}

static int seize_new_tasks(struct ut_proc *p, size_t *added)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", p->pid);
	d = opendir(path);
	if (!d) {
		ut_error("no such process: %d", p->pid);
		return -ESRCH;
	}
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || ut_thread_find(p, tid))
			continue;
		r = ut_thread_seize(p, tid);
		if (r == -ESRCH) { /* exited meanwhile */
			r = 0;
			continue;
		}
		if (r < 0 && r != -EALREADY)
			break;
		if (!ut_thread_add(p, tid, p->pid, r ? UT_THREAD_NEW : UT_THREAD_RUNNING)) {
			r = -ENOMEM;
			break;
		}
		(*added)++;
		r = 0;
	}
	closedir(d);
	return r;
}

/* Seize every thread of p->pid, rescanning until no new one appears. */
int ut_attach_all(struct ut_proc *p)
{
	size_t added;
	int r;

	do {
		added = 0;
		r = seize_new_tasks(p, &added);
		if (r < 0)
			return r;
	} while (added);
	return p->nthreads ? 0 : -ESRCH;
}
