/*
 * test_config.c -- the helper's configuration: every option, the defaults,
 * normalisation, and every validation message with the guide's wording.
 */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../engine/config.h"
#include "../../engine/tls.h"

static struct config config;
static char err[OPTION_ERROR_SIZE];

static int apply_all(const char *const *args, size_t n)
{
	config_free(&config);
	config_init(&config);
	for (size_t i = 0; i < n; i++)
		if (config_apply(&config, args[i], err) != 0)
			return -1;
	return config_finish(&config, err);
}

#define CONFIGURE(...)                                              \
	({                                                          \
		const char *const args_[] = {__VA_ARGS__};          \
		apply_all(args_, sizeof(args_) / sizeof(args_[0])); \
	})

static void expect_error(int rc, const char *message)
{
	assert_int_equal(rc, -1);
	assert_string_equal(err, message);
}

/* The strdup config.c calls (libhelper.a is linked into this program, so its
 * calls resolve here): the n-th call from now fails, as when memory runs out. */
static int strdup_fails_at;

char *strdup(const char *text)
{
	size_t n = strlen(text) + 1;
	char *copy;

	if (strdup_fails_at > 0 && --strdup_fails_at == 0) {
		errno = ENOMEM;
		return NULL;
	}
	copy = malloc(n);
	if (copy != NULL)
		memcpy(copy, text, n);
	return copy;
}

/* A copy that fails fails the option: a ca-cert silently dropped would have
 * the helper trust the system store instead of the private CA, and a url
 * without its host would crash the HTTPS client. */
static void test_out_of_memory_fails_closed(void **state)
{
	(void)state;
	config_free(&config);
	config_init(&config);
	assert_int_equal(config_apply(&config, "url=https://auth.example.com", err), 0);
	strdup_fails_at = 1;
	assert_int_equal(config_apply(&config, "ca-cert=/etc/ssl/ca.pem", err), -1);
	assert_string_equal(err, "out of memory");
	assert_null(config.ca_cert);
	/* Each strdup in turn (libevent's URI parser makes some too): a failure
	 * is a refusal, never a url without its host or path. */
	for (int at = 1, ours = 0;; at++) {
		int rc;

		config_free(&config);
		config_init(&config);
		strdup_fails_at = at;
		rc = config_apply(&config, "url=https://auth.example.com/x", err);
		if (strdup_fails_at > 0) { /* no failure any more: all went through */
			assert_int_equal(rc, 0);
			assert_true(config.url && config.url_host && config.url_path);
			assert_int_equal(ours, 3); /* url, its host, its path */
			break;
		}
		assert_int_equal(rc, -1);
		ours += strcmp(err, "out of memory") == 0;
	}
	strdup_fails_at = 0;
	config_free(&config);
	config_init(&config);
	assert_int_equal(config_apply(&config, "url=https://a", err), 0);
	strdup_fails_at = 1; /* the default cookie name */
	assert_int_equal(config_finish(&config, err), -1);
	assert_string_equal(err, "out of memory");
	/* authz-url lost would mean no access check at all; authz-endpoint lost,
	 * a question at an endpoint nobody configured. */
	for (int at = 1, ours = 0;; at++) { /* the template's check parses it (strdups too) */
		int rc;

		config_free(&config);
		config_init(&config);
		strdup_fails_at = at;
		rc = config_apply(&config, "authz-url=https://%h.ssh.example.com/pam/%s", err);
		if (strdup_fails_at > 0) {
			assert_int_equal(rc, 0);
			assert_non_null(config.authz_url);
			assert_int_equal(ours, 1);
			break;
		}
		assert_int_equal(rc, -1);
		assert_null(config.authz_url);
		ours += strcmp(err, "out of memory") == 0;
	}
	config_free(&config);
	config_init(&config);
	strdup_fails_at = 1;
	assert_int_equal(config_apply(&config, "authz-endpoint=/api/authz/forward-auth", err), -1);
	assert_string_equal(err, "out of memory");
	assert_null(config.authz_endpoint);
	/* The default endpoint's copy, whichever strdup of config_finish it is:
	 * each failure says so (err was left unwritten before). */
	for (int at = 1;; at++) {
		int rc;

		config_free(&config);
		config_init(&config);
		strdup_fails_at = 0;
		assert_int_equal(config_apply(&config, "url=https://a", err), 0);
		assert_int_equal(
		    config_apply(&config, "authz-url=https://%h.ssh.example.com/pam/%s", err), 0);
		memset(err, 'x', OPTION_ERROR_SIZE - 1);
		err[OPTION_ERROR_SIZE - 1] = '\0';
		strdup_fails_at = at;
		rc = config_finish(&config, err);
		if (strdup_fails_at > 0) {
			assert_int_equal(rc, 0);
			assert_non_null(config.authz_endpoint);
			break;
		}
		assert_int_equal(rc, -1);
		assert_string_equal(err, "out of memory");
	}
	strdup_fails_at = 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(&config);
	return 0;
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(CONFIGURE("url=https://auth.example.com"), 0);
	assert_string_equal(config.url, "https://auth.example.com");
	assert_string_equal(config.url_host, "auth.example.com");
	assert_int_equal(config.url_port, 443);
	assert_int_equal(config.auth_level, AUTH_LEVEL_1FA_2FA);
	assert_string_equal(config.cookie_name, "authelia_session");
	assert_null(config.ca_cert);
	assert_int_equal(config.timeout, 60);
	assert_int_equal(config.method_count, 1);
	assert_int_equal(config.methods[0], METHOD_USER);
	assert_null(config.oauth2_client_id);
	assert_null(config.oauth2_client_secret);
	assert_string_equal(config.oauth2_scope, "openid authelia.pam");
	assert_int_equal(config.client_auth, CLIENT_AUTH_NONE);
	assert_true(config.qr);
	assert_false(config.device_after_password);
	assert_int_equal(config.device_max_age, 3600);
	assert_false(config.debug);
}

static void test_device_flow_options(void **state)
{
	(void)state;
	assert_int_equal(
	    CONFIGURE("url=https://a", "device-flow=after-password", "device-max-age=600"), 0);
	assert_true(config.device_after_password);
	assert_int_equal(config.device_max_age, 600);
	assert_int_equal(CONFIGURE("url=https://a", "device-flow=first", "device-max-age=86400"),
			 0);
	assert_false(config.device_after_password);
	expect_error(CONFIGURE("url=https://a", "device-flow=second"),
		     "invalid device-flow \"second\": must be first or after-password");
	expect_error(CONFIGURE("url=https://a", "device-max-age=0"),
		     "invalid device-max-age \"0\": must be a whole number of seconds from 1 to "
		     "86400");
	expect_error(CONFIGURE("url=https://a", "device-max-age=86401"),
		     "invalid device-max-age \"86401\": must be a whole number of seconds from 1 "
		     "to 86400");
	expect_error(CONFIGURE("url=https://a", "device-max-age=1h"),
		     "invalid device-max-age \"1h\": must be a whole number of seconds from 1 to "
		     "86400");
}

static void test_ca_cert_must_be_absolute(void **state)
{
	(void)state;
	/* The helper runs in "/": a relative path would name another file than
	 * the one the administrator meant (and, before, the caller's choice). */
	expect_error(CONFIGURE("url=https://a", "ca-cert=ca.pem"),
		     "ca-cert must be an absolute path, got \"ca.pem\"");
	expect_error(CONFIGURE("url=https://a", "ca-cert=./etc/ca.pem"),
		     "ca-cert must be an absolute path, got \"./etc/ca.pem\"");
	assert_int_equal(CONFIGURE("url=https://a", "ca-cert=/etc/ssl/ca.pem"), 0);
}

static void test_client_auth_and_qr(void **state)
{
	(void)state;
	assert_int_equal(CONFIGURE("url=https://a", "oauth2-client-secret=s"), 0);
	assert_int_equal(config.client_auth, CLIENT_AUTH_POST); /* the guide's client */
	assert_int_equal(CONFIGURE("url=https://a", "oauth2-client-secret=s",
				   "oauth2-client-auth-method=client_secret_basic", "qr=off"),
			 0);
	assert_int_equal(config.client_auth, CLIENT_AUTH_BASIC);
	assert_string_equal(client_auth_name(config.client_auth), "client_secret_basic");
	assert_false(config.qr);
	expect_error(CONFIGURE("url=https://a", "oauth2-client-auth-method=client_secret_post"),
		     "oauth2-client-auth-method=client_secret_post needs oauth2-client-secret-file "
		     "(or oauth2-client-secret)");
	expect_error(
	    CONFIGURE("url=https://a", "oauth2-client-secret=s", "oauth2-client-auth-method=none"),
	    "oauth2-client-auth-method=none is for public clients: remove "
	    "oauth2-client-secret");
	expect_error(CONFIGURE("url=https://a", "oauth2-client-auth-method=basic"),
		     "invalid oauth2-client-auth-method \"basic\": must be client_secret_post, "
		     "client_secret_basic, or none");
	expect_error(CONFIGURE("url=https://a", "qr=1"), "invalid qr \"1\": must be on or off");
}

/* oauth2-client-secret-file: read in config_finish, so a login and the
 * doctor refuse the same files (the refusals are tested through PAM in
 * tests/integration/test_secret_file.py). */
static void test_secret_file(void **state)
{
	char path[] = "/tmp/pam_authelia-secret-XXXXXX", arg[64];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\n", 7), 7);
	close(fd);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(arg, sizeof(arg), "oauth2-client-secret-file=%s", path);
	assert_int_equal(CONFIGURE("url=https://a", arg), 0);
	assert_string_equal(config.oauth2_client_secret, "s3cret");
	assert_false(config.secret_inline);
	assert_int_equal(config.client_auth, CLIENT_AUTH_POST);
	expect_error(CONFIGURE("url=https://a", arg, "oauth2-client-secret=s"),
		     "oauth2-client-secret and oauth2-client-secret-file are mutually exclusive: "
		     "keep oauth2-client-secret-file");
	expect_error(CONFIGURE("url=https://a", arg, "oauth2-client-auth-method=none"),
		     "oauth2-client-auth-method=none is for public clients: remove "
		     "oauth2-client-secret-file");
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(CONFIGURE("url=https://a", arg), -1);
	assert_non_null(strstr(err, "(mode 0640); fix: chmod 600"));
	assert_int_equal(CONFIGURE("url=https://a", "oauth2-client-secret=s"), 0);
	assert_true(config.secret_inline);
	unlink(path);
}

static void test_every_option(void **state)
{
	(void)state;
	assert_int_equal(CONFIGURE("url=https://Auth.Example.com:8443/authelia/", "auth-level=2FA",
				   "cookie-name=my_session", "ca-cert=/etc/ssl/ca.pem",
				   "timeout=300", "binary=/opt/pam_authelia",
				   "method-priority= totp, mobile_push ,,device_authorization,user",
				   "oauth2-client-id=pam-authelia", "oauth2-client-secret=s3cret",
				   "oauth2-scope=openid, authelia.pam ,email", "debug"),
			 0);
	assert_string_equal(config.url, "https://Auth.Example.com:8443/authelia");
	assert_string_equal(config.url_host, "Auth.Example.com");
	assert_int_equal(config.url_port, 8443);
	assert_int_equal(config.auth_level, AUTH_LEVEL_2FA);
	assert_string_equal(config.cookie_name, "my_session");
	assert_string_equal(config.ca_cert, "/etc/ssl/ca.pem");
	assert_int_equal(config.timeout, 300);
	assert_int_equal(config.method_count, 4);
	assert_int_equal(config.methods[0], METHOD_TOTP);
	assert_int_equal(config.methods[1], METHOD_MOBILE_PUSH);
	assert_int_equal(config.methods[2], METHOD_DEVICE_AUTHORIZATION);
	assert_int_equal(config.methods[3], METHOD_USER);
	assert_string_equal(config.oauth2_client_id, "pam-authelia");
	assert_string_equal(config.oauth2_client_secret, "s3cret");
	assert_string_equal(config.oauth2_scope, "openid authelia.pam email");
	assert_true(config.debug);
}

static void test_auth_levels(void **state)
{
	(void)state;
	assert_int_equal(CONFIGURE("url=https://a", "auth-level=1FA"), 0);
	assert_int_equal(config.auth_level, AUTH_LEVEL_1FA);
	assert_string_equal(auth_level_name(config.auth_level), "1FA");
	assert_int_equal(CONFIGURE("url=https://a", "auth-level=1FA+2FA"), 0);
	assert_int_equal(config.auth_level, AUTH_LEVEL_1FA_2FA);
	expect_error(CONFIGURE("url=https://a", "auth-level=1fa"),
		     "invalid auth level \"1fa\": must be 1FA, 2FA, or 1FA+2FA (or policy, with "
		     "authz-url)");
	expect_error(CONFIGURE("url=https://a", "auth-level=2FA+1FA"),
		     "invalid auth level \"2FA+1FA\": must be 1FA, 2FA, or 1FA+2FA (or policy, "
		     "with authz-url)");
}

/* authz-url, authz-endpoint and auth-level=policy (issue 12). */
static void test_access_control_options(void **state)
{
	const char *url = "url=https://auth.example.com",
		   *tpl = "authz-url=https://%h.ssh.example.com/pam/%s";

	(void)state;
	assert_int_equal(CONFIGURE(url, tpl, "auth-level=policy"), 0);
	assert_int_equal(config.auth_level, AUTH_LEVEL_POLICY);
	assert_string_equal(auth_level_name(config.auth_level), "policy");
	assert_string_equal(config.authz_url, "https://%h.ssh.example.com/pam/%s");
	assert_string_equal(config.authz_endpoint, "/api/authz/auth-request");
	assert_int_equal(config.authz_kind, AUTHZ_AUTH_REQUEST);
	assert_int_equal(CONFIGURE(url, tpl, "authz-endpoint=/api/authz/forward-auth"), 0);
	assert_int_equal(config.authz_kind, AUTHZ_FORWARD_AUTH);
	assert_int_equal(CONFIGURE(url, tpl, "authz-endpoint=/api/authz/pam"), 0);
	assert_int_equal(config.authz_kind, AUTHZ_CUSTOM);
	assert_int_equal(CONFIGURE(url, tpl, "auth-level=1FA"), 0);
	/* the device flow after the password, as the second factor: fine */
	assert_int_equal(CONFIGURE(url, tpl, "auth-level=policy",
				   "method-priority=device_authorization", "oauth2-client-id=c",
				   "device-flow=after-password"),
			 0);

	expect_error(CONFIGURE(url, "auth-level=policy"),
		     "auth-level=policy needs authz-url: Authelia's access control decides about "
		     "that URL whether a second factor is needed");
	expect_error(CONFIGURE(url, "authz-endpoint=/api/authz/forward-auth"),
		     "authz-endpoint needs authz-url: without it nothing is asked");
	expect_error(
	    CONFIGURE(url, tpl, "method-priority=device_authorization", "oauth2-client-id=c"),
	    "authz-url cannot check a login that starts with the device flow "
	    "(method-priority leads with device_authorization): it leaves no Authelia "
	    "session to ask about; fix: device-flow=after-password");
	expect_error(CONFIGURE(url, tpl, "auth-level=policy",
			       "method-priority=device_authorization", "oauth2-client-id=c"),
		     "authz-url cannot check a login that starts with the device flow "
		     "(method-priority leads with device_authorization): it leaves no Authelia "
		     "session to ask about; fix: device-flow=after-password");
	expect_error(CONFIGURE(url, "authz-url=http://%h.ssh.example.com/pam/%s"),
		     "authz-url must be https://, got \"http\"");
	expect_error(CONFIGURE(url, "authz-endpoint=/api/verify", tpl),
		     "invalid authz-endpoint \"/api/verify\": must be /api/authz/auth-request, "
		     "/api/authz/forward-auth or /api/authz/<name> of an AuthRequest or "
		     "ForwardAuth endpoint");
}

static void test_url_errors(void **state)
{
	(void)state;
	expect_error(CONFIGURE("auth-level=1FA"), "--url is required");
	expect_error(CONFIGURE("url=http://auth.example.com"),
		     "URL scheme must be https, got \"http\"");
	expect_error(CONFIGURE("url=ftp://auth.example.com"),
		     "URL scheme must be https, got \"ftp\"");
	expect_error(CONFIGURE("url=auth.example.com"), "URL scheme must be https, got \"\"");
	expect_error(CONFIGURE("url=https://"), "URL has no host: \"https://\"");
	expect_error(CONFIGURE("url=https://john:pw@auth.example.com"),
		     "URL must not contain a user name or password");
	expect_error(CONFIGURE("url=https://auth.example.com/?a=b"),
		     "URL must not have a query or fragment");
	expect_error(CONFIGURE("url=https://auth.example.com/#x"),
		     "URL must not have a query or fragment");
	expect_error(CONFIGURE("url=https://auth.example.com:99999"),
		     "invalid URL \"https://auth.example.com:99999\"");
	assert_int_equal(CONFIGURE("url=HTTPS://auth.example.com"), 0);
}

static void test_method_priority(void **state)
{
	(void)state;
	expect_error(CONFIGURE("url=https://a", "method-priority=totp,sms"),
		     "invalid method \"sms\" in --method-priority: must be totp, mobile_push, "
		     "device_authorization, or user");
	expect_error(CONFIGURE("url=https://a", "method-priority=TOTP"),
		     "invalid method \"TOTP\" in --method-priority: must be totp, mobile_push, "
		     "device_authorization, or user");
	expect_error(CONFIGURE("url=https://a", "method-priority=device_authorization"),
		     "--method-priority includes device_authorization but --oauth2-client-id is "
		     "not set");
	assert_int_equal(CONFIGURE("url=https://a", "method-priority=,,"), 0);
	assert_int_equal(config.method_count, 1);
	assert_int_equal(config.methods[0], METHOD_USER);
	expect_error(CONFIGURE("url=https://a",
			       "method-priority=totp,totp,totp,totp,totp,totp,totp,totp,totp,totp,"
			       "totp,totp,totp,totp,totp,totp,totp"),
		     "--method-priority has more than 16 entries");
	assert_string_equal(method_name(METHOD_MOBILE_PUSH), "mobile_push");
}

static void test_scopes(void **state)
{
	(void)state;
	expect_error(CONFIGURE("url=https://a", "oauth2-scope=authelia.pam"),
		     "--oauth2-scope must include openid");
	expect_error(CONFIGURE("url=https://a", "oauth2-scope=openid"),
		     "--oauth2-scope must include authelia.pam");
	expect_error(CONFIGURE("url=https://a", "oauth2-scope=openidx,authelia.pamx"),
		     "--oauth2-scope must include openid");
	expect_error(CONFIGURE("url=https://a", "oauth2-scope=openid,xauthelia.pam"),
		     "--oauth2-scope must include authelia.pam");
	expect_error(CONFIGURE("url=https://a", "oauth2-scope= , "),
		     "--oauth2-scope must not be empty");
	expect_error(CONFIGURE("url=https://a", "oauth2-scope=openid,authelia.pam,a\"b"),
		     "--oauth2-scope holds a character not allowed in a scope");
	assert_int_equal(CONFIGURE("url=https://a", "oauth2-scope=email,authelia.pam,openid"), 0);
	assert_string_equal(config.oauth2_scope, "email authelia.pam openid");
}

static void test_cookie_name(void **state)
{
	(void)state;
	expect_error(CONFIGURE("url=https://a", "cookie-name=a;b"), "invalid cookie-name \"a;b\"");
	expect_error(CONFIGURE("url=https://a", "cookie-name=a b"), "invalid cookie-name \"a b\"");
	expect_error(CONFIGURE("url=https://a", "cookie-name=a\r\nX-Evil: 1"),
		     "invalid cookie-name \"a??X-Evil: 1\"");
	assert_int_equal(CONFIGURE("url=https://a", "cookie-name=authelia_session-2"), 0);
}

static void test_syntax_errors_are_shared_with_the_shim(void **state)
{
	(void)state;
	expect_error(CONFIGURE("url=https://a", "colour=blue"), "unknown option \"colour\"");
	expect_error(CONFIGURE("url=https://a", "debug=1"), "option \"debug\" takes no value");
	expect_error(CONFIGURE("url=https://a", "timeout=0"),
		     "invalid timeout \"0\": must be a whole number of seconds from 1 to 86400");
	expect_error(CONFIGURE("url=https://a", "url=https://b"),
		     "option \"url\" is given more than once");
}

static void test_ca_certificate(void **state)
{
	char tls_err[TLS_ERROR_SIZE];
	SSL_CTX *ctx;

	(void)state;
	ctx = tls_context_new("/etc/ssl/certs/ca-certificates.crt", tls_err);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
	ctx = tls_context_new(NULL, tls_err); /* the system store's directory */
	assert_non_null(ctx);
	/* Looked up per certificate when needed: nothing parsed at start-up (the
	 * bundle file would be ~140 certificates, 20 ms and 1.5 MB per login). */
	assert_int_equal(sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))),
			 0);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	SSL_CTX_free(ctx);
	assert_null(tls_context_new("/nonexistent/ca.pem", tls_err));
	assert_non_null(strstr(tls_err, "failed to read CA certificate /nonexistent/ca.pem"));
	assert_null(tls_context_new("/etc/hostname", tls_err));
	assert_non_null(strstr(tls_err, "failed to read CA certificate /etc/hostname"));
}

/* What a login reads before the first prompt (the file is parsed after it). */
static void test_ca_certificate_read_first(void **state)
{
	char tls_err[TLS_ERROR_SIZE];
	struct tls_trust trust;
	SSL_CTX *ctx;

	(void)state;
	assert_int_equal(tls_trust_read(NULL, &trust, tls_err), 0);
	assert_non_null(trust.bundle);
	ctx = tls_context_from(&trust, tls_err);
	assert_non_null(ctx);
	assert_null(trust.bundle); /* the context's now */
	SSL_CTX_free(ctx);
	tls_trust_free(&trust);
	assert_int_equal(tls_trust_read("/etc/ssl/certs/ca-certificates.crt", &trust, tls_err), 0);
	assert_true(trust.pem_len > 0);
	ctx = tls_context_from(&trust, tls_err);
	assert_non_null(ctx);
	assert_true(sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))) > 10);
	SSL_CTX_free(ctx);
	tls_trust_free(&trust);
	assert_int_equal(tls_trust_read("/nonexistent/ca.pem", &trust, tls_err), -1);
	assert_string_equal(tls_err,
			    "failed to read CA certificate /nonexistent/ca.pem: No such file or "
			    "directory");
	assert_int_equal(tls_trust_read("/etc/hostname", &trust, tls_err), -1);
	assert_string_equal(tls_err, "failed to read CA certificate /etc/hostname: no certificate "
				     "or crl found");
	assert_int_equal(tls_trust_read("/etc", &trust, tls_err), -1);
	assert_non_null(strstr(tls_err, "failed to read CA certificate /etc: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_defaults, teardown),
	    cmocka_unit_test(test_ca_certificate_read_first),
	    cmocka_unit_test_teardown(test_device_flow_options, teardown),
	    cmocka_unit_test_teardown(test_ca_cert_must_be_absolute, teardown),
	    cmocka_unit_test_teardown(test_every_option, teardown),
	    cmocka_unit_test_teardown(test_client_auth_and_qr, teardown),
	    cmocka_unit_test_teardown(test_auth_levels, teardown),
	    cmocka_unit_test_teardown(test_access_control_options, teardown),
	    cmocka_unit_test_teardown(test_url_errors, teardown),
	    cmocka_unit_test_teardown(test_method_priority, teardown),
	    cmocka_unit_test_teardown(test_scopes, teardown),
	    cmocka_unit_test_teardown(test_cookie_name, teardown),
	    cmocka_unit_test_teardown(test_syntax_errors_are_shared_with_the_shim, teardown),
	    cmocka_unit_test(test_ca_certificate),
	    cmocka_unit_test_teardown(test_out_of_memory_fails_closed, teardown),
	    cmocka_unit_test_teardown(test_secret_file, teardown),
	};
	config_init(&config);
	return cmocka_run_group_tests_name("helper config", tests, NULL, NULL);
}
