/*
 * config.h -- the helper's validated configuration.  The same checks run
 * whether the options arrive from the shim as module arguments
 * ("url=https://a") or on the command line when the helper is run by hand
 * ("--url https://a"); error messages use the guide's wording.
 */
#ifndef PAM_AUTHELIA_CONFIG_H
#define PAM_AUTHELIA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "../protocol/options.h"

#define CONFIG_DEFAULT_COOKIE_NAME "authelia_session"
#define CONFIG_DEFAULT_SCOPE	   "openid,authelia.pam"
#define CONFIG_MAX_METHODS	   16

enum auth_level {
	AUTH_LEVEL_1FA,
	AUTH_LEVEL_2FA,
	AUTH_LEVEL_1FA_2FA,
	AUTH_LEVEL_POLICY, /* the password, then Authelia's access control decides */
};

enum method {
	METHOD_TOTP,
	METHOD_MOBILE_PUSH,
	METHOD_DEVICE_AUTHORIZATION,
	METHOD_USER,
};

/* Which headers an authz endpoint reads the target from (engine/authz.h). */
enum authz_kind {
	AUTHZ_AUTH_REQUEST, /* X-Original-URL and X-Original-Method */
	AUTHZ_FORWARD_AUTH, /* X-Forwarded-Proto, -Host, -URI and -Method */
	AUTHZ_CUSTOM,	    /* /api/authz/<name>: both sets (each reads its own) */
};

enum client_auth {
	CLIENT_AUTH_NONE,  /* public client: client_id only */
	CLIENT_AUTH_POST,  /* client_secret_post: the guide's server example */
	CLIENT_AUTH_BASIC, /* client_secret_basic: Authelia's default */
};

struct config {
	char *url; /* https://host[:port][/path], no trailing slash */
	char *url_host;
	int url_port;
	char *url_path; /* url's path without trailing slashes; "" for none */
	enum auth_level auth_level;
	char *cookie_name;
	char *ca_cert;
	unsigned timeout; /* seconds, for the whole exchange */
	enum method methods[CONFIG_MAX_METHODS];
	size_t method_count; /* 0: the user's preference ("user") */
	char *oauth2_client_id;
	char *oauth2_client_secret; /* secret, from the file or the option */
	char *oauth2_client_secret_file;
	bool secret_inline; /* oauth2-client-secret= in the PAM file: warn */
	char *oauth2_scope; /* space-separated */
	enum client_auth client_auth;
	bool client_auth_set;
	bool qr;
	/* device-flow=after-password: the device flow only ever as the second
	 * factor, after the Authelia password; "first" (the default) lets it
	 * start a login when method-priority leads with it. */
	bool device_after_password;
	unsigned device_max_age; /* seconds the approver's auth_time may be old */
	/* authz-url: Authelia's access control is asked about this template,
	 * filled for this host and service (engine/authz.h); NULL: not asked. */
	char *authz_url;
	char *authz_endpoint; /* default AUTHZ_DEFAULT_ENDPOINT */
	enum authz_kind authz_kind;
	bool debug;
	int seen[OPT_COUNT];
};

void config_init(struct config *config);
/* Applies one module argument ("name=value" or "debug"). */
int config_apply(struct config *config, const char *argument, char err[OPTION_ERROR_SIZE]);
/* Fills defaults and checks what depends on several options. */
int config_finish(struct config *config, char err[OPTION_ERROR_SIZE]);
void config_free(struct config *config);

const char *auth_level_name(enum auth_level level);
const char *method_name(enum method method);
const char *client_auth_name(enum client_auth auth);

#endif
