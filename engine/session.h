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

#include "../states/machine.h"
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
	/* The one prompt the shim may be answering, and the state that sent it. */
	bool prompt_outstanding;
	enum state_id prompt_owner;

	/* Authelia. */
	struct http_client *http;
	unsigned connections; /* how many requests of this flow can overlap */
	bool connect_pending; /* TLS set-up and connecting wait for the first prompt */
	struct user_info user_info;
	/* What the user_info state has received so far (it waits for both). */
	bool have_user_info, have_session_state;

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
	struct event *timeout_event;
	struct event *client_event;
	struct event *signal_events[3];
	struct event *exit_event;
	struct event *state_timer;

	/* Owned by states/machine.c. */
	enum state_id state, next_state;
	bool transition_pending, failing;
	enum auth_result result;

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
/* Sends the result frame, cancels every event and ends the loop once sent. */
void session_finish(struct session *session, enum auth_result result);

#endif
