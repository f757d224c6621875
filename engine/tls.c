/*
 * tls.c -- building the TLS client context (see tls.h).
 */
#include "tls.h"
#include "ca_store.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

SSL_CTX *tls_context_new(const char *ca_cert, char err[TLS_ERROR_SIZE])
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok;

	if (ctx == NULL) {
		snprintf(err, TLS_ERROR_SIZE, "cannot create TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_cert == NULL) {
		/* The bundle, read now: the sandboxed helper cannot open the hashed
		 * directory's files during the handshake (see ca_store.h). */
		if (ca_store_attach_bundle(ctx, X509_get_default_cert_file(),
					   X509_get_default_cert_dir()) == 0)
			return ctx;
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s",
			 X509_get_default_cert_file(), strerror(errno));
		SSL_CTX_free(ctx);
		return NULL;
	}
	ok = SSL_CTX_load_verify_file(ctx, ca_cert);
	if (!ok) {
		unsigned long e = ERR_peek_last_error();
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s", ca_cert,
			 e ? ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
