/*
 * tls.h -- the helper's TLS client context: TLS 1.2 or later, peer
 * verification always on, trust from `ca-cert` or the system store's bundle
 * (read before the sandbox, each certificate parsed only when a chain needs it:
 * see ca_store.h).
 */
#ifndef PAM_AUTHELIA_TLS_H
#define PAM_AUTHELIA_TLS_H

#include <openssl/ssl.h>

#define TLS_ERROR_SIZE 256

/* ca_cert may be NULL.  On failure err starts with "failed to read CA certificate". */
SSL_CTX *tls_context_new(const char *ca_cert, char err[TLS_ERROR_SIZE]);

#endif
