/*
 * session.h -- one login in the helper: the configuration and credentials the
 * shim handed over, the channel back to it, and the events that can end the
 * login from outside any state: the whole-exchange timeout, the client's
 * socket closing, and SIGTERM.  All of them live on one event_base.
 */
#ifndef PAM_AUTHELIA_SESSION_H
#define PAM_AUTHELIA_SESSION_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>

#include "../protocol/audit.h"
#include "../states/machine.h"
#include "authz.h"
#include "channel.h"
#include "config.h"
#include "http_client.h"
#include "oidc.h"
#include "sandbox.h"
#include "tls.h"

/* How long the shim gets to hand over the set-up frames. */
#define SESSION_SETUP_TIMEOUT_MS 5000
/* How long the final frame gets to reach the shim before the helper exits. */
#define SESSION_FLUSH_TIMEOUT_MS 1000
/* Longest user name and password sent to Authelia: anything longer is refused
 * before any request, so that no input of the user's can make a proxy in front
 * of Authelia drop the connection (which would read as "unavailable"). */
#define SESSION_MAX_USER     PROTOCOL_MAX_USER
#define SESSION_MAX_PASSWORD PROTOCOL_MAX_PASSWORD
#define SESSION_IP_SIZE	     46 /* INET6_ADDRSTRLEN */
#define SESSION_REASON_SIZE  1280

/*
 * The factors a login passed, for the audit line's `factors`, in the order
 * they passed: each state adds its own with session_add_factor() once
 * Authelia accepted it and our checks of that answer held.
 */
#define FACTOR_PASSWORD "password" /* /api/firstfactor OK */
#define FACTOR_TOTP	"totp"	   /* /api/secondfactor/totp OK, session regenerated */
#define FACTOR_DUO	"duo"	   /* /api/secondfactor/duo OK, session regenerated */
#define FACTOR_DEVICE	"device"   /* device flow approved and bound to the PAM user */
/* Authelia's access control (authz-url) let the login end in success: 200
 * with Remote-User the PAM user, or after the device flow 401 with the
 * session confirmed at level 1; recorded once, last. */
#define FACTOR_AUTHZ "authz"

struct session {
	struct event_base *base;
	struct channel *channel;
	struct config config;
	struct tls_trust trust; /* the CA files, read before the sandbox */
	SSL_CTX *tls;
	enum sandbox_mode sandbox; /* SANDBOX_OFF unless the caller asks */

	/* From the shim. */
	char *service, *user, *rhost;
	/* The same, as log lines may show them (log_shown), "-" when unset. */
	char service_log[LOG_SHOWN_SIZE], user_log[LOG_SHOWN_SIZE], rhost_log[LOG_SHOWN_SIZE];
	/* PAM_RHOST as a canonical IP literal, for X-Forwarded-For; "" when it is
	 * no IP address (a host name is never sent: Authelia ignores it). */
	char client_ip[SESSION_IP_SIZE];
	char *authtok;	 /* PAM_AUTHTOK, secret */
	char *password;	 /* typed at the password prompt, secret */
	char *totp_code; /* secret */
	int watch_fd;	 /* the client socket, or -1 */
	bool hello_seen;
	char option_error[OPTION_ERROR_SIZE]; /* the first bad option's, until FRAME_START */
	/* The one prompt the shim may be answering, and the state that sent it. */
	bool prompt_outstanding;
	enum state_id prompt_owner;

	/* Authelia. */
	struct http_client *http;
	unsigned connections; /* how many requests of this flow can overlap */
	bool connect_pending; /* TLS set-up and connecting wait for the first prompt */
	struct user_info user_info;
	/* What the user_info and access states have received so far (they wait
	 * for several answers). */
	bool have_user_info, have_session_state, have_access;
	long long session_level; /* /api/state's authentication_level, once confirmed */

	/* Authelia's access control (authz-url): the URL asked about, filled for
	 * this host and service before the sandbox; url NULL when not asked. */
	struct authz_target authz;
	enum authz_verdict access; /* the last answer, once have_access */
	bool device_second_factor; /* the second factor was the device flow */

	/* The device flow. */
	struct device_flow {
		struct device_grant grant;
		struct token_set tokens;
		struct discovery discovery;
		yajl_val jwks;
		struct timeval deadline; /* our own: the code's expires_in */
		struct timeval last_poll;
		unsigned interval; /* seconds; grows with slow_down and 429 */
		bool poll_in_flight, enter_pressed, have_tokens;
		char *sub; /* the verified ID token's subject */
	} device;

	struct timeval started;
	long long started_ms; /* CLOCK_MONOTONIC, for the audit line's duration_ms */
	struct event *timeout_event;
	struct event *client_event;
	struct event *signal_events[3];
	struct event *exit_event;
	struct event *state_timer;

	/* Owned by states/machine.c. */
	enum state_id state, next_state;
	bool transition_pending, failing;
	enum auth_result result;
	/* The first failure's reason (machine_fail's line) and the state it
	 * happened in, for the audit line. */
	char fail_reason[SESSION_REASON_SIZE];
	enum state_id fail_state;

	/* The audit line (protocol/audit.h): the factors passed so far, and
	 * whether the line was written (once per login). */
	char factors[AUDIT_FACTORS_SIZE];
	bool audited;

	bool finished; /* the result is queued; the loop ends once it is out */
	int exit_code; /* 0 once the result reached the shim */
};

int session_init(struct session *session, struct event_base *base, int in_fd, int out_fd);
/* Writes rhost as a canonical IP literal (no brackets, no %zone, v4-mapped
 * as plain IPv4) to out; false, with out empty, when rhost is no IP address. */
bool session_client_ip(const char *rhost, char out[SESSION_IP_SIZE]);
void session_free(struct session *session);
/* session_free, then the loop turns that let libevent finish what freeing
 * started (failed DNS lookups release their bufferevent in deferred
 * callbacks); then the base is freed too. */
void session_free_with_base(struct session *session, struct event_base *base);

/* (Re)arms the whole-exchange timer, counting from the helper's start. */
void session_arm_timeout(struct session *session, unsigned seconds);
/* Arms the current state's timer (one per state; a transition cancels it). */
void session_arm_state_timer(struct session *session, long ms);
void session_cancel_state_timer(struct session *session);
/* Sends a prompt to the user; its answer goes to the current state only. */
int session_prompt(struct session *session, enum frame_type type, const char *text);
/*
 * Creates the HTTPS client and its resolver (resolv.conf and hosts are read
 * now: before the sandbox); requests made from now on wait.  As soon as the
 * first prompt has been written to the shim (or at once when none is queued),
 * the TLS context is built from session->trust and the connections open.
 */
int session_connect(struct session *session);
/* Watches fd for hang-up (EV_CLOSED, one-shot). */
int session_watch_client(struct session *session, int fd);
/* Writes the audit line, sends the result frame, cancels every event and
 * ends the loop once sent. */
void session_finish(struct session *session, enum auth_result result);
/* Records a factor the login passed (FACTOR_*), for the audit line. */
void session_add_factor(struct session *session, const char *factor);
/*
 * The login's one audit line (protocol/audit.h): who, the factors passed,
 * the result and the PAM code it becomes, the time since the helper started
 * and, on failure, the state and reason machine_fail recorded.  Written once;
 * session_finish writes it before the result leaves, so a result the shim
 * receives always has its line.
 */
void session_audit(struct session *session, enum auth_result result);

#endif
