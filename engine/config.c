/*
 * config.c -- parsing and validating the helper's options (see config.h).
 * URLs are parsed by libevent's URI parser, not by hand.
 */
#include "config.h"
#include "authz.h"
#include "secret_file.h"
#include "secure_alloc.h"
#include "../protocol/shown.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const auth_level_names[] = {
    [AUTH_LEVEL_1FA] = "1FA",
    [AUTH_LEVEL_2FA] = "2FA",
    [AUTH_LEVEL_1FA_2FA] = "1FA+2FA",
    [AUTH_LEVEL_POLICY] = "policy",
};

static const char *const method_names[] = {
    [METHOD_TOTP] = "totp",
    [METHOD_MOBILE_PUSH] = "mobile_push",
    [METHOD_DEVICE_AUTHORIZATION] = "device_authorization",
    [METHOD_USER] = "user",
};

static const char *const client_auth_names[] = {
    [CLIENT_AUTH_NONE] = "none",
    [CLIENT_AUTH_POST] = "client_secret_post",
    [CLIENT_AUTH_BASIC] = "client_secret_basic",
};

const char *client_auth_name(enum client_auth auth)
{
	return client_auth_names[auth];
}

const char *auth_level_name(enum auth_level level)
{
	return auth_level_names[level];
}

const char *method_name(enum method method)
{
	return method_names[method];
}

void config_init(struct config *config)
{
	memset(config, 0, sizeof(*config));
	config->auth_level = AUTH_LEVEL_1FA_2FA;
	config->timeout = OPTION_DEFAULT_TIMEOUT;
	config->qr = true;
	config->device_max_age = OPTION_DEFAULT_DEVICE_MAX_AGE;
}

void config_free(struct config *config)
{
	free(config->url);
	free(config->url_host);
	free(config->url_path);
	free(config->cookie_name);
	free(config->ca_cert);
	free(config->oauth2_client_id);
	secret_free(&config->oauth2_client_secret);
	free(config->oauth2_client_secret_file);
	free(config->oauth2_scope);
	free(config->authz_url);
	free(config->authz_endpoint);
	memset(config, 0, sizeof(*config));
}

/* *dst = a copy of value; -1 with err when memory runs out (the login fails:
 * an option silently dropped could weaken it, as a lost ca-cert would). */
static int config_copy(char **dst, const char *value, char err[OPTION_ERROR_SIZE])
{
	char *copy = strdup(value);

	if (copy == NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

static int set_url(struct config *config, const char *value, char err[OPTION_ERROR_SIZE])
{
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(value, 0);
	const char *scheme, *host, *path;
	char buf[TEXT_SHOWN_SIZE];
	size_t len;
	int rc = -1;

	if (uri == NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "invalid URL \"%s\"", text_shown(value, buf));
		return -1;
	}
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	path = evhttp_uri_get_path(uri);
	if (scheme == NULL || strcasecmp(scheme, "https") != 0)
		snprintf(err, OPTION_ERROR_SIZE, "URL scheme must be https, got \"%s\"",
			 text_shown(scheme ? scheme : "", buf));
	else if (host == NULL || host[0] == '\0')
		snprintf(err, OPTION_ERROR_SIZE, "URL has no host: \"%s\"", text_shown(value, buf));
	else if (evhttp_uri_get_userinfo(uri) != NULL)
		snprintf(err, OPTION_ERROR_SIZE, "URL must not contain a user name or password");
	else if (evhttp_uri_get_query(uri) != NULL || evhttp_uri_get_fragment(uri) != NULL)
		snprintf(err, OPTION_ERROR_SIZE, "URL must not have a query or fragment");
	else if (path != NULL && path[0] != '\0' && path[0] != '/')
		snprintf(err, OPTION_ERROR_SIZE, "invalid URL path");
	else
		rc = 0;
	if (rc == 0 && (config_copy(&config->url, value, err) != 0 ||
			config_copy(&config->url_host, host, err) != 0 ||
			config_copy(&config->url_path, path ? path : "", err) != 0))
		rc = -1;
	if (rc == 0) {
		config->url_port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 443;
		/* Endpoints are appended to url: drop trailing slashes. */
		len = strlen(config->url);
		while (len > 0 && config->url[len - 1] == '/')
			config->url[--len] = '\0';
		len = config->url_path ? strlen(config->url_path) : 0;
		while (len > 0 && config->url_path[len - 1] == '/')
			config->url_path[--len] = '\0';
	}
	evhttp_uri_free(uri);
	return rc;
}

static int set_auth_level(struct config *config, const char *value, char err[OPTION_ERROR_SIZE])
{
	char buf[TEXT_SHOWN_SIZE];

	for (size_t i = 0; i < sizeof(auth_level_names) / sizeof(auth_level_names[0]); i++) {
		if (strcmp(value, auth_level_names[i]) == 0) {
			config->auth_level = (enum auth_level)i;
			return 0;
		}
	}
	/* The guide's words, then ours (README, "The reference module's texts"). */
	snprintf(err, OPTION_ERROR_SIZE,
		 "invalid auth level \"%s\": must be 1FA, 2FA, or 1FA+2FA (or policy, with "
		 "authz-url)",
		 text_shown(value, buf));
	return -1;
}

/* Calls each(item, len) for the comma-separated, space-trimmed, non-empty items. */
static int for_each_item(const char *list, int (*each)(void *, const char *, size_t), void *arg)
{
	const char *p = list;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		const char *stop = end ? end : p + strlen(p);
		while (p < stop && *p == ' ')
			p++;
		while (stop > p && stop[-1] == ' ')
			stop--;
		if (stop > p && each(arg, p, (size_t)(stop - p)) != 0)
			return -1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

struct list_state {
	struct config *config;
	char *err;
	char *out; /* scopes joined with spaces */
	size_t out_len;
};

static int add_method(void *arg, const char *item, size_t len)
{
	struct list_state *st = arg;
	char buf[TEXT_SHOWN_SIZE];

	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (strlen(method_names[i]) == len && memcmp(method_names[i], item, len) == 0) {
			if (st->config->method_count == CONFIG_MAX_METHODS) {
				snprintf(st->err, OPTION_ERROR_SIZE,
					 "--method-priority has more than %d entries",
					 CONFIG_MAX_METHODS);
				return -1;
			}
			st->config->methods[st->config->method_count++] = (enum method)i;
			return 0;
		}
	}
	snprintf(st->err, OPTION_ERROR_SIZE,
		 "invalid method \"%s\" in --method-priority: must be totp, mobile_push, "
		 "device_authorization, or user",
		 text_shown_n(item, len, buf));
	return -1;
}

/* RFC 6749 scope-token: %x21 / %x23-5B / %x5D-7E. */
static int add_scope(void *arg, const char *item, size_t len)
{
	struct list_state *st = arg;
	char *grown;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)item[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
			snprintf(st->err, OPTION_ERROR_SIZE,
				 "--oauth2-scope holds a character not allowed in a scope");
			return -1;
		}
	}
	grown = realloc(st->out, st->out_len + len + 2);
	if (grown == NULL) {
		snprintf(st->err, OPTION_ERROR_SIZE, "out of memory");
		return -1;
	}
	st->out = grown;
	if (st->out_len > 0)
		st->out[st->out_len++] = ' ';
	memcpy(st->out + st->out_len, item, len);
	st->out_len += len;
	st->out[st->out_len] = '\0';
	return 0;
}

static int has_scope(const char *scopes, const char *want)
{
	size_t n = strlen(want);

	for (const char *p = scopes; p != NULL; p = strchr(p, ' ')) {
		if (*p == ' ')
			p++;
		if (strncmp(p, want, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

static int set_scope(struct config *config, const char *value, char err[OPTION_ERROR_SIZE])
{
	struct list_state st = {.config = config, .err = err};

	if (for_each_item(value, add_scope, &st) != 0) {
		free(st.out);
		return -1;
	}
	if (st.out == NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "--oauth2-scope must not be empty");
		return -1;
	}
	free(config->oauth2_scope);
	config->oauth2_scope = st.out;
	return 0;
}

/* RFC 6265 token characters, so the name can go into a Cookie header as is. */
static int set_cookie_name(struct config *config, const char *value, char err[OPTION_ERROR_SIZE])
{
	static const char separators[] = "()<>@,;:\\\"/[]?={} \t";
	char buf[TEXT_SHOWN_SIZE];

	for (const char *p = value; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || strchr(separators, c) != NULL) {
			snprintf(err, OPTION_ERROR_SIZE, "invalid cookie-name \"%s\"",
				 text_shown(value, buf));
			return -1;
		}
	}
	return config_copy(&config->cookie_name, value, err);
}

int config_apply(struct config *config, const char *argument, char err[OPTION_ERROR_SIZE])
{
	const struct option_desc *desc;
	const char *value;
	struct list_state st = {.config = config, .err = err};
	char buf[TEXT_SHOWN_SIZE];

	if (option_parse_argument(argument, config->seen, &desc, &value, err) != 0)
		return -1;
	switch (desc->id) {
	case OPT_URL:
		return set_url(config, value, err);
	case OPT_AUTH_LEVEL:
		return set_auth_level(config, value, err);
	case OPT_COOKIE_NAME:
		return set_cookie_name(config, value, err);
	case OPT_CA_CERT:
		/* The helper runs in "/", not in the application's directory. */
		if (value[0] != '/') {
			snprintf(err, OPTION_ERROR_SIZE,
				 "ca-cert must be an absolute path, got \"%s\"",
				 text_shown(value, buf));
			return -1;
		}
		/* A copy that fails must fail the login: without ca-cert the
		 * system store would be trusted instead of the private CA. */
		return config_copy(&config->ca_cert, value, err);
	case OPT_TIMEOUT:
		return option_parse_timeout(value, &config->timeout, err);
	case OPT_BINARY:
		return 0; /* the shim's option */
	case OPT_METHOD_PRIORITY:
		return for_each_item(value, add_method, &st);
	case OPT_OAUTH2_CLIENT_ID:
		return config_copy(&config->oauth2_client_id, value, err);
	case OPT_OAUTH2_CLIENT_SECRET:
		config->oauth2_client_secret = secret_dup(value, strlen(value));
		config->secret_inline = true;
		if (config->oauth2_client_secret == NULL) {
			snprintf(err, OPTION_ERROR_SIZE, "out of memory");
			return -1;
		}
		return 0;
	case OPT_OAUTH2_CLIENT_SECRET_FILE:
		return config_copy(&config->oauth2_client_secret_file, value, err);
	case OPT_OAUTH2_SCOPE:
		return set_scope(config, value, err);
	case OPT_OAUTH2_CLIENT_AUTH_METHOD:
		for (size_t i = 0; i < sizeof(client_auth_names) / sizeof(client_auth_names[0]);
		     i++) {
			if (strcmp(value, client_auth_names[i]) == 0) {
				config->client_auth = (enum client_auth)i;
				config->client_auth_set = true;
				return 0;
			}
		}
		snprintf(err, OPTION_ERROR_SIZE,
			 "invalid oauth2-client-auth-method \"%s\": must be client_secret_post, "
			 "client_secret_basic, or none",
			 text_shown(value, buf));
		return -1;
	case OPT_QR:
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
			snprintf(err, OPTION_ERROR_SIZE, "invalid qr \"%s\": must be on or off",
				 text_shown(value, buf));
			return -1;
		}
		config->qr = strcmp(value, "on") == 0;
		return 0;
	case OPT_DEVICE_FLOW:
		if (strcmp(value, "first") != 0 && strcmp(value, "after-password") != 0) {
			snprintf(err, OPTION_ERROR_SIZE,
				 "invalid device-flow \"%s\": must be first or after-password",
				 text_shown(value, buf));
			return -1;
		}
		config->device_after_password = strcmp(value, "after-password") == 0;
		return 0;
	case OPT_DEVICE_MAX_AGE:
		return option_parse_seconds("device-max-age", value, &config->device_max_age, err);
	case OPT_AUTHZ_URL:
		if (authz_check_template(value, err) != 0)
			return -1;
		/* A copy that fails must fail the login: without authz-url no
		 * access check would be asked at all. */
		return config_copy(&config->authz_url, value, err);
	case OPT_AUTHZ_ENDPOINT:
		if (authz_check_endpoint(value, &config->authz_kind, err) != 0)
			return -1;
		return config_copy(&config->authz_endpoint, value, err);
	case OPT_DEBUG:
		config->debug = true;
		return 0;
	case OPT_COUNT:
		break;
	}
	return -1;
}

/* The access check's options, against each other and the flow (contract s.7). */
static int config_finish_authz(struct config *config, char err[OPTION_ERROR_SIZE])
{
	if (config->authz_url == NULL) {
		if (config->auth_level == AUTH_LEVEL_POLICY)
			snprintf(err, OPTION_ERROR_SIZE,
				 "auth-level=policy needs authz-url: Authelia's access control "
				 "decides about that URL whether a second factor is needed");
		else if (config->authz_endpoint != NULL)
			snprintf(err, OPTION_ERROR_SIZE,
				 "authz-endpoint needs authz-url: without it nothing is asked");
		else
			return 0;
		return -1;
	}
	/* A device-flow login leaves no cookie session whose access could be
	 * asked about, and bearer authz is impossible for a device_code client. */
	if (config->auth_level != AUTH_LEVEL_1FA &&
	    config->methods[0] == METHOD_DEVICE_AUTHORIZATION && !config->device_after_password) {
		snprintf(err, OPTION_ERROR_SIZE,
			 "authz-url cannot check a login that starts with the device flow "
			 "(method-priority leads with device_authorization): it leaves no "
			 "Authelia session to ask about; fix: device-flow=after-password");
		return -1;
	}
	if (config->authz_endpoint == NULL) {
		config->authz_kind = AUTHZ_AUTH_REQUEST;
		return config_copy(&config->authz_endpoint, AUTHZ_DEFAULT_ENDPOINT, err);
	}
	return 0;
}

int config_finish(struct config *config, char err[OPTION_ERROR_SIZE])
{
	if (config->url == NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "--url is required");
		return -1;
	}
	if (config->cookie_name == NULL &&
	    config_copy(&config->cookie_name, CONFIG_DEFAULT_COOKIE_NAME, err) != 0)
		return -1;
	if (config->oauth2_scope == NULL && set_scope(config, CONFIG_DEFAULT_SCOPE, err) != 0)
		return -1;
	for (size_t i = 0; i < config->method_count; i++) {
		if (config->methods[i] == METHOD_DEVICE_AUTHORIZATION &&
		    config->oauth2_client_id == NULL) {
			snprintf(err, OPTION_ERROR_SIZE,
				 "--method-priority includes device_authorization but "
				 "--oauth2-client-id is not set");
			return -1;
		}
	}
	if (!has_scope(config->oauth2_scope, "openid")) {
		snprintf(err, OPTION_ERROR_SIZE, "--oauth2-scope must include openid");
		return -1;
	}
	if (!has_scope(config->oauth2_scope, "authelia.pam")) {
		snprintf(err, OPTION_ERROR_SIZE, "--oauth2-scope must include authelia.pam");
		return -1;
	}
	if (config->secret_inline && config->oauth2_client_secret_file != NULL) {
		snprintf(
		    err, OPTION_ERROR_SIZE,
		    "oauth2-client-secret and oauth2-client-secret-file are mutually exclusive: "
		    "keep oauth2-client-secret-file");
		return -1;
	}
	if (config->oauth2_client_secret_file != NULL && config->oauth2_client_secret == NULL) {
		config->oauth2_client_secret =
		    secret_file_read(config->oauth2_client_secret_file, err);
		if (config->oauth2_client_secret == NULL)
			return -1;
	}
	/* The guide's client sends its secret in the form; a public client has none. */
	if (!config->client_auth_set)
		config->client_auth =
		    config->oauth2_client_secret ? CLIENT_AUTH_POST : CLIENT_AUTH_NONE;
	if (config->client_auth != CLIENT_AUTH_NONE && config->oauth2_client_secret == NULL) {
		snprintf(err, OPTION_ERROR_SIZE,
			 "oauth2-client-auth-method=%s needs oauth2-client-secret-file (or "
			 "oauth2-client-secret)",
			 client_auth_name(config->client_auth));
		return -1;
	}
	if (config->client_auth == CLIENT_AUTH_NONE && config->oauth2_client_secret != NULL) {
		snprintf(err, OPTION_ERROR_SIZE,
			 "oauth2-client-auth-method=none is for public clients: remove %s",
			 config->secret_inline ? "oauth2-client-secret"
					       : "oauth2-client-secret-file");
		return -1;
	}
	if (config->method_count == 0) {
		config->methods[0] = METHOD_USER;
		config->method_count = 1;
	}
	return config_finish_authz(config, err);
}
