/*
 * authz.h -- Authelia's own access control asked about a login (authz-url,
 * authz-endpoint): the URL template and what fills it, the question sent to an
 * authz endpoint, and the reading of its answer, after
 * ../shared/spec/authelia-authz-contract.md (s.1-s.5, s.7).
 *
 * "May user U, at the session's level, log in to host H through service S
 * from client IP C?" becomes GET <authz-endpoint> about the URL the template
 * gives (H in its host, S in its path), with the session cookie (U and the
 * level), Session-Username: U and X-Forwarded-For: C (the HTTP client sends
 * the canonical client IP on every request, or nothing).  The forwarding
 * headers go on this request only: on any other they would change the
 * session cookie domain Authelia picks.
 */
#ifndef PAM_AUTHELIA_AUTHZ_H
#define PAM_AUTHELIA_AUTHZ_H

#include <stdbool.h>

#include "../protocol/frame.h"
#include "config.h"
#include "http_client.h"

#define AUTHZ_DEFAULT_ENDPOINT "/api/authz/auth-request"
#define AUTHZ_FORWARD_ENDPOINT "/api/authz/forward-auth"
#define AUTHZ_HOSTS_FILE       "/etc/hosts"
#define AUTHZ_MAX_URL	       512 /* the URL asked about, substituted */
#define AUTHZ_MAX_VALUE	       253 /* one substituted value (a DNS name's limit) */
#define AUTHZ_NAME_SIZE	       256
#define AUTHZ_REASON_SIZE      1024

/* This host's names, for %h and %H. */
struct authz_host {
	char short_name[AUTHZ_NAME_SIZE];
	char fqdn[AUTHZ_NAME_SIZE]; /* "" when not needed or not known */
};

/* The URL asked about, and its parts for forward-auth. */
struct authz_target {
	char *url;  /* https://host[:port]/path */
	char *host; /* host[:port]: X-Forwarded-Host */
	char *path; /* X-Forwarded-URI */
};

enum authz_verdict {
	AUTHZ_ALLOWED,	  /* 200, and Remote-User names the PAM user exactly */
	AUTHZ_NEEDS_MORE, /* 401 from the cookie strategy: the session's level is
			   * too low for the rule (or the session is not valid) */
	AUTHZ_REFUSED,	  /* anything else: result and reason say what */
};

/*
 * The template: https://, a host and a path, no user name, query or fragment,
 * only characters a URL may hold as they are or as %XX; placeholders %h (this
 * host's name up to its first dot), %H (its fully qualified name), %s (the
 * PAM service) and %% (a literal %, which must start a %XX escape).
 */
int authz_check_template(const char *template, char err[OPTION_ERROR_SIZE]);
bool authz_template_wants_fqdn(const char *template);
/* /api/authz/auth-request, /api/authz/forward-auth or /api/authz/<name>
 * (Authelia's name rule; not ext-authz, which reads the target from Host). */
int authz_check_endpoint(const char *endpoint, enum authz_kind *kind, char err[OPTION_ERROR_SIZE]);
const char *authz_kind_name(enum authz_kind kind);

/*
 * This host's names, without DNS (a lookup could hang, and whoever answers it
 * would choose which host's rules apply): the kernel's host name (uname), cut
 * at its first dot for %h; for %H the name itself when it holds a dot, else
 * the canonical name hosts_file gives it (the first name on the first line
 * that lists it), as `hostname --fqdn` finds it with `hosts: files`.  Read
 * before the sandbox.
 */
int authz_host_names(const char *hosts_file, bool want_fqdn, struct authz_host *host,
		     char err[OPTION_ERROR_SIZE]);
/* The canonical name of name in hosts_file; 0 when it is fully qualified. */
int authz_fqdn_from_hosts(const char *hosts_file, const char *name, char out[AUTHZ_NAME_SIZE]);

/* Fills the template; every value must match [A-Za-z0-9._-]+ (no leading,
 * trailing or double dot), or it is refused: never escaped into something
 * else.  The result must again be a valid https URL. */
int authz_expand(const char *template, const struct authz_host *host, const char *service,
		 struct authz_target *target, char err[OPTION_ERROR_SIZE]);
void authz_target_free(struct authz_target *target);

/* Whether user can go into the Session-Username header as it is: visible
 * ASCII or well-formed UTF-8 (no overlong form, surrogate or C1 control),
 * nothing a parser would trim, fold or split. */
bool authz_user_sendable(const char *user);
/*
 * Asks the endpoint about target: GET, or POST with an empty body when post
 * (pam_authelia --check's probe of the implementation), with the target's
 * headers for the endpoint's kind, ?authelia_url=<url>, and
 * Session-Username when user is not NULL.  Never an Authorization header.
 */
int authz_send(struct http_client *http, const struct config *config,
	       const struct authz_target *target, const char *user, enum http_purpose purpose,
	       bool post);

/*
 * Reads an authz answer about target for user (user_log: as log lines show
 * it).  AUTHZ_REFUSED sets result and reason (one log line) by the contract's
 * table and the fail-closed rule: 403 and unusable answers PAM_AUTH_ERR, 400,
 * 404, 405, 3xx and answers that ask for credentials PAM_SERVICE_ERR (the
 * configuration or the client is wrong), 5xx and observed transport failures
 * PAM_AUTHINFO_UNAVAIL.
 */
enum authz_verdict authz_read_answer(const struct http_response *response,
				     const struct config *config, const struct authz_target *target,
				     const char *user, const char *user_log,
				     enum auth_result *result, char reason[AUTHZ_REASON_SIZE]);

#endif
