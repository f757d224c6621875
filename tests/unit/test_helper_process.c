/*
 * test_helper_process.c -- the shim's check of the helper binary and the
 * promise that what runs is what was checked: the binary is opened once and
 * that descriptor is executed, so a file or symlink swapped in at the path
 * between the check and the exec does not run.  "Good" and "evil" are copies
 * of true(1) and false(1): the exit status says which one ran.  Needs root (a
 * directory of root's own under /run); skipped otherwise.
 */
#include "unit.h"

#include "../../shim/shim.h"

#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

/* Every kill() the shim makes goes through here (the executable's own
 * definition wins over libc's): recorded, then made. */
static int kill_calls;
int kill(pid_t pid, int sig)
{
	kill_calls++;
	return (int)syscall(SYS_kill, pid, sig);
}

static void copy_program(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	assert_int_equal(chmod(to, 0755), 0);
}

static int setup(void **state)
{
	char path[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/run/pam_authelia-unit.XXXXXX");
	if (geteuid() != 0 || mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return 0;
	}
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/good", dir);
	copy_program("/bin/true", path);
	snprintf(path, sizeof(path), "%s/evil", dir);
	copy_program("/bin/false", path);
	/* cat reads its stdin, the channel, until the shim closes it: a helper
	 * that runs until it is killed. */
	snprintf(path, sizeof(path), "%s/hang", dir);
	copy_program("/bin/cat", path);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	return 0;
}

/* Starts the helper from fd and returns its exit status. */
static int run(int fd, const char *argv0)
{
	struct helper helper;
	char err[256];
	int status = -1;

	assert_int_equal(helper_start(&helper, fd, argv0, -1, err, sizeof(err)), 0);
	assert_int_equal(helper_wait(&helper, monotonic_ms() + 5000, &status), 0);
	helper_close(&helper);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_a_file_swapped_in_after_the_check_does_not_run(void **state)
{
	char good[128], evil[128], path[128], moved[128], err[256];
	int fd;

	(void)state;
	if (dir[0] == '\0')
		skip();
	snprintf(good, sizeof(good), "%s/good", dir);
	snprintf(evil, sizeof(evil), "%s/evil", dir);
	snprintf(path, sizeof(path), "%s/helper", dir);
	copy_program(good, path);
	fd = binary_path_open(path, err, sizeof(err));
	assert_true(fd >= 0);
	snprintf(moved, sizeof(moved), "%s/helper.old", dir);
	assert_int_equal(rename(path, moved), 0); /* another file at the same path */
	copy_program(evil, path);
	assert_int_equal(run(fd, path), 0); /* true ran, not false */
	close(fd);
	unlink(path);
	unlink(moved);
}

static void test_a_symlink_swapped_after_the_check_does_not_run(void **state)
{
	char link[128], moved[128], err[256];
	int fd;

	(void)state;
	if (dir[0] == '\0')
		skip();
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(moved, sizeof(moved), "%s/link.new", dir);
	assert_int_equal(symlink("good", link), 0);
	fd = binary_path_open(link, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(symlink("evil", moved), 0);
	assert_int_equal(rename(moved, link), 0); /* atomically: link -> evil */
	assert_int_equal(run(fd, link), 0);
	close(fd);
	unlink(link);
}

/* Starts dir/hang as the helper; false, with the helper gone, when there is
 * no pidfd: every kernel since 5.3 has one, but valgrind knows no pidfd_open
 * (make check's unit-valgrind suite), and these tests are about the pidfd. */
static bool start_hanging(struct helper *helper)
{
	char path[128], err[256];
	int fd;

	snprintf(path, sizeof(path), "%s/hang", dir);
	fd = binary_path_open(path, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(helper_start(helper, fd, path, -1, err, sizeof(err)), 0);
	close(fd);
	if (helper->pidfd >= 0)
		return true;
	helper_kill(helper);
	helper_close(helper);
	return false;
}

/* The shim kills the helper it started through its pidfd: SIGKILL, reaped,
 * and no kill() by pid at all. */
static void test_the_helper_is_killed_through_its_pidfd(void **state)
{
	struct helper helper;
	int status;

	(void)state;
	if (dir[0] == '\0')
		skip();
	if (!start_hanging(&helper))
		skip();
	kill_calls = 0;
	status = helper_kill(&helper);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(kill_calls, 0);
	helper_close(&helper);
}

/* Another thread of a threaded application reaped the helper (its pid is
 * free for the next process): the shim signals no pid. */
static void test_a_helper_reaped_by_another_thread_is_not_signalled_by_pid(void **state)
{
	struct helper helper;
	int status = 0;

	(void)state;
	if (dir[0] == '\0')
		skip();
	if (!start_hanging(&helper))
		skip();
	assert_int_equal(syscall(SYS_kill, helper.pid, SIGKILL), 0);
	assert_int_equal(waitpid(helper.pid, &status, 0), helper.pid); /* "another thread" */
	kill_calls = 0;
	assert_int_equal(helper_kill(&helper), -1); /* gone: nobody to reap */
	assert_int_equal(kill_calls, 0);
	assert_int_equal(helper.pid, -1);
	helper_close(&helper);
}

static void test_unsafe_paths_are_refused(void **state)
{
	char sub[96], path[160], link[160], err[256];
	int fd;

	(void)state;
	if (dir[0] == '\0')
		skip();
	snprintf(sub, sizeof(sub), "%s/open", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	snprintf(path, sizeof(path), "%s/helper", sub);
	copy_program("/bin/true", path);
	assert_int_equal(binary_path_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must be owned by root and writable by its owner only"));
	/* A symlink kept where others can write it may point anywhere. */
	snprintf(link, sizeof(link), "%s/sh", sub);
	assert_int_equal(symlink("/bin/sh", link), 0);
	assert_int_equal(binary_path_open(link, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must be owned by root and writable by its owner only"));
	/* Group- or world-writable binaries, directories, loops. */
	assert_int_equal(chmod(sub, 0755), 0);
	assert_int_equal(chmod(path, 0775), 0);
	assert_int_equal(binary_path_open(path, err, sizeof(err)), -1);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(binary_path_open(sub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not an executable file"));
	snprintf(link, sizeof(link), "%s/loop", sub);
	assert_int_equal(symlink("loop", link), 0);
	assert_int_equal(binary_path_open(link, err, sizeof(err)), -1);
	assert_int_equal(binary_path_open("relative/helper", err, sizeof(err)), -1);
	/* ... and what the path leads through once it is safe. */
	snprintf(link, sizeof(link), "%s/open/../open/./helper", dir);
	fd = binary_path_open(link, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_file_swapped_in_after_the_check_does_not_run),
	    cmocka_unit_test(test_a_symlink_swapped_after_the_check_does_not_run),
	    cmocka_unit_test(test_unsafe_paths_are_refused),
	    cmocka_unit_test(test_the_helper_is_killed_through_its_pidfd),
	    cmocka_unit_test(test_a_helper_reaped_by_another_thread_is_not_signalled_by_pid),
	};
	return cmocka_run_group_tests_name("helper binary", tests, setup, teardown);
}
