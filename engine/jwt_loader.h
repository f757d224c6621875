/*
 * jwt_loader.h -- libjwt's shared library, opened when the device flow
 * starts.  The helper links OpenSSL statically (Makefile: HELPER_LINK), and
 * libjwt 1.10 exists only as a shared library that brings libcrypto.so with
 * it: a login that never verifies an ID token should not pay for loading and
 * relocating a second libcrypto.  engine/jwt_forward.c stands in for libjwt's
 * functions in the static helper and calls into the library opened here.
 */
#ifndef PAM_AUTHELIA_JWT_LOADER_H
#define PAM_AUTHELIA_JWT_LOADER_H

#define JWT_LIBRARY "libjwt.so.0"

/* libjwt's handle, opened on the first call (NULL after one clear log line
 * when it cannot be).  With libjwt linked in, it is already open: cheap. */
void *jwt_loader_handle(void);

#endif
