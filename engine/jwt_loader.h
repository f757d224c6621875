/*
 * jwt_loader.h -- libjwt's shared library, opened when the device flow
 * starts.  The static helper (make HELPER_LINK=static) links OpenSSL in, and
 * libjwt 1.10 exists only as a shared library that brings libcrypto.so with
 * it: a login that never verifies an ID token should not pay for loading and
 * relocating a second libcrypto.  engine/jwt_forward.c stands in for libjwt's
 * functions in the static helper and calls into the library opened here.
 */
#ifndef PAM_AUTHELIA_JWT_LOADER_H
#define PAM_AUTHELIA_JWT_LOADER_H

#define JWT_LIBRARY "libjwt.so.0"

#include <stddef.h>

/* Opens it now (before the sandbox, which forbids opening files): 0, or -1
 * with err saying why.  A login with oauth2-client-id calls it before its
 * first prompt, so that a helper that could never verify an ID token fails
 * at once (PAM_SERVICE_ERR) rather than after the user approved on a phone;
 * pam_authelia --check reports it.  With libjwt linked in (the default
 * dynamic build) it is already open: cheap. */
int jwt_loader_open(char *err, size_t errlen);

/* libjwt's handle, opened on the first call (NULL after one clear log line
 * when it cannot be). */
void *jwt_loader_handle(void);

#endif
