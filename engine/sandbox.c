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
#include "file_read.h"
#include "log.h"
#include "sandbox_filter.h" /* generated from sandbox_rules.h by tools/sandbox_filter_gen */
#include "sandbox_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jwt.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Descriptors beyond those open when the sandbox closes: the HTTPS
 * connections (up to three: an access check with a second factor), the
 * resolver's socket and one connection being replaced. */
#define SANDBOX_SPARE_FDS 5
#define SANDBOX_FD_SCAN	  128 /* the module leaves the helper fds 0-3 */

/* --- Landlock, from <linux/landlock.h> of newer kernels than the build's --- */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule	    445
#define SYS_landlock_restrict_self  446
#endif
#define SANDBOX_LANDLOCK_VERSION_FLAG (1U << 0)
#define SANDBOX_LANDLOCK_RULE_NET     2
#define SANDBOX_LANDLOCK_FS_V1	      ((1ULL << 13) - 1) /* execute .. make_sym */
#define SANDBOX_LANDLOCK_FS_REFER     (1ULL << 13)	 /* ABI 2 */
#define SANDBOX_LANDLOCK_FS_TRUNCATE  (1ULL << 14)	 /* ABI 3 */
#define SANDBOX_LANDLOCK_FS_IOCTL_DEV (1ULL << 15)	 /* ABI 5 */
#define SANDBOX_LANDLOCK_NET_BIND     (1ULL << 0)	 /* ABI 4 */
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

/* --- what was applied --------------------------------------------------- */

static bool sandbox_applied;
static char sandbox_line[SANDBOX_SUMMARY_SIZE];

#ifdef PAM_AUTHELIA_SANDBOX_SELFTEST
/* The test-only build (build/tests/pam_authelia_selftest) reads what to try
 * from the side file "<its own path>.action" (the module gives the helper no
 * environment and runs no scripts), read as root before the sandbox. */
static const char *sandbox_selftest;
static char sandbox_selftest_action[64];
static const char *selftest_read_action(void)
{
	char exe[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s.action", exe);
	f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	if (fgets(sandbox_selftest_action, sizeof(sandbox_selftest_action), f) == NULL)
		sandbox_selftest_action[0] = '\0';
	fclose(f);
	sandbox_selftest_action[strcspn(sandbox_selftest_action, "\n")] = '\0';
	return sandbox_selftest_action[0] ? sandbox_selftest_action : NULL;
}
static bool selftest_is(const char *action)
{
	return sandbox_selftest != NULL && strcmp(sandbox_selftest, action) == 0;
}
static bool selftest_without_seccomp(void)
{
	return sandbox_selftest != NULL && strstr(sandbox_selftest, "/no-seccomp") != NULL;
}
#else
#define selftest_is(action)	   false
#define selftest_without_seccomp() false
#endif

const char *sandbox_summary(void)
{
	return sandbox_line;
}

/* --- before the drop: what the libraries would open later ------------------ */

static void sandbox_prepare(const struct config *config)
{
	jwt_t *jwt = NULL;

	/* syslog(3) stamps lines with localtime_r(), which reads /etc/localtime
	 * on first use (every login logs, so this costs nothing extra). */
	tzset();
	/* libjwt's JSON library (jansson) seeds its hash function from
	 * /dev/urandom when it builds its first object: only the device flow
	 * uses it, and only with an oauth2-client-id. */
	if (config->oauth2_client_id != NULL && jwt_new(&jwt) == 0)
		jwt_free(jwt);
}

/* --- identity --------------------------------------------------------------- */

struct sandbox_identity {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Reads /etc/passwd into memory (at most 16 MiB); NULL on failure. */
static char *sandbox_read_passwd(void)
{
	size_t len;
	char *buf;
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NONBLOCK), saved;

	if (fd < 0)
		return NULL;
	buf = file_read_fd(fd, 16 * 1024 * 1024, &len);
	saved = errno;
	close(fd);
	errno = saved;
	return buf;
}

/* A decimal id field ("123:" or "123\n"); false when malformed. */
static bool sandbox_parse_id(const char *p, unsigned *id)
{
	unsigned long v = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v >= 0xffffffffUL)
			return false;
	}
	*id = (unsigned)v;
	return *p == ':';
}

/* name's uid and gid, from the first "name:x:uid:gid:..." line. */
static bool sandbox_passwd_entry(const char *passwd, const char *name, unsigned *uid, unsigned *gid)
{
	size_t len = strlen(name);

	for (const char *line = passwd; line != NULL && *line != '\0';) {
		const char *next = strchr(line, '\n'), *p;

		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			p = strchr(line + len + 1, ':'); /* past the password field */
			if (p == NULL || (next != NULL && p > next) ||
			    !sandbox_parse_id(p + 1, uid))
				return false;
			p = strchr(p + 1, ':');
			return p != NULL && (next == NULL || p < next) &&
			       sandbox_parse_id(p + 1, gid);
		}
		line = next ? next + 1 : NULL;
	}
	return false;
}

/*
 * Looked up in /etc/passwd itself, not through NSS: no directory-service
 * module is loaded into the helper, a slow LDAP server cannot stall logins,
 * and system users live there.  (Read by hand: fgetpwent(3) costs a cold
 * helper ~0.3 ms of the 0.5 ms the whole sandbox may cost; the format is
 * name:password:uid:gid:...)
 */
static int sandbox_find_user(struct sandbox_identity *id, char *err)
{
	static const char *const names[] = {SANDBOX_USER, SANDBOX_FALLBACK_USER};
	char *passwd = sandbox_read_passwd();
	unsigned uid, gid;

	if (passwd == NULL) {
		snprintf(err, SANDBOX_ERROR_SIZE, "cannot drop root: /etc/passwd: %s",
			 strerror(errno ? errno : ENOMEM));
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (!sandbox_passwd_entry(passwd, names[i], &uid, &gid))
			continue;
		free(passwd);
		if (uid == 0 || gid == 0) {
			snprintf(err, SANDBOX_ERROR_SIZE,
				 "cannot drop root: user %s has uid or gid 0 in /etc/passwd",
				 names[i]);
			return -1;
		}
		id->uid = (uid_t)uid;
		id->gid = (gid_t)gid;
		snprintf(id->name, sizeof(id->name), "%s", names[i]);
		return 0;
	}
	free(passwd);
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
	/* (The bounding set stays: it only bounds what execve could grant, and
	 * with no_new_privs and no execve it grants nothing; 41 prctl()s cost
	 * ~0.08 ms.) */
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
	if (abi >= 4 && tcp_port <= 0)
		snprintf(why, whylen, "ABI %ld: no file access, no TCP connect", abi);
	else if (abi >= 4)
		snprintf(why, whylen, "ABI %ld: no file access, TCP connect to port %d only", abi,
			 tcp_port);
	else
		snprintf(why, whylen, "ABI %ld: no file access; TCP needs ABI 4", abi);
	return 1;
}

/* --- seccomp ------------------------------------------------------------------ */

/* The filter generated at build time from the same table, with the helper's
 * pid put in; loading it costs the kernel ~10 us. */
static int sandbox_load_precompiled(void)
{
	enum { count = sizeof(sandbox_filter) / sizeof(sandbox_filter[0]) };
	struct sock_filter prog[count];
	struct sock_fprog fprog = {.len = count, .filter = prog};
	int placed = 0;

	memcpy(prog, sandbox_filter, sizeof(prog));
	for (size_t i = 0; i < count; i++) {
		if (prog[i].k == SANDBOX_PID_PLACEHOLDER) {
			prog[i].k = (uint32_t)getpid();
			placed++;
		}
	}
	if (placed != 1)
		return -EINVAL;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) == 0 ? 0 : -errno;
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
	bool files_allowed =
	    SANDBOX_SANITIZER || mode == SANDBOX_FUZZ || selftest_is("open-passwd/landlock");
	scmp_filter_ctx ctx;
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
	if (!files_allowed && mode == SANDBOX_HELPER) {
		rc = sandbox_load_precompiled();
	} else {
		/* Builds that add rows (ASan, fuzzing) or lift the file rules
		 * (a selftest): libseccomp at run time, cost no object. */
		ctx = sandbox_rules_filter(kill_action, files_allowed, (uint32_t)getpid());
		if (ctx == NULL) {
			snprintf(err, SANDBOX_ERROR_SIZE, "cannot build the seccomp filter");
			return -1;
		}
		rc = 0;
#if SANDBOX_SANITIZER
		rc = sandbox_rules_add(
		    ctx, sandbox_rules_sanitizer,
		    sizeof(sandbox_rules_sanitizer) / sizeof(sandbox_rules_sanitizer[0]), false, 0);
#endif
#ifdef PAM_AUTHELIA_SANDBOX_FUZZ
		if (rc == 0 && mode == SANDBOX_FUZZ)
			rc = sandbox_rules_add(
			    ctx, sandbox_rules_fuzz,
			    sizeof(sandbox_rules_fuzz) / sizeof(sandbox_rules_fuzz[0]), false, 0);
#endif
		if (rc == 0)
			rc = seccomp_load(ctx);
		seccomp_release(ctx);
	}
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

static double sandbox_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int sandbox_apply(enum sandbox_mode mode, const struct config *config, char err[SANDBOX_ERROR_SIZE])
{
	double started = sandbox_cpu_ms();
	int tcp_port = config->url_port;
	struct sandbox_identity id = {0};
	char landlock_why[96] = "not applied", seccomp_why[64] = "", who[128];
	int dropped = 0, landlock = 0, seccomp = 0;
	unsigned nofile = 0;
	bool full = mode == SANDBOX_HELPER;

	err[0] = '\0';
	if (mode == SANDBOX_OFF || sandbox_applied)
		return 0;
#ifdef PAM_AUTHELIA_SANDBOX_SELFTEST
	sandbox_selftest = selftest_read_action();
#endif
	sandbox_prepare(config);
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
		snprintf(landlock_why, sizeof(landlock_why),
			 "ASan build: LeakSanitizer reads /proc");
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
		 "%s seccomp=%s%s%s%s landlock=%s (%s) no_new_privs=on nofile=%u nproc=%s core=0 "
		 "cpu=%.3fms",
		 who, seccomp > 0 ? "on" : "off", seccomp_why[0] ? " (" : "", seccomp_why,
		 seccomp_why[0] ? ")" : "", landlock > 0 ? "on" : "off", landlock_why, nofile,
		 SANDBOX_SANITIZER ? "unlimited" : "0", sandbox_cpu_ms() - started);
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
