// SPDX-License-Identifier: MIT
/*
 * Tests of lib/control/tracee.c on real children: the thread table, seizing, a
 * stopped thread's registers, waits handed to the stop ops, and stopping
 * and resuming the world.
 *
 * Every child is forked from this process, so it shares our address layout
 * (tracee_exit_stub is valid in it) and the MAP_SHARED page `shared`, whose
 * counters its threads advance while they run.  ut_wait_one() waits for any
 * child: the teardown kills and reaps them all, so that each test sees only
 * its own.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "child-harness.h"
#include "control.h"
#include "procfs.h"
#include "log.h"

#define NSPIN 4 /* threads of the threaded child: its main thread and three more */
#define NTABLE 40 /* more entries than the table's first allocation */
#define TID0 1000 /* made-up tids for the table alone */
#define PID0 999
#define STATE_OF(i) ((i) % 2 ? UT_THREAD_STOPPED : UT_THREAD_NEW)
#define MAX_SEEN 64
#define POLL_US 1000
#define POLL_TRIES 2000 /* 2 s */
#define STILL_NS 20000000L /* a stopped thread must not move in this long */
#define TEST_LIMIT_S 10 /* then SIGALRM: a wait that would hang fails with EINTR */
#define EXIT_STUB_STATUS 42

/* Wait statuses of a ptrace-stop at PTRACE_EVENT_* (SIGTRAP) */
#define EVENT_STATUS(ev) (((ev) << 16) | (SIGTRAP << 8) | 0x7f)

/* tracee_exit_stub: exit_group(42), without touching the stack it is jumped to with. */
__asm__(".pushsection .text\n"
	".globl tracee_exit_stub\n"
	".hidden tracee_exit_stub\n"
	".type tracee_exit_stub, @function\n"
	"tracee_exit_stub:\n"
	"mov $231, %eax\n" /* SYS_exit_group */
	"mov $42, %edi\n" /* EXIT_STUB_STATUS */
	"syscall\n"
	"ud2\n"
	".size tracee_exit_stub, .-tracee_exit_stub\n"
	".popsection\n");
void tracee_exit_stub(void);

struct shared {
	volatile uint64_t counters[NSPIN]; /* one per spinning thread */
};

struct seen {
	struct ut_proc *s;
	pid_t tid;
	int status;
};

static struct fixture {
	struct ut_proc s;
	struct ut_proc other; /* a followed process */
	pid_t other_tid; /* stops of this tid belong to `other` (0: none) */
	int handle_ret;
	struct seen seen[MAX_SEEN];
	size_t nseen;
	pid_t child;
} fx;

static struct shared *shared;

/* ---- the stop ops: record, and keep the table as events.c does ---- */

static struct ut_proc *test_owner(struct ut_proc *s, pid_t tid)
{
	return fx.other_tid && tid == fx.other_tid ? &fx.other : s;
}

static int test_handle(struct ut_proc *s, pid_t tid, int status)
{
	struct ut_thread *t = ut_thread_find(s, tid);

	if (fx.nseen < MAX_SEEN)
		fx.seen[fx.nseen] = (struct seen){ .s = s, .tid = tid, .status = status };
	fx.nseen++;
	if (!t)
		return fx.handle_ret;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		ut_thread_remove(s, t);
	} else if (WIFSTOPPED(status)) {
		t->state = UT_THREAD_STOPPED;
		t->stop_event = status >> 16;
		/* our interrupt is spent: the next world stop must send another */
		if (t->stop_event == PTRACE_EVENT_STOP)
			t->interrupted = false;
	}
	return fx.handle_ret;
}

static const struct ut_stop_ops test_ops = { .owner = test_owner, .handle = test_handle };

static void proc_init(struct ut_proc *s)
{
	memset(s, 0, sizeof(*s));
	s->stop_ops = &test_ops;
}

/* ---- child side: no cmocka here, results go to the exit status ---- */

static void *spin(void *arg)
{
	volatile uint64_t *c = &shared->counters[(uintptr_t)arg];

	for (;;)
		(*c)++;
	return NULL;
}

static int child_spin(void)
{
	spin((void *)0);
	return 0;
}

static int child_threads(void)
{
	pthread_t th;

	for (uintptr_t i = 1; i < NSPIN; i++)
		if (pthread_create(&th, NULL, spin, (void *)i))
			return EXIT_FAILURE;
	spin((void *)0);
	return 0;
}

/* ---- test side ---- */

static pid_t child_start(int (*body)(void))
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		test_child_default_crash_signals();
		_exit(body());
	}
	fx.child = pid;
	fx.s.pid = fx.s.mm_pid = pid;
	return pid;
}

/* Whether counter i moves on from `old` within POLL_TRIES polls. */
static bool advances(unsigned i, uint64_t old)
{
	for (int n = 0; n < POLL_TRIES; n++) {
		if (shared->counters[i] != old)
			return true;
		usleep(POLL_US);
	}
	return false;
}

static void assert_still(unsigned i)
{
	struct timespec still = { 0, STILL_NS };
	uint64_t v = shared->counters[i];

	nanosleep(&still, NULL);
	assert_int_equal(shared->counters[i], v);
}

static void on_alarm(int sig)
{
}

/* ut_thread_seize of tid; skips the test only when ptrace is refused here. */
static void seize(pid_t tid)
{
	int r = ut_thread_seize(&fx.s, tid);

	if (r == -EPERM)
		skip();
	assert_int_equal(r, 0);
}

/* A single-threaded spinning child, running, seized and in the table. */
static struct ut_thread *seized_spinner(void)
{
	pid_t pid = child_start(child_spin);

	assert_true(advances(0, 0));
	seize(pid);
	return ut_thread_add(&fx.s, pid, pid, UT_THREAD_RUNNING);
}

/* The child stops on our interrupt: wait until the stop is pending, without reaping it. */
static void interrupt_pending(pid_t tid)
{
	siginfo_t si = { 0 };

	assert_int_equal(ptrace(PTRACE_INTERRUPT, tid, 0, 0), 0);
	assert_int_equal(waitid(P_PID, (id_t)tid, &si, WSTOPPED | WNOWAIT | __WALL), 0);
	assert_int_equal(si.si_pid, tid);
	assert_int_equal(si.si_code, CLD_TRAPPED);
}

/* The table holds exactly the threads of /proc/PID/task. */
static void assert_table_is_tasks(pid_t pid)
{
	char path[64];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (atoi(de->d_name) <= 0)
			continue;
		n++;
		assert_non_null(ut_thread_find(&fx.s, (pid_t)atoi(de->d_name)));
	}
	closedir(d);
	assert_int_equal(n, fx.s.nthreads);
}

static void reap_children(void)
{
	int status;

	for (;;) {
		pid_t p = waitpid(-1, &status, __WALL);

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			break;
		/* PTRACE_O_TRACEEXIT: even a killed tracee waits at its exit stop for us */
		if (WIFSTOPPED(status))
			ptrace(PTRACE_CONT, p, 0, 0);
	}
}

/* ---- the thread table ---- */

/* Growing moves the table; a removal fills its hole with the last entry. */
static void tracee_table_add_find_remove(void **state)
{
	struct ut_thread *t;

	for (uint32_t i = 0; i < NTABLE; i++) {
		t = ut_thread_add(&fx.s, TID0 + (pid_t)i, PID0, STATE_OF(i));
		assert_ptr_equal(t, &fx.s.threads[i]);
		assert_int_equal(t->slot, UT_NO_SLOT);
		t->slot = i;
		t->resume_sig = SIGUSR1; /* must not leak into a later entry */
	}
	assert_int_equal(fx.s.nthreads, NTABLE);
	assert_null(ut_thread_find(&fx.s, TID0 + NTABLE));
	ut_thread_remove(&fx.s, ut_thread_find(&fx.s, TID0 + 1));
	assert_int_equal(fx.s.nthreads, NTABLE - 1);
	assert_null(ut_thread_find(&fx.s, TID0 + 1));
	assert_int_equal(fx.s.threads[1].tid, TID0 + NTABLE - 1);
	for (uint32_t i = 0; i < NTABLE; i++) {
		if (i == 1)
			continue;
		t = ut_thread_find(&fx.s, TID0 + (pid_t)i);
		assert_non_null(t);
		assert_int_equal(t->slot, i);
		assert_int_equal(t->pid, PID0);
		assert_int_equal(t->state, STATE_OF(i));
	}
	/* the last entry: nothing moves into its place */
	ut_thread_remove(&fx.s, &fx.s.threads[NTABLE - 2]);
	assert_null(ut_thread_find(&fx.s, TID0 + NTABLE - 2));
	assert_non_null(ut_thread_find(&fx.s, TID0 + NTABLE - 1));
	t = ut_thread_add(&fx.s, TID0 + NTABLE, PID0, UT_THREAD_RUNNING);
	assert_ptr_equal(t, &fx.s.threads[NTABLE - 2]);
	assert_int_equal(t->resume_sig, 0);
	assert_int_equal(t->slot, UT_NO_SLOT);
}

/* ---- seizing ---- */

/* A pid that names no process: -ESRCH, said once; one seized already: -EALREADY, unsaid. */
static void tracee_seize_errors(void **state)
{
	pid_t pid = child_start(child_spin);
	uint64_t tracer = 0;
	char said[64];

	seize(pid);
	assert_int_equal(ut_proc_status_field(pid, "TracerPid:", 10, &tracer), 0);
	assert_int_equal(tracer, getpid());
	utrace_error_clear();
	assert_int_equal(ut_thread_seize(&fx.s, pid), -EALREADY);
	assert_null(utrace_error_last());

	kill(pid, SIGKILL);
	reap_children(); /* its pid names no process now */
	fx.child = 0;
	snprintf(said, sizeof(said), "no such process: %d", pid);
	assert_int_equal(ut_thread_seize(&fx.s, pid), -ESRCH);
	assert_non_null(utrace_error_last());
	assert_string_equal(utrace_error_last(), said);
	utrace_error_clear();
	assert_int_equal(ut_attach_all(&fx.s), -ESRCH);
	assert_non_null(utrace_error_last());
	assert_string_equal(utrace_error_last(), said);
	assert_int_equal(fx.s.nthreads, 0);
}

/* ---- registers of a stopped thread ---- */

static void tracee_regs_and_set_ip(void **state)
{
	struct user_regs_struct before, after;
	unsigned long msg = 0;
	struct ut_thread *t = seized_spinner();
	pid_t pid = t->tid;
	uint64_t ip = 0;

	assert_int_equal(ut_world_stop(&fx.s), 0);
	assert_int_equal(ut_thread_get_regs(pid, &before), 0);
	assert_int_equal(ut_thread_get_ip(pid, &ip), 0);
	assert_int_equal(ip, before.rip);
	assert_int_equal(ut_thread_set_ip(pid, (uint64_t)(uintptr_t)tracee_exit_stub), 0);
	assert_int_equal(ut_thread_get_ip(pid, &ip), 0);
	assert_int_equal(ip, (uint64_t)(uintptr_t)tracee_exit_stub);
	/* only the ip moved */
	assert_int_equal(ut_thread_get_regs(pid, &after), 0);
	after.rip = before.rip;
	assert_memory_equal(&after, &before, sizeof(before));

	fx.nseen = 0;
	assert_int_equal(ut_world_resume(&fx.s), 0);
	/* PTRACE_O_TRACEEXIT: the stub's exit_group stops first, its status in the message */
	assert_int_equal(ut_wait_one(&fx.s, true), 1);
	assert_int_equal(fx.nseen, 1);
	assert_int_equal(fx.seen[0].status, EVENT_STATUS(PTRACE_EVENT_EXIT));
	assert_int_equal(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg), 0);
	assert_int_equal(msg, EXIT_STUB_STATUS << 8);
	t = ut_thread_find(&fx.s, pid);
	assert_non_null(t);
	assert_int_equal(ut_thread_resume(&fx.s, t), 0);
	assert_int_equal(t->state, UT_THREAD_RUNNING);
	assert_int_equal(ut_wait_one(&fx.s, true), 1);
	assert_int_equal(fx.nseen, 2);
	assert_true(WIFEXITED(fx.seen[1].status));
	assert_int_equal(WEXITSTATUS(fx.seen[1].status), EXIT_STUB_STATUS);
	fx.child = 0;
	assert_int_equal(fx.s.nthreads, 0);
}

/* ---- the world ---- */

static void tracee_world_stop_and_resume(void **state)
{
	struct ut_thread *t = seized_spinner();
	pid_t pid = t->tid;
	uint64_t ip;

	assert_int_equal(ut_world_stop(&fx.s), 0);
	assert_true(fx.s.holding);
	assert_int_equal(t->state, UT_THREAD_STOPPED);
	assert_int_equal(t->stop_event, PTRACE_EVENT_STOP);
	assert_int_equal(fx.nseen, 1);
	assert_int_equal(fx.seen[0].tid, pid);
	assert_int_equal(fx.seen[0].status, EVENT_STATUS(PTRACE_EVENT_STOP));
	assert_int_equal(ut_proc_task_state(pid, pid), 't');
	assert_still(0);
	/* while the world is held, releasing a thread leaves it stopped */
	assert_int_equal(ut_thread_release(&fx.s, t), 0);
	assert_int_equal(t->state, UT_THREAD_STOPPED);
	assert_still(0);

	assert_int_equal(ut_world_resume(&fx.s), 0);
	assert_false(fx.s.holding);
	assert_int_equal(t->state, UT_THREAD_RUNNING);
	assert_true(advances(0, shared->counters[0]));
	/* a running thread's registers cannot be read */
	assert_int_equal(ut_thread_get_ip(pid, &ip), -ESRCH);
}

/* How many stops of tid the ops were handed, all of them our interrupt's. */
static size_t seen_stops(pid_t tid)
{
	size_t n = 0;

	for (size_t i = 0; i < fx.nseen; i++)
		if (fx.seen[i].tid == tid && fx.seen[i].status == EVENT_STATUS(PTRACE_EVENT_STOP))
			n++;
	return n;
}

/* Every thread of pid in `state`; stopped ones really stopped, each stop handed on once. */
static void assert_world(pid_t pid, enum ut_thread_state state)
{
	for (size_t i = 0; i < fx.s.nthreads; i++) {
		struct ut_thread *t = &fx.s.threads[i];

		assert_int_equal(t->pid, pid);
		assert_int_equal(t->state, state);
		if (state == UT_THREAD_STOPPED) {
			assert_int_equal(t->stop_event, PTRACE_EVENT_STOP);
			assert_int_equal(ut_proc_task_state(pid, t->tid), 't');
			assert_int_equal(seen_stops(t->tid), 1);
		}
	}
}

static void tracee_attach_all_threads(void **state)
{
	pid_t pid = child_start(child_threads);
	int r;

	for (unsigned i = 0; i < NSPIN; i++)
		assert_true(advances(i, 0));
	r = ut_attach_all(&fx.s);
	if (r == -EPERM)
		skip();
	assert_int_equal(r, 0);
	assert_int_equal(fx.s.nthreads, NSPIN);
	assert_table_is_tasks(pid);
	assert_world(pid, UT_THREAD_RUNNING);

	/* twice: the second stop must not be held back by the first's interrupts */
	for (int round = 0; round < 2; round++) {
		fx.nseen = 0;
		assert_int_equal(ut_world_stop(&fx.s), 0);
		assert_int_equal(fx.nseen, NSPIN);
		assert_world(pid, UT_THREAD_STOPPED);
		for (unsigned i = 0; i < NSPIN; i++)
			assert_still(i);
		assert_int_equal(ut_world_resume(&fx.s), 0);
		assert_world(pid, UT_THREAD_RUNNING);
		for (unsigned i = 0; i < NSPIN; i++)
			assert_true(advances(i, shared->counters[i]));
	}
}

/* ---- waits ---- */

static void tracee_wait_one_hands_stop_once(void **state)
{
	struct ut_thread *t;
	pid_t pid;

	/* no child at all is an error, not a quiet wait */
	assert_int_equal(ut_wait_one(&fx.s, false), -ECHILD);
	t = seized_spinner();
	pid = t->tid;
	assert_int_equal(ut_wait_one(&fx.s, false), 0);
	assert_int_equal(fx.nseen, 0);
	interrupt_pending(pid);
	assert_int_equal(ut_wait_one(&fx.s, false), 1);
	assert_int_equal(fx.nseen, 1);
	assert_ptr_equal(fx.seen[0].s, &fx.s);
	assert_int_equal(fx.seen[0].tid, pid);
	assert_int_equal(fx.seen[0].status, EVENT_STATUS(PTRACE_EVENT_STOP));
	assert_int_equal(t->state, UT_THREAD_STOPPED);
	assert_int_equal(ut_wait_one(&fx.s, false), 0);
	assert_int_equal(fx.nseen, 1);
}

/* A handler's error ends the wait's own session only, not a followed process's. */
static void tracee_wait_one_owner_errors(void **state)
{
	pid_t pid = seized_spinner()->tid;

	ut_thread_remove(&fx.s, ut_thread_find(&fx.s, pid)); /* the other session's thread */
	fx.other.pid = fx.other.mm_pid = pid;
	assert_non_null(ut_thread_add(&fx.other, pid, pid, UT_THREAD_RUNNING));
	fx.other_tid = pid;
	fx.handle_ret = -EIO;
	interrupt_pending(pid);
	assert_int_equal(ut_wait_one(&fx.s, false), 1);
	assert_int_equal(fx.nseen, 1);
	assert_ptr_equal(fx.seen[0].s, &fx.other);
	assert_int_equal(fx.other.threads[0].state, UT_THREAD_STOPPED);

	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, 0), 0);
	fx.other_tid = 0;
	assert_non_null(ut_thread_add(&fx.s, pid, pid, UT_THREAD_RUNNING));
	interrupt_pending(pid);
	assert_int_equal(ut_wait_one(&fx.s, false), -EIO);
	assert_int_equal(fx.nseen, 2);
	assert_ptr_equal(fx.seen[1].s, &fx.s);
	assert_int_equal(fx.seen[1].status, EVENT_STATUS(PTRACE_EVENT_STOP));
}

/* ---- fixtures ---- */

static int setup_test(void **state)
{
	memset(&fx, 0, sizeof(fx));
	proc_init(&fx.s);
	proc_init(&fx.other);
	memset(shared, 0, sizeof(*shared));
	alarm(TEST_LIMIT_S);
	return 0;
}

/* Kill what the test left and reap every child: the next test's waits see only its own. */
static int teardown_test(void **state)
{
	alarm(0);
	if (fx.child > 0)
		kill(fx.child, SIGKILL);
	reap_children();
	free(fx.s.threads);
	free(fx.other.threads);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup_test, teardown_test)

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* the table, seizing, registers */
		TEST(tracee_table_add_find_remove),
		TEST(tracee_seize_errors),
		TEST(tracee_regs_and_set_ip),
		/* the world */
		TEST(tracee_world_stop_and_resume),
		TEST(tracee_attach_all_threads),
		/* waits */
		TEST(tracee_wait_one_hands_stop_once),
		TEST(tracee_wait_one_owner_errors),
	};

	/* no SA_RESTART: the alarm interrupts the wait it ends */
	struct sigaction alarm_sa = { .sa_handler = on_alarm };

	if (sigaction(SIGALRM, &alarm_sa, NULL))
		return 1;
	/* before any fork: the children's counters, seen by us */
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		      0);
	if (shared == MAP_FAILED)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
