/*
 * helper_process.c -- starting, waiting for and stopping the helper.  The
 * helper gets a fixed environment (never the caller's: under sudo that is the
 * invoking user's, and SSL_CERT_FILE or proxy variables must not steer it),
 * default signal dispositions, and only the descriptors it needs: the channel
 * on 0 and 1, /dev/null on 2 and, when there is one, the client socket on 3.
 * The binary is checked like OpenSSH's safe_path() (every directory its path
 * leads through, symlinks followed, owned by root and writable by root only)
 * on a descriptor opened once, and that very descriptor is executed.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* A directory a name of the helper's path is looked up in: owned by root and
 * writable by root only, or whoever can write it can swap what the name means. */
static int helper_check_directory(const char *path, const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) != 0) {
		snprintf(err, errlen, "helper binary %s: %s: %s", path, dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen,
			 "helper binary %s: directory %s must be owned by root and writable by its "
			 "owner only",
			 path, dir);
		return -1;
	}
	return 0;
}

/*
 * Resolves path as realpath(3) does, one name at a time, and checks every
 * directory a name is looked up in: OpenSSH's safe_path() rule applied to the
 * whole resolution.  Checking only the resolved path would not do: a symlink
 * in a directory someone else can write could point at any root-owned
 * program (/bin/sh), whose own directories all pass.  Writes the resolved path
 * to real (PATH_MAX bytes).
 */
static int helper_resolve(const char *path, char real[PATH_MAX], char *err, size_t errlen)
{
	char rest[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	const char *p = rest;
	int links = 0;

	if (path[0] != '/' || strlen(path) >= sizeof(rest)) {
		snprintf(err, errlen, "helper binary %s: not an absolute path", path);
		return -1;
	}
	snprintf(rest, sizeof(rest), "%s", path);
	snprintf(real, PATH_MAX, "/");
	while (*p != '\0') {
		const char *end;
		size_t len, have = strlen(real);
		struct stat st;
		ssize_t n;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(real, '/'); /* real has no symlinks: its parent */
			slash[slash == real ? 1 : 0] = '\0';
			p = end;
			continue;
		}
		if (helper_check_directory(path, real, err, errlen) != 0)
			return -1;
		if (have + 1 + len >= PATH_MAX) {
			snprintf(err, errlen, "helper binary %s: path too long", path);
			return -1;
		}
		snprintf(real + have, PATH_MAX - have, "%s%.*s", have > 1 ? "/" : "", (int)len, p);
		if (lstat(real, &st) != 0) {
			snprintf(err, errlen, "helper binary %s: %s", path, strerror(errno));
			return -1;
		}
		if (!S_ISLNK(st.st_mode)) {
			p = end;
			continue;
		}
		/* A symlink: its target, then what was left, walked from where it points. */
		n = readlink(real, target, sizeof(target) - 1);
		if (++links > 40 || n <= 0 ||
		    (size_t)snprintf(next, sizeof(next), "%.*s%s", (int)n, target, end) >=
			sizeof(next)) {
			snprintf(err, errlen, "helper binary %s: %s", path,
				 links > 40 ? strerror(ELOOP) : "cannot resolve a symbolic link");
			return -1;
		}
		real[have > 1 ? have : 1] = '\0'; /* back to the directory holding the link */
		if (target[0] == '/')
			snprintf(real, PATH_MAX, "/");
		memcpy(rest, next, sizeof(rest));
		p = rest;
	}
	return 0;
}

int helper_open_binary(const char *path, char *err, size_t errlen)
{
	struct stat st, again;
	char real[PATH_MAX];
	int fd = -1;

	if (helper_resolve(path, real, err, errlen) != 0)
		return -1;
	/* Opened once: this descriptor is what is checked and what is executed,
	 * so nothing swapped in at the path later can run instead. */
	fd = open(real, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "helper binary %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0) {
		snprintf(err, errlen, "helper binary %s is not an executable file", path);
		goto fail;
	}
	/* The shim often runs as root: a helper others can replace is a root shell. */
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen,
			 "helper binary %s must be owned by root and writable by its owner only",
			 path);
		goto fail;
	}
	/* The checked directories still lead to the file that was opened. */
	if (lstat(real, &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
		snprintf(err, errlen, "helper binary %s changed while it was checked", path);
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * Runs in the child between fork and execve: async-signal-safe calls only.
 *
 * Under su, sudo, pkexec or passwd the caller is setuid root: its real uid is
 * the invoking user's, who may signal any process whose real or saved uid is
 * theirs, and its process group is the user's terminal's, which gets Ctrl-C
 * and Ctrl-Z.  So a root caller's helper gets root's real and saved ids too,
 * no supplementary groups, and a session of its own: nobody but root can stop,
 * kill or suspend it.  (Before PR_SET_PDEATHSIG: a credential change clears it.)
 */
static void helper_exec(int exe, const char *argv0, int channel, int devnull, int client_fd,
			pid_t parent)
{
	char *const argv[] = {(char *)argv0, NULL};
	char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
	struct sigaction dfl;
	sigset_t none;
	int chan_hi, null_hi, exe_hi, client_hi = -1, first;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* SIG_IGN would survive execve */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (geteuid() == 0 &&
	    (setgroups(0, NULL) != 0 || setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0))
		_exit(127);
	if (setsid() < 0)
		_exit(127);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(127);

	/* Move everything above 9 first so no dup2 below clobbers a source. */
	chan_hi = fcntl(channel, F_DUPFD, 10);
	null_hi = fcntl(devnull, F_DUPFD, 10);
	exe_hi = fcntl(exe, F_DUPFD_CLOEXEC, 10);
	if (client_fd >= 0)
		client_hi = fcntl(client_fd, F_DUPFD, 10);
	if (chan_hi < 0 || null_hi < 0 || exe_hi < 0 || (client_fd >= 0 && client_hi < 0))
		_exit(127);
	if (dup2(chan_hi, 0) < 0 || dup2(chan_hi, 1) < 0 || dup2(null_hi, 2) < 0)
		_exit(127);
	if (client_hi >= 0 && dup2(client_hi, SHIM_CLIENT_FD) < 0)
		_exit(127);
	/* Drops sshd's own sockets too, CLOEXEC or not (kernels before 5.9: by
	 * hand); the binary's descriptor stays until execve closes it. */
	first = client_hi >= 0 ? SHIM_CLIENT_FD + 1 : SHIM_CLIENT_FD;
	if (close_range((unsigned)first, (unsigned)exe_hi - 1, 0) != 0 ||
	    close_range((unsigned)exe_hi + 1, ~0U, 0) != 0)
		for (int fd = first; fd < 65536; fd++)
			if (fd != exe_hi)
				close(fd);
	fexecve(exe_hi, argv, envp);
	_exit(127);
}

int helper_start(struct helper *helper, int binary_fd, const char *argv0, int client_fd, char *err,
		 size_t errlen)
{
	int sv[2], devnull, flags;
	pid_t parent = getpid(), pid;

	helper->pid = -1;
	helper->pidfd = -1;
	helper->sock = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		helper_exec(binary_fd, argv0, sv[1], devnull, client_fd, parent);
	close(sv[1]);
	close(devnull);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		return -1;
	}
	helper->pid = pid;
	helper->sock = sv[0];
	helper->pidfd = pidfd_open(pid, 0);
	flags = fcntl(sv[0], F_GETFL);
	fcntl(sv[0], F_SETFL, flags | O_NONBLOCK);
	return 0;
}

long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int helper_wait(struct helper *helper, long long deadline_ms, int *status)
{
	for (;;) {
		long long remaining;
		pid_t r;

		if (helper->pid < 0)
			return 0;
		r = waitpid(helper->pid, status, WNOHANG);
		if (r == helper->pid || (r < 0 && errno == ECHILD)) {
			if (r < 0)
				*status = -1; /* reaped by someone else: status unknown */
			helper->pid = -1;
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		remaining = deadline_ms - monotonic_ms();
		if (remaining <= 0)
			return -1;
		if (helper->pidfd >= 0) {
			struct pollfd pfd = {.fd = helper->pidfd, .events = POLLIN};
			poll(&pfd, 1, (int)remaining);
		} else {
			/* Kernels before 5.3 have no pidfd: look again shortly. */
			poll(NULL, 0, remaining < 5 ? (int)remaining : 5);
		}
	}
}

int helper_kill(struct helper *helper)
{
	int status = -1;

	if (helper->pid < 0)
		return status;
	kill(helper->pid, SIGTERM);
	if (helper_wait(helper, monotonic_ms() + SHIM_KILL_GRACE_MS, &status) == 0)
		return status;
	kill(helper->pid, SIGKILL);
	while (waitpid(helper->pid, &status, 0) < 0 && errno == EINTR)
		;
	helper->pid = -1;
	return status;
}

void helper_close(struct helper *helper)
{
	if (helper->pid >= 0)
		helper_kill(helper);
	if (helper->pidfd >= 0)
		close(helper->pidfd);
	if (helper->sock >= 0)
		close(helper->sock);
	helper->pidfd = helper->sock = -1;
}
