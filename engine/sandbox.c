/*
 * sandbox.c -- dropping root and confining the helper (see sandbox.h).
 *
 * Order: what needs root is done by the caller (TLS context with its CA
 * store, resolver with resolv.conf and hosts, syslog socket) and by
 * sandbox_prepare() (the libraries' lazy file reads); then the identity is
 * changed (bounding and ambient capabilities dropped, groups cleared, gid,
 * uid), checked, and checked to be irreversible; then rlimits, dumpable,
 * no_new_privs, Landlock, seccomp.  The allowlist is the table sandbox_rules.
 */
#include "sandbox.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jwt.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* Descriptors beyond those open when the sandbox closes: the HTTPS
 * connections (one today, two planned) and one being replaced. */
#define SANDBOX_SPARE_FDS 4
#define SANDBOX_FD_SCAN	  1024

/* LeakSanitizer stops the process at exit with a ptrace()ing clone: the ASan
 * build (tests only, never installed) keeps what that needs.  See
 * sandbox_rules_sanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifndef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER 0
#endif

/* --- Landlock, from <linux/landlock.h> of newer kernels than the build's --- */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule	    445
#define SYS_landlock_restrict_self  446
#endif
#define SANDBOX_LANDLOCK_VERSION_FLAG (1U << 0)
#define SANDBOX_LANDLOCK_RULE_NET     2
#define SANDBOX_LANDLOCK_FS_V1	      ((1ULL << 13) - 1) /* execute .. make_sym */
#define SANDBOX_LANDLOCK_FS_REFER     (1ULL << 13)	  /* ABI 2 */
#define SANDBOX_LANDLOCK_FS_TRUNCATE  (1ULL << 14)	  /* ABI 3 */
#define SANDBOX_LANDLOCK_FS_IOCTL_DEV (1ULL << 15)	  /* ABI 5 */
#define SANDBOX_LANDLOCK_NET_BIND     (1ULL << 0)	  /* ABI 4 */
#define SANDBOX_LANDLOCK_NET_CONNECT  (1ULL << 1)
#define SANDBOX_LANDLOCK_SCOPE_UNIX   (1ULL << 0) /* ABI 6: abstract sockets */
#define SANDBOX_LANDLOCK_SCOPE_SIGNAL (1ULL << 1)

struct sandbox_landlock_ruleset {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct sandbox_landlock_port {
	uint64_t allowed_access;
	uint64_t port;
};

/* --- the seccomp allowlist ------------------------------------------------ */

enum sandbox_action {
	SANDBOX_ALLOW,
	SANDBOX_REFUSE, /* fails with EACCES: a library probing a file gets an error */
};

struct sandbox_rule {
	int nr; /* SCMP_SYS(name); negative when this architecture lacks it */
	enum sandbox_action action;
	struct scmp_arg_cmp args[2]; /* op 0: unused */
};

#define ARG_EQ(n, value)	 {.arg = n, .op = SCMP_CMP_EQ, .datum_a = (value)}
#define ARG_MASKED(n, mask, value) \
	{.arg = n, .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (value)}
#define ALLOW(name, ...)  {.nr = SCMP_SYS(name), .action = SANDBOX_ALLOW, .args = {__VA_ARGS__}}
#define REFUSE(name, ...) {.nr = SCMP_SYS(name), .action = SANDBOX_REFUSE, .args = {__VA_ARGS__}}
#define SOCK_TYPE_MASK	  0xf /* SOCK_NONBLOCK and SOCK_CLOEXEC are flags above it */

/*
 * Everything a login does after the sandbox is in place.  Anything else kills
 * the process (SIGSYS; the module logs it): execve, fork/clone (nothing here
 * uses threads), ptrace, process_vm_*, the setuid family, kill of anything,
 * mount, bind, listen, accept, socketpair, prctl, seccomp, ...  To see what a
 * change needs: strace -f the helper through a login and compare.
 */
static const struct sandbox_rule sandbox_rules[] = {
    /* The event loop: libevent's epoll backend (the base exists already). */
    ALLOW(epoll_wait),
    ALLOW(epoll_pwait),
    ALLOW(epoll_ctl),
    /* The channel to the shim (fds 0 and 1), the TLS socket, stderr:
     * evbuffer reads with read/readv, writes with writev; OpenSSL's socket BIO
     * uses read/write. */
    ALLOW(read),
    ALLOW(readv),
    ALLOW(write),
    ALLOW(writev),
    /* evbuffer_read asks how much is waiting before it reads. */
    ALLOW(ioctl, ARG_EQ(1, FIONREAD)),
    /* syslog(3) sends each line on the socket opened by openlog(LOG_NDELAY);
     * evdns sends queries with sendto and reads answers with recvfrom on the
     * UDP sockets it opened when it read resolv.conf. */
    ALLOW(sendto),
    ALLOW(recvfrom),
    /* HTTPS to Authelia: a new TCP socket for each (re)connection, IPv4 or
     * IPv6, TCP or the default protocol (0).  DNS sockets exist already. */
    ALLOW(socket, ARG_EQ(0, AF_INET), ARG_MASKED(1, SOCK_TYPE_MASK, SOCK_STREAM)),
    ALLOW(socket, ARG_EQ(0, AF_INET6), ARG_MASKED(1, SOCK_TYPE_MASK, SOCK_STREAM)),
    /* glibc's syslog(3) reconnects with a new AF_UNIX socket when the daemon
     * went away; getaddrinfo() probes interfaces over netlink.  Neither is
     * let through (a Unix socket reaches D-Bus and friends), both fail softly. */
    REFUSE(socket, ARG_EQ(0, AF_UNIX)),
    REFUSE(socket, ARG_EQ(0, AF_NETLINK)),
    /* Non-blocking connect; Landlock limits it to Authelia's port. */
    ALLOW(connect),
    /* libevent reads the outcome of a non-blocking connect with SO_ERROR. */
    ALLOW(getsockopt, ARG_EQ(1, SOL_SOCKET), ARG_EQ(2, SO_ERROR)),
    /* Nagle off on the HTTPS connection (small requests, one round trip). */
    ALLOW(setsockopt, ARG_EQ(1, IPPROTO_TCP), ARG_EQ(2, TCP_NODELAY)),
    /* evhttp half-closes and closes connections; every fd is closed at exit. */
    ALLOW(shutdown),
    ALLOW(close),
    /* evutil_make_socket_nonblocking / _closeonexec on sockets not created
     * with SOCK_NONBLOCK|SOCK_CLOEXEC. */
    ALLOW(fcntl, ARG_EQ(1, F_GETFL)),
    ALLOW(fcntl, ARG_EQ(1, F_SETFL)),
    ALLOW(fcntl, ARG_EQ(1, F_GETFD)),
    ALLOW(fcntl, ARG_EQ(1, F_SETFD)),
    /* fstat() of a descriptor (the client socket's type; stdio): glibc
     * implements it as newfstatat(fd, "", AT_EMPTY_PATH).  Stat by path is
     * refused below.  (AT_EMPTY_PATH does not stop an absolute path: file
     * metadata, never contents, stays visible, as Landlock allows too.) */
    ALLOW(fstat),
    ALLOW(newfstatat, ARG_MASKED(3, AT_EMPTY_PATH, AT_EMPTY_PATH)),
    REFUSE(newfstatat, ARG_MASKED(3, AT_EMPTY_PATH, 0)),
    /* Timers and timestamps: the vDSO answers without a system call unless
     * the clock source cannot be read from user space (as on some VMs). */
    ALLOW(clock_gettime),
    ALLOW(clock_getres),
    ALLOW(gettimeofday),
    ALLOW(time),
    /* Signals: libevent's SIGTERM/SIGINT/SIGHUP handlers run and return, and
     * are restored when the loop is freed; abort() blocks and raises. */
    ALLOW(rt_sigaction),
    ALLOW(rt_sigprocmask),
    ALLOW(rt_sigreturn),
    ALLOW(restart_syscall),
    /* syslog(3) with LOG_PID; abort() signals its own thread only. */
    ALLOW(getpid),
    ALLOW(gettid),
    ALLOW(tgkill, ARG_EQ(0, 0)), /* placeholder: the pid is filled in at load time */
    /* Memory: malloc's heap and large blocks, never executable. */
    ALLOW(brk),
    ALLOW(mmap, ARG_MASKED(2, PROT_EXEC, 0)),
    ALLOW(mprotect, ARG_MASKED(2, PROT_EXEC, 0)),
    ALLOW(munmap),
    ALLOW(mremap),
    ALLOW(madvise),
    /* OpenSSL's DRBG reseeds and glibc's arc4random draw from the kernel. */
    ALLOW(getrandom),
    /* glibc's and OpenSSL's once-only initialisers and locks (at exit too). */
    ALLOW(futex),
    ALLOW(exit),
    ALLOW(exit_group),
    /* Opening or probing a file by name fails with EACCES instead of killing:
     * a library looking for an optional file gets an error, not a crash.
     * (Landlock refuses the same, when the kernel has it.) */
    REFUSE(open),
    REFUSE(openat),
    REFUSE(openat2),
    REFUSE(creat),
    REFUSE(stat),
    REFUSE(lstat),
    REFUSE(statx),
    REFUSE(access),
    REFUSE(faccessat),
    REFUSE(faccessat2),
    REFUSE(readlink),
    REFUSE(readlinkat),
};

#if SANDBOX_SANITIZER
/* LeakSanitizer at exit: clone()s a tracer that ptrace()s the process,
 * reads /proc/self/maps and /proc/self/task, and waits; ASan's reports write
 * to stderr and may yield.  Tests only: the installed helper has none of it. */
static const struct sandbox_rule sandbox_rules_sanitizer[] = {
    ALLOW(clone),
    ALLOW(ptrace),
    ALLOW(wait4),
    ALLOW(prctl),
    ALLOW(sched_yield),
    ALLOW(getdents),
    ALLOW(getdents64),
    ALLOW(getppid),
    ALLOW(sigaltstack),
    ALLOW(nanosleep),
    ALLOW(clock_nanosleep),
    ALLOW(kill),
    ALLOW(tgkill),
    ALLOW(lseek),
    ALLOW(pread64),
    ALLOW(getrusage),
    ALLOW(sched_getaffinity),
};
#endif

#ifdef PAM_AUTHELIA_SANDBOX_FUZZ
/* fuzz/fuzz_session.c: after the first input the sandbox stays, and every
 * later input sets a whole session up again -- its socketpair, event base,
 * signal pipe, resolver (resolv.conf, UDP sockets), TLS context (files) --
 * and libFuzzer writes corpus units and artifacts, arms -timeout's timer and
 * measures its memory.  Fuzz builds only. */
static const struct sandbox_rule sandbox_rules_fuzz[] = {
    /* the harness's channel, and each session's event base and signal pipe */
    ALLOW(socketpair),
    ALLOW(epoll_create1),
    ALLOW(pipe2),
    ALLOW(eventfd2),
    /* libevent's getenv checks whether the process is set-id */
    ALLOW(getuid),
    ALLOW(geteuid),
    ALLOW(getgid),
    ALLOW(getegid),
    /* each session's resolver (its nameservers' UDP sockets) */
    ALLOW(socket, ARG_EQ(0, AF_INET), ARG_MASKED(1, SOCK_TYPE_MASK, SOCK_DGRAM)),
    ALLOW(socket, ARG_EQ(0, AF_INET6), ARG_MASKED(1, SOCK_TYPE_MASK, SOCK_DGRAM)),
    /* libFuzzer: corpus units and artifacts, -timeout, its RSS check */
    ALLOW(lseek),
    ALLOW(unlink),
    ALLOW(rename),
    ALLOW(mkdir),
    ALLOW(ftruncate),
    ALLOW(getdents64),
    ALLOW(setitimer),
    ALLOW(getrusage),
    /* libFuzzer starts llvm-symbolizer for its NEW_FUNC lines and reports */
    ALLOW(uname),
    ALLOW(fork),
    ALLOW(dup2),
    ALLOW(prlimit64),
    ALLOW(execve),
};
#endif

/* --- what was applied --------------------------------------------------- */

static bool sandbox_applied;
static char sandbox_line[SANDBOX_SUMMARY_SIZE];

#ifdef PAM_AUTHELIA_SANDBOX_SELFTEST
/* The test-only build (build/tests/pam_authelia_selftest) reads what to try
 * from PAM_AUTHELIA_SELFTEST, set by the test's wrapper script. */
static const char *sandbox_selftest;
static bool selftest_is(const char *action)
{
	return sandbox_selftest != NULL && strcmp(sandbox_selftest, action) == 0;
}
static bool selftest_without_seccomp(void)
{
	return sandbox_selftest != NULL && strstr(sandbox_selftest, "/no-seccomp") != NULL;
}
#else
#define selftest_is(action)	       false
#define selftest_without_seccomp() false
#endif

const char *sandbox_summary(void)
{
	return sandbox_line;
}

/* --- before the drop: what the libraries would open later ------------------ */

static void sandbox_prepare(void)
{
	jwt_t *jwt = NULL;

	/* syslog(3) stamps lines with localtime_r(), which reads /etc/localtime
	 * on first use. */
	tzset();
	/* libjwt's JSON library (jansson) seeds its hash function from
	 * /dev/urandom when it builds its first object. */
	if (jwt_new(&jwt) == 0)
		jwt_free(jwt);
}

/* --- identity --------------------------------------------------------------- */

struct sandbox_identity {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Looked up in /etc/passwd itself, not through NSS: no directory-service
 * module is loaded into the helper, and a slow LDAP server cannot stall
 * logins; system users live there. */
static int sandbox_find_user(struct sandbox_identity *id, char *err)
{
	static const char *const names[] = {SANDBOX_USER, SANDBOX_FALLBACK_USER};
	struct sandbox_identity found[2];
	bool have[2] = {false, false};
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;

	if (f == NULL) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root: /etc/passwd: %s",
			 strerror(errno));
		return -1;
	}
	while ((pw = fgetpwent(f)) != NULL) {
		for (int i = 0; i < 2; i++) {
			if (have[i] || strcmp(pw->pw_name, names[i]) != 0)
				continue;
			have[i] = true;
			found[i].uid = pw->pw_uid;
			found[i].gid = pw->pw_gid;
			snprintf(found[i].name, sizeof(found[i].name), "%s", names[i]);
		}
	}
	fclose(f);
	for (int i = 0; i < 2; i++) {
		if (!have[i])
			continue;
		if (found[i].uid == 0 || found[i].gid == 0) {
			snprintf(err, SANDBOX_ERROR_SIZE,
				 "cannot drop root: user %s has uid or gid 0 in /etc/passwd",
				 names[i]);
			return -1;
		}
		*id = found[i];
		return 0;
	}
	snprintf(err, SANDBOX_ERROR_SIZE,
		 "cannot drop root: neither user %s nor %s exists in /etc/passwd (create %s: "
		 "make install does)",
		 SANDBOX_USER, SANDBOX_FALLBACK_USER, SANDBOX_USER);
	return -1;
}

static bool sandbox_caps_empty(void)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &header, data) != 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return false;
	return true;
}

/* Clears every capability a non-root process might hold (ambient, file caps). */
static int sandbox_caps_clear(void)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (sandbox_caps_empty())
		return 0;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &header, data) != 0)
		return -1;
	return sandbox_caps_empty() ? 0 : -1;
}

/* Everything checked after the switch, whatever the starting ids were. */
static int sandbox_verify(const struct sandbox_identity *id, char *err)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &s) != 0 || r != id->uid || e != id->uid || s != id->uid ||
	    getresgid(&rg, &eg, &sg) != 0 || rg != id->gid || eg != id->gid || sg != id->gid ||
	    getgroups(0, NULL) != 0 || setfsuid((uid_t)-1) != (int)id->uid) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root: ids did not all change");
		return -1;
	}
	/* It must not be able to come back. */
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0 || setuid(0) == 0 ||
	    setgid(0) == 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root: it could switch back to root");
		return -1;
	}
	if (!sandbox_caps_empty()) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root: capabilities remain");
		return -1;
	}
	return 0;
}

/* Returns 1 when the ids were changed, 0 when there was no root to drop. */
static int sandbox_drop(struct sandbox_identity *id, char *err)
{
	uid_t r, e, s;
	int pdeathsig = 0;
	pid_t parent = getppid();

	if (getresuid(&r, &e, &s) != 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root: getresuid: %s",
			 strerror(errno));
		return -1;
	}
	if (r != 0 && e != 0 && s != 0) {
		/* Started unprivileged (tests, a by-hand run): nothing to drop. */
		id->uid = e;
		id->gid = getegid();
		snprintf(id->name, sizeof(id->name), "not started as root");
		if (sandbox_caps_clear() != 0) {
			snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop capabilities");
			return -1;
		}
		return 0;
	}
	if (sandbox_find_user(id, err) != 0)
		return -1;
	prctl(PR_GET_PDEATHSIG, &pdeathsig);
	/* Under su/sudo the real (or saved) uid may be the caller's: from an
	 * effective 0 every id can be set; get it back first if only r/s is 0. */
	if (e != 0 && setresuid((uid_t)-1, 0, (uid_t)-1) != 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root: cannot regain uid 0: %s",
			 strerror(errno));
		return -1;
	}
	/* Nothing executes after this, but /proc shows an empty bounding set. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (setgroups(0, NULL) != 0 || setresgid(id->gid, id->gid, id->gid) != 0 ||
	    setresuid(id->uid, id->uid, id->uid) != 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root to %s (uid %u gid %u): %s",
			 id->name, (unsigned)id->uid, (unsigned)id->gid, strerror(errno));
		return -1;
	}
	if (sandbox_verify(id, err) != 0)
		return -1;
	/* The kernel forgets the parent-death signal when the ids change. */
	if (pdeathsig != 0 && (prctl(PR_SET_PDEATHSIG, pdeathsig) != 0 || getppid() != parent)) {
		snprintf(err, SANDBOX_ERROR_SIZE, "the module went away while the helper set up");
		return -1;
	}
	return 1;
}

/* --- resources ------------------------------------------------------------- */

/* The highest open descriptor, in one poll(2): closed ones report POLLNVAL. */
static int sandbox_highest_fd(void)
{
	struct pollfd fds[SANDBOX_FD_SCAN];
	int highest = 2;

	for (int i = 0; i < SANDBOX_FD_SCAN; i++)
		fds[i] = (struct pollfd){.fd = i, .events = 0};
	if (poll(fds, SANDBOX_FD_SCAN, 0) < 0)
		return SANDBOX_FD_SCAN - 1;
	for (int i = 0; i < SANDBOX_FD_SCAN; i++)
		if (!(fds[i].revents & POLLNVAL))
			highest = i;
	return highest;
}

static int sandbox_limits(bool tight, unsigned *nofile, char *err)
{
	struct rlimit zero = {0, 0}, files;

	*nofile = (unsigned)sandbox_highest_fd() + 1 + SANDBOX_SPARE_FDS;
	if (!tight)
		*nofile += 64;
	files.rlim_cur = files.rlim_max = *nofile;
	if (setrlimit(RLIMIT_CORE, &zero) != 0 || setrlimit(RLIMIT_NOFILE, &files) != 0 ||
	    (tight && setrlimit(RLIMIT_NPROC, &zero) != 0)) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot set resource limits: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* --- Landlock ---------------------------------------------------------------- */

/* 1: applied; 0: the kernel has none (why says so); -1: failed (err). */
static int sandbox_landlock(int tcp_port, char *why, size_t whylen, char *err)
{
	struct sandbox_landlock_ruleset attr = {0};
	struct sandbox_landlock_port port = {0};
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, SANDBOX_LANDLOCK_VERSION_FLAG);
	int fd;

	if (selftest_is("landlock-missing")) {
		abi = -1;
		errno = ENOSYS;
	}
	if (abi < 0) {
		snprintf(why, whylen, "%s",
			 errno == EOPNOTSUPP ? "Landlock is disabled at boot"
					     : "the kernel has no Landlock");
		return 0;
	}
	attr.handled_access_fs = SANDBOX_LANDLOCK_FS_V1;
	if (abi >= 2)
		attr.handled_access_fs |= SANDBOX_LANDLOCK_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= SANDBOX_LANDLOCK_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= SANDBOX_LANDLOCK_FS_IOCTL_DEV;
	if (abi >= 4)
		attr.handled_access_net = SANDBOX_LANDLOCK_NET_BIND | SANDBOX_LANDLOCK_NET_CONNECT;
	if (abi >= 6)
		attr.scoped = SANDBOX_LANDLOCK_SCOPE_UNIX | SANDBOX_LANDLOCK_SCOPE_SIGNAL;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot create the Landlock ruleset: %s",
			 strerror(errno));
		return -1;
	}
	/* No filesystem rule at all: nothing may be opened, created or run. */
	port.allowed_access = SANDBOX_LANDLOCK_NET_CONNECT;
	port.port = (uint64_t)tcp_port;
	if ((abi >= 4 && tcp_port > 0 &&
	     syscall(SYS_landlock_add_rule, fd, SANDBOX_LANDLOCK_RULE_NET, &port, 0) != 0) ||
	    syscall(SYS_landlock_restrict_self, fd, 0) != 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot apply Landlock: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (abi >= 4)
		snprintf(why, whylen, "ABI %ld: no file access, TCP connect to port %d only", abi,
			 tcp_port);
	else
		snprintf(why, whylen, "ABI %ld: no file access; TCP needs ABI 4", abi);
	return 1;
}

/* --- seccomp ------------------------------------------------------------------ */

/* files_allowed turns the refused file system calls into allowed ones (the
 * fuzzer, LeakSanitizer, and the selftest that shows Landlock alone). */
static int sandbox_add_rules(scmp_filter_ctx ctx, const struct sandbox_rule *rules, size_t count,
			     bool files_allowed)
{
	for (size_t i = 0; i < count; i++) {
		const struct sandbox_rule *rule = &rules[i];
		struct scmp_arg_cmp args[2];
		unsigned argc = 0;
		uint32_t action = rule->action == SANDBOX_ALLOW ? SCMP_ACT_ALLOW
								: SCMP_ACT_ERRNO(EACCES);
		int rc;

		if (rule->nr < 0)
			continue; /* not a system call on this architecture */
		for (; argc < 2 && rule->args[argc].op != 0; argc++)
			args[argc] = rule->args[argc];
		if (rule->nr == SCMP_SYS(tgkill) && argc == 1)
			args[0].datum_a = (scmp_datum_t)getpid(); /* its own process only */
		if (files_allowed && rule->action == SANDBOX_REFUSE && rule->nr != SCMP_SYS(socket))
			action = SCMP_ACT_ALLOW;
		rc = seccomp_rule_add_array(ctx, action, rule->nr, argc, args);
		/* The sanitizer and fuzzer tables widen rules the main one limits. */
		if (rc != 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

#ifdef PAM_AUTHELIA_SANDBOX_FUZZ
/* libFuzzer saves the input and reports when a handler aborts. */
static void sandbox_sigsys_handler(int signum, siginfo_t *info, void *context)
{
	static const char text[] = "seccomp: the helper made a system call the sandbox forbids: ";
	char number[16];
	int n = info->si_syscall, len = 0;

	(void)signum;
	(void)context;
	do {
		number[sizeof(number) - 1 - len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0 && len < 10);
	(void)!write(STDERR_FILENO, text, sizeof(text) - 1);
	(void)!write(STDERR_FILENO, number + sizeof(number) - len, (size_t)len);
	(void)!write(STDERR_FILENO, "\n", 1);
	abort();
}
#endif

/* 1: applied; 0: the kernel has none (why); -1: failed (err). */
static int sandbox_seccomp(enum sandbox_mode mode, char *why, size_t whylen, char *err)
{
	uint32_t kill_action = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	bool files_allowed = SANDBOX_SANITIZER || mode == SANDBOX_FUZZ ||
			     selftest_is("open-passwd/landlock");
	int rc;

	if (selftest_is("seccomp-missing") ||
	    (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)) {
		snprintf(why, whylen, "the kernel has no seccomp");
		return 0;
	}
#ifdef PAM_AUTHELIA_SANDBOX_FUZZ
	if (mode == SANDBOX_FUZZ) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sandbox_sigsys_handler;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		kill_action = SCMP_ACT_TRAP;
	}
#endif
	ctx = seccomp_init(kill_action);
	if (ctx == NULL) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot build the seccomp filter");
		return -1;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill_action);
	if (rc == 0)
		rc = sandbox_add_rules(ctx, sandbox_rules,
				       sizeof(sandbox_rules) / sizeof(sandbox_rules[0]),
				       files_allowed);
#if SANDBOX_SANITIZER
	if (rc == 0)
		rc = sandbox_add_rules(ctx, sandbox_rules_sanitizer,
				       sizeof(sandbox_rules_sanitizer) /
					   sizeof(sandbox_rules_sanitizer[0]),
				       false);
#endif
#ifdef PAM_AUTHELIA_SANDBOX_FUZZ
	if (rc == 0 && mode == SANDBOX_FUZZ)
		rc = sandbox_add_rules(ctx, sandbox_rules_fuzz,
				       sizeof(sandbox_rules_fuzz) / sizeof(sandbox_rules_fuzz[0]),
				       false);
#endif
	(void)mode;
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot load the seccomp filter: %s",
			 strerror(-rc));
		return -1;
	}
	snprintf(why, whylen, "%s", "");
	return 1;
}

/* --- the test-only build: try what must be refused ------------------------ */

#ifdef PAM_AUTHELIA_SANDBOX_SELFTEST
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <arpa/inet.h>

static void selftest_report(const char *what, bool refused, int saved_errno)
{
	if (refused)
		log_error("sandbox selftest: %s: refused (%s)", what, strerror(saved_errno));
	else
		log_error("sandbox selftest: %s: NOT REFUSED", what);
}

/* Runs after the sandbox is applied; the actions that seccomp kills never
 * return (the module logs the SIGSYS).  The login then fails closed. */
static int sandbox_selftest_run(char *err)
{
	const char *a = sandbox_selftest;
	int rc, fd;

	if (a == NULL || strcmp(a, "landlock-missing") == 0 || strcmp(a, "seccomp-missing") == 0)
		return 0; /* the login goes on */
	if (strcmp(a, "open-shadow") == 0) {
		fd = open("/etc/shadow", O_RDONLY);
		selftest_report("open /etc/shadow", fd < 0, errno);
	} else if (strncmp(a, "open-passwd/", 12) == 0) {
		fd = open("/etc/passwd", O_RDONLY);
		selftest_report(a[12] == 'l' ? "open /etc/passwd (Landlock alone)"
					     : "open /etc/passwd (seccomp alone)",
				fd < 0, errno);
	} else if (strcmp(a, "setuid/no-seccomp") == 0) {
		rc = setresuid(0, 0, 0);
		selftest_report("setresuid(0, 0, 0) (no seccomp)", rc != 0, errno);
		rc = setresgid(0, 0, 0);
		selftest_report("setresgid(0, 0, 0) (no seccomp)", rc != 0, errno);
	} else if (strcmp(a, "pdeathsig/no-seccomp") == 0) {
		int sig = 0;
		/* The kernel forgets it when the ids change: it must be set again. */
		prctl(PR_GET_PDEATHSIG, &sig);
		log_error("sandbox selftest: parent-death signal after the drop: %d", sig);
	} else if (strcmp(a, "socket-unix") == 0) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		selftest_report("socket(AF_UNIX)", fd < 0, errno);
	} else if (strcmp(a, "connect-other-port") == 0) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		/* Refused by the kernel's port check, not by nobody listening. */
		selftest_report("connect to 127.0.0.1:9", rc != 0 && errno == EACCES, errno);
	} else {
		log_error("sandbox selftest: trying %s", a);
		if (strcmp(a, "exec") == 0) {
			char *const argv[] = {"/bin/sh", "-c", "exit 0", NULL};
			execve("/bin/sh", argv, argv + 3);
		} else if (strcmp(a, "ptrace") == 0) {
			ptrace(PTRACE_ATTACH, getppid(), NULL, NULL);
		} else if (strcmp(a, "setuid") == 0) {
			(void)!setuid(0);
		} else if (strcmp(a, "fork") == 0) {
			if (fork() == 0)
				_exit(0);
		} else if (strcmp(a, "kill-parent") == 0) {
			kill(getppid(), SIGKILL);
		} else if (strcmp(a, "mprotect-exec") == 0) {
			static char page[8192] __attribute__((aligned(4096)));
			mprotect(page, 4096, PROT_READ | PROT_EXEC);
		}
		selftest_report(a, false, 0);
	}
	snprintf(err, SANDBOX_ERROR_SIZE, "sandbox selftest %s finished", a);
	return -1;
}
#endif

/* --- together ------------------------------------------------------------------ */

int sandbox_apply(enum sandbox_mode mode, int tcp_port, char err[SANDBOX_ERROR_SIZE])
{
	struct sandbox_identity id = {0};
	char landlock_why[96] = "not applied", seccomp_why[64] = "", who[128];
	int dropped = 0, landlock = 0, seccomp = 0;
	unsigned nofile = 0;
	bool full = mode == SANDBOX_HELPER;

	err[0] = '\0';
	if (mode == SANDBOX_OFF || sandbox_applied)
		return 0;
#ifdef PAM_AUTHELIA_SANDBOX_SELFTEST
	sandbox_selftest = getenv("PAM_AUTHELIA_SELFTEST");
#endif
	sandbox_prepare();
	if (full) {
		dropped = sandbox_drop(&id, err);
		if (dropped < 0)
			return -1;
		/* Not in the ASan build: LeakSanitizer clones a tracer and opens
		 * /proc files while it looks for leaks. */
		if (sandbox_limits(!SANDBOX_SANITIZER, &nofile, err) != 0)
			return -1;
		/* Not in the ASan build: LeakSanitizer ptraces the process at exit. */
		if (!SANDBOX_SANITIZER && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
			snprintf(err, SANDBOX_ERROR_SIZE, "cannot clear dumpable: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	sandbox_applied = true;
	if (full && SANDBOX_SANITIZER)
		snprintf(landlock_why, sizeof(landlock_why), "ASan build: LeakSanitizer reads /proc");
	else if (full && !selftest_is("open-passwd/seccomp"))
		landlock = sandbox_landlock(tcp_port, landlock_why, sizeof(landlock_why), err);
	if (landlock < 0)
		return -1;
	if (!selftest_without_seccomp()) {
		seccomp = sandbox_seccomp(mode, seccomp_why, sizeof(seccomp_why), err);
		if (seccomp < 0)
			return -1;
	}
	if (!full) {
		snprintf(sandbox_line, sizeof(sandbox_line),
			 "no_new_privs=on seccomp=%s (fuzzing: identity, limits and Landlock left "
			 "alone)",
			 seccomp > 0 ? "on" : "off");
		log_debug("sandbox: %s", sandbox_line);
		return 0;
	}
	if (dropped)
		snprintf(who, sizeof(who), "uid=%u(%s) gid=%u groups=none", (unsigned)id.uid,
			 id.name, (unsigned)id.gid);
	else
		snprintf(who, sizeof(who), "uid=%u gid=%u (not started as root: ids unchanged)",
			 (unsigned)id.uid, (unsigned)id.gid);
	snprintf(sandbox_line, sizeof(sandbox_line),
		 "%s seccomp=%s%s%s%s landlock=%s (%s) no_new_privs=on nofile=%u nproc=%s core=0",
		 who, seccomp > 0 ? "on" : "off", seccomp_why[0] ? " (" : "", seccomp_why,
		 seccomp_why[0] ? ")" : "", landlock > 0 ? "on" : "off", landlock_why, nofile,
		 SANDBOX_SANITIZER ? "unlimited" : "0");
	/* A missing layer is worth a line without debug too, once per login. */
	if (landlock == 0 || seccomp == 0)
		log_notice("sandbox: %s", sandbox_line);
	else
		log_debug("sandbox: %s", sandbox_line);
#ifdef PAM_AUTHELIA_SANDBOX_SELFTEST
	return sandbox_selftest_run(err);
#else
	return 0;
#endif
}
