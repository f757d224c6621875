/*
 * tls.c -- building the TLS client context (see tls.h).
 */
#include "tls.h"
#include "ca_store.h"
#include "file_read.h"
#include "../protocol/binary_path.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TLS_CA_MAX (8 * 1024 * 1024)

int tls_trust_read(const char *ca_cert, struct tls_trust *trust, char err[TLS_ERROR_SIZE])
{
	int fd, saved;

	memset(trust, 0, sizeof(*trust));
	if (ca_cert == NULL) {
		/* The bundle, opened now: the sandboxed helper cannot open the hashed
		 * directory's files during the handshake (see ca_store.h). */
		trust->bundle =
		    ca_store_open(X509_get_default_cert_file(), X509_get_default_cert_dir());
		if (trust->bundle != NULL)
			return 0;
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s",
			 X509_get_default_cert_file(), strerror(errno));
		return -1;
	}
	/* The trust anchor: checked as the helper binary is (binary_path.h). */
	fd = trusted_file_open(ca_cert, err, TLS_ERROR_SIZE);
	if (fd < 0)
		return -1;
	trust->ca_cert = strdup(ca_cert);
	trust->pem = file_read_fd(fd, TLS_CA_MAX, &trust->pem_len);
	saved = errno;
	close(fd);
	if (trust->ca_cert == NULL || trust->pem == NULL) {
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s", ca_cert,
			 strerror(saved ? saved : ENOMEM));
		tls_trust_free(trust);
		return -1;
	}
	/* PEM, as OpenSSL will read it: the certificates are parsed later. */
	if (strstr(trust->pem, "-----BEGIN ") == NULL ||
	    strstr(trust->pem, "CERTIFICATE-----") == NULL) {
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s", ca_cert,
			 "no certificate or crl found");
		tls_trust_free(trust);
		return -1;
	}
	return 0;
}

void tls_trust_free(struct tls_trust *trust)
{
	free(trust->ca_cert);
	free(trust->pem);
	ca_store_close(trust->bundle);
	memset(trust, 0, sizeof(*trust));
}

/* Every certificate and CRL of the PEM text into ctx's store (what
 * SSL_CTX_load_verify_file does with a file); how many. */
static int tls_load_pem(SSL_CTX *ctx, const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509_INFO) *infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	int count = 0;

	for (int i = 0; infos != NULL && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *info = sk_X509_INFO_value(infos, i);

		if (info->x509 != NULL && X509_STORE_add_cert(store, info->x509))
			count++;
		if (info->crl != NULL && X509_STORE_add_crl(store, info->crl))
			count++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	return count;
}

SSL_CTX *tls_context_from(struct tls_trust *trust, char err[TLS_ERROR_SIZE])
{
	SSL_CTX *ctx;

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
	if (trust->ca_cert == NULL) {
		struct ca_bundle *bundle = trust->bundle;

		trust->bundle = NULL;
		if (ca_store_attach(ctx, bundle) == 0)
			return ctx;
		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s",
			 X509_get_default_cert_file(), strerror(errno));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (tls_load_pem(ctx, trust->pem, trust->pem_len) == 0) {
		unsigned long e = ERR_peek_last_error();
		const char *why = e ? ERR_reason_error_string(e) : NULL;

		snprintf(err, TLS_ERROR_SIZE, "failed to read CA certificate %s: %s",
			 trust->ca_cert, why ? why : "no valid PEM certificate in it");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	ERR_clear_error(); /* PEM reading ends at the end of the text */
	return ctx;
}

SSL_CTX *tls_context_new(const char *ca_cert, char err[TLS_ERROR_SIZE])
{
	struct tls_trust trust;
	SSL_CTX *ctx;

	if (tls_trust_read(ca_cert, &trust, err) != 0)
		return NULL;
	ctx = tls_context_from(&trust, err);
	tls_trust_free(&trust);
	return ctx;
}
