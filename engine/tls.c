/*
 * tls.c -- building the TLS client context (see tls.h).
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TLS_CA_PEEK (64 * 1024)

int tls_ca_readable(const char *ca_cert, char err[TLS_ERROR_SIZE])
{
	static char head[TLS_CA_PEEK + 1];
	ssize_t n, got = 0;
	int fd;

	if (ca_cert == NULL)
		return 0;
	fd = open(ca_cert, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s", ca_cert,
			 strerror(errno));
		return -1;
	}
	while (got < TLS_CA_PEEK && (n = read(fd, head + got, (size_t)(TLS_CA_PEEK - got))) > 0)
		got += n;
	close(fd);
	head[got] = '\0';
	/* PEM, as SSL_CTX_load_verify_file reads it; the certificates themselves
	 * are parsed after the first prompt. */
	if (strstr(head, "-----BEGIN ") == NULL || strstr(head, "CERTIFICATE-----") == NULL) {
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s", ca_cert,
			 got < 0 ? strerror(errno) : "no certificate or crl found");
		return -1;
	}
	return 0;
}

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
