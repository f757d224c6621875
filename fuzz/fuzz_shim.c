/*
 * fuzz_shim.c -- libFuzzer target for the module itself: pam_sm_authenticate
 * with a scripted conversation, a scripted helper on the other end of the
 * channel, and failures of the libc and libpam calls it makes injected the
 * way Yubico's pam-u2f fuzzes its module: the calls are wrapped at link time
 * (-Wl,--wrap, Makefile FUZZ_SHIM_WRAP) and a share of them, chosen by the
 * input, fails.  Nothing is executed: fork() returns a made-up pid, and the
 * "helper" is this harness, acting whenever the module would wait (poll),
 * on a real socketpair; waitpid(), kill() and pidfd_open() answer for it.
 * The module's clock is virtual, so a helper that never answers costs no
 * time: the module's backstop fires as soon as it would.
 *
 * The input is a script (fuzz/script.h):
 *
 *   ~args           module arguments, one per line (binary=/usr/bin/true is
 *                   added unless a binary= line is there)
 *   ~pam [user=U] [nouser] [service=S] [rhost=IP] [authtok=T] [noconv]
 *   ~fail [rate=R] [seed=N] [at=K] [only=NAME]
 *                   R/256 of the wrapped calls fail (chosen from seed), or
 *                   the K-th one, or only calls of NAME
 *   ~conv [fail|null|nullresp|errresp]
 *   ANSWER          the conversation's next answer (in order)
 *   and, in order, what the helper does each time the module waits:
 *   ~frame T        a frame of type T (a letter or a decimal number)
 *   ~result NAME    the result frame
 *   ~raw            bytes as they are
 *   ~close          the helper closes its end of the channel (and lives on)
 *   ~exit [N]       the helper exits with status N (its channel closes)
 *   ~killed [SIG]   the helper dies of a signal
 *   ~sleep MS       the helper does nothing for MS ms (the module's waits end
 *                   on time meanwhile)
 *   ~stubborn       the helper ignores SIGTERM from now on
 *
 * Whatever the input, the harness checks: no crash, leak or sanitizer
 * report; no call that would block forever and no busy loop; a valid PAM
 * code; PAM_SUCCESS only when the helper sent "success" and exited with 0;
 * the helper reaped before pam_sm_authenticate returns, never signalled after
 * that (its pid could be another process's by then) and never another pid;
 * every frame to the helper well formed, hello first; no descriptor left
 * open; no typed secret in a log line.
 */
#include "../shim/shim.h"

#include "script.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FAKE_PID   424242
#define MAX_ARGS   24
#define MAX_CALLS  200000
#define SEEN_MAX   (512 * 1024)
#define MAX_ANSWER 2048

/* The wrapped functions' real versions (-Wl,--wrap=NAME gives __real_NAME). */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
char *__real_strndup(const char *s, size_t n);
int __real_socketpair(int domain, int type, int protocol, int sv[2]);
int __real_open(const char *path, int flags, ...);
pid_t __real_fork(void);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);
ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
pid_t __real_waitpid(pid_t pid, int *status, int options);
int __real_kill(pid_t pid, int sig);
int __real_pidfd_open(pid_t pid, unsigned int flags);
int __real_clock_gettime(clockid_t id, struct timespec *ts);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_socketpair(int domain, int type, int protocol, int sv[2]);
int __wrap_open(const char *path, int flags, ...);
pid_t __wrap_fork(void);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);
pid_t __wrap_waitpid(pid_t pid, int *status, int options);
int __wrap_kill(pid_t pid, int sig);
int __wrap_pidfd_open(pid_t pid, unsigned int flags);
int __real_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags);
int __wrap_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags);
int __real_waitid(idtype_t idtype, id_t id, siginfo_t *info, int options);
int __wrap_waitid(idtype_t idtype, id_t id, siginfo_t *info, int options);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt);
int __wrap_pam_get_item(const pam_handle_t *pamh, int type, const void **item);
void __wrap_pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void __wrap_pam_vsyslog(const pam_handle_t *pamh, int priority, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

enum call {
	CALL_MALLOC,
	CALL_CALLOC,
	CALL_STRNDUP,
	CALL_SOCKETPAIR,
	CALL_OPEN,
	CALL_FORK,
	CALL_POLL,
	CALL_RECV,
	CALL_SENDMSG,
	CALL_WAITPID,
	CALL_PIDFD_OPEN,
	CALL_GET_USER,
	CALL_GET_ITEM,
	CALL_CONV,
	CALL_COUNT
};

static const char *const call_names[CALL_COUNT] = {
    "malloc", "calloc",	 "strndup", "socketpair", "open",     "fork",	  "poll",
    "recv",   "sendmsg", "waitpid", "pidfd_open", "get_user", "get_item", "conv",
};

static struct state {
	bool active; /* inside pam_sm_authenticate */
	unsigned calls;
	/* failure injection */
	unsigned rate, seed, at;
	unsigned in_a_row[CALL_COUNT];
	int only; /* -1: any call */
	long long now_ms;
	long long busy_until; /* the helper sleeps until then */
	/* the fake PAM handle */
	char user[300], service[64], rhost[64], authtok[300];
	bool has_user, has_service, has_rhost, has_authtok, has_conv;
	/* the conversation */
	struct script_op conv_ops[64];
	int conv_count, conv_next;
	int conv_calls;
	/* the helper */
	struct script_op actions[128];
	int action_count, action_next;
	bool started, exited, reaped, stubborn, said_success;
	int status;
	int chan;     /* the helper's end of the channel (our copy); -1 when closed */
	int pidfd[2]; /* a pipe standing in for the pidfd (the module closes [0]) */
	size_t seen_len, log_len, wrote_len;
	/* zeroed up to here for each input */
	unsigned char seen[SEEN_MAX];  /* what the module sent the helper */
	unsigned char wrote[SEEN_MAX]; /* what the helper sent the module */
	char log[8192];
} st;

static int listener = -1, client = -1, accepted = -1; /* a TCP peer for client_socket_find */

/* --- failure injection -------------------------------------------------------- */

/* Whether this call fails.  An interrupted call (EINTR) is transient: the
 * same call fails at most a few times in a row, or a retry loop could never
 * end here when it always would in life. */
static bool should_fail(enum call call)
{
	unsigned n, x;
	bool fail;

	if (!st.active)
		return false;
	n = ++st.calls;
	if (n > MAX_CALLS)
		__builtin_trap(); /* a busy loop */
	if (st.only >= 0 && st.only != (int)call)
		fail = false;
	else if (st.at > 0)
		fail = n == st.at;
	else if (st.rate == 0)
		fail = false;
	else {
		x = (n ^ st.seed) * 2654435761u;
		x ^= x >> 15;
		x *= 2246822519u;
		x ^= x >> 13;
		fail = (x & 0xff) < st.rate;
	}
	if (fail && st.in_a_row[call] >= 4 &&
	    (call == CALL_POLL || call == CALL_RECV || call == CALL_WAITPID ||
	     call == CALL_SENDMSG))
		fail = false;
	st.in_a_row[call] = fail ? st.in_a_row[call] + 1 : 0;
	return fail;
}

/* --- the helper --------------------------------------------------------------- */

static void helper_exit(int status)
{
	st.exited = true;
	st.status = status;
	if (st.chan >= 0) {
		close(st.chan);
		st.chan = -1;
	}
	if (st.pidfd[1] >= 0) {
		(void)!write(st.pidfd[1], "x", 1);
		close(st.pidfd[1]);
		st.pidfd[1] = -1;
	}
}

/* Reads what the module sent; each frame must be well formed, hello first. */
static void helper_drain(void)
{
	unsigned char buf[65536];
	ssize_t n;

	while (st.chan >= 0 && (n = read(st.chan, buf, sizeof(buf))) > 0) {
		size_t take = (size_t)n;
		if (st.seen_len + take > SEEN_MAX)
			take = SEEN_MAX - st.seen_len;
		memcpy(st.seen + st.seen_len, buf, take);
		st.seen_len += take;
	}
}

static void helper_write(const void *data, size_t len)
{
	ssize_t n;

	if (st.chan < 0 || len == 0)
		return;
	n = write(st.chan, data, len); /* non-blocking: what does not fit is lost */
	if (n > 0 && st.wrote_len + (size_t)n <= SEEN_MAX) {
		memcpy(st.wrote + st.wrote_len, data, (size_t)n);
		st.wrote_len += (size_t)n;
	}
}

/* How many messages for the conversation the helper has sent in whole frames. */
static int helper_messages(void)
{
	size_t off = 0;
	int n = 0;

	for (;;) {
		struct frame frame;
		size_t used = 0;
		const char *why = NULL;

		if (frame_parse(st.wrote + off, st.wrote_len - off, &frame, &used, &why) !=
		    FRAME_PARSE_OK)
			return n;
		if (frame.type == FRAME_PROMPT_ECHO_OFF || frame.type == FRAME_PROMPT_ECHO_ON ||
		    frame.type == FRAME_INFO || frame.type == FRAME_ERROR)
			n++;
		off += used;
	}
}

static void helper_frame(int type, const void *payload, size_t len)
{
	unsigned char hdr[FRAME_HEADER_SIZE] = {(unsigned char)type, (unsigned char)(len >> 24),
						(unsigned char)(len >> 16),
						(unsigned char)(len >> 8), (unsigned char)len};

	if (st.chan < 0)
		return;
	helper_write(hdr, sizeof(hdr));
	helper_write(payload, len);
	if (type == FRAME_RESULT && len == 7 && memcmp(payload, "success", 7) == 0)
		st.said_success = true;
}

/* The helper's next action; false when it has none left. */
static bool helper_step(void)
{
	const struct script_op *op;
	const char *w;
	size_t len;

	helper_drain();
	if (!st.started || st.exited || st.action_next >= st.action_count)
		return false;
	op = &st.actions[st.action_next++];
	if (script_is(op, "frame")) {
		int type = 'i';
		if (script_word(op, 1, &w, &len) && len > 0)
			type = w[0] >= '0' && w[0] <= '9' ? (int)script_pos_num(op, 0, 0, 255)
							  : (unsigned char)w[0];
		helper_frame(type, op->payload, op->payload_len);
	} else if (script_is(op, "result")) {
		if (script_word(op, 1, &w, &len))
			helper_frame(FRAME_RESULT, w, len);
		else
			helper_frame(FRAME_RESULT, "success", 7);
	} else if (script_is(op, "raw")) {
		helper_write(op->payload, op->payload_len);
	} else if (script_is(op, "close")) {
		if (st.chan >= 0) {
			close(st.chan);
			st.chan = -1;
		}
	} else if (script_is(op, "exit")) {
		helper_exit(W_EXITCODE((int)script_pos_num(op, 0, 0, 255), 0));
	} else if (script_is(op, "killed")) {
		helper_exit((int)script_pos_num(op, SIGSEGV, 1, 64));
	} else if (script_is(op, "sleep")) {
		st.busy_until = st.now_ms + script_pos_num(op, 1000, 0, 100000000L);
	} else if (script_is(op, "stubborn")) {
		st.stubborn = true;
	}
	return true;
}

/* --- wrapped libc ------------------------------------------------------------- */

void *__wrap_malloc(size_t size)
{
	if (should_fail(CALL_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (should_fail(CALL_CALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, size);
}

char *__wrap_strndup(const char *s, size_t n)
{
	if (should_fail(CALL_STRNDUP)) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strndup(s, n);
}

int __wrap_socketpair(int domain, int type, int protocol, int sv[2])
{
	int rc;

	if (should_fail(CALL_SOCKETPAIR)) {
		errno = EMFILE;
		return -1;
	}
	rc = __real_socketpair(domain, type, protocol, sv);
	if (rc == 0 && st.active) {
		/* The helper's end: the module closes its copy after fork. */
		st.chan = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);
		if (st.chan >= 0)
			fcntl(st.chan, F_SETFL, O_NONBLOCK);
	}
	return rc;
}

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (should_fail(CALL_OPEN)) {
		errno = EMFILE;
		return -1;
	}
	return __real_open(path, flags, mode);
}

pid_t __wrap_fork(void)
{
	if (!st.active)
		return __real_fork();
	if (should_fail(CALL_FORK)) {
		errno = EAGAIN;
		return -1;
	}
	if (st.started)
		__builtin_trap(); /* one helper per login */
	st.started = true;
	return FAKE_PID;
}

int __wrap_pidfd_open(pid_t pid, unsigned int flags)
{
	if (!st.active)
		return __real_pidfd_open(pid, flags);
	if (pid != FAKE_PID || !st.started)
		__builtin_trap();
	if (should_fail(CALL_PIDFD_OPEN)) {
		errno = ENOSYS; /* a kernel before 5.3 */
		return -1;
	}
	if (st.pidfd[0] >= 0 || pipe2(st.pidfd, O_CLOEXEC) != 0)
		return -1;
	if (st.exited) {
		(void)!write(st.pidfd[1], "x", 1);
		close(st.pidfd[1]);
		st.pidfd[1] = -1;
	}
	return st.pidfd[0];
}

pid_t __wrap_waitpid(pid_t pid, int *status, int options)
{
	if (!st.active)
		return __real_waitpid(pid, status, options);
	if (pid != FAKE_PID || !st.started || st.reaped)
		__builtin_trap(); /* not our helper, or reaped already */
	if (should_fail(CALL_WAITPID)) {
		errno = EINTR;
		return -1;
	}
	if (!st.exited) {
		if (options & WNOHANG)
			return 0;
		__builtin_trap(); /* would wait forever for a live helper */
	}
	st.reaped = true;
	*status = st.status;
	return pid;
}

int __wrap_kill(pid_t pid, int sig)
{
	if (!st.active)
		return __real_kill(pid, sig);
	if (pid != FAKE_PID || !st.started || st.reaped)
		__builtin_trap(); /* another process, or a pid that may be reused by now */
	if (st.exited)
		return 0; /* a zombie: signals are ignored */
	if (sig == SIGKILL || (sig == SIGTERM && !st.stubborn))
		helper_exit(sig);
	return 0;
}

/* helper_kill() through the pidfd (pidfd_send_signal, waitid P_PIDFD): the
 * same rules as kill() and waitpid() above, on the pidfd pidfd_open gave. */
int __wrap_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
	if (!st.active)
		return __real_pidfd_send_signal(pidfd, sig, info, flags);
	if (pidfd != st.pidfd[0] || pidfd < 0 || !st.started || st.reaped)
		__builtin_trap(); /* not our helper's pidfd, or reaped already */
	if (st.exited)
		return 0; /* a zombie: signals are ignored */
	if (sig == SIGKILL || (sig == SIGTERM && !st.stubborn))
		helper_exit(sig);
	return 0;
}

int __wrap_waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	if (!st.active)
		return __real_waitid(idtype, id, info, options);
	if (idtype != P_PIDFD || (int)id != st.pidfd[0] || !st.started || st.reaped)
		__builtin_trap(); /* not our helper, or reaped already */
	if (should_fail(CALL_WAITPID)) {
		errno = EINTR;
		return -1;
	}
	if (!st.exited) {
		if (options & WNOHANG) {
			info->si_pid = 0;
			return 0;
		}
		__builtin_trap(); /* would wait forever for a live helper */
	}
	st.reaped = true;
	info->si_pid = FAKE_PID;
	info->si_code = (st.status & 0x7f) != 0 ? CLD_KILLED : CLD_EXITED;
	info->si_status = (st.status & 0x7f) != 0 ? st.status & 0x7f : (st.status >> 8) & 0xff;
	return 0;
}

/* The module's clock: virtual, moved by the helper's sleeps and waits. */
int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	if (!st.active || id != CLOCK_MONOTONIC)
		return __real_clock_gettime(id, ts);
	ts->tv_sec = (time_t)(st.now_ms / 1000);
	ts->tv_nsec = (long)(st.now_ms % 1000) * 1000000L;
	return 0;
}

/* The module waits: the helper acts; with nothing left to do, time passes. */
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	long long until;
	int rc;

	if (!st.active)
		return __real_poll(fds, nfds, timeout);
	if (should_fail(CALL_POLL)) {
		errno = EINTR;
		return -1;
	}
	if (timeout < 0)
		__builtin_trap(); /* the module never waits without a deadline */
	until = st.now_ms + timeout;
	for (;;) {
		rc = __real_poll(fds, nfds, 0);
		if (rc != 0)
			return rc;
		if (st.busy_until > st.now_ms) {
			if (st.busy_until >= until)
				break;
			st.now_ms = st.busy_until;
		}
		if (!helper_step())
			break;
	}
	st.now_ms = until;
	return 0;
}

/* A connection reset or a broken pipe is the helper's end gone: it is
 * closed for real, so that what follows is what would follow in life. */
static void helper_lose_channel(void)
{
	if (st.chan >= 0) {
		helper_drain();
		close(st.chan);
		st.chan = -1;
	}
}

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
	if (should_fail(CALL_RECV)) {
		if (st.calls & 1) {
			errno = EINTR;
			return -1;
		}
		helper_lose_channel();
		errno = ECONNRESET;
		return -1;
	}
	return __real_recv(fd, buf, len, flags);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t n;

	if (should_fail(CALL_SENDMSG)) {
		if (st.calls & 1) {
			errno = EAGAIN;
			return -1;
		}
		helper_lose_channel(); /* the send below fails with EPIPE */
	}
	n = __real_sendmsg(fd, msg, flags);
	if (st.active)
		helper_drain();
	return n;
}

/* --- the fake PAM handle ---------------------------------------------------------- */

static int fake_conv(int n, const struct pam_message **msgs, struct pam_response **resp,
		     void *appdata)
{
	const struct script_op *op;
	struct pam_response *r;
	const char *w;
	size_t len;

	(void)appdata;
	if (n != 1 || msgs == NULL || msgs[0] == NULL || msgs[0]->msg == NULL)
		__builtin_trap();
	if (msgs[0]->msg_style != PAM_PROMPT_ECHO_OFF && msgs[0]->msg_style != PAM_PROMPT_ECHO_ON &&
	    msgs[0]->msg_style != PAM_TEXT_INFO && msgs[0]->msg_style != PAM_ERROR_MSG)
		__builtin_trap();
	(void)strlen(msgs[0]->msg); /* a C string ASan can read */
	if (++st.conv_calls > helper_messages())
		__builtin_trap(); /* a message the helper never sent */
	if (should_fail(CALL_CONV) || st.conv_next >= st.conv_count)
		return PAM_CONV_ERR;
	op = &st.conv_ops[st.conv_next++];
	if (script_word(op, 1, &w, &len) && len == 4 && memcmp(w, "null", 4) == 0) {
		*resp = NULL;
		return PAM_SUCCESS;
	}
	if (script_word(op, 1, &w, &len) && len == 4 && memcmp(w, "fail", 4) == 0)
		return PAM_CONV_ERR;
	r = __real_calloc(1, sizeof(*r));
	if (r == NULL)
		abort();
	if (!(script_word(op, 1, &w, &len) && len == 8 && memcmp(w, "nullresp", 8) == 0)) {
		len = op->payload_len < MAX_ANSWER ? op->payload_len : MAX_ANSWER;
		r->resp = __real_strndup((const char *)op->payload, len);
	}
	*resp = r;
	if (script_word(op, 1, &w, &len) && len == 7 && memcmp(w, "errresp", 7) == 0)
		return PAM_CONV_ERR; /* an answer and a failure: the module frees both */
	return PAM_SUCCESS;
}

static const struct pam_conv conv = {.conv = fake_conv};

int __wrap_pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt)
{
	(void)pamh;
	(void)prompt;
	if (should_fail(CALL_GET_USER))
		return PAM_SYSTEM_ERR;
	*user = st.has_user ? st.user : NULL;
	return PAM_SUCCESS;
}

int __wrap_pam_get_item(const pam_handle_t *pamh, int type, const void **item)
{
	(void)pamh;
	if (should_fail(CALL_GET_ITEM))
		return PAM_SYSTEM_ERR;
	*item = NULL;
	switch (type) {
	case PAM_SERVICE:
		*item = st.has_service ? st.service : NULL;
		break;
	case PAM_RHOST:
		*item = st.has_rhost ? st.rhost : NULL;
		break;
	case PAM_AUTHTOK:
		*item = st.has_authtok ? st.authtok : NULL;
		break;
	case PAM_CONV:
		*item = st.has_conv ? &conv : NULL;
		break;
	default:
		return PAM_BAD_ITEM;
	}
	return PAM_SUCCESS;
}

/* The module's log lines, pam_syslog's and pam_vsyslog's (shim_audit.c):
 * kept for the checks; the real ones would read the made-up handle. */
void __wrap_pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	__wrap_pam_vsyslog(pamh, priority, fmt, ap);
	va_end(ap);
}

void __wrap_pam_vsyslog(const pam_handle_t *pamh, int priority, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	(void)pamh;
	(void)priority;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (st.log_len + (size_t)n + 2 < sizeof(st.log)) {
		memcpy(st.log + st.log_len, line, (size_t)n);
		st.log_len += (size_t)n;
		st.log[st.log_len++] = '\n';
		st.log[st.log_len] = '\0';
	}
}

/* --- the checks ------------------------------------------------------------------- */

static void check_sent(void)
{
	size_t off = 0;
	bool first = true;

	while (off < st.seen_len) {
		struct frame frame;
		size_t used = 0;
		const char *why = NULL;
		enum frame_parse_status rc =
		    frame_parse(st.seen + off, st.seen_len - off, &frame, &used, &why);

		if (rc == FRAME_PARSE_INCOMPLETE)
			return; /* cut short by a failed send */
		if (rc != FRAME_PARSE_OK)
			__builtin_trap();
		if (first && frame.type != FRAME_HELLO)
			__builtin_trap();
		first = false;
		off += used;
	}
}

/* --- the target ---------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	(void)argc;
	(void)argv;
	/* A connected TCP socket whose peer is 127.0.0.1, as sshd's client socket. */
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || client < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&sa, &len) != 0 ||
	    connect(client, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (accepted = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
		abort();
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void configure(const struct script_op *op, const char **argv, int *argc, char *args,
		      size_t args_size)
{
	const char *v;
	size_t len;

	if (script_is(op, "args")) {
		size_t used = 0;
		bool binary = false;

		*argc = 0;
		for (size_t i = 0; i <= op->payload_len && *argc < MAX_ARGS - 1;) {
			const uint8_t *nl = memchr(op->payload + i, '\n', op->payload_len - i);
			size_t l = nl ? (size_t)(nl - op->payload) - i : op->payload_len - i;
			if (used + l + 1 > args_size)
				break;
			memcpy(args + used, op->payload + i, l);
			args[used + l] = '\0';
			if (memchr(args + used, '\0', l) == NULL) {
				binary = binary || strncmp(args + used, "binary=", 7) == 0;
				argv[(*argc)++] = args + used;
			}
			used += l + 1;
			i += l + 1;
		}
		if (!binary)
			argv[(*argc)++] = "binary=/usr/bin/true";
	} else if (script_is(op, "pam")) {
		if (script_arg(op, "user", &v, &len))
			script_copy(v, len, st.user, sizeof(st.user));
		st.has_user = !script_arg(op, "nouser", &v, &len);
		if ((st.has_service = script_arg(op, "service", &v, &len)))
			script_copy(v, len, st.service, sizeof(st.service));
		if ((st.has_rhost = script_arg(op, "rhost", &v, &len)))
			script_copy(v, len, st.rhost, sizeof(st.rhost));
		if ((st.has_authtok = script_arg(op, "authtok", &v, &len)))
			script_copy(v, len, st.authtok, sizeof(st.authtok));
		st.has_conv = !script_arg(op, "noconv", &v, &len);
	} else if (script_is(op, "fail")) {
		st.rate = (unsigned)script_num(op, "rate", 8, 0, 256);
		st.seed = (unsigned)script_num(op, "seed", 0, 0, 0x7fffffff);
		st.at = (unsigned)script_num(op, "at", 0, 0, 1000000);
		if (script_arg(op, "only", &v, &len))
			for (int i = 0; i < CALL_COUNT; i++)
				if (strlen(call_names[i]) == len &&
				    memcmp(call_names[i], v, len) == 0)
					st.only = i;
	} else if (script_is(op, "conv")) {
		if (st.conv_count < (int)(sizeof(st.conv_ops) / sizeof(st.conv_ops[0])))
			st.conv_ops[st.conv_count++] = *op;
	} else if (st.action_count < (int)(sizeof(st.actions) / sizeof(st.actions[0]))) {
		st.actions[st.action_count++] = *op;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char args[16384];
	const char *argv[MAX_ARGS];
	struct script script;
	struct script_op op;
	int argc = 1, rc, fds_before;

	if (size > 65536)
		return 0;
	memset(&st, 0, offsetof(struct state, seen));
	st.only = -1;
	st.chan = st.pidfd[0] = st.pidfd[1] = -1;
	st.now_ms = 1000000;
	st.has_user = st.has_conv = true;
	snprintf(st.user, sizeof(st.user), "john");
	argv[0] = "binary=/usr/bin/true";
	script_init(&script, data, size);
	while (script_next(&script, &op))
		configure(&op, argv, &argc, args, sizeof(args));

	fds_before = script_count_fds();
	st.active = true;
	rc = pam_sm_authenticate((pam_handle_t *)&st, 0, argc, argv);
	st.active = false;

	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "pam_sm_authenticate: %d (%s), %u calls, %lld ms\n%s", rc,
			pam_strerror(NULL, rc), st.calls, st.now_ms - 1000000, st.log);
	switch (rc) {
	case PAM_SUCCESS:
		if (!st.said_success || !st.exited || st.status != 0)
			__builtin_trap(); /* success the helper never reported */
		break;
	case PAM_AUTH_ERR:
	case PAM_AUTHINFO_UNAVAIL:
	case PAM_SERVICE_ERR:
	case PAM_CONV_ERR:
	case PAM_ABORT:
	case PAM_BUF_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_SYSTEM_ERR:
		break;
	default:
		__builtin_trap();
	}
	if (st.started && !st.reaped)
		__builtin_trap(); /* a helper left behind */
	check_sent();
	/* An answer holding "SECRET" and found nowhere else in the input (an
	 * option's name is logged, and could hold it) is never logged. */
	for (int i = 0; i < st.conv_count; i++) {
		const struct script_op *c = &st.conv_ops[i];
		const uint8_t *after = c->payload + 1;
		if (c->payload_len >= 6 && st.log_len > 0 &&
		    memmem(c->payload, c->payload_len, "SECRET", 6) != NULL &&
		    memmem(data, size, c->payload, c->payload_len) == (const void *)c->payload &&
		    memmem(after, size - (size_t)(after - data), c->payload, c->payload_len) ==
			NULL &&
		    memmem(st.log, st.log_len, c->payload, c->payload_len) != NULL)
			__builtin_trap(); /* a typed secret in a log line */
	}
	if (st.chan >= 0)
		close(st.chan);
	if (st.pidfd[1] >= 0)
		close(st.pidfd[1]);
	if (fds_before >= 0 && script_count_fds() != fds_before)
		__builtin_trap(); /* a descriptor left open */
	return 0;
}
