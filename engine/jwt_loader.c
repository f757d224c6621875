/*
 * jwt_loader.c -- opening libjwt when the device flow needs it (see
 * jwt_loader.h).
 */
#include "jwt_loader.h"
#include "log.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

static void *handle;
static bool failed;
static char load_error[256];

int jwt_loader_open(char *err, size_t errlen)
{
	if (handle == NULL && !failed) {
		handle = dlopen(JWT_LIBRARY, RTLD_NOW | RTLD_LOCAL);
		if (handle == NULL) {
			const char *why = dlerror();

			failed = true;
			snprintf(load_error, sizeof(load_error),
				 "cannot load %s (ID token verification of the device flow): %s",
				 JWT_LIBRARY, why ? why : "unknown error");
		}
	}
	if (handle == NULL)
		snprintf(err, errlen, "%s", load_error);
	return handle != NULL ? 0 : -1;
}

void *jwt_loader_handle(void)
{
	char err[sizeof(load_error)];
	bool reported = failed;

	if (jwt_loader_open(err, sizeof(err)) != 0 && !reported)
		log_error("%s", err);
	return handle;
}
