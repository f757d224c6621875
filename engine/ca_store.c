/*
 * ca_store.c -- the system's trusted CAs, opened before the sandbox and read
 * on demand (see ca_store.h).
 */
#include "ca_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_BUNDLE_MAX (64 * 1024 * 1024)
/* The bundle is read through a window this large, moved along as needed
 * (a fresh 220 KB buffer costs more in page faults than reading it). */
#define CA_WINDOW 16384
/* A PEM block longer than this is not a certificate anyone uses. */
#define CA_BLOCK_MAX 65536
/* Base64 characters decoded per certificate to find its subject: 384 bytes,
 * past the subject of 9 in 10 roots in Mozilla's list (all end before 512);
 * the others are decoded whole, as is the certificate a chain needs. */
#define CA_PREFIX_CHARS 512

static const char ca_begin[] = "-----BEGIN CERTIFICATE-----";
static const char ca_end[] = "-----END CERTIFICATE-----";

struct ca_entry {
	off_t body; /* its base64 text in the file */
	size_t body_len;
	size_t subject; /* offset of its subject Name's DER in subjects */
	size_t subject_len;
};

struct ca_bundle {
	int fd;
	off_t size;
	off_t cursor;	/* where indexing goes on */
	bool done;	/* every block indexed */
	bool malformed; /* a block did not parse (OpenSSL queued why) */
	char *window;
	size_t window_cap, window_len;
	off_t window_off;
	unsigned char *subjects; /* the indexed certificates' subjects, one after another */
	size_t subjects_len, subjects_cap;
	struct ca_entry *entries;
	size_t count, capacity;
	/* Subject hashes in the hashed directory ("HASH.N" names), sorted, and
	 * how many files each has; none when it could not be read. */
	struct ca_hash {
		uint32_t hash;
		unsigned files;
	} * hashes;
	size_t hash_count;
};

static int ca_lookup_by_subject(X509_LOOKUP *lookup, X509_LOOKUP_TYPE type, const X509_NAME *name,
				X509_OBJECT *ret);
static void ca_lookup_free(X509_LOOKUP *lookup);

static void ca_bundle_free(struct ca_bundle *bundle)
{
	if (bundle == NULL)
		return;
	if (bundle->fd >= 0)
		close(bundle->fd);
	free(bundle->window);
	free(bundle->subjects);
	free(bundle->entries);
	free(bundle->hashes);
	free(bundle);
}

/* Makes [off, off + want) of the file readable at the returned pointer, as
 * far as the file goes (*avail says how far); NULL on a read error. */
static const char *ca_window(struct ca_bundle *bundle, off_t off, size_t want, size_t *avail)
{
	size_t have = 0;

	if (want > CA_BLOCK_MAX)
		want = CA_BLOCK_MAX;
	if (off >= bundle->window_off &&
	    off + (off_t)want <= bundle->window_off + (off_t)bundle->window_len) {
		*avail = (size_t)(bundle->window_off + (off_t)bundle->window_len - off);
		return bundle->window + (off - bundle->window_off);
	}
	if (want > bundle->window_cap) {
		char *grown = realloc(bundle->window, want);
		if (grown == NULL)
			return NULL;
		bundle->window = grown;
		bundle->window_cap = want;
	}
	while (have < bundle->window_cap) {
		ssize_t n = pread(bundle->fd, bundle->window + have, bundle->window_cap - have,
				  off + (off_t)have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		if (n == 0)
			break;
		have += (size_t)n;
	}
	bundle->window_off = off;
	bundle->window_len = have;
	*avail = have;
	return bundle->window;
}

static bool ca_is_space(char c)
{
	return c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

/* Copies up to max base64 characters of [p, stop), whitespace left out: a
 * line at a time (PEM lines are 64 characters). */
static size_t ca_base64_take(const char *p, const char *stop, unsigned char *out, size_t max)
{
	size_t n = 0;

	while (p < stop && n < max) {
		const char *eol = memchr(p, '\n', (size_t)(stop - p));
		size_t len = (size_t)((eol ? eol : stop) - p);

		while (len > 0 && ca_is_space(p[len - 1]))
			len--; /* \r\n, trailing blanks */
		while (len > 0 && ca_is_space(*p)) {
			p++;
			len--;
		}
		if (len > max - n)
			len = max - n;
		memcpy(out + n, p, len);
		n += len;
		p = eol ? eol + 1 : stop;
	}
	return n;
}

/* Decodes n base64 characters (a multiple of 4) with OpenSSL; the length
 * excludes padding, or -1. */
static long ca_base64_decode(const unsigned char *b64, size_t n, unsigned char *der)
{
	int len = n % 4 == 0 && n <= INT_MAX ? EVP_DecodeBlock(der, b64, (int)n) : -1;

	if (len < 0)
		return -1;
	for (size_t i = n; i > 0 && b64[i - 1] == '=' && len > 0; i--)
		len--;
	return len;
}

/* A block's certificate, decoded (free it); NULL when it does not decode. */
static unsigned char *ca_decode(const char *body, size_t body_len, long *der_len)
{
	unsigned char *b64 = malloc(body_len + 1), *der = malloc(body_len / 4 * 3 + 3);
	size_t n = b64 && der ? ca_base64_take(body, body + body_len, b64, body_len) : 0;

	*der_len = n ? ca_base64_decode(b64, n, der) : -1;
	free(b64);
	if (*der_len <= 0) {
		free(der);
		return NULL;
	}
	return der;
}

/*
 * Finds the subject of a DER certificate of which only the first avail bytes
 * may be there: Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0]
 * version OPTIONAL, serialNumber, signature, issuer, validity, subject, ... }
 * ... }.  Walked with OpenSSL's TLV reader.  1: found; 0: not a certificate;
 * -1: the subject lies beyond avail.
 */
static int ca_find_subject(const unsigned char *der, long avail, bool whole,
			   const unsigned char **subject, long *subject_len)
{
	const unsigned char *p = der, *end = der + avail, *start;
	long len;
	int tag, xclass;

	if (avail < 16)
		return whole ? 0 : -1;
	/* Lengths are checked here, not by the reader (which would queue an
	 * error for every field that runs past what is decoded so far). */
	for (int depth = 0; depth < 2; depth++) {
		if (ASN1_get_object(&p, &len, &tag, &xclass, LONG_MAX / 2) != V_ASN1_CONSTRUCTED ||
		    tag != V_ASN1_SEQUENCE || xclass != V_ASN1_UNIVERSAL)
			return 0;
		if (len <= end - p)
			end = p + len;
		else if (whole)
			return 0;
	}
	for (int field = 0; field < 6; field++) {
		start = p;
		if (end - p < 8)
			return whole && end - p < 2 ? 0 : -1; /* a header needs up to 6 bytes */
		if (ASN1_get_object(&p, &len, &tag, &xclass, LONG_MAX / 2) & 0x80)
			return 0;
		if (len > end - p)
			return whole ? 0 : -1;
		if (field == 0 && !(xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 0))
			field++; /* no version: this was the serial number */
		p += len;
	}
	if (tag != V_ASN1_SEQUENCE)
		return 0;
	*subject = start;
	*subject_len = (long)(p - start);
	return 1;
}

static int ca_bundle_add(struct ca_bundle *bundle, const struct ca_entry *entry,
			 const unsigned char *subject, size_t len)
{
	if (bundle->count == bundle->capacity) {
		size_t more = bundle->capacity ? bundle->capacity * 2 : 256;
		struct ca_entry *grown = realloc(bundle->entries, more * sizeof(*grown));
		if (grown == NULL)
			return -1;
		bundle->entries = grown;
		bundle->capacity = more;
	}
	if (bundle->subjects_len + len > bundle->subjects_cap) {
		size_t more = (bundle->subjects_cap + len) * 2;
		unsigned char *grown = realloc(bundle->subjects, more);
		if (grown == NULL)
			return -1;
		bundle->subjects = grown;
		bundle->subjects_cap = more;
	}
	bundle->entries[bundle->count] = *entry;
	bundle->entries[bundle->count].subject = bundle->subjects_len;
	bundle->entries[bundle->count++].subject_len = len;
	memcpy(bundle->subjects + bundle->subjects_len, subject, len);
	bundle->subjects_len += len;
	return 0;
}

/* Indexes one block's subject: from the first 384 bytes decoded, or all of
 * it when the subject lies further on. */
static void ca_index_block(struct ca_bundle *bundle, const char *body, size_t body_len,
			   off_t body_off)
{
	unsigned char b64[CA_PREFIX_CHARS], der[CA_PREFIX_CHARS / 4 * 3], *whole = NULL;
	const unsigned char *subject = NULL;
	struct ca_entry entry = {.body = body_off, .body_len = body_len};
	long der_len, subject_len = 0;
	size_t n = ca_base64_take(body, body + body_len, b64, sizeof(b64));
	int found;

	der_len = ca_base64_decode(b64, n, der);
	found = der_len < 0
		    ? 0
		    : ca_find_subject(der, der_len, n < sizeof(b64), &subject, &subject_len);
	if (found < 0) {
		whole = ca_decode(body, body_len, &der_len);
		found = whole ? ca_find_subject(whole, der_len, true, &subject, &subject_len) : 0;
	}
	if (found == 0)
		bundle->malformed = true;
	else if (ca_bundle_add(bundle, &entry, subject, (size_t)subject_len) != 0)
		bundle->done = true; /* out of memory: what is indexed stays usable */
	free(whole);
}

/* Indexes the next CERTIFICATE block of the file; false at the end. */
static bool ca_bundle_index_next(struct ca_bundle *bundle)
{
	size_t want = CA_WINDOW, avail, count = bundle->count;

	while (!bundle->done && bundle->count == count) {
		const char *text = ca_window(bundle, bundle->cursor, want, &avail), *begin, *stop;
		bool at_eof = bundle->cursor + (off_t)avail >= bundle->size;

		begin = text ? memmem(text, avail, ca_begin, sizeof(ca_begin) - 1) : NULL;
		if (begin == NULL) {
			if (text == NULL || at_eof || avail < sizeof(ca_begin))
				bundle->done = true;
			else /* a marker may straddle the window's end */
				bundle->cursor += (off_t)(avail - (sizeof(ca_begin) - 1));
			continue;
		}
		bundle->cursor += begin - text;
		begin += sizeof(ca_begin) - 1;
		stop = memmem(begin, avail - (size_t)(begin - text), ca_end, sizeof(ca_end) - 1);
		if (stop == NULL && !at_eof) {
			if (begin - (sizeof(ca_begin) - 1) != text)
				continue; /* read on from the marker */
			if (want < CA_BLOCK_MAX) {
				want *= 2; /* a long block: a wider window */
				continue;
			}
		}
		if (stop == NULL) { /* cut off, or absurdly long: skip its marker */
			bundle->cursor += sizeof(ca_begin) - 1;
			want = CA_WINDOW;
			continue;
		}
		ca_index_block(bundle, begin, (size_t)(stop - begin),
			       bundle->cursor + (off_t)(sizeof(ca_begin) - 1));
		bundle->cursor += (stop - begin) + sizeof(ca_begin) - 1 + sizeof(ca_end) - 1;
	}
	if (bundle->done && bundle->malformed) {
		ERR_clear_error(); /* what OpenSSL's TLV reader queued */
		bundle->malformed = false;
	}
	return bundle->count > count;
}

static int ca_hash_compare(const void *a, const void *b)
{
	uint32_t x = ((const struct ca_hash *)a)->hash, y = ((const struct ca_hash *)b)->hash;
	return (x > y) - (x < y);
}

/* The subject hashes of the hashed directory (names "0123abcd.N"), listed
 * with the bundle: a lookup for a name that is not there costs nothing. */
static void ca_read_hashes(struct ca_bundle *bundle, const char *dir)
{
	char buf[8192];
	size_t capacity = 0, kept = 0;
	ssize_t n;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf + off);
			const char *name = e->d_name;

			off += e->d_reclen;
			if (strlen(name) < 10 || name[8] != '.' ||
			    strspn(name, "0123456789abcdef") != 8 ||
			    strspn(name + 9, "0123456789") != strlen(name + 9))
				continue;
			if (bundle->hash_count == capacity) {
				size_t more = capacity ? capacity * 2 : 256;
				struct ca_hash *grown =
				    realloc(bundle->hashes, more * sizeof(*grown));
				if (grown == NULL)
					break;
				bundle->hashes = grown;
				capacity = more;
			}
			bundle->hashes[bundle->hash_count++] =
			    (struct ca_hash){(uint32_t)strtoul(name, NULL, 16), 1};
		}
	}
	close(fd);
	if (bundle->hash_count == 0)
		return;
	qsort(bundle->hashes, bundle->hash_count, sizeof(*bundle->hashes), ca_hash_compare);
	for (size_t i = 1; i < bundle->hash_count; i++) {
		if (bundle->hashes[i].hash == bundle->hashes[kept].hash)
			bundle->hashes[kept].files++;
		else
			bundle->hashes[++kept] = bundle->hashes[i];
	}
	bundle->hash_count = kept + 1;
}

/* How many certificates with this subject the hashed directory holds; -1
 * when there is no directory to ask. */
static int ca_expected(const struct ca_bundle *bundle, const X509_NAME *name)
{
	struct ca_hash key, *hit;
	int ok = 0;

	if (bundle->hash_count == 0)
		return -1;
	key.hash = (uint32_t)X509_NAME_hash_ex(name, NULL, NULL, &ok);
	if (!ok)
		return -1;
	hit = bsearch(&key, bundle->hashes, bundle->hash_count, sizeof(key), ca_hash_compare);
	return hit ? (int)hit->files : 0;
}

/* Parses an indexed certificate into the store; 1 when it is there now. */
static int ca_add_entry(struct ca_bundle *bundle, X509_STORE *store, const struct ca_entry *entry)
{
	size_t avail;
	const char *body = ca_window(bundle, entry->body, entry->body_len, &avail);
	long der_len;
	unsigned char *der =
	    body && avail >= entry->body_len ? ca_decode(body, entry->body_len, &der_len) : NULL;
	const unsigned char *p = der;
	X509 *cert = der ? d2i_X509(NULL, &p, der_len) : NULL;
	int added = cert != NULL && X509_STORE_add_cert(store, cert) == 1;

	X509_free(cert);
	free(der);
	return added;
}

/*
 * OpenSSL asks for the certificates whose subject is name (an issuer it is
 * looking for).  A name the hashed directory does not have is answered at
 * once; otherwise the bundle is indexed as far as needed.  Names are matched
 * by their exact DER bytes, as Go's verifier does: an issuer whose name was
 * re-encoded differently is not found, and the chain fails to verify
 * (closed).  Matches go into the store, which OpenSSL consults first next
 * time.  ret gets a pointer the store owns, without a reference of its own:
 * X509_STORE_CTX_get_by_subject() takes one for its caller and never releases
 * ret's (OpenSSL's own hashed-directory lookup does the same).
 */
static int ca_lookup_by_subject(X509_LOOKUP *lookup, X509_LOOKUP_TYPE type, const X509_NAME *name,
				X509_OBJECT *ret)
{
	struct ca_bundle *bundle = X509_LOOKUP_get_method_data(lookup);
	X509_STORE *store = X509_LOOKUP_get_store(lookup);
	const unsigned char *name_der;
	size_t name_len, i = 0;
	int found = 0, expected, idx;

	if (type != X509_LU_X509 || bundle == NULL || name == NULL ||
	    X509_NAME_get0_der(name, &name_der, &name_len) != 1)
		return 0;
	/* Not in the hashed directory: OpenSSL would not have found it either. */
	expected = ca_expected(bundle, name);
	if (expected == 0)
		return 0;
	/* What is indexed, then on through the bundle until every certificate
	 * the directory counts for this name is found (all of it without one). */
	for (;;) {
		const struct ca_entry *entry;

		if (i == bundle->count &&
		    ((expected > 0 && found >= expected) || !ca_bundle_index_next(bundle)))
			break;
		entry = &bundle->entries[i++];
		if (entry->subject_len == name_len &&
		    memcmp(bundle->subjects + entry->subject, name_der, name_len) == 0)
			found += ca_add_entry(bundle, store, entry);
	}
	if (!found || !X509_STORE_lock(store))
		return 0;
	idx = X509_OBJECT_idx_by_subject(X509_STORE_get0_objects(store), X509_LU_X509, name);
	found = 0;
	if (idx >= 0) {
		X509 *stored = X509_OBJECT_get0_X509(
		    sk_X509_OBJECT_value(X509_STORE_get0_objects(store), idx));
		if (stored != NULL && X509_OBJECT_set1_X509(ret, stored) == 1) {
			X509_free(stored); /* borrowed: the store keeps its reference */
			found = 1;
		}
	}
	X509_STORE_unlock(store);
	return found;
}

static void ca_lookup_free(X509_LOOKUP *lookup)
{
	ca_bundle_free(X509_LOOKUP_get_method_data(lookup));
	X509_LOOKUP_set_method_data(lookup, NULL);
}

struct ca_bundle *ca_store_open(const char *path, const char *hash_dir)
{
	struct ca_bundle *bundle = calloc(1, sizeof(*bundle));
	struct stat st;
	int saved;

	if (bundle == NULL)
		return NULL;
	bundle->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (bundle->fd < 0 || fstat(bundle->fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > CA_BUNDLE_MAX) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto fail;
	}
	bundle->size = st.st_size;
	if (hash_dir != NULL)
		ca_read_hashes(bundle, hash_dir);
	return bundle;
fail:
	saved = errno;
	ca_bundle_free(bundle);
	errno = saved;
	return NULL;
}

void ca_store_close(struct ca_bundle *bundle)
{
	if (bundle != NULL)
		ca_bundle_free(bundle);
}

int ca_store_attach(SSL_CTX *ctx, struct ca_bundle *bundle)
{
	static X509_LOOKUP_METHOD *method; /* one per process, never freed */
	X509_LOOKUP *lookup;

	if (method == NULL) {
		method = X509_LOOKUP_meth_new("pam_authelia bundle");
		if (method == NULL ||
		    !X509_LOOKUP_meth_set_get_by_subject(method, ca_lookup_by_subject) ||
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

int ca_store_attach_bundle(SSL_CTX *ctx, const char *path, const char *hash_dir)
{
	struct ca_bundle *bundle = ca_store_open(path, hash_dir);

	return bundle != NULL ? ca_store_attach(ctx, bundle) : -1;
}
