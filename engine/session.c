/*
 * session.c -- the login's context and its global events (see session.h).
 */
#include "session.h"
#include "json.h"
#include "log.h"
#include "secure_alloc.h"
#include "tls.h"

#include <arpa/inet.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const int session_signals[3] = {SIGTERM, SIGINT, SIGHUP};

static long long session_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void session_timeout_callback(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	machine_timeout(arg);
}

static void session_client_closed_callback(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	machine_client_closed(arg);
}

static void session_signal_callback(evutil_socket_t signum, short what, void *arg)
{
	(void)what;
	machine_signal(arg, (int)signum);
}

static void session_state_timer_callback(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	machine_timer(arg);
}

void session_arm_state_timer(struct session *session, long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	if (ms < 0)
		tv.tv_sec = tv.tv_usec = 0;
	evtimer_add(session->state_timer, &tv);
}

void session_cancel_state_timer(struct session *session)
{
	if (session->state_timer != NULL)
		evtimer_del(session->state_timer);
}

static void session_exit_callback(evutil_socket_t fd, short what, void *arg)
{
	struct session *session = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(session->base);
}

static void session_http_callback(const struct http_response *response, void *arg)
{
	machine_http(arg, response);
}

int session_prompt(struct session *session, enum frame_type type, const char *text)
{
	session->prompt_outstanding = true;
	session->prompt_owner = session->state;
	return channel_send_text(session->channel, type, text);
}

int session_connect(struct session *session)
{
	char err[HTTP_ERROR_SIZE];

	session->http = http_client_new(session->base, &session->config,
					session->client_ip[0] ? session->client_ip : NULL,
					session_http_callback, session, err);
	if (session->http == NULL) {
		log_error("%s", err);
		return -1;
	}
	session->connect_pending = true;
	return 0;
}

/*
 * What the first prompt need not wait for, done (sandboxed) while the user
 * reads it: OpenSSL's set-up, the CA certificates parsed, the connections.
 */
static void session_start_connecting(struct session *session)
{
	char err[TLS_ERROR_SIZE];

	session->connect_pending = false;
	if (session->finished || session->failing)
		return;
	session->tls = tls_context_from(&session->trust, err);
	tls_trust_free(&session->trust);
	if (session->tls == NULL ||
	    http_client_start(session->http, session->tls, session->connections, err) != 0) {
		machine_fail(session, RESULT_SERVICE_ERR, "%s", err);
		machine_run(session);
		return;
	}
	http_client_connect(session->http);
}

/* Connects now unless a prompt is still on its way to the shim. */
static void session_connect_when_written(struct session *session)
{
	if (session->connect_pending && !channel_pending_output(session->channel))
		session_start_connecting(session);
}

static void session_frame_callback(const struct frame *frame, void *arg)
{
	machine_frame(arg, frame);
	session_connect_when_written(arg);
}

static void session_problem_callback(enum channel_problem problem, const char *why, void *arg)
{
	struct session *session = arg;

	if (problem == CHANNEL_MALFORMED) {
		machine_channel_malformed(session, why);
		return;
	}
	/* Nobody is left to tell: stop at once.  (The application is gone: its
	 * death sends us SIGTERM too, which would have ended the login alike.) */
	if (!session->finished) {
		log_notice("%s in state %s; login abandoned", why, state_name(session->state));
		if (!session->failing) {
			snprintf(session->fail_reason, sizeof(session->fail_reason),
				 "%s in state %s; login abandoned", why,
				 state_name(session->state));
			session->fail_state = session->state;
		}
		session_audit(session, session->failing ? session->result : RESULT_ABORT);
	}
	session->exit_code = 1;
	event_base_loopbreak(session->base);
}

static void session_drained_callback(void *arg)
{
	struct session *session = arg;

	if (session->finished) {
		session->exit_code = 0;
		event_base_loopbreak(session->base);
		return;
	}
	session_connect_when_written(session);
}

int session_init(struct session *session, struct event_base *base, int in_fd, int out_fd)
{
	static const struct channel_callbacks callbacks = {
	    .frame = session_frame_callback,
	    .problem = session_problem_callback,
	    .drained = session_drained_callback,
	};

	memset(session, 0, sizeof(*session));
	session->base = base;
	session->watch_fd = -1;
	session->exit_code = 1;
	/* A failure until a state says otherwise: reaching the failure state by
	 * any path without machine_fail() must never report success. */
	session->result = RESULT_SERVICE_ERR;
	snprintf(session->service_log, sizeof(session->service_log), "-");
	snprintf(session->user_log, sizeof(session->user_log), "-");
	snprintf(session->rhost_log, sizeof(session->rhost_log), "-");
	config_init(&session->config);
	event_base_gettimeofday_cached(base, &session->started);
	session->started_ms = session_monotonic_ms();
	session->channel = channel_new(base, in_fd, out_fd, &callbacks, session);
	session->timeout_event = evtimer_new(base, session_timeout_callback, session);
	session->exit_event = evtimer_new(base, session_exit_callback, session);
	session->state_timer = evtimer_new(base, session_state_timer_callback, session);
	if (session->channel == NULL || session->timeout_event == NULL ||
	    session->exit_event == NULL || session->state_timer == NULL)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		session->signal_events[i] =
		    evsignal_new(base, session_signals[i], session_signal_callback, session);
		if (session->signal_events[i] == NULL ||
		    evsignal_add(session->signal_events[i], NULL) != 0)
			return -1;
	}
	{
		struct timeval setup = {.tv_sec = SESSION_SETUP_TIMEOUT_MS / 1000,
					.tv_usec = SESSION_SETUP_TIMEOUT_MS % 1000 * 1000};
		evtimer_add(session->timeout_event, &setup);
	}
	return 0;
}

bool session_client_ip(const char *rhost, char out[SESSION_IP_SIZE])
{
	char text[SESSION_IP_SIZE + 64];
	unsigned char addr[16];
	size_t len = strlen(rhost);
	char *zone;

	out[0] = '\0';
	if (len > 2 && rhost[0] == '[' && rhost[len - 1] == ']') {
		rhost++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, rhost, len);
	text[len] = '\0';
	zone = strchr(text, '%');
	if (zone != NULL && strchr(text, ':') != NULL)
		*zone = '\0';
	if (inet_pton(AF_INET, text, addr) == 1)
		return inet_ntop(AF_INET, addr, out, SESSION_IP_SIZE) != NULL;
	if (inet_pton(AF_INET6, text, addr) != 1)
		return false;
	if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addr))
		return inet_ntop(AF_INET, addr + 12, out, SESSION_IP_SIZE) != NULL;
	return inet_ntop(AF_INET6, addr, out, SESSION_IP_SIZE) != NULL;
}

void session_arm_timeout(struct session *session, unsigned seconds)
{
	struct timeval now, elapsed, left = {0, 0};
	struct timeval total = {.tv_sec = seconds};

	event_base_gettimeofday_cached(session->base, &now);
	evutil_timersub(&now, &session->started, &elapsed);
	if (evutil_timercmp(&elapsed, &total, <))
		evutil_timersub(&total, &elapsed, &left);
	evtimer_add(session->timeout_event, &left);
}

int session_watch_client(struct session *session, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return -1;
	/* One-shot: EV_CLOSED is level-triggered, EV_PERSIST would spin. */
	session->client_event =
	    event_new(session->base, fd, EV_CLOSED, session_client_closed_callback, session);
	if (session->client_event == NULL || event_add(session->client_event, NULL) != 0)
		return -1;
	session->watch_fd = fd;
	return 0;
}

/* Every pending timer, watch and request is cancelled. */
static void session_cancel_events(struct session *session)
{
	if (session->http != NULL)
		http_client_cancel_all(session->http);
	evtimer_del(session->timeout_event);
	session_cancel_state_timer(session);
	if (session->client_event != NULL)
		event_del(session->client_event);
}

void session_add_factor(struct session *session, const char *factor)
{
	size_t len = strlen(session->factors);

	snprintf(session->factors + len, sizeof(session->factors) - len, "%s%s", len ? "," : "",
		 factor);
}

void session_audit(struct session *session, enum auth_result result)
{
	char line[AUDIT_LINE_SIZE], pam[24];
	bool failed = result != RESULT_SUCCESS;
	struct audit_record record = {
	    .user = session->user,
	    .service = session->service,
	    .rhost = session->rhost,
	    .factors = session->factors,
	    .result = auth_result_name(result),
	    .pam = audit_pam_name(auth_result_pam_code(result), pam),
	    .duration_ms = session_monotonic_ms() - session->started_ms,
	    /* What pairs this line with the module's, should it override the result. */
	    .helper = (long)getpid(),
	    .state = failed ? state_name(session->fail_state) : NULL,
	    /* A failure state reached without machine_fail() has no reason. */
	    .reason = !failed			? NULL
		      : session->fail_reason[0] ? session->fail_reason
						: "unknown",
	};

	if (session->audited)
		return;
	session->audited = true;
	audit_format(&record, line);
	/* Like pam_unix: successes at info, failures at notice. */
	if (failed)
		log_notice("%s", line);
	else
		log_info("%s", line);
}

void session_finish(struct session *session, enum auth_result result)
{
	struct timeval flush = {.tv_sec = SESSION_FLUSH_TIMEOUT_MS / 1000,
				.tv_usec = SESSION_FLUSH_TIMEOUT_MS % 1000 * 1000};

	/* Before the result leaves: the shim writes no line of its own for a
	 * result it receives. */
	session_audit(session, result);
	session_cancel_events(session);
	secret_free(&session->password);
	secret_free(&session->authtok);
	secret_free(&session->totp_code);
	oidc_token_set_free(&session->device.tokens);
	channel_stop_reading(session->channel);
	session->finished = true;
	if (channel_send_text(session->channel, FRAME_RESULT, auth_result_name(result)) != 0) {
		event_base_loopbreak(session->base);
		return;
	}
	evtimer_add(session->exit_event, &flush);
}

void session_free(struct session *session)
{
	http_client_free(session->http);
	channel_free(session->channel);
	if (session->timeout_event)
		event_free(session->timeout_event);
	if (session->exit_event)
		event_free(session->exit_event);
	if (session->state_timer)
		event_free(session->state_timer);
	oidc_device_grant_free(&session->device.grant);
	oidc_token_set_free(&session->device.tokens);
	oidc_discovery_free(&session->device.discovery);
	json_free(session->device.jwks);
	free(session->device.sub);
	if (session->client_event)
		event_free(session->client_event);
	for (size_t i = 0; i < 3; i++)
		if (session->signal_events[i])
			event_free(session->signal_events[i]);
	if (session->tls)
		SSL_CTX_free(session->tls);
	tls_trust_free(&session->trust);
	config_free(&session->config);
	authz_target_free(&session->authz);
	free(session->service);
	free(session->user);
	free(session->rhost);
	secret_free(&session->authtok);
	secret_free(&session->password);
	secret_free(&session->totp_code);
}

void session_free_with_base(struct session *session, struct event_base *base)
{
	session_free(session);
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}
