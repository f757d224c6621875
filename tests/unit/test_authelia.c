/*
 * test_authelia.c -- the pieces of the HTTPS flows that need no server: strict
 * JSON, the Set-Cookie parser, how every kind of answer is classified, and the
 * second-factor method selection.
 */
#include "unit.h"

#include "../../engine/authelia_api.h"
#include "../../engine/oidc.h"
#include "../../engine/secure_alloc.h"
#include "../../states/machine.h"

static void test_json_is_strict(void **state)
{
	char err[JSON_ERROR_SIZE];
	const char *s;
	bool b;
	long long n;
	yajl_val root;

	(void)state;
	assert_null(json_parse("[1]", 3, err));
	assert_string_equal(err, "malformed JSON: an array, not an object");
	assert_null(json_parse("{\"a\":1,\"a\":2}", 13, err));
	assert_string_equal(err, "malformed JSON: repeated key");
	assert_null(json_parse("{\"a\":{\"b\":1,\"b\":1}}", 19, err));
	assert_null(json_parse("{\"a\":\"x\0\"}", 10, err));
	assert_string_equal(err, "malformed JSON: NUL byte");
	assert_null(json_parse("{\"a\":", 5, err));
	root = json_parse("{\"s\":\"v\",\"b\":true,\"n\":2,\"o\":{},\"x\":null}", 40, err);
	assert_non_null(root);
	assert_int_equal(json_get_string(root, "s", "s", &s, err), 0);
	assert_string_equal(s, "v");
	assert_int_equal(json_get_bool(root, "b", "b", &b, err), 0);
	assert_true(b);
	assert_int_equal(json_get_integer(root, "n", "n", &n, err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(json_get_string(root, "missing", "missing", &s, err), 1);
	assert_int_equal(json_get_bool(root, "s", "data.s", &b, err), -1);
	assert_string_equal(err, "field data.s is a string, not a boolean");
	assert_int_equal(json_get_string(root, "x", "x", &s, err), -1);
	assert_string_equal(err, "field x is null, not a string");
	assert_int_equal(json_get_integer(root, "b", "b", &n, err), -1);
	json_free(root);
}

/* "{"a":" then depth levels of arrays around 1, then "}". */
static char *nested(int depth, size_t *len)
{
	char *text = malloc((size_t)depth * 2 + 16);
	size_t n = 0;

	n += (size_t)sprintf(text, "{\"a\":");
	for (int i = 0; i < depth; i++)
		text[n++] = '[';
	text[n++] = '1';
	for (int i = 0; i < depth; i++)
		text[n++] = ']';
	text[n++] = '}';
	text[n] = '\0';
	*len = n;
	return text;
}

static void test_json_refuses_nul_in_strings_and_deep_nesting(void **state)
{
	static const char *const nul_bodies[] = {
	    "{\"authelia.pam.username\":\"root\\u0000@x\"}",
	    "{\"status\\u0000x\":\"OK\"}",
	    "{\"a\":[\"\\u0000\"]}",
	};
	const char *escaped = "{\"a\":\"\\u00e9\\n\"}";
	char err[JSON_ERROR_SIZE];
	size_t len;
	char *text;
	yajl_val root;

	(void)state;
	for (size_t i = 0; i < sizeof(nul_bodies) / sizeof(nul_bodies[0]); i++) {
		assert_null(json_parse(nul_bodies[i], strlen(nul_bodies[i]), err));
		assert_string_equal(err, "malformed JSON: a string holds \\u0000");
	}
	/* The object is the first level: 31 arrays inside it are 32. */
	text = nested(JSON_MAX_DEPTH - 1, &len);
	root = json_parse(text, len, err);
	assert_non_null(root);
	json_free(root);
	free(text);
	text = nested(JSON_MAX_DEPTH, &len);
	assert_null(json_parse(text, len, err));
	assert_string_equal(err, "malformed JSON: nested deeper than 32 levels");
	free(text);
	/* What crashed the helper: a body of 64 KiB nested arrays. */
	text = nested(32 * 1024 - 8, &len);
	assert_null(json_parse(text, len, err));
	assert_string_equal(err, "malformed JSON: nested deeper than 32 levels");
	free(text);
	/* Other escapes still decode. */
	root = json_parse(escaped, strlen(escaped), err);
	assert_non_null(root);
	json_free(root);
}

/* yajl_tree_parse accepts comments; the validating pass stops at the first
 * syntax error.  A comment before the rest of a body must not take the rest
 * past the checks above (a lying server's "root\u0000@x" read as "root"). */
static void test_json_refuses_comments(void **state)
{
	static const char *const bodies[] = {
	    "/**/{\"authelia.pam.username\":\"root\\u0000@x\"}",
	    "{/**/\"sub\":\"a\",\"authelia.pam.username\":\"root\\u0000@x\"}",
	    "{\"a\":1 // comment\n}",
	    "{\"status\":\"OK\",\"status\":/**/\"KO\"}",
	};
	char err[JSON_ERROR_SIZE], *deep, *text;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		print_message("  body: %s\n", bodies[i]);
		assert_null(json_parse(bodies[i], strlen(bodies[i]), err));
		assert_non_null(strstr(err, "malformed JSON"));
	}
	/* Deep nesting behind a comment: refused before any tree is built. */
	deep = nested(32 * 1024 - 8, &len);
	text = malloc(len + 5);
	memcpy(text, "/**/", 4);
	memcpy(text + 4, deep, len + 1);
	assert_null(json_parse(text, len + 4, err));
	assert_non_null(strstr(err, "malformed JSON"));
	free(text);
	free(deep);
}

static void test_json_generation(void **state)
{
	const char *pairs[] = {"username", "jo\"hn", "password", "p\\w\n", NULL};
	const char *bad[] = {"username", "\xff\xfe", NULL};
	size_t len = 0;
	char *body = json_object_of_strings(pairs, &len);

	(void)state;
	assert_non_null(body);
	assert_string_equal(body, "{\"username\":\"jo\\\"hn\",\"password\":\"p\\\\w\\n\"}");
	assert_int_equal(len, strlen(body));
	secret_free(&body);
	assert_null(body);
	assert_null(json_object_of_strings(bad, &len)); /* invalid UTF-8 is refused */
}

static void test_cookie_parser(void **state)
{
	const char *v;
	size_t n;

	(void)state;
	assert_int_equal(http_cookie_parse("authelia_session=Ab%#!^*$-_9; expires=x; path=/",
					   "authelia_session", &v, &n),
			 0);
	assert_int_equal(n, 11);
	assert_memory_equal(v, "Ab%#!^*$-_9", 11);
	assert_int_equal(
	    http_cookie_parse("authelia_session=; expires=x", "authelia_session", &v, &n), 0);
	assert_int_equal(n, 0); /* deleted */
	assert_int_equal(http_cookie_parse("other=1", "authelia_session", &v, &n), 1);
	assert_int_equal(http_cookie_parse("authelia_sessionx=1", "authelia_session", &v, &n), 1);
	assert_int_equal(http_cookie_parse("authelia_session", "authelia_session", &v, &n), 1);
	assert_int_equal(http_cookie_parse("authelia_session=a b", "authelia_session", &v, &n), -1);
	assert_int_equal(http_cookie_parse("authelia_session=a\"b", "authelia_session", &v, &n),
			 -1);
	assert_int_equal(http_cookie_parse("authelia_session=\x7f", "authelia_session", &v, &n),
			 -1);
}

static enum auth_result classify(int status, const char *body, char reason[AUTHELIA_REASON_SIZE])
{
	struct http_response r = {.status = status, .body = body, .body_len = strlen(body)};
	struct authelia_reply reply;
	enum auth_result result = authelia_reply_read(&r, "TOTP", &reply, reason);

	if (result == RESULT_SUCCESS)
		authelia_reply_free(&reply);
	return result;
}

static void test_answers_are_classified(void **state)
{
	static const struct {
		int status;
		const char *body;
		enum auth_result result;
		const char *reason;
	} cases[] = {
	    {200, "{\"status\":\"OK\"}", RESULT_SUCCESS, ""},
	    {200, "{\"status\":\"OK\",\"data\":{}}", RESULT_SUCCESS, ""},
	    {200, "{\"status\":\"KO\",\"message\":\"Operation failed.\"}", RESULT_AUTH_ERR,
	     "TOTP refused (response status=200 status_field=\"KO\")"},
	    {403, "403 Forbidden", RESULT_AUTH_ERR, "TOTP refused (response status=403)"},
	    {401, "{\"status\":\"KO\"}", RESULT_AUTH_ERR, "TOTP refused (response status=401)"},
	    {400, "{\"status\":\"KO\"}", RESULT_AUTH_ERR, "TOTP refused (response status=400)"},
	    {429, "{\"status\":\"KO\",\"message\":\"Too Many Requests\"}", RESULT_AUTH_ERR,
	     "TOTP rate limited by Authelia server, try again later (response status=429)"},
	    /* A redirect: url is not Authelia's own (configuration). */
	    {302, "", RESULT_SERVICE_ERR,
	     "TOTP: unexpected redirect (response status=302); is url Authelia's own URL?"},
	    /* Authelia (or its proxy) says it is unavailable. */
	    {500, "", RESULT_AUTHINFO_UNAVAIL, "TOTP: Authelia failed (response status=500)"},
	    {503, "", RESULT_AUTHINFO_UNAVAIL, "TOTP: Authelia failed (response status=503)"},
	    {599, "", RESULT_AUTHINFO_UNAVAIL, "TOTP: Authelia failed (response status=599)"},
	    /* libevent passes any three digits: no 5xx, so no "unavailable" */
	    {600, "", RESULT_AUTH_ERR, "TOTP refused (response status=600)"},
	    {999, "", RESULT_AUTH_ERR, "TOTP refused (response status=999)"},
	    /* Answered, but unusably: refused, never "unavailable". */
	    {204, "", RESULT_AUTH_ERR, "TOTP refused (response status=204)"},
	    {101, "", RESULT_AUTH_ERR, "TOTP refused (response status=101)"},
	    {200, "OK", RESULT_AUTH_ERR, "TOTP: malformed response: malformed JSON"},
	    {200, "{\"message\":\"x\"}", RESULT_AUTH_ERR,
	     "TOTP: malformed response: no status field"},
	    {200, "{\"status\":\"OK\",\"data\":\"x\"}", RESULT_AUTH_ERR,
	     "TOTP: malformed response: field data is a string, not an object"},
	    {200, "{\"status\":\"O\\u0000K\"}", RESULT_AUTH_ERR,
	     "TOTP: malformed response: malformed JSON: a string holds \\u0000"},
	};
	static const struct {
		enum http_failure failure;
		enum auth_result result;
	} failures[] = {
	    {HTTP_UNREACHABLE, RESULT_AUTHINFO_UNAVAIL},
	    {HTTP_UNUSABLE, RESULT_AUTH_ERR},
	    {HTTP_LOCAL, RESULT_SERVICE_ERR},
	};
	char reason[AUTHELIA_REASON_SIZE];
	struct http_response failed = {.error = "connection to a:443 refused or unreachable"};
	struct authelia_reply reply;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reason[0] = '\0';
		print_message("  case: %d %s\n", cases[i].status, cases[i].body);
		assert_int_equal(classify(cases[i].status, cases[i].body, reason), cases[i].result);
		assert_non_null(strstr(reason, cases[i].reason));
	}
	assert_int_equal(authelia_reply_read(&failed, "TOTP", &reply, reason),
			 RESULT_AUTHINFO_UNAVAIL);
	assert_string_equal(reason,
			    "TOTP request failed: connection to a:443 refused or unreachable");
	for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
		failed.failure = failures[i].failure;
		assert_int_equal(authelia_reply_read(&failed, "TOTP", &reply, reason),
				 failures[i].result);
		assert_int_equal(authelia_failure_result(&failed), failures[i].result);
	}
	/* The device flow's endpoints answer without the envelope. */
	assert_int_equal(authelia_status_result(301), RESULT_SERVICE_ERR);
	assert_int_equal(authelia_status_result(502), RESULT_AUTHINFO_UNAVAIL);
	assert_int_equal(authelia_status_result(500), RESULT_AUTHINFO_UNAVAIL);
	assert_int_equal(authelia_status_result(599), RESULT_AUTHINFO_UNAVAIL);
	assert_int_equal(authelia_status_result(600), RESULT_AUTH_ERR);
	assert_int_equal(authelia_status_result(999), RESULT_AUTH_ERR);
	assert_int_equal(authelia_status_result(404), RESULT_AUTH_ERR);
	assert_int_equal(authelia_status_result(204), RESULT_AUTH_ERR);
}

static struct config config;

static int select_with(const char *priority, const char *client_id, struct user_info info,
		       enum method *chosen, enum method *entry)
{
	char err[OPTION_ERROR_SIZE], arg[128];

	config_free(&config);
	config_init(&config);
	config_apply(&config, "url=https://a", err);
	if (priority) {
		snprintf(arg, sizeof(arg), "method-priority=%s", priority);
		assert_int_equal(config_apply(&config, arg, err), 0);
	}
	if (client_id)
		config_apply(&config, "oauth2-client-id=c", err);
	assert_int_equal(config_finish(&config, err), 0);
	return method_select(&config, &info, chosen, entry);
}

static void test_method_selection(void **state)
{
	static const struct {
		const char *priority;
		const char *client_id;
		struct user_info info;
		int rc;
		enum method chosen, entry;
	} cases[] = {
	    {NULL, NULL, {"totp", true, false, false}, 0, METHOD_TOTP, METHOD_USER},
	    {NULL, NULL, {"webauthn", true, true, true}, 0, METHOD_TOTP, METHOD_USER},
	    {NULL, NULL, {"webauthn", false, true, true}, 0, METHOD_MOBILE_PUSH, METHOD_USER},
	    {NULL,
	     "c",
	     {"webauthn", false, true, false},
	     0,
	     METHOD_DEVICE_AUTHORIZATION,
	     METHOD_USER},
	    {NULL, NULL, {"webauthn", false, true, false}, -1, 0, 0},
	    {NULL, NULL, {"", false, false, false}, -1, 0, 0},
	    {NULL, NULL, {"mobile_push", true, false, false}, 0, METHOD_MOBILE_PUSH, METHOD_USER},
	    {NULL, NULL, {"totp", false, false, true}, 0, METHOD_MOBILE_PUSH, METHOD_USER},
	    {"totp", NULL, {"mobile_push", false, false, true}, -1, 0, 0},
	    {"totp,mobile_push,user",
	     NULL,
	     {"totp", false, false, true},
	     0,
	     METHOD_MOBILE_PUSH,
	     METHOD_MOBILE_PUSH},
	    {"device_authorization,user",
	     "c",
	     {"totp", true, false, false},
	     0,
	     METHOD_DEVICE_AUTHORIZATION,
	     METHOD_DEVICE_AUTHORIZATION},
	    {"mobile_push,totp", NULL, {"totp", true, false, false}, 0, METHOD_TOTP, METHOD_TOTP},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum method chosen = 0, entry = 0;
		int rc = select_with(cases[i].priority, cases[i].client_id, cases[i].info, &chosen,
				     &entry);

		print_message("  case %zu\n", i);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(chosen, cases[i].chosen);
			assert_int_equal(entry, cases[i].entry);
		}
	}
	config_free(&config);
}

static void test_verification_url(void **state)
{
	char err[OIDC_ERROR_SIZE], cerr[OPTION_ERROR_SIZE];
	const char grant_fmt[] = "{\"device_code\":\"d\",\"user_code\":\"%s\",\"verification_uri\":"
				 "\"https://auth.example.com:8443/c\",\"expires_in\":599}";
	char grant_body[256];
	struct device_grant grant;

	(void)state;
	config_free(&config);
	config_init(&config);
	assert_int_equal(config_apply(&config, "url=https://Auth.Example.com:8443", cerr), 0);
	assert_int_equal(config_finish(&config, cerr), 0);
	assert_int_equal(oidc_check_verification_url("https://auth.EXAMPLE.com:8443/c?user_code=X",
						     &config, err),
			 0);
	assert_int_equal(oidc_check_verification_url("https://auth.example.com/c", &config, err),
			 -1);
	assert_string_equal(err, "verification URL is not on the host of url"); /* port 443 */
	assert_int_equal(
	    oidc_check_verification_url("https://auth.example.com:8444/c", &config, err), -1);
	assert_int_equal(
	    oidc_check_verification_url("https://auth.example.com:8443/\x1b[2J", &config, err), -1);
	assert_string_equal(err, "verification URL has characters a URL may not have");
	assert_int_equal(
	    oidc_check_verification_url("https://auth.example.com:8443/a b", &config, err), -1);
	/* Each check alone: the scheme, a user name, the length. */
	assert_int_equal(
	    oidc_check_verification_url("http://auth.example.com:8443/c", &config, err), -1);
	assert_string_equal(err, "verification URL is not https");
	assert_int_equal(
	    oidc_check_verification_url("https://john@auth.example.com:8443/c", &config, err), -1);
	assert_string_equal(err, "verification URL has a user name");
	{
		char long_url[2200];

		snprintf(long_url, sizeof(long_url), "https://auth.example.com:8443/%02100d", 0);
		assert_int_equal(oidc_check_verification_url(long_url, &config, err), -1);
		assert_string_equal(err, "verification URL is longer than 2 KiB");
	}
	/* The user code is shown on the terminal too: printable ASCII only. */
	snprintf(grant_body, sizeof(grant_body), grant_fmt, "BCDF\\u001b[2J");
	assert_int_equal(
	    oidc_read_device_grant(grant_body, strlen(grant_body), &config, &grant, err), -1);
	assert_string_equal(err, "malformed response: device_code or user_code");
	snprintf(grant_body, sizeof(grant_body), grant_fmt, "BCDFGHJK");
	assert_int_equal(
	    oidc_read_device_grant(grant_body, strlen(grant_body), &config, &grant, err), 0);
	assert_string_equal(grant.verification_url, "https://auth.example.com:8443/c");
	assert_int_equal(grant.interval, 5); /* RFC 8628's default when none is sent */
	oidc_device_grant_free(&grant);
	config_free(&config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_is_strict),
	    cmocka_unit_test(test_json_refuses_nul_in_strings_and_deep_nesting),
	    cmocka_unit_test(test_json_refuses_comments),
	    cmocka_unit_test(test_json_generation),
	    cmocka_unit_test(test_cookie_parser),
	    cmocka_unit_test(test_answers_are_classified),
	    cmocka_unit_test(test_method_selection),
	    cmocka_unit_test(test_verification_url),
	};
	unit_log_capture();
	return cmocka_run_group_tests_name("authelia api", tests, NULL, NULL);
}
