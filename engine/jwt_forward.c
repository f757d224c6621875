/*
 * jwt_forward.c -- libjwt's functions, as jwt.h declares them, forwarded to
 * the library jwt_loader.c opens: linked into the static helper only (the
 * other builds link -ljwt), so that engine/oidc.c calls libjwt the same way in
 * every build.  Only the functions the helper reads tokens with are here; a
 * new one fails the static link until it is added.
 */
#include "jwt_loader.h"
#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <jwt.h>
#include <stddef.h>

/* The library's function `name`, looked up once; NULL when unavailable. */
static void *jwt_forward_symbol(const char *name)
{
	void *handle = jwt_loader_handle(), *symbol;

	if (handle == NULL)
		return NULL;
	symbol = dlsym(handle, name);
	if (symbol == NULL)
		log_error("%s has no %s", JWT_LIBRARY, name);
	return symbol;
}

#define JWT_FORWARD(type, name, params, args, unavailable)           \
	type name params                                             \
	{                                                            \
		static type(*real) params;                           \
		if (real == NULL)                                    \
			*(void **)&real = jwt_forward_symbol(#name); \
		return real != NULL ? real args : (unavailable);     \
	}

JWT_FORWARD(int, jwt_new, (jwt_t * *jwt), (jwt), ENOSYS)
JWT_FORWARD(int, jwt_decode, (jwt_t * *jwt, const char *token, const unsigned char *key, int len),
	    (jwt, token, key, len), ENOSYS)
JWT_FORWARD(const char *, jwt_get_header, (jwt_t * jwt, const char *header), (jwt, header), NULL)
JWT_FORWARD(long, jwt_get_header_int, (jwt_t * jwt, const char *header), (jwt, header), 0)
JWT_FORWARD(char *, jwt_get_headers_json, (jwt_t * jwt, const char *header), (jwt, header), NULL)
JWT_FORWARD(const char *, jwt_get_grant, (jwt_t * jwt, const char *grant), (jwt, grant), NULL)
JWT_FORWARD(long, jwt_get_grant_int, (jwt_t * jwt, const char *grant), (jwt, grant), 0)
JWT_FORWARD(int, jwt_get_grant_bool, (jwt_t * jwt, const char *grant), (jwt, grant), 0)
JWT_FORWARD(char *, jwt_get_grants_json, (jwt_t * jwt, const char *grant), (jwt, grant), NULL)
JWT_FORWARD(jwt_alg_t, jwt_get_alg, (jwt_t * jwt), (jwt), JWT_ALG_INVAL)

void jwt_free(jwt_t *jwt)
{
	static void (*real)(jwt_t *);

	if (jwt == NULL)
		return;
	if (real == NULL)
		*(void **)&real = jwt_forward_symbol("jwt_free");
	if (real != NULL)
		real(jwt);
}
