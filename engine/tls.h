/*
 * tls.h -- the helper's TLS client context: TLS 1.2 or later, security level
 * 2, peer verification always on, trust from `ca-cert` or the system store's
 * bundle (each certificate parsed only when a chain needs it: see
 * ca_store.h).  OpenSSL is set up without openssl.cnf: the helper's TLS policy
 * is its own, the same on every host.
 *
 * A login builds it in two steps: the files are read as root before the
 * sandbox and before the first prompt (tls_trust_read: cheap), and OpenSSL's
 * set-up and the parsing come after the prompt, sandboxed (tls_context_from).
 */
#ifndef PAM_AUTHELIA_TLS_H
#define PAM_AUTHELIA_TLS_H

#include <openssl/ssl.h>

#define TLS_ERROR_SIZE 768

/* What verifying needs from the filesystem. */
struct tls_trust {
	char *ca_cert; /* ca-cert's path (messages); NULL: the system store */
	char *pem;     /* ca-cert's contents */
	size_t pem_len;
	struct ca_bundle *bundle; /* the system store (ca_store.h) */
};

/* Reads ca_cert (NULL: opens the system store) into trust.  0, or -1 with err
 * starting "failed to read CA certificate" (a file that cannot be read, is not
 * safe as binary_path.h's trusted_file_open says, or holds no PEM
 * certificate). */
int tls_trust_read(const char *ca_cert, struct tls_trust *trust, char err[TLS_ERROR_SIZE]);
/* The context, from trust alone (no file is opened); the system store passes
 * to it.  NULL with err on failure. */
SSL_CTX *tls_context_from(struct tls_trust *trust, char err[TLS_ERROR_SIZE]);
void tls_trust_free(struct tls_trust *trust);

/* Both steps at once (pam_authelia --check, tests). */
SSL_CTX *tls_context_new(const char *ca_cert, char err[TLS_ERROR_SIZE]);

#endif
