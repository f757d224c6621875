/*
 * authz.c -- Authelia's access control asked about a login (see authz.h).
 * URLs are parsed by libevent's URI parser; the characters and the
 * placeholders are checked here first, so that nothing a value holds can
 * change what the URL means.
 */
/* sys/queue.h first: event2/keyvalq_struct.h needs its TAILQ_FOREACH. */
#include <sys/queue.h>

#include "authz.h"
#include "authelia_api.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define AUTHZ_ENDPOINT_PREFIX "/api/authz/"
/* /etc/hosts is read line by line; a longer line or file is not a hosts file. */
#define AUTHZ_HOSTS_MAX_LINE  4096
#define AUTHZ_HOSTS_MAX_LINES 100000

static int authz_url_check(const char *url, const char *what, char err[OPTION_ERROR_SIZE]);

const char *authz_kind_name(enum authz_kind kind)
{
	switch (kind) {
	case AUTHZ_AUTH_REQUEST:
		return "auth-request";
	case AUTHZ_FORWARD_AUTH:
		return "forward-auth";
	case AUTHZ_CUSTOM:
		break;
	}
	return "custom";
}

/* Bytes a URL may hold as they are (RFC 3986 unreserved, sub-delims, ':' and
 * '/'); '%' only as %XX.  '@', '?', '#', '[' and ']' are left out: no user
 * name, query, fragment or IP literal. */
static bool url_byte_ok(unsigned char c)
{
	return isalnum(c) || strchr("-._~!$&'()*+,;=:/", c) != NULL;
}

static bool is_hex(char c)
{
	return isxdigit((unsigned char)c) != 0;
}

static int authz_url_check(const char *url, const char *what, char err[OPTION_ERROR_SIZE])
{
	struct evhttp_uri *uri;
	const char *scheme, *host, *path;
	char shown[LOG_SHOWN_SIZE];
	int rc = -1;

	if (strlen(url) > AUTHZ_MAX_URL) {
		snprintf(err, OPTION_ERROR_SIZE, "%s is longer than %d bytes", what, AUTHZ_MAX_URL);
		return -1;
	}
	for (const char *p = url; *p != '\0'; p++) {
		if (*p == '%' && is_hex(p[1]) && is_hex(p[2])) {
			p += 2;
			continue;
		}
		if (!url_byte_ok((unsigned char)*p)) {
			char c[2] = {*p, '\0'};
			snprintf(err, OPTION_ERROR_SIZE,
				 "%s holds \"%s\", which an https URL without user name, query or "
				 "fragment cannot hold as it is",
				 what, log_shown(c, shown));
			return -1;
		}
	}
	uri = evhttp_uri_parse_with_flags(url, 0);
	if (uri == NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "%s is not a valid URL", what);
		return -1;
	}
	scheme = evhttp_uri_get_scheme(uri);
	host = evhttp_uri_get_host(uri);
	path = evhttp_uri_get_path(uri);
	if (scheme == NULL || strcasecmp(scheme, "https") != 0)
		snprintf(err, OPTION_ERROR_SIZE, "%s must be https://, got \"%s\"", what,
			 log_shown(scheme ? scheme : "", shown));
	else if (host == NULL || host[0] == '\0')
		snprintf(err, OPTION_ERROR_SIZE, "%s has no host", what);
	else if (evhttp_uri_get_userinfo(uri) != NULL || evhttp_uri_get_query(uri) != NULL ||
		 evhttp_uri_get_fragment(uri) != NULL)
		snprintf(err, OPTION_ERROR_SIZE,
			 "%s must not contain a user name, query or fragment", what);
	else if (path == NULL || path[0] != '/')
		/* Authelia's resources rules would see "." (contract s.4). */
		snprintf(err, OPTION_ERROR_SIZE,
			 "%s needs a path (such as /pam/%%s): the resources rules of Authelia's "
			 "access control match it",
			 what);
	else
		rc = 0;
	evhttp_uri_free(uri);
	return rc;
}

int authz_check_template(const char *template, char err[OPTION_ERROR_SIZE])
{
	char sample[AUTHZ_MAX_URL + 2];
	size_t n = 0;

	/* The placeholders become a sample value, then the URL is checked. */
	for (const char *p = template; *p != '\0'; p++) {
		char shown[LOG_SHOWN_SIZE], c[2] = {p[1], '\0'};

		if (n > AUTHZ_MAX_URL) {
			snprintf(err, OPTION_ERROR_SIZE, "authz-url is longer than %d bytes",
				 AUTHZ_MAX_URL);
			return -1;
		}
		if (*p != '%') {
			sample[n++] = *p;
			continue;
		}
		switch (p[1]) {
		case 'h':
		case 'H':
		case 's':
			sample[n++] = 'a';
			break;
		case '%':
			if (!is_hex(p[2]) || !is_hex(p[3])) {
				snprintf(
				    err, OPTION_ERROR_SIZE,
				    "authz-url: %%%% must start a percent-encoded byte (%%%%20 "
				    "for a space)");
				return -1;
			}
			sample[n++] = '%';
			break;
		default:
			snprintf(
			    err, OPTION_ERROR_SIZE,
			    "authz-url: unknown placeholder \"%%%s\": use %%h (short host name), "
			    "%%H (fully qualified host name), %%s (PAM service) or %%%%",
			    p[1] == '\0' ? "" : log_shown(c, shown));
			return -1;
		}
		p++;
	}
	sample[n] = '\0';
	return authz_url_check(sample, "authz-url", err);
}

bool authz_template_wants_fqdn(const char *template)
{
	for (const char *p = template; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (p[1] == 'H')
			return true;
		if (p[1] != '\0')
			p++;
	}
	return false;
}

/* Authelia's rule for endpoint names (validator/const.go):
 * ^[a-zA-Z](([a-zA-Z0-9/._-]*)([a-zA-Z]))?$, and no "." or ".." segment or
 * empty one, which would send the request elsewhere. */
static bool endpoint_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || !isalpha((unsigned char)name[0]) || !isalpha((unsigned char)name[len - 1]))
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("/._-", *p) == NULL)
			return false;
	return strstr(name, "//") == NULL && strstr(name, "/./") == NULL &&
	       strstr(name, "/../") == NULL && strncmp(name, "./", 2) != 0 &&
	       strncmp(name, "../", 3) != 0;
}

int authz_check_endpoint(const char *endpoint, enum authz_kind *kind, char err[OPTION_ERROR_SIZE])
{
	const char *name = endpoint + strlen(AUTHZ_ENDPOINT_PREFIX);
	char shown[LOG_SHOWN_SIZE];

	if (strncmp(endpoint, AUTHZ_ENDPOINT_PREFIX, strlen(AUTHZ_ENDPOINT_PREFIX)) != 0 ||
	    !endpoint_name_ok(name)) {
		snprintf(err, OPTION_ERROR_SIZE,
			 "invalid authz-endpoint \"%s\": must be /api/authz/auth-request, "
			 "/api/authz/forward-auth or /api/authz/<name> of an AuthRequest or "
			 "ForwardAuth endpoint",
			 log_shown(endpoint, shown));
		return -1;
	}
	if (strcmp(name, "ext-authz") == 0) {
		snprintf(err, OPTION_ERROR_SIZE,
			 "authz-endpoint /api/authz/ext-authz reads the target host from Host, "
			 "which is Authelia's own: use /api/authz/auth-request or "
			 "/api/authz/forward-auth");
		return -1;
	}
	if (strcmp(endpoint, AUTHZ_DEFAULT_ENDPOINT) == 0)
		*kind = AUTHZ_AUTH_REQUEST;
	else if (strcmp(endpoint, AUTHZ_FORWARD_ENDPOINT) == 0)
		*kind = AUTHZ_FORWARD_AUTH;
	else
		*kind = AUTHZ_CUSTOM;
	return 0;
}

int authz_fqdn_from_hosts(const char *hosts_file, const char *name, char out[AUTHZ_NAME_SIZE])
{
	FILE *f = fopen(hosts_file, "re");
	char *line = NULL;
	size_t size = 0;
	int rc = -1, lines = 0;

	out[0] = '\0';
	if (f == NULL)
		return -1;
	while (rc < 0 && lines++ < AUTHZ_HOSTS_MAX_LINES && getline(&line, &size, f) > 0) {
		char *save = NULL, *canonical = NULL, *word;
		bool listed = false;

		if (strlen(line) > AUTHZ_HOSTS_MAX_LINE)
			continue;
		line[strcspn(line, "#\n")] = '\0';
		word = strtok_r(line, " \t\r", &save); /* the address */
		while (word != NULL && (word = strtok_r(NULL, " \t\r", &save)) != NULL) {
			if (canonical == NULL)
				canonical = word;
			listed |= strcasecmp(word, name) == 0;
		}
		if (!listed)
			continue;
		/* The first line listing the name decides, as for the resolver. */
		rc = strchr(canonical, '.') != NULL && strlen(canonical) < AUTHZ_NAME_SIZE ? 0 : 1;
		if (rc == 0)
			snprintf(out, AUTHZ_NAME_SIZE, "%s", canonical);
	}
	free(line);
	fclose(f);
	return rc == 0 ? 0 : -1;
}

int authz_host_names(const char *hosts_file, bool want_fqdn, struct authz_host *host,
		     char err[OPTION_ERROR_SIZE])
{
	char name[AUTHZ_NAME_SIZE] = "", shown[LOG_SHOWN_SIZE];

	memset(host, 0, sizeof(*host));
	if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
		snprintf(err, OPTION_ERROR_SIZE, "authz-url: cannot read this host's name: %s",
			 name[0] == '\0' ? "it is empty" : strerror(errno));
		return -1;
	}
	snprintf(host->short_name, sizeof(host->short_name), "%.*s", (int)strcspn(name, "."), name);
	if (strchr(name, '.') != NULL) {
		snprintf(host->fqdn, sizeof(host->fqdn), "%.*s", AUTHZ_NAME_SIZE - 1, name);
	} else if (want_fqdn && authz_fqdn_from_hosts(hosts_file, name, host->fqdn) != 0) {
		snprintf(err, OPTION_ERROR_SIZE,
			 "authz-url uses %%H, but this host's name \"%s\" is not fully qualified "
			 "and %s gives none (DNS is never asked); fix: a line \"127.0.1.1 "
			 "<name>.<domain> <name>\" there, or %%h",
			 log_shown(name, shown), hosts_file);
		return -1;
	}
	return 0;
}

/* [A-Za-z0-9._-]+, no leading, trailing or double dot: a value can neither
 * leave its place in the URL nor become a "." or ".." path segment. */
static int authz_value_check(const char *what, const char *value, char err[OPTION_ERROR_SIZE])
{
	char shown[LOG_SHOWN_SIZE];
	size_t len = strlen(value);
	bool ok = len > 0 && len <= AUTHZ_MAX_VALUE && value[0] != '.' && value[len - 1] != '.' &&
		  strstr(value, "..") == NULL;

	for (const char *p = value; ok && *p != '\0'; p++)
		ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
	if (ok)
		return 0;
	snprintf(err, OPTION_ERROR_SIZE,
		 "authz-url: %s \"%s\" cannot go into the URL: only letters, digits, '.', '_' and "
		 "'-' are allowed, no leading, trailing or double dot, at most %d bytes",
		 what, log_shown(value, shown), AUTHZ_MAX_VALUE);
	return -1;
}

void authz_target_free(struct authz_target *target)
{
	free(target->url);
	free(target->host);
	free(target->path);
	memset(target, 0, sizeof(*target));
}

int authz_expand(const char *template, const struct authz_host *host, const char *service,
		 struct authz_target *target, char err[OPTION_ERROR_SIZE])
{
	char url[AUTHZ_MAX_URL + 1];
	size_t n = 0;
	struct evhttp_uri *uri;
	int port;

	memset(target, 0, sizeof(*target));
	for (const char *p = template; *p != '\0'; p++) {
		const char *value = NULL, *what = NULL;
		char literal[2] = {*p, '\0'};
		size_t len;

		if (*p == '%') {
			switch (*++p) {
			case 'h':
				value = host->short_name, what = "the host name";
				break;
			case 'H':
				value = host->fqdn, what = "the fully qualified host name";
				break;
			case 's':
				value = service ? service : "", what = "the PAM service";
				break;
			case '%': /* checked with the template: it starts a %XX */
				value = "%";
				break;
			default:
				snprintf(err, OPTION_ERROR_SIZE,
					 "authz-url is not a valid template");
				return -1;
			}
		}
		if (what != NULL && authz_value_check(what, value, err) != 0)
			return -1;
		value = value ? value : literal;
		len = strlen(value);
		if (n + len > AUTHZ_MAX_URL) {
			snprintf(err, OPTION_ERROR_SIZE,
				 "authz-url: the URL for this host is longer than %d bytes",
				 AUTHZ_MAX_URL);
			return -1;
		}
		memcpy(url + n, value, len);
		n += len;
	}
	url[n] = '\0';
	if (authz_url_check(url, "authz-url for this host", err) != 0)
		return -1;
	uri = evhttp_uri_parse_with_flags(url, 0);
	if (uri == NULL)
		return -1; /* checked just above */
	port = evhttp_uri_get_port(uri);
	target->url = strdup(url);
	target->path = strdup(evhttp_uri_get_path(uri));
	if (port < 0)
		target->host = strdup(evhttp_uri_get_host(uri));
	else if (asprintf(&target->host, "%s:%d", evhttp_uri_get_host(uri), port) < 0)
		target->host = NULL;
	evhttp_uri_free(uri);
	if (target->url == NULL || target->path == NULL || target->host == NULL) {
		authz_target_free(target);
		snprintf(err, OPTION_ERROR_SIZE, "authz-url: out of memory");
		return -1;
	}
	return 0;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * form, no surrogate, nothing above U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (*p >= 0xc2 && *p <= 0xdf)
		len = 2;
	else if (*p >= 0xe0 && *p <= 0xef) {
		len = 3;
		if (*p == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (*p == 0xed)
			hi = 0x9f; /* U+D800-U+DFFF: surrogates */
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		len = 4;
		if (*p == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (*p == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* ASCII is not ours, 0x80-0xc1 and 0xf5-0xff never start one */
	}
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

bool authz_user_sendable(const char *user)
{
	const unsigned char *p = (const unsigned char *)user;

	while (*p != '\0') {
		size_t len;

		if (*p < 0x80) {
			if (*p <= 0x20 || *p == 0x7f)
				return false;
			p++;
			continue;
		}
		len = utf8_sequence(p);
		/* U+0080-U+009F: C1 controls (NEL among them, which parsers trim) */
		if (len == 0 || (p[0] == 0xc2 && p[1] <= 0x9f))
			return false;
		p += len;
	}
	return user[0] != '\0';
}

int authz_send(struct http_client *http, const struct config *config,
	       const struct authz_target *target, const char *user, enum http_purpose purpose,
	       bool post)
{
	struct http_header headers[7];
	struct http_request_spec spec = {
	    .purpose = purpose, .headers = headers, .timeout_ms = HTTP_REQUEST_TIMEOUT_MS};
	char *encoded = evhttp_encode_uri(config->url), *path = NULL;
	size_t n = 0;
	int rc;

	/* The target as the endpoint's implementation reads it (contract s.1). */
	if (config->authz_kind != AUTHZ_FORWARD_AUTH) {
		headers[n++] = (struct http_header){"X-Original-URL", target->url};
		headers[n++] = (struct http_header){"X-Original-Method", "GET"};
	}
	if (config->authz_kind != AUTHZ_AUTH_REQUEST) {
		headers[n++] = (struct http_header){"X-Forwarded-Proto", "https"};
		headers[n++] = (struct http_header){"X-Forwarded-Host", target->host};
		headers[n++] = (struct http_header){"X-Forwarded-URI", target->path};
		headers[n++] = (struct http_header){"X-Forwarded-Method", "GET"};
	}
	/* Authelia drops the session when it belongs to someone else (s.2). */
	if (user != NULL)
		headers[n++] = (struct http_header){"Session-Username", user};
	spec.header_count = n;
	/* authelia_url: url itself, so that a cookie entry without authelia_url
	 * (the legacy session.domain form) needs nothing more (s.1, 4.). */
	if (encoded == NULL ||
	    asprintf(&path, "%s?authelia_url=%s", config->authz_endpoint, encoded) < 0) {
		free(encoded);
		return -1;
	}
	free(encoded);
	spec.path = path;
	if (post) {
		spec.body = "";
		spec.content_type = "text/plain";
	}
	rc = http_client_send(http, &spec);
	free(path);
	return rc;
}

/* How many Remote-User headers the answer has; *value is the first. */
static int remote_user(const struct http_response *response, const char **value)
{
	const struct evkeyval *kv;
	int count = 0;

	*value = NULL;
	if (response->headers == NULL)
		return 0;
	TAILQ_FOREACH(kv, response->headers, next)
	{
		if (strcasecmp(kv->key, "Remote-User") == 0 && count++ == 0)
			*value = kv->value;
	}
	return count;
}

static bool has_header(const struct http_response *response, const char *name)
{
	return response->headers != NULL && evhttp_find_header(response->headers, name) != NULL;
}

enum authz_verdict authz_read_answer(const struct http_response *response,
				     const struct config *config, const struct authz_target *target,
				     const char *user, const char *user_log,
				     enum auth_result *result, char reason[AUTHZ_REASON_SIZE])
{
	const char *url = target->url, *endpoint = config->authz_endpoint, *named;
	char shown[LOG_SHOWN_SIZE];
	int status = response->status, count;

	if (response->error != NULL) {
		*result = authelia_failure_result(response);
		snprintf(reason, AUTHZ_REASON_SIZE, "authelia access check on %s failed: %s", url,
			 response->error);
		return AUTHZ_REFUSED;
	}
	log_debug("access check response status=%d", status);
	/* A new session, or none, is not the one whose user and level were
	 * checked: Authelia destroys it when it idled past inactivity, when its
	 * user vanished or when it does not apply to the target (s.2), and then
	 * answers as it would anyone (a deny rule with a subject becomes 401). */
	if (response->cookie_rotated || response->cookie_deleted) {
		*result = RESULT_AUTH_ERR;
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: Authelia replaced the session of \"%s\" "
			 "(response status=%d) %s: it expired (inactivity), its user is gone, or "
			 "it does not apply to this host (is %s within the session.cookies domain "
			 "of %s?); refused",
			 url, user_log, status,
			 response->cookie_rotated ? "with a new session cookie"
						  : "and deleted its cookie",
			 target->host, config->url_host);
		return AUTHZ_REFUSED;
	}
	*result = RESULT_SERVICE_ERR;
	switch (status) {
	case 200:
		count = remote_user(response, &named);
		if (count == 1 && strcmp(named, user) == 0)
			return AUTHZ_ALLOWED;
		*result = RESULT_AUTH_ERR;
		if (count == 0)
			snprintf(reason, AUTHZ_REASON_SIZE,
				 "authelia access control allowed %s without naming a user (no "
				 "Remote-User: a bypass rule, and the session of \"%s\" was not "
				 "recognised); refused",
				 url, user_log);
		else
			snprintf(reason, AUTHZ_REASON_SIZE,
				 "authelia access control answered for \"%s\"%s, not \"%s\", on %s "
				 "(Remote-User); refused",
				 log_shown(named, shown), count > 1 ? " and others" : "", user_log,
				 url);
		return AUTHZ_REFUSED;
	case 401:
		if (!has_header(response, "WWW-Authenticate"))
			return AUTHZ_NEEDS_MORE;
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: %s asks for credentials (response "
			 "status=401 with WWW-Authenticate), so it does not read the session "
			 "cookie; fix: give it the CookieSession strategy (server.endpoints.authz)",
			 url, endpoint);
		return AUTHZ_REFUSED;
	case 407:
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: %s asks for proxy credentials (response "
			 "status=407), so it does not read the session cookie; fix: give it the "
			 "CookieSession strategy (server.endpoints.authz)",
			 url, endpoint);
		return AUTHZ_REFUSED;
	case 403:
		*result = RESULT_AUTH_ERR;
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access control denies \"%s\" on %s (response status=403)",
			 user_log, url);
		return AUTHZ_REFUSED;
	case 400:
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s is misconfigured (response status=400): "
			 "Authelia refuses the question itself (its log says why); fix: %s must "
			 "lie within the session.cookies domain that holds %s, and authz-endpoint "
			 "%s must be an AuthRequest or ForwardAuth endpoint; pam_authelia --check "
			 "tells which",
			 url, target->host, config->url_host, endpoint);
		return AUTHZ_REFUSED;
	case 404:
	case 405:
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: authz-endpoint %s is not enabled in "
			 "Authelia (response status=%d); fix: list it under server.endpoints.authz "
			 "(an entry there replaces the default endpoints) with implementation "
			 "AuthRequest or ForwardAuth",
			 url, endpoint, status);
		return AUTHZ_REFUSED;
	case 431:
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: the request's headers are too large for "
			 "Authelia (response status=431); fix: a shorter authz-url",
			 url);
		return AUTHZ_REFUSED;
	default:
		break;
	}
	if (status >= 300 && status < 400) {
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: unexpected redirect (response status=%d); "
			 "is url Authelia's own URL?",
			 url, status);
	} else if (status >= 500 && status < 600) {
		*result = RESULT_AUTHINFO_UNAVAIL;
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: Authelia failed (response status=%d)", url,
			 status);
	} else {
		/* 429 (a proxy: Authelia has no limiter here), other 4xx, 1xx, 2xx,
		 * and 600-999 (libevent passes any three digits): Authelia
		 * answered, and not with a yes. */
		*result = RESULT_AUTH_ERR;
		snprintf(reason, AUTHZ_REASON_SIZE,
			 "authelia access check on %s: unexpected answer (response status=%d); "
			 "refused",
			 url, status);
	}
	return AUTHZ_REFUSED;
}
