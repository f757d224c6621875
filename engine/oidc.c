/*
 * oidc.c -- device grant, token responses, discovery, JWKS, ID token and
 * userinfo checks (see oidc.h).  JSON through json.c, URLs through libevent's
 * parser, JWTs through libjwt, keys and base64 through OpenSSL.
 */
#include "oidc.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "secure_alloc.h"

#include <event2/http.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Printable ASCII without spaces: what may be shown in a terminal and a URL. */
static bool printable_ascii(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (n >= max || (unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
			return false;
	return n > 0;
}

/* A URL's port, with https's default. */
static int uri_port(const struct evhttp_uri *uri)
{
	return evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 443;
}

/* The host without IPv6 brackets, for comparing. */
static bool same_host(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 1 && a[0] == '[')
		a++, la -= 2;
	if (lb > 1 && b[0] == '[')
		b++, lb -= 2;
	return la == lb && strncasecmp(a, b, la) == 0;
}

int oidc_check_verification_url(const char *url, const struct config *config,
				char err[OIDC_ERROR_SIZE])
{
	struct evhttp_uri *uri;
	const char *scheme, *host;
	int rc = -1;

	if (strlen(url) > OIDC_MAX_URL) {
		snprintf(err, OIDC_ERROR_SIZE, "verification URL is longer than 2 KiB");
		return -1;
	}
	if (!printable_ascii(url, OIDC_MAX_URL)) {
		snprintf(err, OIDC_ERROR_SIZE,
			 "verification URL has characters a URL may not have");
		return -1;
	}
	uri = evhttp_uri_parse_with_flags(url, 0);
	if (uri == NULL) {
		snprintf(err, OIDC_ERROR_SIZE, "verification URL is not a URL");
		return -1;
	}
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	if (scheme == NULL || strcasecmp(scheme, "https") != 0)
		snprintf(err, OIDC_ERROR_SIZE, "verification URL is not https");
	else if (evhttp_uri_get_userinfo(uri) != NULL)
		snprintf(err, OIDC_ERROR_SIZE, "verification URL has a user name");
	else if (host == NULL || !same_host(host, config->url_host) ||
		 uri_port(uri) != config->url_port)
		snprintf(err, OIDC_ERROR_SIZE, "verification URL is not on the host of url");
	else
		rc = 0;
	evhttp_uri_free(uri);
	return rc;
}

void oidc_device_grant_free(struct device_grant *grant)
{
	secret_free(&grant->device_code);
	free(grant->user_code);
	free(grant->verification_url);
	memset(grant, 0, sizeof(*grant));
}

int oidc_read_device_grant(const char *body, size_t len, const struct config *config,
			   struct device_grant *grant, char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE];
	yajl_val root = json_parse(body, len, jerr);
	const char *device_code = NULL, *user_code = NULL, *uri = NULL, *complete = NULL;
	long long expires_in = 0, interval = 5; /* RFC 8628's default interval */
	int rc = -1;

	memset(grant, 0, sizeof(*grant));
	if (root == NULL) {
		snprintf(err, OIDC_ERROR_SIZE, "%s", jerr);
		return -1;
	}
	if (json_get_string(root, "device_code", "device_code", &device_code, jerr) != 0 ||
	    json_get_string(root, "user_code", "user_code", &user_code, jerr) != 0 ||
	    json_get_string(root, "verification_uri", "verification_uri", &uri, jerr) != 0 ||
	    json_get_integer(root, "expires_in", "expires_in", &expires_in, jerr) != 0 ||
	    json_get_string(root, "verification_uri_complete", "verification_uri_complete",
			    &complete, jerr) < 0 ||
	    json_get_integer(root, "interval", "interval", &interval, jerr) < 0) {
		snprintf(err, OIDC_ERROR_SIZE, "malformed response: %s",
			 device_code && user_code && uri && expires_in ? jerr
								       : "a field is missing");
	} else if (device_code[0] == '\0' || !printable_ascii(user_code, 64)) {
		snprintf(err, OIDC_ERROR_SIZE, "malformed response: device_code or user_code");
	} else if (expires_in <= 0 || expires_in > 86400 || interval <= 0 || interval > 3600) {
		snprintf(err, OIDC_ERROR_SIZE, "malformed response: expires_in or interval");
	} else if (oidc_check_verification_url(complete ? complete : uri, config, err) == 0) {
		grant->device_code = secret_dup(device_code, strlen(device_code));
		grant->user_code = strdup(user_code);
		grant->verification_url = strdup(complete ? complete : uri);
		grant->expires_in = (unsigned)expires_in;
		grant->interval = (unsigned)interval;
		if (grant->device_code != NULL && grant->user_code != NULL &&
		    grant->verification_url != NULL) {
			rc = 0;
		} else {
			snprintf(err, OIDC_ERROR_SIZE, "out of memory");
			oidc_device_grant_free(grant);
		}
	}
	json_free(root);
	return rc;
}

void oidc_token_set_free(struct token_set *tokens)
{
	secret_free(&tokens->access_token);
	secret_free(&tokens->id_token);
}

enum poll_outcome oidc_read_token_response(int status, const char *body, size_t len,
					   struct token_set *tokens, char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE];
	yajl_val root = json_parse(body, len, jerr);
	const char *error = NULL, *access = NULL, *id = NULL, *type = NULL;
	enum poll_outcome outcome = POLL_FAILED;

	memset(tokens, 0, sizeof(*tokens));
	snprintf(err, OIDC_ERROR_SIZE, "token response status=%d", status);
	if (root != NULL)
		json_get_string(root, "error", "error", &error, jerr);
	if (error != NULL && printable_ascii(error, 64))
		snprintf(err, OIDC_ERROR_SIZE, "token response status=%d error=\"%s\"", status,
			 error);
	if (status == 200 && root != NULL && error == NULL) {
		if (json_get_string(root, "access_token", "access_token", &access, jerr) != 0 ||
		    json_get_string(root, "id_token", "id_token", &id, jerr) != 0 ||
		    json_get_string(root, "token_type", "token_type", &type, jerr) != 0) {
			snprintf(err, OIDC_ERROR_SIZE, "malformed token response: %s",
				 access && id && type ? jerr : "a token is missing");
		} else if (strcasecmp(type, "bearer") != 0 || access[0] == '\0' || id[0] == '\0') {
			snprintf(err, OIDC_ERROR_SIZE,
				 "malformed token response: not bearer tokens");
		} else {
			tokens->access_token = secret_dup(access, strlen(access));
			tokens->id_token = secret_dup(id, strlen(id));
			outcome = POLL_TOKENS;
		}
	} else if (status == 429 || (error && strcmp(error, "temporarily_unavailable") == 0)) {
		outcome = POLL_BACK_OFF;
	} else if (error && strcmp(error, "authorization_pending") == 0) {
		outcome = POLL_PENDING;
	} else if (error && strcmp(error, "slow_down") == 0) {
		outcome = POLL_SLOW_DOWN;
	} else if (error && strcmp(error, "access_denied") == 0) {
		outcome = POLL_DENIED;
	} else if (error && strcmp(error, "expired_token") == 0) {
		outcome = POLL_EXPIRED;
	} else if (status == 401 || (error && strcmp(error, "invalid_client") == 0)) {
		outcome = POLL_CLIENT;
	}
	json_free(root);
	return outcome;
}

void oidc_discovery_free(struct discovery *discovery)
{
	free(discovery->issuer);
	free(discovery->jwks_path);
	free(discovery->userinfo_path);
	memset(discovery, 0, sizeof(*discovery));
}

/* The path of an absolute URL on url's origin and below url's path. */
static char *path_on_url(const char *absolute, const struct config *config, const char *base)
{
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(absolute, 0);
	const char *scheme, *host, *path;
	size_t n = strlen(base);
	char *out = NULL;

	if (uri == NULL)
		return NULL;
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	path = evhttp_uri_get_path(uri);
	if (scheme && strcasecmp(scheme, "https") == 0 && host &&
	    same_host(host, config->url_host) && uri_port(uri) == config->url_port &&
	    evhttp_uri_get_userinfo(uri) == NULL && evhttp_uri_get_query(uri) == NULL &&
	    evhttp_uri_get_fragment(uri) == NULL && path && strncmp(path, base, n) == 0 &&
	    path[n] == '/' && printable_ascii(path, OIDC_MAX_URL))
		out = strdup(path + n);
	evhttp_uri_free(uri);
	return out;
}

int oidc_read_discovery(const char *body, size_t len, const struct config *config,
			struct discovery *discovery, char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE];
	const char *base = config->url_path;
	yajl_val root = json_parse(body, len, jerr);
	const char *issuer = NULL, *jwks = NULL, *userinfo = NULL;
	struct evhttp_uri *iu = NULL;
	int rc = -1;

	memset(discovery, 0, sizeof(*discovery));
	if (root == NULL) {
		snprintf(err, OIDC_ERROR_SIZE, "OIDC discovery: %s", jerr);
		return -1;
	}
	if (json_get_string(root, "issuer", "issuer", &issuer, jerr) != 0 ||
	    json_get_string(root, "jwks_uri", "jwks_uri", &jwks, jerr) != 0 ||
	    json_get_string(root, "userinfo_endpoint", "userinfo_endpoint", &userinfo, jerr) != 0) {
		snprintf(err, OIDC_ERROR_SIZE, "OIDC discovery: malformed document: %s",
			 issuer && jwks && userinfo ? jerr : "a field is missing");
		goto out;
	}
	/* The issuer is url itself (Authelia lower-cases the host). */
	iu = evhttp_uri_parse_with_flags(issuer, 0);
	if (iu == NULL || !printable_ascii(issuer, OIDC_MAX_URL) ||
	    evhttp_uri_get_scheme(iu) == NULL || strcmp(evhttp_uri_get_scheme(iu), "https") != 0 ||
	    evhttp_uri_get_host(iu) == NULL ||
	    !same_host(evhttp_uri_get_host(iu), config->url_host) ||
	    uri_port(iu) != config->url_port || evhttp_uri_get_userinfo(iu) != NULL ||
	    evhttp_uri_get_query(iu) != NULL || evhttp_uri_get_fragment(iu) != NULL ||
	    strcmp(evhttp_uri_get_path(iu) ? evhttp_uri_get_path(iu) : "", base) != 0) {
		snprintf(err, OIDC_ERROR_SIZE,
			 "OIDC discovery issuer \"%.80s\" does not match url %s",
			 printable_ascii(issuer, 80) ? issuer : "?", config->url);
		goto out;
	}
	discovery->jwks_path = path_on_url(jwks, config, base);
	discovery->userinfo_path = path_on_url(userinfo, config, base);
	if (discovery->jwks_path == NULL || discovery->userinfo_path == NULL) {
		snprintf(err, OIDC_ERROR_SIZE,
			 "OIDC discovery: jwks_uri or userinfo_endpoint is not on url %s",
			 config->url);
		goto out;
	}
	discovery->issuer = strdup(issuer);
	rc = discovery->issuer ? 0 : -1;
	if (rc != 0)
		snprintf(err, OIDC_ERROR_SIZE, "out of memory");
out:
	if (rc != 0)
		oidc_discovery_free(discovery);
	if (iu != NULL)
		evhttp_uri_free(iu);
	json_free(root);
	return rc;
}

yajl_val oidc_read_jwks(const char *body, size_t len, char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE];
	yajl_val root = json_parse(body, len, jerr), keys;

	if (root == NULL) {
		snprintf(err, OIDC_ERROR_SIZE, "JWKS: %s", jerr);
		return NULL;
	}
	keys = json_member(root, "keys");
	if (keys == NULL || !YAJL_IS_ARRAY(keys)) {
		snprintf(err, OIDC_ERROR_SIZE, "JWKS: no keys array");
		json_free(root);
		return NULL;
	}
	return root;
}

/* base64url (RFC 4648 section 5) through OpenSSL's base64 decoder. */
static unsigned char *b64url_decode(const char *in, size_t *out_len)
{
	size_t n = strlen(in), padded = (n + 3) / 4 * 4;
	char *std = malloc(padded + 1);
	unsigned char *out = malloc(padded / 4 * 3 + 1);
	int got;

	if (std == NULL || out == NULL || n == 0 || n % 4 == 1) {
		free(std);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < padded; i++) {
		char c = i < n ? in[i] : '=';
		if (c == '+' || c == '/' || (i < n && c == '='))
			c = '!'; /* not base64url: make the decoder fail */
		std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	std[padded] = '\0';
	got = EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded);
	free(std);
	if (got < 0) {
		free(out);
		return NULL;
	}
	*out_len = (size_t)got - (padded - n); /* EVP_DecodeBlock counts the padding */
	return out;
}

/* The PEM of the RSA public key the JWKS names kid, or NULL with err set. */
static char *jwks_key_pem(yajl_val jwks, const char *kid, char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE];
	yajl_val keys = json_member(jwks, "keys");
	const char *n = NULL, *e = NULL, *kty = NULL, *use = NULL, *alg = NULL, *id = NULL;
	unsigned char *nb = NULL, *eb = NULL;
	size_t nl = 0, el = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *pem = NULL, *data;
	long pem_len;
	yajl_val key = NULL;

	for (size_t i = 0; keys && i < keys->u.array.len; i++) {
		yajl_val k = keys->u.array.values[i];
		if (json_get_string(k, "kid", "kid", &id, jerr) == 0 && strcmp(id, kid) == 0) {
			if (key != NULL) {
				snprintf(err, OIDC_ERROR_SIZE,
					 "key id \"%.40s\" is in the JWKS twice", kid);
				return NULL;
			}
			key = k;
		}
	}
	if (key == NULL) {
		snprintf(err, OIDC_ERROR_SIZE, "unknown key id \"%.40s\"", kid);
		return NULL;
	}
	if (json_get_string(key, "kty", "kty", &kty, jerr) != 0 || strcmp(kty, "RSA") != 0 ||
	    json_get_string(key, "use", "use", &use, jerr) < 0 ||
	    (use && strcmp(use, "sig") != 0) ||
	    json_get_string(key, "alg", "alg", &alg, jerr) < 0 ||
	    (alg && strcmp(alg, "RS256") != 0) || json_get_string(key, "n", "n", &n, jerr) != 0 ||
	    json_get_string(key, "e", "e", &e, jerr) != 0 || (nb = b64url_decode(n, &nl)) == NULL ||
	    (eb = b64url_decode(e, &el)) == NULL) {
		snprintf(err, OIDC_ERROR_SIZE, "key \"%.40s\" is not an RS256 signing key", kid);
		goto out;
	}
	bn_n = BN_bin2bn(nb, (int)nl, NULL);
	bn_e = BN_bin2bn(eb, (int)el, NULL);
	if (bn_n == NULL || bn_e == NULL || BN_num_bits(bn_n) < OIDC_MIN_RSA_BITS) {
		snprintf(err, OIDC_ERROR_SIZE, "key \"%.40s\" is shorter than %d bits", kid,
			 OIDC_MIN_RSA_BITS);
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0 ||
	    (bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_PUBKEY(bio, pkey) ||
	    (pem_len = BIO_get_mem_data(bio, &data)) <= 0) {
		snprintf(err, OIDC_ERROR_SIZE, "key \"%.40s\" cannot be used", kid);
		goto out;
	}
	pem = strndup(data, (size_t)pem_len);
	if (pem == NULL)
		snprintf(err, OIDC_ERROR_SIZE, "out of memory");
out:
	free(nb);
	free(eb);
	BN_free(bn_n);
	BN_free(bn_e);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return pem;
}

/* aud: a string or an array of strings, which must contain client_id. */
static bool audience_has(yajl_val aud, const char *client_id)
{
	if (aud != NULL && YAJL_IS_STRING(aud))
		return strcmp(aud->u.string, client_id) == 0;
	if (aud == NULL || !YAJL_IS_ARRAY(aud))
		return false;
	for (size_t i = 0; i < aud->u.array.len; i++) {
		yajl_val v = aud->u.array.values[i];
		if (YAJL_IS_STRING(v) && strcmp(v->u.string, client_id) == 0)
			return true;
	}
	return false;
}

/* Does the amr array (RFC 8176 values) show two factors? */
static bool amr_two_factors(yajl_val amr)
{
	static const char *const knowledge[] = {"pwd", "pin", "kba"};
	static const char *const possession[] = {"otp", "hwk", "swk", "sms", "tel", "sc", "pop"};
	bool know = false, have = false;

	for (size_t i = 0; i < amr->u.array.len; i++) {
		const char *v =
		    YAJL_IS_STRING(amr->u.array.values[i]) ? amr->u.array.values[i]->u.string : "";
		if (strcmp(v, "mfa") == 0)
			return true;
		for (size_t k = 0; k < sizeof(knowledge) / sizeof(knowledge[0]); k++)
			know = know || strcmp(v, knowledge[k]) == 0;
		for (size_t k = 0; k < sizeof(possession) / sizeof(possession[0]); k++)
			have = have || strcmp(v, possession[k]) == 0;
	}
	return know && have;
}

/* The amr values for a log line: ["pwd","kba"], printable, cut short. */
static const char *amr_shown(yajl_val amr, char out[96])
{
	size_t n = 0;

	out[n++] = '[';
	for (size_t i = 0; i < amr->u.array.len && n < 80; i++) {
		yajl_val v = amr->u.array.values[i];
		char shown[LOG_SHOWN_SIZE];
		n += (size_t)snprintf(out + n, 96 - n, "%s\"%.16s\"", i ? "," : "",
				      YAJL_IS_STRING(v) ? log_shown(v->u.string, shown) : "?");
	}
	snprintf(out + (n < 94 ? n : 94), 96 - (n < 94 ? n : 94), "]");
	return out;
}

/* How the approver authenticated: auth_time and amr. */
static int check_authentication(yajl_val claims, const struct id_token_policy *policy,
				char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE], shown[96];
	long long auth_time = 0, now = (long long)policy->now;
	yajl_val amr = json_member(claims, "amr");

	if (json_get_integer(claims, "auth_time", "auth_time", &auth_time, jerr) != 0) {
		snprintf(err, OIDC_ERROR_SIZE, "token has no auth_time");
		return -1;
	}
	if (auth_time > now + OIDC_IAT_LEEWAY) {
		snprintf(err, OIDC_ERROR_SIZE, "auth_time lies in the future");
		return -1;
	}
	if (now - auth_time > (long long)policy->max_age) {
		snprintf(err, OIDC_ERROR_SIZE,
			 "the approver authenticated %lld s ago, more than device-max-age=%u",
			 now - auth_time, policy->max_age);
		return -1;
	}
	if (!policy->two_factors)
		return 0;
	if (amr == NULL || !YAJL_IS_ARRAY(amr)) {
		snprintf(err, OIDC_ERROR_SIZE,
			 "token has no amr: cannot tell that the approver used two factors");
		return -1;
	}
	if (!amr_two_factors(amr)) {
		snprintf(err, OIDC_ERROR_SIZE,
			 "amr %s does not show two factors (\"mfa\", or a knowledge and a "
			 "possession factor)",
			 amr_shown(amr, shown));
		return -1;
	}
	return 0;
}

/* Checks the verified token's claims. */
static int check_claims(jwt_t *jwt, const struct id_token_policy *policy, char **sub,
			char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE], *text = jwt_get_grants_json(jwt, NULL);
	yajl_val claims = text ? json_parse(text, strlen(text), jerr) : NULL;
	const char *iss = NULL, *subject = NULL, *azp = NULL;
	const char *issuer = policy->issuer, *client_id = policy->client_id;
	long long exp = 0, iat = 0, nbf = 0, now = (long long)policy->now;
	int rc = -1, has_nbf;

	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (claims == NULL)
		snprintf(err, OIDC_ERROR_SIZE, "claims are not a JSON object");
	else if (json_get_string(claims, "iss", "iss", &iss, jerr) != 0 || strcmp(iss, issuer) != 0)
		snprintf(err, OIDC_ERROR_SIZE, "issuer is not %s", issuer);
	else if (!audience_has(json_member(claims, "aud"), client_id))
		snprintf(err, OIDC_ERROR_SIZE, "audience does not contain \"%s\"", client_id);
	else if (json_get_string(claims, "azp", "azp", &azp, jerr) < 0 ||
		 (azp && strcmp(azp, client_id) != 0))
		snprintf(err, OIDC_ERROR_SIZE, "authorized party is not \"%s\"", client_id);
	else if (json_get_integer(claims, "exp", "exp", &exp, jerr) != 0 || exp <= now)
		snprintf(err, OIDC_ERROR_SIZE, "token expired or has no exp");
	else if (json_get_integer(claims, "iat", "iat", &iat, jerr) != 0 ||
		 iat > now + OIDC_IAT_LEEWAY)
		snprintf(err, OIDC_ERROR_SIZE, "token issued in the future or has no iat");
	else if ((has_nbf = json_get_integer(claims, "nbf", "nbf", &nbf, jerr)) < 0 ||
		 (has_nbf == 0 && nbf > now + OIDC_IAT_LEEWAY))
		snprintf(err, OIDC_ERROR_SIZE, "token not valid yet (nbf in the future)");
	else if (check_authentication(claims, policy, err) != 0)
		;
	else if (json_get_string(claims, "sub", "sub", &subject, jerr) != 0 || subject[0] == '\0')
		snprintf(err, OIDC_ERROR_SIZE, "token has no subject");
	else if ((*sub = strdup(subject)) != NULL)
		rc = 0;
	else
		snprintf(err, OIDC_ERROR_SIZE, "out of memory");
	json_free(claims);
	return rc;
}

int oidc_verify_id_token(const char *token, yajl_val jwks, const struct id_token_policy *policy,
			 char **sub, char err[OIDC_ERROR_SIZE])
{
	jwt_t *unverified = NULL, *jwt = NULL;
	const char *alg, *kid;
	char *pem = NULL, why[OIDC_ERROR_SIZE] = "malformed token";
	int rc = -1;

	*sub = NULL;
	/* With no key libjwt only parses: enough to read the header, nothing more. */
	if (jwt_decode(&unverified, token, NULL, 0) != 0 || unverified == NULL)
		goto out;
	alg = jwt_get_header(unverified, "alg");
	kid = jwt_get_header(unverified, "kid");
	if (alg == NULL || strcmp(alg, "RS256") != 0) {
		snprintf(why, sizeof(why), "algorithm \"%.16s\" is not RS256", alg ? alg : "");
		goto out;
	}
	if (kid == NULL || kid[0] == '\0') {
		snprintf(why, sizeof(why), "token names no key id");
		goto out;
	}
	pem = jwks_key_pem(jwks, kid, why);
	if (pem == NULL)
		goto out;
	if (jwt_decode(&jwt, token, (const unsigned char *)pem, (int)strlen(pem)) != 0 ||
	    jwt == NULL || jwt_get_alg(jwt) != JWT_ALG_RS256) {
		snprintf(why, sizeof(why), "bad signature");
		goto out;
	}
	rc = check_claims(jwt, policy, sub, why);
out:
	if (rc != 0)
		snprintf(err, OIDC_ERROR_SIZE, "id token verification failed: %.200s", why);
	free(pem);
	jwt_free(unverified);
	jwt_free(jwt);
	return rc;
}

int oidc_check_userinfo(const char *body, size_t len, const char *sub, const char *user,
			char err[OIDC_ERROR_SIZE])
{
	char jerr[JSON_ERROR_SIZE], shown[LOG_SHOWN_SIZE], user_shown[LOG_SHOWN_SIZE];
	yajl_val root = json_parse(body, len, jerr), claim;
	const char *usub = NULL;
	int rc = -1;

	if (root == NULL) {
		snprintf(err, OIDC_ERROR_SIZE, "userinfo response: %s", jerr);
		return -1;
	}
	claim = json_member(root, OIDC_USERNAME_CLAIM);
	if (json_get_string(root, "sub", "sub", &usub, jerr) != 0 || strcmp(usub, sub) != 0)
		snprintf(err, OIDC_ERROR_SIZE,
			 "userinfo sub does not match the id token's: token substitution?");
	else if (claim == NULL)
		snprintf(err, OIDC_ERROR_SIZE,
			 "claim \"" OIDC_USERNAME_CLAIM "\" missing from userinfo response");
	else if (!YAJL_IS_STRING(claim) || claim->u.string[0] == '\0')
		snprintf(err, OIDC_ERROR_SIZE,
			 "claim \"" OIDC_USERNAME_CLAIM "\" is not a non-empty string");
	else if (strcmp(claim->u.string, user) != 0)
		snprintf(err, OIDC_ERROR_SIZE,
			 "authelia identity \"%s\" does not match pam username \"%s\"",
			 log_shown(claim->u.string, shown), log_shown(user, user_shown));
	else
		rc = 0;
	json_free(root);
	return rc;
}

char *oidc_form(const char *const *pairs, size_t *len)
{
	char *out = NULL, *grown;
	size_t used = 0;

	for (size_t i = 0; pairs[i] != NULL; i += 2) {
		char *k = evhttp_uriencode(pairs[i], -1, 1),
		     *v = evhttp_uriencode(pairs[i + 1], -1, 1);
		size_t need = (k ? strlen(k) : 0) + (v ? strlen(v) : 0) + 3;
		grown = k && v ? secure_realloc(out, used + need) : NULL;
		if (grown != NULL) {
			out = grown;
			used +=
			    (size_t)snprintf(out + used, need, "%s%s=%s", used ? "&" : "", k, v);
		}
		if (v != NULL) {
			explicit_bzero(v, strlen(v));
			free(v);
		}
		free(k);
		if (grown == NULL) {
			secure_free(out);
			return NULL;
		}
	}
	*len = used;
	return out ? out : strdup("");
}

char *oidc_basic_authorization(const char *id, const char *secret)
{
	char *k = evhttp_uriencode(id, -1, 1), *v = evhttp_uriencode(secret, -1, 1);
	char *joined = NULL, *out = NULL;
	int n;

	if (k != NULL && v != NULL && (joined = secret_printf("%s:%s", k, v)) != NULL) {
		n = (int)strlen(joined);
		out = malloc(6 + 4 * ((size_t)n + 2) / 3 + 1);
		if (out != NULL) {
			memcpy(out, "Basic ", 6);
			EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)joined, n);
		}
		explicit_bzero(joined, strlen(joined));
		free(joined);
	}
	if (v != NULL) {
		explicit_bzero(v, strlen(v));
		free(v);
	}
	free(k);
	return out;
}

int oidc_send_client_form(struct http_client *http, const struct config *config, int purpose,
			  const char *path, const char *const *pairs)
{
	const char *form[16];
	size_t n = 0, len = 0;
	char *body, *basic = NULL;
	struct http_request_spec spec = {.purpose = (enum http_purpose)purpose,
					 .path = path,
					 .content_type = "application/x-www-form-urlencoded",
					 .timeout_ms = HTTP_REQUEST_TIMEOUT_MS};
	int rc;

	if (config->client_auth != CLIENT_AUTH_BASIC) {
		form[n++] = "client_id";
		form[n++] = config->oauth2_client_id;
	}
	if (config->client_auth == CLIENT_AUTH_POST) {
		form[n++] = "client_secret";
		form[n++] = config->oauth2_client_secret;
	}
	for (size_t i = 0; pairs[i] != NULL && n + 2 < 16; i += 2) {
		form[n++] = pairs[i];
		form[n++] = pairs[i + 1];
	}
	form[n] = NULL;
	body = oidc_form(form, &len);
	if (config->client_auth == CLIENT_AUTH_BASIC)
		basic = oidc_basic_authorization(config->oauth2_client_id,
						 config->oauth2_client_secret);
	if (body == NULL || (config->client_auth == CLIENT_AUTH_BASIC && basic == NULL)) {
		secret_free(&body);
		secret_free(&basic);
		return -1;
	}
	spec.body = body;
	spec.body_len = len;
	spec.authorization = basic;
	rc = http_client_send(http, &spec);
	secret_free(&body);
	secret_free(&basic);
	return rc;
}
