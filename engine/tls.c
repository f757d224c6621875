/*
 * tls.c -- building the TLS client context (see tls.h).
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>

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
	if (ca_cert != NULL)
		ok = SSL_CTX_load_verify_file(ctx, ca_cert);
	else
		ok = SSL_CTX_load_verify_dir(ctx, X509_get_default_cert_dir());
	if (!ok) {
		unsigned long e = ERR_peek_last_error();
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s",
			 ca_cert ? ca_cert : X509_get_default_cert_dir(),
			 e ? ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
