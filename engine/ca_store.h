/*
 * ca_store.h -- the system's trusted CAs for a helper that can no longer open
 * files.  OpenSSL's hashed-directory lookup opens /etc/ssl/certs/HASH.0 while
 * it verifies a chain, which the sandbox forbids; parsing the whole bundle up
 * front costs ~25 ms per login (OpenSSL 3 decodes ~150 certificates).  So the
 * bundle file is read into memory before the sandbox (one read), and a lookup
 * method finds an issuer in it when OpenSSL asks: the certificates' subjects
 * are located once (base64 and DER walking, ~0.25 ms), and only a certificate
 * whose subject matches is parsed, as the hashed directory did.
 */
#ifndef PAM_AUTHELIA_CA_STORE_H
#define PAM_AUTHELIA_CA_STORE_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Reads the PEM bundle at path into ctx's store as a lazy lookup.  0, or -1
 * with errno set (ENOMEM, EFBIG above 8 MiB, or open/read errors). */
int ca_store_attach_bundle(SSL_CTX *ctx, const char *path);

#endif
