/*
 * options.c -- the module option table and its syntax checks.
 */
#include "options.h"
#include "shown.h"

#include <stdio.h>
#include <string.h>

static const struct option_desc option_table[OPT_COUNT] = {
    [OPT_URL] = {.id = OPT_URL, .name = "url", .takes_value = 1},
    [OPT_AUTH_LEVEL] = {.id = OPT_AUTH_LEVEL, .name = "auth-level", .takes_value = 1},
    [OPT_COOKIE_NAME] = {.id = OPT_COOKIE_NAME, .name = "cookie-name", .takes_value = 1},
    [OPT_CA_CERT] = {.id = OPT_CA_CERT, .name = "ca-cert", .takes_value = 1},
    [OPT_TIMEOUT] = {.id = OPT_TIMEOUT, .name = "timeout", .takes_value = 1},
    [OPT_BINARY] = {.id = OPT_BINARY, .name = "binary", .takes_value = 1},
    [OPT_METHOD_PRIORITY] = {.id = OPT_METHOD_PRIORITY,
			     .name = "method-priority",
			     .takes_value = 1},
    [OPT_OAUTH2_CLIENT_ID] = {.id = OPT_OAUTH2_CLIENT_ID,
			      .name = "oauth2-client-id",
			      .takes_value = 1},
    [OPT_OAUTH2_CLIENT_SECRET] = {.id = OPT_OAUTH2_CLIENT_SECRET,
				  .name = "oauth2-client-secret",
				  .takes_value = 1,
				  .secret = 1},
    [OPT_OAUTH2_CLIENT_SECRET_FILE] = {.id = OPT_OAUTH2_CLIENT_SECRET_FILE,
				       .name = "oauth2-client-secret-file",
				       .takes_value = 1},
    [OPT_OAUTH2_SCOPE] = {.id = OPT_OAUTH2_SCOPE, .name = "oauth2-scope", .takes_value = 1},
    [OPT_OAUTH2_CLIENT_AUTH_METHOD] = {.id = OPT_OAUTH2_CLIENT_AUTH_METHOD,
				       .name = "oauth2-client-auth-method",
				       .takes_value = 1},
    [OPT_QR] = {.id = OPT_QR, .name = "qr", .takes_value = 1},
    [OPT_DEVICE_FLOW] = {.id = OPT_DEVICE_FLOW, .name = "device-flow", .takes_value = 1},
    [OPT_DEVICE_MAX_AGE] = {.id = OPT_DEVICE_MAX_AGE, .name = "device-max-age", .takes_value = 1},
    [OPT_AUTHZ_URL] = {.id = OPT_AUTHZ_URL, .name = "authz-url", .takes_value = 1},
    [OPT_AUTHZ_ENDPOINT] = {.id = OPT_AUTHZ_ENDPOINT, .name = "authz-endpoint", .takes_value = 1},
    [OPT_DEBUG] = {.id = OPT_DEBUG, .name = "debug", .takes_value = 0},
};

const struct option_desc *option_find(const char *name, size_t len)
{
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (strlen(option_table[i].name) == len &&
		    memcmp(option_table[i].name, name, len) == 0)
			return &option_table[i];
	return NULL;
}

const struct option_desc *option_by_id(enum option_id id)
{
	return (unsigned)id < OPT_COUNT ? &option_table[id] : NULL;
}

int option_parse_argument(const char *arg, int seen[OPT_COUNT], const struct option_desc **desc,
			  const char **value, char err[OPTION_ERROR_SIZE])
{
	const char *eq = strchr(arg, '=');
	size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
	char name[TEXT_SHOWN_SIZE];
	const struct option_desc *d;

	text_shown_n(arg, name_len, name);
	if (strlen(arg) > OPTION_MAX_ARGUMENT) {
		snprintf(err, OPTION_ERROR_SIZE, "option \"%s\" is longer than %d bytes", name,
			 OPTION_MAX_ARGUMENT);
		return -1;
	}
	d = option_find(arg, name_len);
	if (d == NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "unknown option \"%s\"", name);
		return -1;
	}
	if (d->takes_value && eq == NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "option \"%s\" needs a value: %s=...", d->name,
			 d->name);
		return -1;
	}
	if (!d->takes_value && eq != NULL) {
		snprintf(err, OPTION_ERROR_SIZE, "option \"%s\" takes no value", d->name);
		return -1;
	}
	if (d->takes_value && eq[1] == '\0') {
		snprintf(err, OPTION_ERROR_SIZE, "option \"%s\" has an empty value", d->name);
		return -1;
	}
	if (seen[d->id]) {
		snprintf(err, OPTION_ERROR_SIZE, "option \"%s\" is given more than once", d->name);
		return -1;
	}
	seen[d->id] = 1;
	*desc = d;
	*value = eq ? eq + 1 : NULL;
	return 0;
}

int option_parse_timeout(const char *value, unsigned *seconds, char err[OPTION_ERROR_SIZE])
{
	return option_parse_seconds("timeout", value, seconds, err);
}

int option_parse_seconds(const char *name, const char *value, unsigned *seconds,
			 char err[OPTION_ERROR_SIZE])
{
	unsigned long n = 0;
	const char *p = value;

	for (; *p >= '0' && *p <= '9' && n <= OPTION_MAX_TIMEOUT; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (p == value || *p != '\0' || n == 0 || n > OPTION_MAX_TIMEOUT) {
		char shown[TEXT_SHOWN_SIZE];

		text_shown(value, shown);
		snprintf(err, OPTION_ERROR_SIZE,
			 "invalid %s \"%s\": must be a whole number of seconds from 1 to %d", name,
			 shown, OPTION_MAX_TIMEOUT);
		return -1;
	}
	*seconds = (unsigned)n;
	return 0;
}
