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
	SSL_CTX *ctx;
	int ok;

	/* The first OpenSSL set-up of the process, so these take effect: no
	 * openssl.cnf (its policy is set here instead, below); no clean-up at
	 * exit (the process is gone a moment later; the SSL objects that held
	 * keys were freed, and wiped, before); and libcrypto's error texts only
	 * when needed (a failure): libssl's, which TLS failures name, stay. */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT |
			     OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
			 NULL);
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, TLS_ERROR_SIZE, "cannot create TLS context");
		return NULL;
	}
	/* What Debian's openssl.cnf would have set: TLS 1.2 or later, security
	 * level 2 (112-bit keys, no SHA-1 signatures). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_security_level(ctx, 2);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_cert != NULL)
		ok = SSL_CTX_load_verify_file(ctx, ca_cert);
	else
		ok = SSL_CTX_load_verify_dir(ctx, X509_get_default_cert_dir());
	if (!ok) {
		unsigned long e = ERR_peek_last_error();
		const char *why = e ? ERR_reason_error_string(e) : NULL;

		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s",
			 ca_cert ? ca_cert : X509_get_default_cert_dir(),
			 why ? why : "no valid PEM certificate in it");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
