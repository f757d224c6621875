/*
 * fuzz_session.c -- libFuzzer target for the whole helper behind its channel:
 * the input is what a shim sends (set-up frames, replies, garbage), fed to a
 * real session on a real event loop, then the channel is closed.  Whatever the
 * bytes, the session must end with at most one result frame and never crash.
 * The first session that gets as far as connecting applies the sandbox the
 * helper would (no_new_privs and the seccomp allowlist, plus what libFuzzer
 * and this harness need); from then on a system call the helper is not
 * allowed aborts with its number, so libFuzzer keeps the input.
 */
#include "../engine/log.h"
#include "../engine/session.h"

#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int priority, const char *line)
{
	(void)priority;
	(void)line;
}

static void stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_base *base;
	struct session session;
	struct timeval limit = {2, 0};
	struct event *guard;
	unsigned char out[4096];
	int sv[2];

	if (size > 60000)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	log_set_sink(quiet);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	base = event_base_new();
	guard = evtimer_new(base, stop, base);
	evtimer_add(guard, &limit);
	if (session_init(&session, base, sv[1], sv[1]) == 0) {
		session.sandbox = SANDBOX_FUZZ;
		machine_start(&session);
		if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
			__builtin_trap();
		shutdown(sv[0], SHUT_WR);
		event_base_dispatch(base);
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	while (read(sv[0], out, sizeof(out)) > 0)
		;
	event_free(guard);
	session_free_with_base(&session, base);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
