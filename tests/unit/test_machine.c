/*
 * test_machine.c -- the state machine fed with synthetic events on a real
 * event loop: the test plays the shim on one end of a socketpair and the SSH
 * client on another.  Covers set-up, the first-step decision, the password
 * prompt, every failure path, the whole-exchange timeout, client disconnect
 * and SIGTERM.
 */
#include "unit.h"

/* sys/queue.h first: event2/keyvalq_struct.h needs its TAILQ_FOREACH. */
#include <sys/queue.h>

#include "../../engine/http_client.h"
#include "../../engine/session.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct rig {
	struct event_base *base;
	struct session session;
	struct event *stop;
	int shim;
	int client[2];
	/* frames the helper sent */
	char types[16];
	char payloads[16][256];
	int count;
};

static void rig_stop_callback(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static struct rig *rig_open(void)
{
	struct rig *rig = calloc(1, sizeof(*rig));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	rig->shim = sv[0];
	rig->client[0] = rig->client[1] = -1;
	rig->base = event_base_new();
	rig->stop = evtimer_new(rig->base, rig_stop_callback, rig->base);
	unit_log_capture();
	log_set_debug(false);
	assert_int_equal(session_init(&rig->session, rig->base, sv[1], sv[1]), 0);
	return rig;
}

static void rig_close(struct rig *rig)
{
	int fd = STDIN_FILENO;

	event_free(rig->stop);
	session_free_with_base(&rig->session, rig->base);
	close(rig->shim);
	for (int i = 0; i < 2; i++)
		if (rig->client[i] >= 0)
			close(rig->client[i]);
	(void)fd;
	free(rig);
	log_set_debug(false);
}

static void rig_send(struct rig *rig, int type, const char *text)
{
	unsigned char hdr[FRAME_HEADER_SIZE];
	size_t len = strlen(text);

	assert_int_equal(frame_encode_header(hdr, type, len), 0);
	assert_int_equal(write(rig->shim, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	if (len)
		assert_int_equal(write(rig->shim, text, len), (ssize_t)len);
}

/* Runs the loop until the session ends it or max_ms pass; returns elapsed ms. */
static long rig_run(struct rig *rig, int max_ms)
{
	struct timeval tv = {.tv_sec = max_ms / 1000, .tv_usec = max_ms % 1000 * 1000};
	struct timespec a, b;
	unsigned char buf[8192];
	ssize_t n;
	size_t off = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	evtimer_add(rig->stop, &tv);
	event_base_dispatch(rig->base);
	evtimer_del(rig->stop);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fcntl(rig->shim, F_SETFL, O_NONBLOCK);
	n = read(rig->shim, buf, sizeof(buf));
	while (n > 0 && off < (size_t)n) {
		struct frame frame;
		size_t used;
		const char *why;
		assert_int_equal(frame_parse(buf + off, (size_t)n - off, &frame, &used, &why),
				 FRAME_PARSE_OK);
		rig->types[rig->count] = (char)frame.type;
		snprintf(rig->payloads[rig->count], 256, "%.*s", (int)frame.len, frame.payload);
		rig->count++;
		off += used;
	}
	return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

/* The shim's set-up frames with the given options and user. */
static void rig_setup_user(struct rig *rig, const char *options, const char *user)
{
	char copy[512], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", options);
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	for (char *opt = strtok_r(copy, " ", &save); opt; opt = strtok_r(NULL, " ", &save))
		rig_send(rig, FRAME_OPTION, opt);
	rig_send(rig, FRAME_SERVICE, "sshd");
	rig_send(rig, FRAME_USER, user);
}

/* The same, user john. */
static void rig_setup(struct rig *rig, const char *options)
{
	rig_setup_user(rig, options, "john");
}

/* Opens a rig and runs the set-up with options, up to the first step. */
static struct rig *rig_started(const char *options)
{
	struct rig *rig = rig_open();

	machine_start(&rig->session);
	rig_setup(rig, options);
	rig_send(rig, FRAME_START, "");
	return rig;
}

static void assert_result(struct rig *rig, const char *result)
{
	assert_true(rig->count > 0);
	assert_int_equal(rig->types[rig->count - 1], FRAME_RESULT);
	assert_string_equal(rig->payloads[rig->count - 1], result);
	assert_true(rig->session.finished);
	assert_int_equal(rig->session.exit_code, 0);
}

/* The login's one audit line starts with head and, past duration_ms and
 * helper= (this process's pid), ends with tail ("" on success); failures at
 * notice, successes at info. */
static void assert_audit(const char *head, const char *tail)
{
	int priority = -1;
	const char *line = unit_audit_line(&priority), *after;
	char helper[32];

	if (strncmp(line, head, strlen(head)) != 0)
		fail_msg("audit line \"%s\" does not start with \"%s\"", line, head);
	after = strstr(line, " duration_ms=");
	assert_non_null(after);
	after += strlen(" duration_ms=");
	while (*after >= '0' && *after <= '9')
		after++;
	snprintf(helper, sizeof(helper), " helper=%ld", (long)getpid());
	if (strncmp(after, helper, strlen(helper)) != 0)
		fail_msg("audit line \"%s\" lacks \"%s\" after duration_ms", line, helper);
	after += strlen(helper);
	assert_string_equal(after, tail);
	assert_int_equal(priority, tail[0] ? LOG_NOTICE : LOG_INFO);
}

static void test_setup_then_password_prompt(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1 debug");

	(void)state;
	rig_run(rig, 100);
	assert_int_equal(rig->session.state, STATE_PASSWORD_PROMPT);
	assert_int_equal(rig->count, 1);
	assert_int_equal(rig->types[0], FRAME_PROMPT_ECHO_OFF);
	assert_string_equal(rig->payloads[0], "Password: ");
	assert_logged("state receive_config -> choose_first_step");
	assert_logged("state choose_first_step -> password_prompt");
	assert_logged("login for user \"john\" service=sshd rhost=- auth-level=1FA+2FA timeout=60 "
		      "client-watch=off");
	assert_false(rig->session.finished);
	rig_close(rig);
}

static void test_password_reply_moves_to_first_factor(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1 debug");

	(void)state;
	rig_send(rig, FRAME_REPLY, "hunter2");
	rig_run(rig, 500);
	assert_logged("state password_prompt -> first_factor");
	assert_logged("POST https://127.0.0.1:1/api/firstfactor");
	assert_logged("first factor for user \"john\" request failed: connection to 127.0.0.1:1 "
		      "refused or unreachable");
	assert_result(rig, "authinfo_unavail");
	assert_null(rig->session.password); /* wiped on the way out */
	assert_false(unit_logged("hunter2"));
	rig_close(rig);
}

static void test_conversation_error_at_prompt(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	(void)state;
	rig_send(rig, FRAME_CONV_ERROR, "");
	rig_run(rig, 500);
	assert_result(rig, "conv_err");
	assert_logged("conversation failed at the password prompt");
	rig_close(rig);
}

static void test_empty_password(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	(void)state;
	rig_send(rig, FRAME_REPLY, "");
	rig_run(rig, 500);
	assert_result(rig, "auth_err");
	assert_logged("empty password for user \"john\"");
	rig_close(rig);
}

struct bad_setup {
	const char *name;
	void (*send)(struct rig *rig);
	const char *log;
};

static void send_option_first(struct rig *rig)
{
	rig_send(rig, FRAME_OPTION, "url=https://127.0.0.1:1");
}
static void send_wrong_version(struct rig *rig)
{
	rig_send(rig, FRAME_HELLO, "pam_authelia/0");
}
static void send_user_twice(struct rig *rig)
{
	rig_setup(rig, "url=https://127.0.0.1:1");
	rig_send(rig, FRAME_USER, "root");
}
static void send_bad_option(struct rig *rig)
{
	rig_setup(rig, "url=http://a");
	rig_send(rig, FRAME_START, "");
}
static void send_no_user(struct rig *rig)
{
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	rig_send(rig, FRAME_OPTION, "url=https://127.0.0.1:1");
	rig_send(rig, FRAME_START, "");
}
static void send_reply_during_setup(struct rig *rig)
{
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	rig_send(rig, FRAME_REPLY, "x");
}
static void send_hello_twice(struct rig *rig)
{
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
}
static void send_garbage(struct rig *rig)
{
	assert_int_equal(write(rig->shim, "Zgarbage", 8), 8);
}
static void send_watch_not_a_socket(struct rig *rig)
{
	rig_setup(rig, "url=https://127.0.0.1:1");
	rig_send(rig, FRAME_WATCH_FD, "0"); /* below 3 */
}
static void send_watch_words(struct rig *rig)
{
	rig_setup(rig, "url=https://127.0.0.1:1");
	rig_send(rig, FRAME_WATCH_FD, "3x");
}
static void send_watch_closed_fd(struct rig *rig)
{
	rig_setup(rig, "url=https://127.0.0.1:1");
	rig_send(rig, FRAME_WATCH_FD, "1000");
	rig_send(rig, FRAME_START, "");
}
static void send_bad_ca(struct rig *rig)
{
	rig_setup(rig, "url=https://127.0.0.1:1 ca-cert=/nonexistent/ca.pem");
	rig_send(rig, FRAME_START, "");
}
static void send_2fa_without_authtok(struct rig *rig)
{
	rig_setup(rig, "url=https://127.0.0.1:1 auth-level=2FA");
	rig_send(rig, FRAME_START, "");
}

static void send_authz_bad_service(struct rig *rig)
{
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	rig_send(rig, FRAME_OPTION, "url=https://127.0.0.1:1");
	rig_send(rig, FRAME_OPTION, "authz-url=https://web.ssh.example.com/pam/%s");
	rig_send(rig, FRAME_SERVICE, "../sudo");
	rig_send(rig, FRAME_USER, "john");
	rig_send(rig, FRAME_START, "");
}
static void send_authz_without_service(struct rig *rig)
{
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	rig_send(rig, FRAME_OPTION, "url=https://127.0.0.1:1");
	rig_send(rig, FRAME_OPTION, "authz-url=https://web.ssh.example.com/pam/%s");
	rig_send(rig, FRAME_USER, "john");
	rig_send(rig, FRAME_START, "");
}

static const struct bad_setup bad_setups[] = {
    {"authz-url with a service that cannot go into a URL", send_authz_bad_service,
     "configuration error: authz-url: the PAM service \"../sudo\" cannot go into the URL"},
    {"authz-url without a service", send_authz_without_service,
     "configuration error: authz-url: the PAM service \"\" cannot go into the URL"},
    {"frame before hello", send_option_first,
     "unexpected option frame from the module in state receive_config"},
    {"protocol version", send_wrong_version,
     "the module speaks another protocol version than this helper (pam_authelia/1)"},
    {"user twice", send_user_twice, "the module sent user twice"},
    {"bad option", send_bad_option, "URL scheme must be https, got \"http\""},
    {"no user", send_no_user, "the module sent no user name"},
    {"reply during set-up", send_reply_during_setup,
     "the module answered a prompt that was never sent"},
    {"hello twice", send_hello_twice,
     "unexpected hello frame from the module in state receive_config"},
    {"garbage", send_garbage, "malformed frame from the module: unknown frame type"},
    {"watch fd below 3", send_watch_not_a_socket, "invalid client socket from the module"},
    {"watch fd not a number", send_watch_words, "invalid client socket from the module"},
    {"watch fd not open", send_watch_closed_fd, "cannot watch the client socket (fd 1000)"},
    {"bad ca-cert", send_bad_ca, "failed to read CA certificate /nonexistent/ca.pem"},
    {"2FA without authtok", send_2fa_without_authtok,
     "auth-level=2FA needs the password from a module above"},
};

static void test_bad_setups_fail_closed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_setups) / sizeof(bad_setups[0]); i++) {
		struct rig *rig = rig_open();

		print_message("  case: %s\n", bad_setups[i].name);
		machine_start(&rig->session);
		bad_setups[i].send(rig);
		rig_run(rig, 500);
		assert_result(rig, "service_err");
		assert_logged(bad_setups[i].log);
		assert_int_equal(rig->count, 1); /* no prompt was ever sent */
		assert_non_null(strstr(unit_audit_line(NULL),
				       " result=service_err pam=PAM_SERVICE_ERR duration_ms="));
		rig_close(rig);
	}
}

/* A bad option fails the login once the PAM items (sent after the options)
 * say whose it was: the audit line names the user. */
static void test_bad_option_fails_at_start_naming_the_user(void **state)
{
	struct rig *rig = rig_open();

	(void)state;
	machine_start(&rig->session);
	rig_setup(rig, "url=http://a auth-level=3FA");
	rig_run(rig, 50);
	assert_false(rig->session.finished);
	rig_send(rig, FRAME_START, "");
	rig_run(rig, 500);
	assert_result(rig, "service_err");
	assert_logged("configuration error: URL scheme must be https, got \"http\"");
	assert_false(unit_logged("3FA")); /* the first bad option only */
	assert_audit("audit: user=john service=sshd rhost=- factors=none result=service_err "
		     "pam=PAM_SERVICE_ERR duration_ms=",
		     " state=receive_config reason=\"configuration error: URL scheme must be "
		     "https, got \\\"http\\\"\"");
	rig_close(rig);
}

static void test_unexpected_frame_at_the_prompt(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	(void)state;
	rig_send(rig, FRAME_OPTION, "debug");
	rig_run(rig, 500);
	assert_result(rig, "service_err");
	assert_logged("unexpected option frame from the module in state password_prompt");
	rig_close(rig);
}

static void test_shim_going_away_ends_the_helper(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");
	long ms;

	(void)state;
	rig_run(rig, 50);
	shutdown(rig->shim, SHUT_WR);
	ms = rig_run(rig, 1000);
	assert_true(ms < 100);
	assert_false(rig->session.finished);
	assert_int_equal(rig->session.exit_code, 1);
	assert_logged("channel closed in state password_prompt; login abandoned");
	/* The application is gone: nobody else can write the attempt's line. */
	assert_audit("audit: user=john service=sshd rhost=- factors=none result=abort "
		     "pam=PAM_ABORT duration_ms=",
		     " state=password_prompt reason=\"channel closed in state password_prompt; "
		     "login abandoned\"");
	rig_close(rig);
}

static void test_eof_in_the_middle_of_a_frame(void **state)
{
	struct rig *rig = rig_open();

	(void)state;
	machine_start(&rig->session);
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	assert_int_equal(write(rig->shim, "O\0\0\0\x10url=", 9), 9);
	shutdown(rig->shim, SHUT_WR);
	rig_run(rig, 500);
	assert_result(rig, "service_err");
	assert_logged("malformed frame from the module: channel closed in the middle of a frame");
	rig_close(rig);
}

static void test_timeout_while_waiting_for_the_user(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1 timeout=1");
	long ms;

	(void)state;
	ms = rig_run(rig, 3000);
	assert_true(ms >= 900 && ms < 1500);
	assert_result(rig, "auth_err");
	assert_logged("timed out after 1 s waiting for the user (state password_prompt)");
	rig_close(rig);
}

/* A TCP listener that never accepts: connections hang in the TLS handshake. */
static int silent_listener(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, len), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void test_timeout_while_waiting_for_authelia_is_a_refusal(void **state)
{
	/* The user answers just before the deadline, so that it fires while the
	 * first factor is in flight: never PAM_AUTHINFO_UNAVAIL, which an
	 * [authinfo_unavail=ignore] stack would skip. */
	char options[128];
	int port, listener = silent_listener(&port);
	struct rig *rig;

	(void)state;
	snprintf(options, sizeof(options), "url=https://127.0.0.1:%d timeout=1", port);
	rig = rig_started(options);
	rig_run(rig, 700);
	rig_send(rig, FRAME_REPLY, "hunter2");
	rig_run(rig, 2000);
	assert_result(rig, "auth_err");
	assert_logged("timed out after 1 s waiting for Authelia (state first_factor)");
	rig_close(rig);
	close(listener);
}

static void test_setup_that_never_completes(void **state)
{
	struct rig *rig = rig_open();
	long ms;

	(void)state;
	machine_start(&rig->session);
	rig_send(rig, FRAME_HELLO, PROTOCOL_VERSION);
	ms = rig_run(rig, 8000);
	assert_true(ms >= SESSION_SETUP_TIMEOUT_MS - 100 && ms < SESSION_SETUP_TIMEOUT_MS + 500);
	assert_result(rig, "service_err");
	assert_logged("timed out waiting for the module's set-up (state receive_config)");
	rig_close(rig);
}

static void test_client_disconnect(void **state)
{
	struct rig *rig = rig_open();
	char fd[16];
	long ms;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, rig->client), 0);
	machine_start(&rig->session);
	rig_setup(rig, "url=https://127.0.0.1:1 debug");
	snprintf(fd, sizeof(fd), "%d", rig->client[1]);
	rig_send(rig, FRAME_WATCH_FD, fd);
	rig_send(rig, FRAME_START, "");
	rig_run(rig, 50);
	assert_logged("client-watch=on");
	assert_int_equal(rig->session.state, STATE_PASSWORD_PROMPT);
	close(rig->client[0]);
	rig->client[0] = -1;
	ms = rig_run(rig, 1000);
	assert_true(ms < 100);
	assert_result(rig, "abort");
	assert_logged("client disconnected in state password_prompt; login abandoned");
	rig_close(rig);
}

static void test_data_from_the_client_is_not_a_disconnect(void **state)
{
	struct rig *rig = rig_open();
	char fd[16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, rig->client), 0);
	machine_start(&rig->session);
	rig_setup(rig, "url=https://127.0.0.1:1");
	snprintf(fd, sizeof(fd), "%d", rig->client[1]);
	rig_send(rig, FRAME_WATCH_FD, fd);
	rig_send(rig, FRAME_START, "");
	assert_int_equal(write(rig->client[0], "keystrokes", 10), 10);
	rig_run(rig, 200);
	assert_false(rig->session.finished);
	assert_int_equal(rig->session.state, STATE_PASSWORD_PROMPT);
	rig_close(rig);
}

static void raise_sigterm(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	raise(SIGTERM);
}

static void test_sigterm(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");
	struct timeval soon = {0, 20000};

	(void)state;
	event_base_once(rig->base, -1, EV_TIMEOUT, raise_sigterm, NULL, &soon);
	rig_run(rig, 1000);
	assert_result(rig, "abort");
	assert_logged("stopped by signal Terminated in state password_prompt; login abandoned");
	assert_audit("audit: user=john service=sshd rhost=- factors=none result=abort "
		     "pam=PAM_ABORT duration_ms=",
		     " state=password_prompt reason=\"stopped by signal Terminated in state "
		     "password_prompt; login abandoned\"");
	rig_close(rig);
}

static void test_first_step_decisions(void **state)
{
	static const struct {
		const char *options;
		int authtok;
		enum state_id next;
	} cases[] = {
	    {"auth-level=1FA", 0, STATE_PASSWORD_PROMPT},
	    {"auth-level=1FA oauth2-client-id=c method-priority=device_authorization", 0,
	     STATE_PASSWORD_PROMPT},
	    {"auth-level=1FA+2FA", 0, STATE_PASSWORD_PROMPT},
	    {"auth-level=1FA+2FA method-priority=totp,device_authorization "
	     "oauth2-client-id=c",
	     0, STATE_PASSWORD_PROMPT},
	    {"auth-level=1FA+2FA method-priority=device_authorization,user "
	     "oauth2-client-id=c",
	     0, STATE_DEVICE_AUTHORIZATION},
	    {"auth-level=2FA", 1, STATE_FIRST_FACTOR},
	    {"auth-level=2FA method-priority=device_authorization oauth2-client-id=c", 0,
	     STATE_DEVICE_AUTHORIZATION},
	};
	char options[256], line[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig *rig = rig_open();

		print_message("  case: %s\n", cases[i].options);
		snprintf(options, sizeof(options), "url=https://127.0.0.1:1 debug %s",
			 cases[i].options);
		machine_start(&rig->session);
		rig_setup(rig, options);
		if (cases[i].authtok)
			rig_send(rig, FRAME_AUTHTOK, "stack-password");
		rig_send(rig, FRAME_START, "");
		rig_run(rig, 100);
		snprintf(line, sizeof(line), "state choose_first_step -> %s",
			 state_name(cases[i].next));
		assert_logged(line);
		rig_close(rig);
	}
}

static void test_success_state_reports_success(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	(void)state;
	rig_run(rig, 50);
	session_add_factor(&rig->session, FACTOR_PASSWORD);
	session_add_factor(&rig->session, FACTOR_TOTP);
	machine_goto(&rig->session, STATE_SUCCESS);
	machine_run(&rig->session);
	rig_run(rig, 500);
	assert_result(rig, "success");
	assert_logged("authentication succeeded for user \"john\" (service sshd, rhost -)");
	assert_audit("audit: user=john service=sshd rhost=- factors=password,totp result=success "
		     "pam=PAM_SUCCESS duration_ms=",
		     "");
	rig_close(rig);
}

static void test_first_failure_wins(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	(void)state;
	rig_run(rig, 50);
	machine_fail(&rig->session, RESULT_AUTH_ERR, "first reason");
	machine_fail(&rig->session, RESULT_SUCCESS, "second reason");
	machine_goto(&rig->session, STATE_SUCCESS); /* ignored once failing */
	machine_run(&rig->session);
	machine_goto(&rig->session, STATE_SUCCESS); /* ignored in a final state */
	machine_run(&rig->session);
	rig_run(rig, 500);
	assert_result(rig, "auth_err");
	assert_logged("first reason");
	assert_false(unit_logged("second reason"));
	assert_audit("audit: user=john service=sshd rhost=- factors=none result=auth_err "
		     "pam=PAM_AUTH_ERR duration_ms=",
		     " state=password_prompt reason=\"first reason\"");
	assert_int_equal(rig->session.state, STATE_FAILURE);
	rig_close(rig);
}

static void test_failure_state_without_a_reason_is_not_success(void **state)
{
	/* session->result starts as a failure: a path into the failure state that
	 * forgot machine_fail() must not report the zeroed RESULT_SUCCESS. */
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	(void)state;
	rig_run(rig, 50);
	machine_goto(&rig->session, STATE_FAILURE);
	machine_run(&rig->session);
	rig_run(rig, 500);
	assert_result(rig, "service_err");
	assert_non_null(strstr(unit_audit_line(NULL), " reason=\"unknown\""));
	rig_close(rig);
}

static void test_overlong_user_name_is_refused_before_any_request(void **state)
{
	char user[SESSION_MAX_USER + 2];
	struct rig *rig = rig_open();

	(void)state;
	memset(user, 'a', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	machine_start(&rig->session);
	rig_setup_user(rig, "url=https://127.0.0.1:1", user);
	rig_send(rig, FRAME_START, "");
	rig_run(rig, 500);
	assert_result(rig, "auth_err");
	assert_int_equal(rig->count, 1); /* no prompt */
	assert_null(rig->session.http);	 /* no connection, no request */
	assert_logged(
	    "user name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" "
	    "is longer than 256 bytes; refused before any request");
	rig_close(rig);
}

static void test_overlong_password_is_refused_before_any_request(void **state)
{
	char password[SESSION_MAX_PASSWORD + 2];
	struct rig *rig = rig_started("url=https://127.0.0.1:1 debug");

	(void)state;
	memset(password, 'p', sizeof(password) - 1);
	password[sizeof(password) - 1] = '\0';
	rig_send(rig, FRAME_REPLY, password);
	rig_run(rig, 500);
	assert_result(rig, "auth_err");
	assert_logged("password for user \"john\" is longer than 1024 bytes; refused before any "
		      "request");
	assert_false(unit_logged("POST https://127.0.0.1:1/api/firstfactor"));
	assert_null(rig->session.password);
	rig_close(rig);
}

static void test_user_name_is_sanitised_in_log_lines(void **state)
{
	struct rig *rig = rig_open();

	(void)state;
	machine_start(&rig->session);
	rig_setup_user(rig, "url=https://127.0.0.1:1 debug", "jo\x1b[2Jhn\"\nforged line");
	rig_send(rig, FRAME_RHOST, "host\r\nname");
	rig_send(rig, FRAME_START, "");
	rig_send(rig, FRAME_REPLY, "");
	rig_run(rig, 500);
	assert_result(rig, "auth_err");
	assert_logged("login for user \"jo?[2Jhn??forged line\" service=sshd rhost=host??name");
	assert_logged("empty password for user \"jo?[2Jhn??forged line\"");
	for (int i = 0; i < unit_log_count; i++)
		for (const char *p = unit_log_lines[i]; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	rig_close(rig);
}

static void test_client_ip_is_a_canonical_ip_literal(void **state)
{
	static const struct {
		const char *rhost, *ip;
	} cases[] = {
	    {"192.0.2.7", "192.0.2.7"},
	    {"::ffff:192.0.2.7", "192.0.2.7"},
	    {"[::ffff:192.0.2.7]", "192.0.2.7"},
	    {"2001:DB8:0:0::1", "2001:db8::1"},
	    {"[2001:db8::1]", "2001:db8::1"},
	    {"fe80::1%eth0", "fe80::1"},
	    {"[fe80::1%25eth0]", "fe80::1"},
	    {"::1", "::1"},
	    /* Not IP addresses: no X-Forwarded-For (Authelia would ignore it and
	     * count every client against the host's own address). */
	    {"client.example.com", ""},
	    {"192.0.2.7%eth0", ""},
	    {"0x7f.1", ""},
	    {"192.0.2.7, 10.0.0.1", ""},
	    {"", ""},
	    {"[]", ""},
	};
	char ip[SESSION_IP_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  case: %s\n", cases[i].rhost);
		assert_int_equal(session_client_ip(cases[i].rhost, ip), cases[i].ip[0] != '\0');
		assert_string_equal(ip, cases[i].ip);
	}
}

static void test_nothing_is_read_after_the_result(void **state)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	(void)state;
	rig_send(rig, FRAME_CONV_ERROR, "");
	rig_send(rig, FRAME_REPLY, "late");
	rig_run(rig, 500);
	assert_result(rig, "conv_err");
	assert_int_equal(rig->count, 2); /* the prompt and the result */
	assert_null(rig->session.password);
	rig_close(rig);
}

/* The first prompt goes out before OpenSSL's set-up and the CA file: a CA
 * file that looks like PEM but is not is found out after the prompt. */
static void test_first_prompt_before_tls_set_up(void **state)
{
	/* Below /run: ca-cert is trusted only below directories root alone can
	 * write (protocol/binary_path.h), so this needs root. */
	char dir[] = "/run/test_machine_ca_XXXXXX", path[64], options[128];
	struct rig *rig;
	const char *bad = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
			  "-----END CERTIFICATE-----\n";
	int fd;

	(void)state;
	if (geteuid() != 0 || mkdtemp(dir) == NULL)
		skip();
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	close(fd);
	snprintf(options, sizeof(options), "url=https://127.0.0.1:1 ca-cert=%s", path);
	rig = rig_started(options);
	rig_run(rig, 500);
	assert_int_equal(rig->count, 2);
	assert_int_equal(rig->types[0], FRAME_PROMPT_ECHO_OFF);
	assert_result(rig, "service_err");
	assert_logged("failed to read CA certificate /run/test_machine_ca_");
	rig_close(rig);
	unlink(path);
	rmdir(dir);
}

/* Without a prompt to wait for (2FA), connecting starts at once. */
static void test_without_a_prompt_connecting_starts_at_once(void **state)
{
	struct rig *rig = rig_open();

	(void)state;
	machine_start(&rig->session);
	rig_setup(rig, "url=https://127.0.0.1:1 auth-level=2FA");
	rig_send(rig, FRAME_AUTHTOK, "stack-password");
	rig_send(rig, FRAME_START, "");
	rig_run(rig, 1000);
	assert_int_equal(rig->count, 1); /* the result only */
	assert_result(rig, "authinfo_unavail");
	assert_logged("connection to 127.0.0.1:1 refused or unreachable");
	rig_close(rig);
}

static void feed(struct rig *rig, enum http_purpose purpose, int status, const char *body)
{
	struct http_response response = {
	    .purpose = purpose, .status = status, .body = body, .body_len = strlen(body)};

	machine_http(&rig->session, &response);
}

#define STATE_JOHN "{\"status\":\"OK\",\"data\":{\"username\":\"john\",\"authentication_level\":1}}"
#define STATE_JANE "{\"status\":\"OK\",\"data\":{\"username\":\"jane\",\"authentication_level\":1}}"
#define INFO_TOTP                                                                              \
	"{\"status\":\"OK\",\"data\":{\"method\":\"totp\",\"has_totp\":true,\"has_webauthn\":" \
	"false,"                                                                               \
	"\"has_duo\":false}}"

/* A password login at the point where user_info waits for its two answers
 * (entered by hand, so that no real request is in flight). */
static struct rig *rig_in_user_info(void)
{
	struct rig *rig = rig_started("url=https://127.0.0.1:1");

	rig_run(rig, 50);
	rig->session.state = STATE_USER_INFO; /* tests only: the machine does this */
	rig->session.have_user_info = rig->session.have_session_state = false;
	return rig;
}

static void test_user_info_waits_for_both_answers(void **state)
{
	for (int order = 0; order < 2; order++) {
		struct rig *rig = rig_in_user_info();

		(void)state;
		if (order == 0)
			feed(rig, HTTP_STATE, 200, STATE_JOHN);
		else
			feed(rig, HTTP_USER_INFO, 200, INFO_TOTP);
		assert_int_equal(rig->session.state, STATE_USER_INFO);
		if (order == 0)
			feed(rig, HTTP_USER_INFO, 200, INFO_TOTP);
		else
			feed(rig, HTTP_STATE, 200, STATE_JOHN);
		assert_int_equal(rig->session.state, STATE_TOTP_PROMPT);
		rig_run(rig, 50);
		assert_string_equal(rig->payloads[rig->count - 1], "TOTP Code: ");
		rig_close(rig);
	}
}

static void test_either_answer_failing_ends_the_login(void **state)
{
	struct rig *rig = rig_in_user_info();

	(void)state;
	feed(rig, HTTP_USER_INFO, 200, INFO_TOTP);
	feed(rig, HTTP_STATE, 200, STATE_JANE);
	rig_run(rig, 200);
	assert_result(rig, "auth_err");
	assert_logged("authelia identity \"jane\" does not match pam username \"john\"");
	rig_close(rig);

	rig = rig_in_user_info();
	feed(rig, HTTP_STATE, 503, "down");
	feed(rig, HTTP_USER_INFO, 200, "{\"status\":\"KO\"}"); /* after the end: ignored */
	rig_run(rig, 200);
	assert_result(rig, "authinfo_unavail");
	assert_logged("session state: Authelia failed (response status=503)");
	assert_false(unit_logged("user info refused"));
	rig_close(rig);
}

/* --- the access check (authz-url) ------------------------------------------- */

#define AUTHZ_OPTIONS "url=https://127.0.0.1:1 authz-url=https://web.ssh.example.com/pam/%s debug"
#define AUTHZ_URL     "https://web.ssh.example.com/pam/sshd"

/* An authz answer: status, Remote-User (or NULL), a rotated or deleted cookie. */
static void feed_authz_cookie(struct rig *rig, int status, const char *remote_user, bool rotated,
			      bool deleted)
{
	struct evkeyvalq headers;
	struct http_response response = {.purpose = HTTP_AUTHZ,
					 .status = status,
					 .body = "",
					 .cookie_rotated = rotated,
					 .cookie_deleted = deleted,
					 .headers = &headers};

	TAILQ_INIT(&headers);
	if (remote_user != NULL)
		evhttp_add_header(&headers, "Remote-User", remote_user);
	machine_http(&rig->session, &response);
	evhttp_clear_headers(&headers);
}

static void feed_authz(struct rig *rig, int status, const char *remote_user, bool rotated)
{
	feed_authz_cookie(rig, status, remote_user, rotated, false);
}

/* A login with options at the state given, entered by hand (no request in
 * flight): the answers are the test's. */
static struct rig *rig_in_state(const char *options, enum state_id state)
{
	struct rig *rig = rig_started(options);

	rig_run(rig, 50);
	rig->session.state = state; /* tests only: the machine does this */
	rig->session.have_user_info = rig->session.have_session_state = false;
	rig->session.have_access = false;
	unit_log_capture();
	return rig;
}

static void test_access_check_set_up(void **state)
{
	struct rig *rig = rig_started(AUTHZ_OPTIONS " auth-level=policy");

	(void)state;
	rig_run(rig, 50);
	assert_string_equal(rig->session.authz.url, AUTHZ_URL);
	assert_int_equal(rig->session.connections, 3); /* state, authz and user info at once */
	assert_logged("access check: /api/authz/auth-request about " AUTHZ_URL
		      " (authz-endpoint, auth-request)");
	assert_string_equal(rig->payloads[0], "Password: "); /* policy: the password first */
	rig_close(rig);

	rig = rig_started(AUTHZ_OPTIONS " auth-level=1FA");
	rig_run(rig, 50);
	assert_int_equal(rig->session.connections, 2); /* state and authz */
	rig_close(rig);
}

/* first_factor -> access_check sends the question, the session check and
 * (a second factor may follow) user info at once. */
static void test_access_check_follows_the_password(void **state)
{
	struct rig *rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_FIRST_FACTOR);

	(void)state;
	feed(rig, HTTP_FIRST_FACTOR, 200, "{\"status\":\"OK\"}");
	assert_int_equal(rig->session.state, STATE_ACCESS_CHECK);
	assert_logged("state first_factor -> access_check");
	assert_logged("GET https://127.0.0.1:1/api/authz/auth-request?authelia_url=https%3A%2F%2F"
		      "127.0.0.1%3A1");
	assert_logged("GET https://127.0.0.1:1/api/state");
	assert_logged("POST https://127.0.0.1:1/api/user/info");
	feed(rig, HTTP_STATE, 200, STATE_JOHN);
	feed_authz(rig, 200, "john", false);
	assert_logged("authelia access control allows \"john\" on " AUTHZ_URL
		      " at level 1 (response status=200)");
	assert_logged("state access_check -> success");
	rig_run(rig, 50);
	assert_result(rig, "success");
	rig_close(rig);
}

/* policy: 200 succeeds without a second factor, whichever answer comes first. */
static void test_access_allowed_at_one_factor(void **state)
{
	for (int order = 0; order < 2; order++) {
		struct rig *rig =
		    rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_CHECK);

		(void)state;
		if (order == 0) {
			feed_authz(rig, 200, "john", false);
			assert_int_equal(rig->session.state, STATE_ACCESS_CHECK);
			feed(rig, HTTP_STATE, 200, STATE_JOHN);
		} else {
			feed(rig, HTTP_STATE, 200, STATE_JOHN);
			assert_int_equal(rig->session.state, STATE_ACCESS_CHECK);
			feed_authz(rig, 200, "john", false);
		}
		rig_run(rig, 50);
		assert_result(rig, "success");
		assert_int_equal(rig->count, 2); /* the password prompt, the result */
		rig_close(rig);
	}
}

/* A denial ends the login at once, before the other answers and any prompt. */
static void test_access_denied_before_any_prompt(void **state)
{
	struct rig *rig = rig_in_state(AUTHZ_OPTIONS " auth-level=1FA+2FA", STATE_ACCESS_CHECK);

	(void)state;
	feed_authz(rig, 403, NULL, false);
	feed(rig, HTTP_STATE, 200, STATE_JOHN);	   /* after the end: ignored */
	feed(rig, HTTP_USER_INFO, 200, INFO_TOTP); /* likewise */
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_int_equal(rig->count, 2);
	assert_logged("authelia access control denies \"john\" on " AUTHZ_URL
		      " (response status=403)");
	assert_logged("state access_check -> failure");
	rig_close(rig);
}

/* policy: 401 at a confirmed level 1 asks for the method-priority factor. */
static void test_access_wants_a_second_factor(void **state)
{
	struct rig *rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_CHECK);

	(void)state;
	feed_authz(rig, 401, NULL, false);
	feed(rig, HTTP_STATE, 200, STATE_JOHN);
	assert_int_equal(rig->session.state, STATE_ACCESS_CHECK); /* user info still due */
	feed(rig, HTTP_USER_INFO, 200, INFO_TOTP);
	assert_int_equal(rig->session.state, STATE_TOTP_PROMPT);
	assert_logged("authelia access control requires a second factor for \"john\" on " AUTHZ_URL
		      " (response status=401)");
	rig_run(rig, 50);
	assert_string_equal(rig->payloads[rig->count - 1], "TOTP Code: ");
	rig_close(rig);

	/* 1FA+2FA: even a 200 goes on to the second factor */
	rig = rig_in_state(AUTHZ_OPTIONS, STATE_ACCESS_CHECK);
	feed(rig, HTTP_USER_INFO, 200, INFO_TOTP);
	feed_authz(rig, 200, "john", false);
	assert_int_equal(rig->session.state, STATE_ACCESS_CHECK);
	feed(rig, HTTP_STATE, 200, STATE_JOHN);
	assert_int_equal(rig->session.state, STATE_TOTP_PROMPT);
	rig_close(rig);

	/* 1FA: nothing to raise the level with */
	rig = rig_in_state(AUTHZ_OPTIONS " auth-level=1FA", STATE_ACCESS_CHECK);
	feed_authz(rig, 401, NULL, false);
	feed(rig, HTTP_STATE, 200, STATE_JOHN);
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("authelia access control requires a second factor for \"john\" on " AUTHZ_URL
		      " (response status=401), and auth-level=1FA asks for none");
	rig_close(rig);
}

static void test_access_check_failures(void **state)
{
	static const struct {
		int status;
		const char *remote_user;
		bool rotated;
		const char *result, *log;
	} cases[] = {
	    {200, NULL, false, "auth_err", "without naming a user (no Remote-User"},
	    {200, "jane", false, "auth_err", "answered for \"jane\", not \"john\""},
	    {401, NULL, true, "auth_err", "Authelia replaced the session of \"john\""},
	    {400, NULL, false, "service_err", "is misconfigured (response status=400)"},
	    {404, NULL, false, "service_err", "is not enabled in Authelia (response status=404)"},
	    {302, NULL, false, "service_err", "unexpected redirect (response status=302)"},
	    {503, NULL, false, "authinfo_unavail", "Authelia failed (response status=503)"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig *rig =
		    rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_CHECK);

		print_message("  case: %d\n", cases[i].status);
		feed(rig, HTTP_STATE, 200, STATE_JOHN);
		feed_authz(rig, cases[i].status, cases[i].remote_user, cases[i].rotated);
		rig_run(rig, 50);
		assert_result(rig, cases[i].result);
		assert_logged(cases[i].log);
		rig_close(rig);
	}

	/* the session check fails: another user's session */
	struct rig *rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_CHECK);
	feed_authz(rig, 200, "john", false);
	feed(rig, HTTP_STATE, 200, STATE_JANE);
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("authelia identity \"jane\" does not match pam username \"john\"");
	rig_close(rig);
}

/* After the second factor: the question again, which must now allow. */
static void test_access_recheck(void **state)
{
	struct rig *rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_TOTP_VERIFY);
	struct http_response accepted = {.purpose = HTTP_TOTP,
					 .status = 200,
					 .body = "{\"status\":\"OK\"}",
					 .body_len = 15,
					 .cookie_rotated = true};

	(void)state;
	machine_http(&rig->session, &accepted);
	assert_int_equal(rig->session.state, STATE_ACCESS_RECHECK);
	assert_logged("state totp_verify -> access_recheck");
	assert_logged("GET https://127.0.0.1:1/api/authz/auth-request");
	assert_false(unit_logged("GET https://127.0.0.1:1/api/state"));
	feed_authz(rig, 200, "john", false);
	rig_run(rig, 50);
	assert_result(rig, "success");
	assert_logged("authelia access control allows \"john\" on " AUTHZ_URL
		      " after the second factor (response status=200)");
	rig_close(rig);

	/* a 401 after TOTP: the level did not rise, or the session was dropped */
	rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);
	feed_authz(rig, 401, NULL, false);
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("authelia access control still refuses \"john\" on " AUTHZ_URL
		      " after the second factor (response status=401)");
	rig_close(rig);

	/* a group removed in between: the catch-all deny */
	rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);
	feed_authz(rig, 403, NULL, false);
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("authelia access control denies \"john\" on " AUTHZ_URL
		      " (response status=403)");
	rig_close(rig);
}

/* The device flow raises no cookie session: after it, 401 is what a two_factor
 * rule answers the level-1 session, accepted only when GET /api/state, sent
 * once the 401 is in (not before: the authz call may end an idle session),
 * shows that session at level 1. */
static void test_access_recheck_after_the_device_flow(void **state)
{
	struct rig *rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);

	(void)state;
	rig->session.device_second_factor = true;
	state_access_recheck_entry.enter(&rig->session); /* as machine_run would */
	assert_logged("GET https://127.0.0.1:1/api/authz/auth-request");
	assert_false(unit_logged("GET https://127.0.0.1:1/api/state")); /* not yet */
	feed_authz(rig, 401, NULL, false);
	assert_int_equal(rig->session.state, STATE_ACCESS_RECHECK);
	assert_logged("GET https://127.0.0.1:1/api/state"); /* now */
	feed(rig, HTTP_STATE, 200, STATE_JOHN);
	rig_run(rig, 50);
	assert_result(rig, "success");
	assert_logged("the device approval showed two");
	rig_close(rig);

	/* the session idled past inactivity: the 401 is anyone's, and the state
	 * read after it shows no session */
	rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);
	rig->session.device_second_factor = true;
	feed_authz(rig, 401, NULL, false);
	feed(rig, HTTP_STATE, 200,
	     "{\"status\":\"OK\",\"data\":{\"username\":\"\",\"authentication_level\":0}}");
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("authelia access control answered 401 for \"john\" on " AUTHZ_URL
		      " after the device approval, and Authelia no longer holds the password's "
		      "session at level 1 (/api/state: user \"\", authentication_level=0)");
	rig_close(rig);

	/* level 1 exactly: a 401 at level 2 is no two_factor rule */
	rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);
	rig->session.device_second_factor = true;
	feed_authz(rig, 401, NULL, false);
	feed(rig, HTTP_STATE, 200,
	     "{\"status\":\"OK\",\"data\":{\"username\":\"john\",\"authentication_level\":2}}");
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("(/api/state: user \"john\", authentication_level=2)");
	rig_close(rig);

	/* a state that arrives before the 401 is none the login asked for */
	rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);
	rig->session.device_second_factor = true;
	feed(rig, HTTP_STATE, 200, STATE_JOHN);
	feed_authz(rig, 401, NULL, false);
	rig_run(rig, 50);
	assert_result(rig, "service_err");
	assert_logged("unexpected HTTP response in state access_recheck");
	rig_close(rig);

	/* a 401 that deletes the session cookie, or replaces it: refused at once */
	for (int rotated = 0; rotated < 2; rotated++) {
		rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);
		rig->session.device_second_factor = true;
		unit_log_capture();
		feed_authz_cookie(rig, 401, NULL, rotated, !rotated);
		rig_run(rig, 50);
		assert_result(rig, "auth_err");
		assert_logged(rotated ? "Authelia replaced the session of \"john\" (response "
					"status=401) with a new session cookie"
				      : "Authelia replaced the session of \"john\" (response "
					"status=401) and deleted its cookie");
		assert_false(unit_logged("GET https://127.0.0.1:1/api/state"));
		rig_close(rig);
	}

	rig = rig_in_state(AUTHZ_OPTIONS " auth-level=policy", STATE_ACCESS_RECHECK);
	rig->session.device_second_factor = true;
	feed_authz(rig, 403, NULL, false);
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("authelia access control denies \"john\"");
	rig_close(rig);
}

/* The question that cannot go out names the user and the URL.  A listener
 * that never answers keeps a connection idle (not broken); a URL no header
 * may hold (it cannot come from authz-url, which is checked) makes libevent
 * refuse the request there and then. */
static void test_access_request_that_cannot_be_sent(void **state)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	char options[160];
	struct rig *rig;

	(void)state;
	assert_true(listener >= 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(listener, 4), 0);
	assert_int_equal(getsockname(listener, (struct sockaddr *)&addr, &len), 0);
	snprintf(options, sizeof(options),
		 "url=https://127.0.0.1:%d authz-url=https://web.ssh.example.com/pam/%%s "
		 "auth-level=policy",
		 ntohs(addr.sin_port));
	rig = rig_in_state(options, STATE_FIRST_FACTOR);
	free(rig->session.authz.url);
	rig->session.authz.url = strdup("https://web.ssh.example.com/pam/\nX-Evil: 1");
	feed(rig, HTTP_FIRST_FACTOR, 200, "{\"status\":\"OK\"}");
	rig_run(rig, 50);
	assert_result(rig, "service_err");
	assert_logged("cannot send the access check request for \"john\" on "
		      "https://web.ssh.example.com/pam/");
	rig_close(rig);
	close(listener);
}

/* With authz-url, a PAM_RHOST that is no IP address (sshd's UseDNS yes) ends
 * the login before the first prompt: Authelia's networks rules would match
 * this host's address instead of the client's. */
static void test_access_check_needs_the_client_address(void **state)
{
	static const struct {
		const char *options, *rhost;
		bool refused;
	} cases[] = {
	    {AUTHZ_OPTIONS, "client.example.net", true},
	    {AUTHZ_OPTIONS, "192.0.2.7:5555", true},
	    {AUTHZ_OPTIONS, "192.0.2.7", false},
	    {AUTHZ_OPTIONS, "fe80::1%eth0", false},
	    {AUTHZ_OPTIONS, NULL, false}, /* sudo, su: no client, nothing to forward */
	    {"url=https://127.0.0.1:1", "client.example.net", false}, /* no access check */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig *rig = rig_open();
		char want[256];

		print_message("  case: %s %s\n", cases[i].options,
			      cases[i].rhost ? cases[i].rhost : "(no rhost)");
		machine_start(&rig->session);
		rig_setup(rig, cases[i].options);
		if (cases[i].rhost != NULL)
			rig_send(rig, FRAME_RHOST, cases[i].rhost);
		rig_send(rig, FRAME_START, "");
		rig_run(rig, 50);
		if (cases[i].refused) {
			assert_int_equal(rig->count, 1); /* the result, no prompt */
			assert_result(rig, "service_err");
			snprintf(want, sizeof(want),
				 "PAM_RHOST \"%s\" is a host name, not an address, so the access "
				 "check cannot tell Authelia the client's address (its networks "
				 "rules would match this host's); fix: UseDNS no in sshd_config",
				 cases[i].rhost);
			assert_logged(want);
		} else {
			assert_string_equal(rig->payloads[0], "Password: ");
		}
		rig_close(rig);
	}
}

/* A user name that could be trimmed or split in a header is never sent. */
static void test_access_user_name_in_a_header(void **state)
{
	struct rig *rig = rig_open();

	(void)state;
	machine_start(&rig->session);
	rig_setup_user(rig, AUTHZ_OPTIONS " auth-level=policy", "john doe");
	rig_send(rig, FRAME_START, "");
	rig_run(rig, 50);
	rig->session.state = STATE_FIRST_FACTOR;
	feed(rig, HTTP_FIRST_FACTOR, 200, "{\"status\":\"OK\"}");
	rig_run(rig, 50);
	assert_result(rig, "auth_err");
	assert_logged("user name \"john doe\" cannot be sent in the access check's "
		      "Session-Username header");
	assert_false(unit_logged("GET https://127.0.0.1:1/api/authz"));
	rig_close(rig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_access_check_set_up),
	    cmocka_unit_test(test_access_check_follows_the_password),
	    cmocka_unit_test(test_access_allowed_at_one_factor),
	    cmocka_unit_test(test_access_denied_before_any_prompt),
	    cmocka_unit_test(test_access_wants_a_second_factor),
	    cmocka_unit_test(test_access_check_failures),
	    cmocka_unit_test(test_access_recheck),
	    cmocka_unit_test(test_access_recheck_after_the_device_flow),
	    cmocka_unit_test(test_access_user_name_in_a_header),
	    cmocka_unit_test(test_access_check_needs_the_client_address),
	    cmocka_unit_test(test_access_request_that_cannot_be_sent),
	    cmocka_unit_test(test_first_prompt_before_tls_set_up),
	    cmocka_unit_test(test_without_a_prompt_connecting_starts_at_once),
	    cmocka_unit_test(test_user_info_waits_for_both_answers),
	    cmocka_unit_test(test_either_answer_failing_ends_the_login),
	    cmocka_unit_test(test_setup_then_password_prompt),
	    cmocka_unit_test(test_password_reply_moves_to_first_factor),
	    cmocka_unit_test(test_conversation_error_at_prompt),
	    cmocka_unit_test(test_empty_password),
	    cmocka_unit_test(test_bad_setups_fail_closed),
	    cmocka_unit_test(test_bad_option_fails_at_start_naming_the_user),
	    cmocka_unit_test(test_unexpected_frame_at_the_prompt),
	    cmocka_unit_test(test_shim_going_away_ends_the_helper),
	    cmocka_unit_test(test_eof_in_the_middle_of_a_frame),
	    cmocka_unit_test(test_timeout_while_waiting_for_the_user),
	    cmocka_unit_test(test_setup_that_never_completes),
	    cmocka_unit_test(test_client_disconnect),
	    cmocka_unit_test(test_data_from_the_client_is_not_a_disconnect),
	    cmocka_unit_test(test_sigterm),
	    cmocka_unit_test(test_first_step_decisions),
	    cmocka_unit_test(test_success_state_reports_success),
	    cmocka_unit_test(test_first_failure_wins),
	    cmocka_unit_test(test_nothing_is_read_after_the_result),
	    cmocka_unit_test(test_timeout_while_waiting_for_authelia_is_a_refusal),
	    cmocka_unit_test(test_failure_state_without_a_reason_is_not_success),
	    cmocka_unit_test(test_overlong_user_name_is_refused_before_any_request),
	    cmocka_unit_test(test_overlong_password_is_refused_before_any_request),
	    cmocka_unit_test(test_user_name_is_sanitised_in_log_lines),
	    cmocka_unit_test(test_client_ip_is_a_canonical_ip_literal),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("state machine", tests, NULL, NULL);
}
