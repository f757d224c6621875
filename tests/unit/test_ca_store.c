/*
 * test_ca_store.c -- the in-memory system store (engine/ca_store.c): a bundle
 * with broken blocks, v1 and v3 certificates and one whose subject lies past
 * the first 384 bytes is read once, issuers are found by subject when OpenSSL
 * asks (no file is opened then), the hashed directory's names decide what
 * exists, a chain verifies against it, and unknown names, missing files and
 * directories fail.
 */
#include "unit.h"

#include "../../engine/ca_store.h"

#include <errno.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

static EVP_PKEY *root_key;
static X509 *root_a, *root_b, *root_v1, *root_long, *leaf;
static char bundle[] = "/tmp/test_ca_store-XXXXXX";
static char hash_dir[] = "/tmp/test_ca_store-dir-XXXXXX";
static char hash_file[sizeof(hash_dir) + 16];

static X509 *make_cert(const char *cn, long version, EVP_PKEY *key, X509 *issuer,
		       EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pam_authelia",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	/* A long name puts the subject (after an issuer as long) far into the
	 * certificate. */
	for (int i = 0; strcmp(cn, "Unit Root Long") == 0 && i < 8; i++)
		X509_NAME_add_entry_by_txt(
		    name, "OU", MBSTRING_ASC,
		    (const unsigned char *)"a long organisational unit name, to fill the name up",
		    -1, -1, 0);
	X509_set_version(x, version);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff));
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	if (issuer == NULL) {
		X509_EXTENSION *ext =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
	X509_NAME_free(name);
	return x;
}

static int setup(void **state)
{
	EVP_PKEY *leaf_key = EVP_EC_gen("P-256");
	FILE *f;
	int fd = mkstemp(bundle);

	(void)state;
	root_key = EVP_EC_gen("P-256");
	root_a = make_cert("Unit Root A", X509_VERSION_3, root_key, NULL, NULL);
	root_b = make_cert("Unit Root B", X509_VERSION_3, root_key, NULL, NULL);
	root_v1 = make_cert("Unit Root V1", X509_VERSION_1, root_key, NULL, NULL);
	root_long = make_cert("Unit Root Long", X509_VERSION_3, root_key, NULL, NULL);
	leaf = make_cert("leaf.example", X509_VERSION_3, leaf_key, root_a, root_key);
	EVP_PKEY_free(leaf_key);
	f = fdopen(fd, "w");
	fputs("# a comment, then a block that is not base64\n-----BEGIN CERTIFICATE-----\n"
	      "not*base64*at*all\n-----END CERTIFICATE-----\n",
	      f);
	PEM_write_X509(f, root_b);
	fputs("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n", f);
	PEM_write_X509(f, root_v1);
	PEM_write_X509(f, root_long);
	PEM_write_X509(f, root_a);
	fclose(f);
	/* A hashed directory that has root A only. */
	assert_non_null(mkdtemp(hash_dir));
	snprintf(hash_file, sizeof(hash_file), "%s/%08lx.0", hash_dir,
		 X509_NAME_hash_ex(X509_get_subject_name(root_a), NULL, NULL, NULL));
	fclose(fopen(hash_file, "w"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(bundle);
	unlink(hash_file);
	rmdir(hash_dir);
	X509_free(root_long);
	X509_free(root_a);
	X509_free(root_b);
	X509_free(root_v1);
	X509_free(leaf);
	EVP_PKEY_free(root_key);
	return 0;
}

/* The certificate the store finds for name, or NULL. */
static X509 *lookup(SSL_CTX *ctx, const X509_NAME *name)
{
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	X509_OBJECT *obj;
	X509 *found = NULL;

	X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(ctx), NULL, NULL);
	obj = X509_STORE_CTX_get_obj_by_subject(sctx, X509_LU_X509, name);
	if (obj != NULL) {
		found = X509_OBJECT_get0_X509(obj);
		X509_up_ref(found);
		X509_OBJECT_free(obj);
	}
	X509_STORE_CTX_free(sctx);
	return found;
}

static void test_issuers_are_found_by_subject(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	X509 *a, *b, *v1, *l;

	(void)state;
	assert_int_equal(ca_store_attach_bundle(ctx, bundle, NULL), 0);
	a = lookup(ctx, X509_get_subject_name(root_a));
	b = lookup(ctx, X509_get_subject_name(root_b));
	v1 = lookup(ctx, X509_get_subject_name(root_v1)); /* no version field */
	l = lookup(ctx, X509_get_subject_name(root_long));
	assert_true(i2d_X509_NAME(X509_get_subject_name(root_long), NULL) > 384);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(v1);
	assert_non_null(l);
	assert_int_equal(X509_cmp(l, root_long), 0);
	X509_free(l);
	assert_int_equal(X509_cmp(a, root_a), 0);
	assert_int_equal(X509_cmp(b, root_b), 0);
	assert_int_equal(X509_cmp(v1, root_v1), 0);
	/* Found again from the store's cache. */
	X509_free(a);
	a = lookup(ctx, X509_get_subject_name(root_a));
	assert_int_equal(X509_cmp(a, root_a), 0);
	assert_null(lookup(ctx, X509_get_subject_name(leaf)));
	X509_free(a);
	X509_free(b);
	X509_free(v1);
	SSL_CTX_free(ctx);
}

/* The bundle is read through a 16 KiB window: certificates across its edge,
 * a 40 KiB block that is no certificate, and a block cut off at the end. */
static void test_blocks_across_the_read_window(void **state)
{
	char path[] = "/tmp/test_ca_store-window-XXXXXX";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	FILE *f = fdopen(mkstemp(path), "w");
	X509 *a, *b;

	(void)state;
	for (int i = 0; i < 16000 / 50; i++)
		fputs("# padding padding padding padding padding padding\n", f);
	PEM_write_X509(f, root_a); /* across offset 16384 */
	fputs("-----BEGIN CERTIFICATE-----\n", f);
	for (int i = 0; i < 40000 / 65; i++)
		fputs("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n", f);
	fputs("-----END CERTIFICATE-----\n", f);
	PEM_write_X509(f, root_b);
	fputs("-----BEGIN CERTIFICATE-----\nMIIB\n", f);
	fclose(f);
	assert_int_equal(ca_store_attach_bundle(ctx, path, NULL), 0);
	b = lookup(ctx, X509_get_subject_name(root_b));
	a = lookup(ctx, X509_get_subject_name(root_a)); /* indexed already: read back */
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(X509_cmp(a, root_a), 0);
	assert_int_equal(X509_cmp(b, root_b), 0);
	assert_null(lookup(ctx, X509_get_subject_name(root_v1)));
	X509_free(a);
	X509_free(b);
	SSL_CTX_free(ctx);
	unlink(path);
}

static void test_the_hashed_directory_decides_what_exists(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	X509 *a;

	(void)state;
	assert_int_equal(ca_store_attach_bundle(ctx, bundle, hash_dir), 0);
	assert_null(lookup(ctx, X509_get_subject_name(root_b))); /* in the bundle only */
	a = lookup(ctx, X509_get_subject_name(root_a));
	assert_non_null(a);
	assert_int_equal(X509_cmp(a, root_a), 0);
	X509_free(a);
	SSL_CTX_free(ctx);
}

static void test_a_chain_verifies_against_the_bundle(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();

	(void)state;
	assert_int_equal(ca_store_attach_bundle(ctx, bundle, NULL), 0);
	X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(ctx), leaf, NULL);
	if (X509_verify_cert(sctx) != 1)
		fail_msg("verify: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
	X509_STORE_CTX_free(sctx);
	SSL_CTX_free(ctx);
}

static void test_a_missing_file_or_a_directory_fails(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	(void)state;
	errno = 0;
	assert_int_equal(ca_store_attach_bundle(ctx, "/nonexistent/bundle.pem", NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ca_store_attach_bundle(ctx, "/tmp", NULL), -1);
	assert_int_equal(errno, EINVAL);
	SSL_CTX_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issuers_are_found_by_subject),
	    cmocka_unit_test(test_blocks_across_the_read_window),
	    cmocka_unit_test(test_the_hashed_directory_decides_what_exists),
	    cmocka_unit_test(test_a_chain_verifies_against_the_bundle),
	    cmocka_unit_test(test_a_missing_file_or_a_directory_fails),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
