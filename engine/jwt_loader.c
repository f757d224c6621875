/*
 * jwt_loader.c -- opening libjwt when the device flow needs it (see
 * jwt_loader.h).
 */
#include "jwt_loader.h"
#include "log.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

void *jwt_loader_handle(void)
{
	static void *handle;
	static bool failed;

	if (handle == NULL && !failed) {
		handle = dlopen(JWT_LIBRARY, RTLD_NOW | RTLD_LOCAL);
		if (handle == NULL) {
			failed = true;
			log_error("cannot load %s (ID token verification): %s", JWT_LIBRARY,
				  dlerror());
		}
	}
	return handle;
}
