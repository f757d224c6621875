/*
 * sandbox_rules.h -- the helper's seccomp allowlist: one table, sandbox_rules,
 * and how it becomes a filter.  Included by engine/sandbox.c and by
 * tools/sandbox_filter_gen.c, which turns the table into BPF at build time
 * (libseccomp takes ~0.7 ms per login to build and load it at run time; the
 * kernel takes the precompiled program in ~10 us).  The ASan and fuzzing
 * builds add their own rows and build the filter at run time.
 *
 * To add a system call: a row with a comment saying who makes it and why,
 * then make (the filter is regenerated) and the tests.  To find out what a
 * change needs: strace -f the helper through a login; the kernel log shows
 * what the sandbox killed (audit type=1326, syscall=N).
 */
#ifndef PAM_AUTHELIA_SANDBOX_RULES_H
#define PAM_AUTHELIA_SANDBOX_RULES_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* LeakSanitizer stops the process at exit with a ptrace()ing clone: the ASan
 * build (tests only, never installed) keeps what that needs. */
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

/* Stands for the helper's pid in the precompiled filter (tgkill's first
 * argument); no pid is this large (pid_max is at most 2^22). */
#define SANDBOX_PID_PLACEHOLDER 0x7ffffff3u

enum sandbox_action {
	SANDBOX_ALLOW,
	SANDBOX_REFUSE, /* fails with EACCES: a library probing a file gets an error */
};

struct sandbox_rule {
	int nr; /* SCMP_SYS(name); negative when this architecture lacks it */
	enum sandbox_action action;
	struct scmp_arg_cmp args[2]; /* op 0: unused */
};

#define ARG_EQ(n, value)                                        \
	{                                                       \
		.arg = n, .op = SCMP_CMP_EQ, .datum_a = (value) \
	}
#define ARG_MASKED(n, mask, value)                                                        \
	{                                                                                 \
		.arg = n, .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (value) \
	}
#define ALLOW(name, ...)                                                               \
	{                                                                              \
		.nr = SCMP_SYS(name), .action = SANDBOX_ALLOW, .args = { __VA_ARGS__ } \
	}
#define REFUSE(name, ...)                                                               \
	{                                                                               \
		.nr = SCMP_SYS(name), .action = SANDBOX_REFUSE, .args = { __VA_ARGS__ } \
	}
#define SOCK_TYPE_MASK 0xf /* SOCK_NONBLOCK and SOCK_CLOEXEC are flags above it */

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
    /* The system CA bundle, opened before the sandbox, is read where a
     * chain's issuer is (engine/ca_store.c): pread, no new file opened. */
    ALLOW(pread64),
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
    /* OpenSSL's set-up runs sandboxed, after the first prompt (engine/tls.h):
     * its sorts use glibc's qsort, which asks sysconf(_SC_PHYS_PAGES) once. */
    ALLOW(sysinfo),
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
/* fuzz/fuzz_login.c: after the first input the sandbox stays, and every
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
    /* fuzz_login's plain bufferevents (PAM_AUTHELIA_FUZZ_PLAIN_HTTP) note
     * the peer's address when a connect completes; TLS bufferevents do not */
    ALLOW(getpeername),
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
#ifdef PAM_AUTHELIA_FUZZ_COVERAGE
    /* make fuzz-coverage: the profile runtime holds off the parent-death
     * signal while it writes the profile at exit */
    ALLOW(prctl),
#endif
};
#endif

/* files_allowed turns the refused file system calls into allowed ones (the
 * fuzzer, LeakSanitizer, and the selftest that shows Landlock alone). */
static inline int sandbox_rules_add(scmp_filter_ctx ctx, const struct sandbox_rule *rules,
				    size_t count, bool files_allowed, uint32_t pid)
{
	for (size_t i = 0; i < count; i++) {
		const struct sandbox_rule *rule = &rules[i];
		struct scmp_arg_cmp args[2];
		unsigned argc = 0;
		uint32_t action =
		    rule->action == SANDBOX_ALLOW ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EACCES);
		int rc;

		if (rule->nr < 0)
			continue; /* not a system call on this architecture */
		for (; argc < 2 && rule->args[argc].op != 0; argc++)
			args[argc] = rule->args[argc];
		if (rule->nr == SCMP_SYS(tgkill) && argc == 1)
			args[0].datum_a = pid; /* its own process only */
		if (files_allowed && rule->action == SANDBOX_REFUSE && rule->nr != SCMP_SYS(socket))
			action = SCMP_ACT_ALLOW;
		rc = seccomp_rule_add_array(ctx, action, rule->nr, argc, args);
		/* The sanitizer and fuzzer tables widen rules the main one limits. */
		if (rc != 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

/* The helper's filter: anything not in the table kills the process, and so
 * does a system call from another architecture's ABI (x32, i386). */
static inline scmp_filter_ctx sandbox_rules_filter(uint32_t kill_action, bool files_allowed,
						   uint32_t pid)
{
	scmp_filter_ctx ctx = seccomp_init(kill_action);

	if (ctx == NULL)
		return NULL;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill_action) != 0 ||
	    sandbox_rules_add(ctx, sandbox_rules, sizeof(sandbox_rules) / sizeof(sandbox_rules[0]),
			      files_allowed, pid) != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

#endif
