/*
 * oidc.h -- the OAuth2 Device Authorization grant (RFC 8628) and the identity
 * binding that makes it safe (the guide's "Device Authorization identity
 * binding"), as pure functions over what the server sent, so every check can
 * be tested and fuzzed on its own.  The states in states/device_*.c and
 * states/identity_binding.c call them.
 */
#ifndef PAM_AUTHELIA_OIDC_H
#define PAM_AUTHELIA_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#include "config.h"

#define OIDC_ERROR_SIZE	       256
#define OIDC_MAX_URL	       2048
#define OIDC_IAT_LEEWAY	       60 /* seconds of clock skew allowed for iat */
#define OIDC_MIN_RSA_BITS      2048
#define OIDC_DISCOVERY_PATH    "/.well-known/openid-configuration"
#define OIDC_DEVICE_PATH       "/api/oidc/device-authorization"
#define OIDC_TOKEN_PATH	       "/api/oidc/token"
#define OIDC_DEVICE_CODE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define OIDC_USERNAME_CLAIM    "authelia.pam.username"

struct device_grant {
	char *device_code; /* secret */
	char *user_code;
	char *verification_url; /* verification_uri_complete, else verification_uri */
	unsigned interval;	/* seconds */
	unsigned expires_in;	/* seconds */
};

/* Reads a device authorization response and checks the verification URL:
 * https, the same host (any case) and port as url, no user name, at most
 * 2 KiB, printable ASCII; the user code printable ASCII too. */
int oidc_read_device_grant(const char *body, size_t len, const struct config *config,
			   struct device_grant *grant, char err[OIDC_ERROR_SIZE]);
int oidc_check_verification_url(const char *url, const struct config *config,
				char err[OIDC_ERROR_SIZE]);
void oidc_device_grant_free(struct device_grant *grant);

enum poll_outcome {
	POLL_TOKENS,  /* approved: tokens filled */
	POLL_PENDING, /* authorization_pending */
	POLL_SLOW_DOWN,
	POLL_BACK_OFF, /* 429 or temporarily_unavailable: not fatal */
	POLL_DENIED,   /* access_denied */
	POLL_EXPIRED,  /* expired_token */
	POLL_CLIENT,   /* the client is refused (401, invalid_client): configuration */
	POLL_FAILED,   /* anything else */
};

struct token_set {
	char *access_token; /* secret */
	char *id_token;	    /* secret */
};

enum poll_outcome oidc_read_token_response(int status, const char *body, size_t len,
					   struct token_set *tokens, char err[OIDC_ERROR_SIZE]);
void oidc_token_set_free(struct token_set *tokens);

struct discovery {
	char *issuer;
	char *jwks_path;     /* below url's path */
	char *userinfo_path; /* below url's path */
};

/* Reads the discovery document: issuer equal to url (host compared in any
 * case), jwks_uri and userinfo_endpoint on url's own origin and path. */
int oidc_read_discovery(const char *body, size_t len, const struct config *config,
			struct discovery *discovery, char err[OIDC_ERROR_SIZE]);
void oidc_discovery_free(struct discovery *discovery);

/* Checks a JWKS document's shape; the tree is kept for oidc_verify_id_token. */
yajl_val oidc_read_jwks(const char *body, size_t len, char err[OIDC_ERROR_SIZE]);

/* What an ID token must satisfy besides its signature. */
struct id_token_policy {
	const char *issuer;
	const char *client_id;
	time_t now;
	bool two_factors; /* amr must show two factors (the login needs them) */
	unsigned max_age; /* seconds auth_time may lie in the past (device-max-age) */
};

/*
 * Verifies an ID token: alg must be RS256 before anything is verified (libjwt
 * 1.10 accepts an HS256 token whose secret is the RSA public key), the key is
 * the JWKS key named by kid (RSA, at least 2048 bits), the signature checks,
 * iss equals issuer, aud contains client_id (azp, when present, is it),
 * exp is in the future and iat and nbf are not (libjwt checks no times),
 * auth_time is present, not in the future and at most max_age old, and, when
 * two factors are needed, amr shows them: "mfa", or a knowledge factor (pwd,
 * pin, kba) and a possession factor (otp, hwk, swk, sms, tel, sc, pop), as
 * RFC 8176 names them and Authelia counts them.  On success *sub gets the
 * subject.  err starts with what failed, e.g. "bad signature".
 */
int oidc_verify_id_token(const char *token, yajl_val jwks, const struct id_token_policy *policy,
			 char **sub, char err[OIDC_ERROR_SIZE]);

/* Binds a userinfo response to the PAM user: sub equal to the ID token's,
 * authelia.pam.username a non-empty string equal to user (case-sensitive).
 * err is the guide's line. */
int oidc_check_userinfo(const char *body, size_t len, const char *sub, const char *user,
			char err[OIDC_ERROR_SIZE]);

/* application/x-www-form-urlencoded from NULL-ended name, value pairs. */
char *oidc_form(const char *const *pairs, size_t *len);
/* "Basic base64(urlencode(id):urlencode(secret))" (RFC 6749 2.3.1). */
char *oidc_basic_authorization(const char *id, const char *secret);

/* POSTs a form to the device or token endpoint with the client's
 * authentication (oauth2-client-auth-method): client_id (and client_secret)
 * in the form, or HTTP Basic. */
struct http_client;
int oidc_send_client_form(struct http_client *http, const struct config *config, int purpose,
			  const char *path, const char *const *pairs);

#endif
