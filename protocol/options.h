/*
 * options.h -- the module options of the guide: their names, which take a
 * value, and the syntax checks both the shim and the helper apply, so a typo
 * is refused the same way wherever it is read.  libc only.
 */
#ifndef PAM_AUTHELIA_OPTIONS_H
#define PAM_AUTHELIA_OPTIONS_H

#include <stddef.h>

#define OPTION_DEFAULT_BINARY	      "/usr/bin/pam_authelia"
#define OPTION_DEFAULT_TIMEOUT	      60
#define OPTION_MAX_TIMEOUT	      86400
#define OPTION_DEFAULT_DEVICE_MAX_AGE 3600
#define OPTION_ERROR_SIZE	      256
/* Longest module argument accepted; protects the fixed-size buffers. */
#define OPTION_MAX_ARGUMENT 4096

enum option_id {
	OPT_URL,
	OPT_AUTH_LEVEL,
	OPT_COOKIE_NAME,
	OPT_CA_CERT,
	OPT_TIMEOUT,
	OPT_BINARY,
	OPT_METHOD_PRIORITY,
	OPT_OAUTH2_CLIENT_ID,
	OPT_OAUTH2_CLIENT_SECRET,
	OPT_OAUTH2_CLIENT_SECRET_FILE,
	OPT_OAUTH2_SCOPE,
	OPT_OAUTH2_CLIENT_AUTH_METHOD,
	OPT_QR,
	OPT_DEVICE_FLOW,
	OPT_DEVICE_MAX_AGE,
	OPT_AUTHZ_URL,
	OPT_AUTHZ_ENDPOINT,
	OPT_DEBUG,
	OPT_COUNT
};

struct option_desc {
	enum option_id id;
	const char *name;
	int takes_value; /* "name=value"; otherwise a bare flag ("debug") */
	int secret;	 /* never echo the value */
};

const struct option_desc *option_find(const char *name, size_t len);
const struct option_desc *option_by_id(enum option_id id);

/*
 * Splits one module argument into its option and value and checks its syntax:
 * a known name, a non-empty value for key=value options, no value for flags,
 * and no option twice (seen[] tracks that; the caller zeroes it first).  On
 * error writes a message to err that never contains the value, and returns -1.
 */
int option_parse_argument(const char *arg, int seen[OPT_COUNT], const struct option_desc **desc,
			  const char **value, char err[OPTION_ERROR_SIZE]);

/* Parses a timeout value: a whole number of seconds, 1 to OPTION_MAX_TIMEOUT. */
int option_parse_timeout(const char *value, unsigned *seconds, char err[OPTION_ERROR_SIZE]);
/* The same for the option called name (its error message names it). */
int option_parse_seconds(const char *name, const char *value, unsigned *seconds,
			 char err[OPTION_ERROR_SIZE]);

#endif
