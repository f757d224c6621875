/*
 * tls.h -- the helper's TLS client context: TLS 1.2 or later, security level
 * 2, peer verification always on, trust from `ca-cert` or the system store's
 * hashed directory (looked up per certificate, not the whole bundle parsed per
 * login).  OpenSSL is set up without openssl.cnf: the helper's TLS policy is
 * its own, the same on every host.
 */
#ifndef PAM_AUTHELIA_TLS_H
#define PAM_AUTHELIA_TLS_H

#include <openssl/ssl.h>

#define TLS_ERROR_SIZE 256

/* ca_cert may be NULL.  On failure err starts with "failed to read CA certificate". */
SSL_CTX *tls_context_new(const char *ca_cert, char err[TLS_ERROR_SIZE]);
/* The cheap part of that check, before any OpenSSL work: 0 when ca_cert is
 * NULL or a file we can open. */
int tls_ca_readable(const char *ca_cert, char err[TLS_ERROR_SIZE]);

#endif
