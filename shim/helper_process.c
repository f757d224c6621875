/*
 * helper_process.c -- starting, waiting for and stopping the helper.  The
 * helper gets a fixed environment (never the caller's: under sudo that is the
 * invoking user's, and SSL_CERT_FILE or proxy variables must not steer it),
 * default signal dispositions, and only the descriptors it needs: the channel
 * on 0 and 1, /dev/null on 2 and, when there is one, the client socket on 3.
 * The binary was checked on a descriptor opened once (protocol/binary_path.c),
 * and that very descriptor is executed.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

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

/*
 * SIGKILL to the helper and nobody else.  In a threaded application another
 * thread may have reaped it (a waitpid(-1) of its own) and its pid gone to a
 * new process: the pidfd names the process we started whatever its pid is
 * now (ESRCH once it is gone), and waitid on it cannot wait for a stranger.
 * kill() and waitpid() only where the kernel has no pidfd (before 5.3).
 */
int helper_kill(struct helper *helper)
{
	int status = -1;

	if (helper->pid < 0)
		return status;
	if (helper->pidfd >= 0) {
		siginfo_t info;
		int rc;

		pidfd_send_signal(helper->pidfd, SIGKILL, NULL, 0);
		memset(&info, 0, sizeof(info));
		while ((rc = waitid(P_PIDFD, (id_t)helper->pidfd, &info, WEXITED)) < 0 &&
		       errno == EINTR)
			;
		if (rc < 0 && errno == EINVAL) /* 5.3: pidfd_open, but no P_PIDFD */
			while (waitpid(helper->pid, &status, 0) < 0 && errno == EINTR)
				;
		else if (rc == 0 && info.si_code == CLD_EXITED)
			status = (info.si_status & 0xff) << 8;
		else if (rc == 0 && (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED))
			status = info.si_status & 0x7f;
	} else {
		kill(helper->pid, SIGKILL);
		while (waitpid(helper->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
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
