/*
 * shim_options.c -- what the shim itself needs from the module options.  Every
 * argument is checked against the shared option table first, so an unknown or
 * malformed option stops the login here, before any process is started; the
 * helper validates the values it uses again.
 */
#include "shim.h"

#include <stdio.h>
#include <string.h>

int shim_options_parse(int argc, const char **argv, struct shim_options *opts,
		       char err[OPTION_ERROR_SIZE])
{
	int seen[OPT_COUNT] = {0};

	opts->binary = OPTION_DEFAULT_BINARY;
	opts->timeout = OPTION_DEFAULT_TIMEOUT;
	opts->forward_authtok = 0;
	opts->debug = 0;

	for (int i = 0; i < argc; i++) {
		const struct option_desc *desc;
		const char *value;

		if (argv[i] == NULL) {
			snprintf(err, OPTION_ERROR_SIZE, "empty module argument");
			return -1;
		}
		if (option_parse_argument(argv[i], seen, &desc, &value, err) != 0)
			return -1;
		switch (desc->id) {
		case OPT_BINARY:
			if (value[0] != '/') {
				snprintf(err, OPTION_ERROR_SIZE, "binary must be an absolute path");
				return -1;
			}
			opts->binary = value;
			break;
		case OPT_TIMEOUT:
			if (option_parse_timeout(value, &opts->timeout, err) != 0)
				return -1;
			break;
		case OPT_AUTH_LEVEL:
			opts->forward_authtok = strcmp(value, "2FA") == 0;
			break;
		case OPT_DEBUG:
			opts->debug = 1;
			break;
		default:
			break;
		}
	}
	return 0;
}
