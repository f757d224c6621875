/*
 * ca_store.c -- the system's trusted CAs, read before the sandbox and parsed
 * on demand (see ca_store.h).
 */
#include "ca_store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_BUNDLE_MAX (8 * 1024 * 1024)

struct ca_entry {
	const unsigned char *der; /* the whole certificate */
	long der_len;
	const unsigned char *subject; /* its subject Name, tag and length included */
	long subject_len;
};

struct ca_bundle {
	char *pem;
	size_t pem_len;
	bool indexed;
	unsigned char *der; /* every certificate, decoded, one after another */
	struct ca_entry *entries;
	size_t count;
};

static int ca_lookup_by_subject(X509_LOOKUP *lookup, X509_LOOKUP_TYPE type, const X509_NAME *name,
				X509_OBJECT *ret);
static void ca_lookup_free(X509_LOOKUP *lookup);

static void ca_bundle_free(struct ca_bundle *bundle)
{
	if (bundle == NULL)
		return;
	free(bundle->pem);
	free(bundle->der);
	free(bundle->entries);
	free(bundle);
}

/* The subject of a DER certificate: Certificate ::= SEQUENCE { tbsCertificate
 * SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
 * subject, ... } ... }.  Walked with OpenSSL's TLV reader, nothing decoded. */
static bool ca_find_subject(struct ca_entry *entry)
{
	const unsigned char *p = entry->der, *end = entry->der + entry->der_len, *start;
	long len;
	int tag, xclass;

	for (int depth = 0; depth < 2; depth++) {
		if (ASN1_get_object(&p, &len, &tag, &xclass, end - p) != V_ASN1_CONSTRUCTED ||
		    tag != V_ASN1_SEQUENCE || xclass != V_ASN1_UNIVERSAL)
			return false;
		end = p + len;
	}
	for (int field = 0; field < 5; field++) {
		start = p;
		if (ASN1_get_object(&p, &len, &tag, &xclass, end - p) & 0x80 || len > end - p)
			return false;
		if (field == 0 && !(xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 0))
			field++; /* no version: this was the serial number */
		p += len;
	}
	start = p;
	if (ASN1_get_object(&p, &len, &tag, &xclass, end - p) != V_ASN1_CONSTRUCTED ||
	    tag != V_ASN1_SEQUENCE || len > end - p)
		return false;
	entry->subject = start;
	entry->subject_len = (long)(p - start) + len;
	return true;
}

/* Decodes every CERTIFICATE block once; what does not parse is skipped. */
static int ca_bundle_index(struct ca_bundle *bundle)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end_marker[] = "-----END CERTIFICATE-----";
	const char *p = bundle->pem, *limit = bundle->pem + bundle->pem_len;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	size_t capacity = 0, used = 0;

	bundle->indexed = true;
	bundle->der = malloc(bundle->pem_len / 4 * 3 + 3);
	if (ctx == NULL || bundle->der == NULL) {
		EVP_ENCODE_CTX_free(ctx);
		return -1;
	}
	while ((p = memmem(p, (size_t)(limit - p), begin, sizeof(begin) - 1)) != NULL) {
		const char *body = p + sizeof(begin) - 1, *stop;
		struct ca_entry entry;
		int out = 0, last = 0;

		stop = memmem(body, (size_t)(limit - body), end_marker, sizeof(end_marker) - 1);
		if (stop == NULL)
			break;
		p = stop + sizeof(end_marker) - 1;
		EVP_DecodeInit(ctx);
		if (EVP_DecodeUpdate(ctx, bundle->der + used, &out, (const unsigned char *)body,
				     (int)(stop - body)) < 0 ||
		    EVP_DecodeFinal(ctx, bundle->der + used + out, &last) != 1)
			continue;
		entry.der = bundle->der + used;
		entry.der_len = out + last;
		if (!ca_find_subject(&entry))
			continue;
		if (bundle->count == capacity) {
			size_t more = capacity ? capacity * 2 : 256;
			struct ca_entry *grown = realloc(bundle->entries, more * sizeof(*grown));
			if (grown == NULL)
				break;
			bundle->entries = grown;
			capacity = more;
		}
		bundle->entries[bundle->count++] = entry;
		used += (size_t)entry.der_len;
	}
	EVP_ENCODE_CTX_free(ctx);
	return 0;
}

/*
 * OpenSSL asks for the certificates whose subject is name (an issuer it is
 * looking for).  Names are matched by their exact DER bytes, as Go's verifier
 * does; an issuer whose name was re-encoded differently is not found, and the
 * chain fails to verify (closed).  Matches go into the store, which OpenSSL
 * consults first next time.
 */
static int ca_lookup_by_subject(X509_LOOKUP *lookup, X509_LOOKUP_TYPE type, const X509_NAME *name,
				X509_OBJECT *ret)
{
	struct ca_bundle *bundle = X509_LOOKUP_get_method_data(lookup);
	const unsigned char *name_der;
	size_t name_len;
	int found = 0;

	if (type != X509_LU_X509 || bundle == NULL || name == NULL ||
	    X509_NAME_get0_der(name, &name_der, &name_len) != 1)
		return 0;
	if (!bundle->indexed && ca_bundle_index(bundle) != 0)
		return 0;
	for (size_t i = 0; i < bundle->count; i++) {
		const struct ca_entry *entry = &bundle->entries[i];
		const unsigned char *p = entry->der;
		X509 *cert;

		if ((size_t)entry->subject_len != name_len ||
		    memcmp(entry->subject, name_der, name_len) != 0)
			continue;
		cert = d2i_X509(NULL, &p, entry->der_len);
		if (cert == NULL)
			continue;
		if (X509_STORE_add_cert(X509_LOOKUP_get_store(lookup), cert) == 1 && !found)
			found = X509_OBJECT_set1_X509(ret, cert);
		X509_free(cert);
	}
	return found;
}

static void ca_lookup_free(X509_LOOKUP *lookup)
{
	ca_bundle_free(X509_LOOKUP_get_method_data(lookup));
	X509_LOOKUP_set_method_data(lookup, NULL);
}

static char *ca_read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t have = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > CA_BUNDLE_MAX) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto fail;
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shrank while we read: take what is there */
		have += (size_t)n;
	}
	buf[have] = '\0';
	close(fd);
	*len = have;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int ca_store_attach_bundle(SSL_CTX *ctx, const char *path)
{
	static X509_LOOKUP_METHOD *method; /* one per process, never freed */
	struct ca_bundle *bundle = calloc(1, sizeof(*bundle));
	X509_LOOKUP *lookup;

	if (bundle == NULL)
		return -1;
	bundle->pem = ca_read_file(path, &bundle->pem_len);
	if (bundle->pem == NULL) {
		int saved = errno;
		ca_bundle_free(bundle);
		errno = saved;
		return -1;
	}
	if (method == NULL) {
		method = X509_LOOKUP_meth_new("pam_authelia in-memory bundle");
		if (method == NULL || !X509_LOOKUP_meth_set_get_by_subject(method,
									   ca_lookup_by_subject) ||
		    !X509_LOOKUP_meth_set_free(method, ca_lookup_free)) {
			X509_LOOKUP_meth_free(method);
			method = NULL;
		}
	}
	lookup = method ? X509_STORE_add_lookup(SSL_CTX_get_cert_store(ctx), method) : NULL;
	if (lookup == NULL || !X509_LOOKUP_set_method_data(lookup, bundle)) {
		ca_bundle_free(bundle);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
