/*
 * machine.h -- the authentication state machine.  Each state is one file in
 * states/ exporting a `const struct state_entry` that says what the state is
 * called, what it waits for, what it does on entry and how it handles frames
 * from the shim.  Handlers never switch state themselves: they ask for a
 * transition with machine_goto() or machine_fail(), and machine_run() in
 * machine.c is the one place where states change, each change logged by name.
 */
#ifndef PAM_AUTHELIA_MACHINE_H
#define PAM_AUTHELIA_MACHINE_H

#include "../engine/authz.h"
#include "../engine/config.h"
#include "../engine/log.h"
#include "../protocol/frame.h"

struct session;
struct http_response;

enum state_id {
	STATE_RECEIVE_CONFIG,	    /* set-up frames from the shim */
	STATE_CHOOSE_FIRST_STEP,    /* from auth-level and method-priority */
	STATE_PASSWORD_PROMPT,	    /* ask the user for the Authelia password */
	STATE_FIRST_FACTOR,	    /* POST /api/firstfactor */
	STATE_USER_INFO,	    /* POST /api/user/info and GET /api/state at once */
	STATE_SELECT_METHOD,	    /* walk method-priority */
	STATE_TOTP_PROMPT,	    /* ask for the code */
	STATE_TOTP_VERIFY,	    /* POST /api/secondfactor/totp */
	STATE_DUO_PUSH,		    /* POST /api/secondfactor/duo while the user approves */
	STATE_CONFIRM_SESSION,	    /* GET /api/state: level and user name (1FA) */
	STATE_DEVICE_AUTHORIZATION, /* POST /api/oidc/device-authorization */
	STATE_DEVICE_POLL,	    /* show the code, poll the token endpoint */
	STATE_IDENTITY_BINDING,	    /* ID token and userinfo: the approver is the PAM user */
	STATE_ACCESS_CHECK,	    /* authz, state (, user info) at once: may it log in here? */
	STATE_ACCESS_RECHECK,	    /* the same question after the second factor */
	STATE_SUCCESS,
	STATE_FAILURE,
	STATE_COUNT
};

/* What a state waits for names it in the whole-exchange timeout's log line.
 * That timeout is PAM_AUTH_ERR wherever it fires (the set-up's own deadline
 * aside): when it fires is the user's choice, and PAM_AUTHINFO_UNAVAIL would
 * let `[authinfo_unavail=ignore]` stacks skip the factor. */
enum state_wait {
	WAIT_NOTHING, /* passes straight through */
	WAIT_SHIM,    /* set-up frames */
	WAIT_USER,    /* an answer, a push approval, a device approval */
	WAIT_SERVER,  /* a response from Authelia */
};

struct state_entry {
	const char *name;
	enum state_wait waits_for;
	void (*enter)(struct session *session);
	/* Returns 0 when the frame was expected here; NULL: none is. */
	int (*frame)(struct session *session, const struct frame *frame);
	/* A response (or failure) to a request this state made. */
	void (*http)(struct session *session, const struct http_response *response);
	/* The state's own timer (session_arm_state_timer) fired. */
	void (*timer)(struct session *session);
};

extern const struct state_entry state_receive_config_entry;
extern const struct state_entry state_choose_first_step_entry;
extern const struct state_entry state_password_prompt_entry;
extern const struct state_entry state_first_factor_entry;
extern const struct state_entry state_user_info_entry;
extern const struct state_entry state_select_method_entry;
extern const struct state_entry state_totp_prompt_entry;
extern const struct state_entry state_totp_verify_entry;
extern const struct state_entry state_duo_push_entry;
extern const struct state_entry state_confirm_session_entry;
extern const struct state_entry state_device_authorization_entry;
extern const struct state_entry state_device_poll_entry;
extern const struct state_entry state_identity_binding_entry;
extern const struct state_entry state_access_check_entry;
extern const struct state_entry state_access_recheck_entry;
extern const struct state_entry state_success_entry;
extern const struct state_entry state_failure_entry;

const char *state_name(enum state_id state);

/* Enters the first state. */
void machine_start(struct session *session);
/* Asks for a transition; it happens when the current handler returns. */
void machine_goto(struct session *session, enum state_id next);
/* Logs why (one line) and moves to the failure state; the first failure wins. */
void machine_fail(struct session *session, enum auth_result result, const char *fmt, ...)
    LOG_FORMAT(3, 4);

/* Applies the transitions asked for, one after another, until none is pending;
 * every dispatcher below ends with it.  The only place where states change. */
void machine_run(struct session *session);

/*
 * Reads the answer to this state's request (see engine/authelia_api.h): true
 * with reply filled (free it with authelia_reply_free), or false after failing
 * the login with the answer's result and reason.
 */
struct authelia_reply;
bool machine_reply(struct session *session, const struct http_response *response, const char *what,
		   struct authelia_reply *reply);

/*
 * The same, for a factor: when Authelia refused it (401, 403, another 4xx but
 * 429, or 200 with a KO status), the line starts with the reference module's
 * words for that refusal, which operators grep for ("first factor
 * authentication failed", "TOTP authentication failed", "duo push
 * authentication failed"), and our reason follows after ": ".
 */
#define FIRST_FACTOR_FAILED "first factor authentication failed"
#define TOTP_FAILED	    "TOTP authentication failed"
#define DUO_FAILED	    "duo push authentication failed"
bool machine_reply_factor(struct session *session, const struct http_response *response,
			  const char *what, const char *refused, struct authelia_reply *reply);

/*
 * The same, for a factor whose request lasts as long as the user lets it (the
 * Duo push: no deadline of its own).  Once it went out, whatever ends it (a
 * proxy's 504 or a dropped connection while the user ignores the push, any
 * 5xx) is PAM_AUTH_ERR, never PAM_AUTHINFO_UNAVAIL: the user would choose it
 * by not answering, and [authinfo_unavail=ignore] stacks skip the factor.
 * Only a failure to send it at all (refused, TLS) stays unavailable.
 */
bool machine_reply_user_paced(struct session *session, const struct http_response *response,
			      const char *what, const char *refused, struct authelia_reply *reply);

/* Events from the loop. */
void machine_frame(struct session *session, const struct frame *frame);
void machine_http(struct session *session, const struct http_response *response);
void machine_timer(struct session *session);
void machine_timeout(struct session *session);
void machine_client_closed(struct session *session);
void machine_signal(struct session *session, int signum);
void machine_channel_malformed(struct session *session, const char *why);

/*
 * The session check (states/confirm_session.c), shared with user_info:
 * sends GET /api/state; reads its answer and returns true when the session
 * belongs to the PAM user at level 1 or more, else fails the login.
 */
int session_state_request(struct session *session);
bool session_state_confirmed(struct session *session, const struct http_response *response);
/* Reads the answer only: the user it names (as log lines show it, in shown),
 * whether that is exactly the PAM user, and the level; false, having failed
 * the login, when the answer is not a readable session state. */
bool session_state_read(struct session *session, const struct http_response *response,
			bool *same_user, long long *level, char shown[LOG_SHOWN_SIZE]);

/*
 * The user's enrolled methods (states/user_info.c), shared with access_check:
 * sends POST /api/user/info; reads its answer into session->user_info and
 * returns true, else fails the login.
 */
int user_info_request(struct session *session);
bool user_info_received(struct session *session, const struct http_response *response);

/*
 * Authelia's access control (states/access_check.c), shared with
 * access_recheck: sends the authz question about session->authz; reads its
 * answer (AUTHZ_REFUSED: the login has been failed with the answer's result
 * and one line naming the user, the URL and the status).
 */
int access_request(struct session *session);
enum authz_verdict access_answer(struct session *session, const struct http_response *response);
/* Where a login goes once its second factor is accepted: success, or the
 * access check again when authz-url is set (states/access_recheck.c). */
void second_factor_done(struct session *session, bool device);

/*
 * OIDC discovery and the JWKS (states/device_poll.c): device_metadata_request
 * asks for discovery (the JWKS follows it); device_metadata_http reads either
 * answer in whichever device state it arrives.
 */
int device_metadata_request(struct session *session);
void device_metadata_http(struct session *session, const struct http_response *response);

/* The user's enrolled methods, from /api/user/info. */
struct user_info {
	char method[16]; /* "totp", "webauthn", "mobile_push" or "" */
	bool has_totp, has_webauthn, has_duo;
};

/*
 * The second-factor decision (states/select_method.c), exposed for tests:
 * walks the priority list and returns 0 with *chosen and the *entry that gave
 * it, or -1 when no entry resolves to a method usable for this user.
 */
int method_select(const struct config *config, const struct user_info *info, enum method *chosen,
		  enum method *entry);

#endif
