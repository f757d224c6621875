/*
 * ca_store.h -- the system's trusted CAs for a helper that can no longer open
 * files.  OpenSSL's hashed-directory lookup opens /etc/ssl/certs/HASH.0 while
 * it verifies a chain, which the sandbox forbids; parsing the whole bundle up
 * front costs ~25 ms per login (OpenSSL 3 decodes ~150 certificates).  So,
 * before the sandbox, the bundle is read into memory (one read) and the
 * hashed directory's names are listed (no file opened); when OpenSSL asks for
 * an issuer, a name the directory does not have is refused at once, and
 * otherwise the bundle's certificates are located one after another (a few
 * hundred base64 characters each) until the issuer is found, and only that
 * one is parsed, as the hashed directory did.  Trust is what both say: the
 * certificates update-ca-certificates put into the bundle and the directory.
 */
#ifndef PAM_AUTHELIA_CA_STORE_H
#define PAM_AUTHELIA_CA_STORE_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Reads the PEM bundle at path, and the names in hash_dir (NULL: none, every
 * lookup searches the whole bundle), into ctx's store as a lazy lookup.  0,
 * or -1 with errno set (ENOMEM, EFBIG above 8 MiB, or open/read errors). */
int ca_store_attach_bundle(SSL_CTX *ctx, const char *path, const char *hash_dir);

/* The same in two steps, for a helper that builds its TLS context after the
 * sandbox: ca_store_open opens the bundle and lists the directory (files:
 * before the sandbox; NULL with errno set), ca_store_attach gives it to ctx's
 * store (no file opened; the bundle is ctx's from then on, also on failure). */
struct ca_bundle;
struct ca_bundle *ca_store_open(const char *path, const char *hash_dir);
int ca_store_attach(SSL_CTX *ctx, struct ca_bundle *bundle);
void ca_store_close(struct ca_bundle *bundle);

#endif
