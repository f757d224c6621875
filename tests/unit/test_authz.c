/*
 * test_authz.c -- the access check's pure parts (engine/authz.c): the
 * authz-url template and its placeholders, the endpoint names, this host's
 * names from /etc/hosts, the values refused rather than escaped, the
 * Session-Username rule, and every answer of an authz endpoint mapped to its
 * verdict and PAM code (contract s.7's table under the fail-closed rule).
 */
#include "unit.h"

/* sys/queue.h first: event2/keyvalq_struct.h needs its TAILQ_FOREACH. */
#include <sys/queue.h>

#include "../../engine/authz.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <unistd.h>

static char err[OPTION_ERROR_SIZE];

static void template_ok(const char *template)
{
	if (authz_check_template(template, err) != 0)
		fail_msg("\"%s\" refused: %s", template, err);
}

static void template_refused(const char *template, const char *message)
{
	err[0] = '\0';
	assert_int_equal(authz_check_template(template, err), -1);
	if (strstr(err, message) == NULL)
		fail_msg("\"%s\": \"%s\" does not contain \"%s\"", template, err, message);
}

static void test_templates(void **state)
{
	char long_url[700];

	(void)state;
	template_ok("https://%h.ssh.example.com/pam/%s");
	template_ok("https://%H/pam/%s");
	template_ok("https://ssh.example.com/%h/%s");
	template_ok("https://%h.ssh.example.com:8443/pam/%s");
	template_ok("https://x.example.com/a%%20b/%s");
	template_ok("HTTPS://x.example.com/");
	template_refused("http://%h.ssh.example.com/pam/%s",
			 "authz-url must be https://, got \"http\"");
	template_refused("%h.ssh.example.com/pam/%s", "authz-url must be https://");
	template_refused("https://%h.ssh.example.com", "authz-url needs a path (such as /pam/%s)");
	template_refused("https://john@%h.example.com/x",
			 "authz-url holds \"@\", which an https URL without user name, query or "
			 "fragment cannot hold as it is");
	template_refused("https://%h.example.com/x?y=1", "authz-url holds \"?\"");
	template_refused("https://%h.example.com/x#f", "authz-url holds \"#\"");
	template_refused("https://[::1]/x", "authz-url holds \"[\"");
	template_refused("https://%h.example.com/a b", "authz-url holds \" \"");
	template_refused("https://%h.example.com/\xc3\xa4", "authz-url holds \"?\"");
	template_refused("https://%h.example.com/%x",
			 "authz-url: unknown placeholder \"%x\": use %h (short host name), %H "
			 "(fully qualified host name), %s (PAM service) or %%");
	template_refused("https://%h.example.com/%", "authz-url: unknown placeholder \"%\"");
	template_refused("https://%h.example.com/%%zz",
			 "authz-url: %% must start a percent-encoded byte (%%20 for a space)");
	template_refused("https://%h.example.com/%%2", "%% must start a percent-encoded byte");
	template_refused("https://:8443/x", "authz-url has no host");
	memset(long_url, 'a', sizeof(long_url));
	memcpy(long_url, "https://x.example.com/", 22);
	long_url[sizeof(long_url) - 1] = '\0';
	template_refused(long_url, "authz-url is longer than 512 bytes");

	assert_true(authz_template_wants_fqdn("https://%H/pam/%s"));
	assert_false(authz_template_wants_fqdn("https://%h.x.example.com/%%48/%s"));
	assert_false(authz_template_wants_fqdn("https://x.example.com/%%48")); /* %%, then "48" */
	assert_true(authz_template_wants_fqdn("https://x.example.com/%%41%H"));
}

static void test_endpoints(void **state)
{
	enum authz_kind kind;

	(void)state;
	assert_int_equal(authz_check_endpoint("/api/authz/auth-request", &kind, err), 0);
	assert_int_equal(kind, AUTHZ_AUTH_REQUEST);
	assert_int_equal(authz_check_endpoint("/api/authz/forward-auth", &kind, err), 0);
	assert_int_equal(kind, AUTHZ_FORWARD_AUTH);
	assert_int_equal(authz_check_endpoint("/api/authz/pam", &kind, err), 0);
	assert_int_equal(kind, AUTHZ_CUSTOM);
	assert_int_equal(authz_check_endpoint("/api/authz/ssh/pam.v2_x-y", &kind, err), 0);
	static const char *const refused[] = {
	    "/api/verify",	 "/api/authz/",	    "/api/authz/1pam",	  "/api/authz/pam1",
	    "/api/authz/a/../b", "/api/authz/a//b", "/api/authz/pam?x=1", "api/authz/pam",
	    "/api/authz/a/./b",	 "/api/authz/p am",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(authz_check_endpoint(refused[i], &kind, err), -1);
		assert_non_null(strstr(err, "invalid authz-endpoint"));
	}
	assert_int_equal(authz_check_endpoint("/api/authz/ext-authz", &kind, err), -1);
	assert_string_equal(err, "authz-endpoint /api/authz/ext-authz reads the target host from "
				 "Host, which is Authelia's own: use /api/authz/auth-request or "
				 "/api/authz/forward-auth");
}

static void test_fqdn_from_hosts(void **state)
{
	char path[] = "/tmp/test_authz_hosts_XXXXXX", out[AUTHZ_NAME_SIZE];
	const char *text = "# /etc/hosts\n"
			   "127.0.0.1\tlocalhost\n"
			   "\n"
			   "127.0.1.1 web01.ssh.example.com web01 # Debian's line\n"
			   "10.0.0.1 db1 db1.example.com\n"
			   "10.0.0.2 db1.other.example db1\n"
			   "::1 ip6-localhost ip6-loopback\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(authz_fqdn_from_hosts(path, "web01", out), 0);
	assert_string_equal(out, "web01.ssh.example.com");
	assert_int_equal(authz_fqdn_from_hosts(path, "WEB01", out), 0);
	assert_string_equal(out, "web01.ssh.example.com");
	/* the first line that lists the name decides: its canonical name has no dot */
	assert_int_equal(authz_fqdn_from_hosts(path, "db1", out), -1);
	assert_int_equal(authz_fqdn_from_hosts(path, "localhost", out), -1);
	assert_int_equal(authz_fqdn_from_hosts(path, "nowhere", out), -1);
	assert_int_equal(authz_fqdn_from_hosts("/nonexistent/hosts", "web01", out), -1);
	unlink(path);
}

static const struct authz_host web01 = {.short_name = "web01", .fqdn = "web01.ssh.example.com"};

static void test_expansion(void **state)
{
	struct authz_target t;
	char too_long[300];

	(void)state;
	assert_int_equal(authz_expand("https://%h.ssh.example.com/pam/%s", &web01, "sshd", &t, err),
			 0);
	assert_string_equal(t.url, "https://web01.ssh.example.com/pam/sshd");
	assert_string_equal(t.host, "web01.ssh.example.com");
	assert_string_equal(t.path, "/pam/sshd");
	authz_target_free(&t);
	assert_int_equal(authz_expand("https://%H:8443/p%%41m/%s", &web01, "sudo-i", &t, err), 0);
	assert_string_equal(t.url, "https://web01.ssh.example.com:8443/p%41m/sudo-i");
	assert_string_equal(t.host, "web01.ssh.example.com:8443");
	assert_string_equal(t.path, "/p%41m/sudo-i");
	authz_target_free(&t);

	/* refused, never escaped into something else */
	static const char *const services[] = {"ssh d", "a/b",	    "..",    ".",    "a..b",
					       ".sshd", "sshd.",    "x%2Fy", "x?y",  "x#y",
					       "x@y",	"\xc3\xa4", "",	     "a\nb", "a\\b"};
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		assert_int_equal(
		    authz_expand("https://%h.ssh.example.com/pam/%s", &web01, services[i], &t, err),
		    -1);
		assert_null(t.url);
		assert_non_null(strstr(err, "authz-url: the PAM service"));
	}
	assert_int_equal(authz_expand("https://%h.ssh.example.com/pam/%s", &web01, "a/b", &t, err),
			 -1);
	assert_string_equal(err, "authz-url: the PAM service \"a/b\" cannot go into the URL: only "
				 "letters, digits, '.', '_' and '-' are allowed, no leading, "
				 "trailing or double dot, at most 253 bytes");
	assert_int_equal(authz_expand("https://x.example.com/%s", &web01, NULL, &t, err), -1);
	memset(too_long, 'a', sizeof(too_long));
	too_long[sizeof(too_long) - 1] = '\0';
	assert_int_equal(authz_expand("https://x.example.com/%s", &web01, too_long, &t, err), -1);

	struct authz_host odd = {.short_name = "web 01", .fqdn = ""};
	assert_int_equal(authz_expand("https://%h.ssh.example.com/pam/%s", &odd, "sshd", &t, err),
			 -1);
	assert_non_null(strstr(err, "authz-url: the host name \"web 01\" cannot go into the URL"));
	assert_int_equal(authz_expand("https://%H/pam/%s", &odd, "sshd", &t, err), -1);
	assert_non_null(strstr(err, "authz-url: the fully qualified host name \"\""));
}

static void test_user_names_for_a_header(void **state)
{
	(void)state;
	assert_true(authz_user_sendable("john"));
	assert_true(authz_user_sendable("j.doe@example.com"));
	assert_true(authz_user_sendable("j\xc3\xb6rg"));
	assert_false(authz_user_sendable(""));
	assert_false(authz_user_sendable("john doe"));
	assert_false(authz_user_sendable("john\r\nX-Evil: 1"));
	assert_false(authz_user_sendable("john\t"));
	assert_false(authz_user_sendable("john\x7f"));
	/* UTF-8, as the header promises: 2, 3 and 4 bytes, and what it is not */
	assert_true(authz_user_sendable("\xe6\x97\xa5\xe6\x9c\xac"));
	assert_true(authz_user_sendable("x\xf0\x9f\x98\x80"));
	assert_true(authz_user_sendable("\xf4\x8f\xbf\xbf"));  /* U+10FFFF */
	assert_false(authz_user_sendable("j\xf6rg"));	       /* Latin-1 */
	assert_false(authz_user_sendable("john\xc3"));	       /* cut short */
	assert_false(authz_user_sendable("j\xc3x"));	       /* no continuation */
	assert_false(authz_user_sendable("\x80john"));	       /* a lone continuation */
	assert_false(authz_user_sendable("\xc0\xaf"));	       /* overlong '/' */
	assert_false(authz_user_sendable("\xc1\xbf"));	       /* overlong */
	assert_false(authz_user_sendable("\xe0\x80\xaf"));     /* overlong, 3 bytes */
	assert_false(authz_user_sendable("\xf0\x80\x80\xaf")); /* overlong, 4 bytes */
	assert_false(authz_user_sendable("\xed\xa0\x80"));     /* surrogate U+D800 */
	assert_false(authz_user_sendable("\xed\xbf\xbf"));     /* surrogate U+DFFF */
	assert_false(authz_user_sendable("\xf4\x90\x80\x80")); /* above U+10FFFF */
	assert_false(authz_user_sendable("\xf5\x80\x80\x80"));
	assert_false(authz_user_sendable("\xff"));
	assert_false(authz_user_sendable("\xc2\x85")); /* U+0085 NEL: a C1 control */
}

/* --- answers ---------------------------------------------------------------- */

static struct config answer_config;
static struct authz_target answer_target;

static int answers_setup(void **state)
{
	(void)state;
	config_init(&answer_config);
	answer_config.url = strdup("https://auth.example.com");
	answer_config.url_host = strdup("auth.example.com");
	answer_config.authz_endpoint = strdup("/api/authz/auth-request");
	assert_int_equal(
	    authz_expand("https://%h.ssh.example.com/pam/%s", &web01, "sshd", &answer_target, err),
	    0);
	return 0;
}

static int answers_teardown(void **state)
{
	(void)state;
	config_free(&answer_config);
	authz_target_free(&answer_target);
	return 0;
}

struct answer {
	int status;
	const char *headers[4][2];
	bool rotated, deleted;
	const char *error;
	enum http_failure failure;
};

static enum authz_verdict read_answer(const struct answer *a, enum auth_result *result,
				      char reason[AUTHZ_REASON_SIZE])
{
	struct evkeyvalq headers;
	struct http_response r = {.purpose = HTTP_AUTHZ,
				  .status = a->status,
				  .body = "",
				  .cookie_rotated = a->rotated,
				  .cookie_deleted = a->deleted,
				  .error = a->error,
				  .failure = a->failure,
				  .headers = a->error ? NULL : &headers};
	enum authz_verdict v;

	TAILQ_INIT(&headers);
	for (size_t i = 0; i < 4 && a->headers[i][0] != NULL; i++)
		evhttp_add_header(&headers, a->headers[i][0], a->headers[i][1]);
	reason[0] = '\0';
	*result = RESULT_SUCCESS;
	v = authz_read_answer(&r, &answer_config, &answer_target, "john", "john", result, reason);
	evhttp_clear_headers(&headers);
	return v;
}

static void expect_refused(struct answer a, enum auth_result want, const char *message)
{
	enum auth_result result;
	char reason[AUTHZ_REASON_SIZE];

	assert_int_equal(read_answer(&a, &result, reason), AUTHZ_REFUSED);
	if (result != want || strstr(reason, message) == NULL)
		fail_msg("status %d: %s (%s), want %s with \"%s\"", a.status, reason,
			 auth_result_name(result), auth_result_name(want), message);
}

static void test_answers(void **state)
{
	enum auth_result result;
	char reason[AUTHZ_REASON_SIZE];
	const char *url = "https://web01.ssh.example.com/pam/sshd";

	(void)state;
	assert_int_equal(read_answer(&(struct answer){.status = 200,
						      .headers = {{"Remote-User", "john"},
								  {"Remote-Groups", "admins"}}},
				     &result, reason),
			 AUTHZ_ALLOWED);
	assert_int_equal(read_answer(&(struct answer){.status = 401}, &result, reason),
			 AUTHZ_NEEDS_MORE);
	/* the redirect-style 401 keeps the same cookie: not a new session */
	assert_int_equal(
	    read_answer(&(struct answer){.status = 401, .headers = {{"Location", "https://auth"}}},
			&result, reason),
	    AUTHZ_NEEDS_MORE);

	expect_refused((struct answer){.status = 403}, RESULT_AUTH_ERR,
		       "authelia access control denies \"john\" on "
		       "https://web01.ssh.example.com/pam/sshd (response status=403)");
	expect_refused((struct answer){.status = 200}, RESULT_AUTH_ERR,
		       "authelia access control allowed https://web01.ssh.example.com/pam/sshd "
		       "without naming a user (no Remote-User");
	expect_refused((struct answer){.status = 200, .headers = {{"Remote-User", "JOHN"}}},
		       RESULT_AUTH_ERR,
		       "authelia access control answered for \"JOHN\", not \"john\", on "
		       "https://web01.ssh.example.com/pam/sshd (Remote-User); refused");
	expect_refused((struct answer){.status = 200, .headers = {{"Remote-User", "johnny"}}},
		       RESULT_AUTH_ERR, "answered for \"johnny\"");
	expect_refused(
	    (struct answer){.status = 200,
			    .headers = {{"Remote-User", "john"}, {"Remote-User", "mallory"}}},
	    RESULT_AUTH_ERR, "answered for \"john\" and others, not \"john\"");
	expect_refused((struct answer){.status = 401,
				       .headers = {{"WWW-Authenticate",
						    "Basic realm=\"Authorization Required\""}}},
		       RESULT_SERVICE_ERR,
		       "/api/authz/auth-request asks for credentials (response status=401 with "
		       "WWW-Authenticate)");
	expect_refused((struct answer){.status = 407}, RESULT_SERVICE_ERR,
		       "asks for proxy credentials (response status=407)");
	expect_refused((struct answer){.status = 400}, RESULT_SERVICE_ERR,
		       "authelia access check on https://web01.ssh.example.com/pam/sshd is "
		       "misconfigured (response status=400): Authelia refuses the question itself "
		       "(its log says why); fix: web01.ssh.example.com must lie within the "
		       "session.cookies domain that holds auth.example.com");
	expect_refused((struct answer){.status = 404}, RESULT_SERVICE_ERR,
		       "authz-endpoint /api/authz/auth-request is not enabled in Authelia "
		       "(response status=404)");
	expect_refused((struct answer){.status = 405}, RESULT_SERVICE_ERR,
		       "is not enabled in Authelia (response status=405)");
	expect_refused((struct answer){.status = 302, .headers = {{"Location", "https://x/"}}},
		       RESULT_SERVICE_ERR,
		       "unexpected redirect (response status=302); is url Authelia's own URL?");
	expect_refused((struct answer){.status = 303}, RESULT_SERVICE_ERR, "status=303");
	expect_refused((struct answer){.status = 431}, RESULT_SERVICE_ERR, "status=431");
	expect_refused((struct answer){.status = 500}, RESULT_AUTHINFO_UNAVAIL,
		       "authelia access check on https://web01.ssh.example.com/pam/sshd: Authelia "
		       "failed (response status=500)");
	expect_refused((struct answer){.status = 503}, RESULT_AUTHINFO_UNAVAIL, "status=503");
	expect_refused((struct answer){.status = 599}, RESULT_AUTHINFO_UNAVAIL, "status=599");
	/* libevent passes any three digits; only 5xx is Authelia failing */
	expect_refused((struct answer){.status = 600}, RESULT_AUTH_ERR,
		       "unexpected answer (response status=600); refused");
	expect_refused((struct answer){.status = 999}, RESULT_AUTH_ERR,
		       "unexpected answer (response status=999); refused");
	expect_refused((struct answer){.status = 429}, RESULT_AUTH_ERR, "status=429");
	expect_refused((struct answer){.status = 204}, RESULT_AUTH_ERR,
		       "unexpected answer (response status=204); refused");
	expect_refused((struct answer){.status = 418}, RESULT_AUTH_ERR, "status=418");
	expect_refused((struct answer){.status = 100}, RESULT_AUTH_ERR, "status=100");
	expect_refused((struct answer){.error = "connection to auth.example.com:443 refused",
				       .failure = HTTP_UNREACHABLE},
		       RESULT_AUTHINFO_UNAVAIL,
		       "authelia access check on https://web01.ssh.example.com/pam/sshd failed: "
		       "connection to auth.example.com:443 refused");
	expect_refused((struct answer){.error = "invalid HTTP response", .failure = HTTP_UNUSABLE},
		       RESULT_AUTH_ERR, "failed: invalid HTTP response");
	/* a new session is not the one whose user and level were checked */
	expect_refused((struct answer){.status = 401, .rotated = true}, RESULT_AUTH_ERR,
		       "Authelia replaced the session of \"john\" (response status=401)");
	expect_refused(
	    (struct answer){.status = 200, .rotated = true, .headers = {{"Remote-User", "john"}}},
	    RESULT_AUTH_ERR, "Authelia replaced the session");
	/* nor is no session: the answer was for anyone (an idle session ended) */
	expect_refused((struct answer){.status = 401, .deleted = true}, RESULT_AUTH_ERR,
		       "authelia access check on https://web01.ssh.example.com/pam/sshd: Authelia "
		       "replaced the session of \"john\" (response status=401) and deleted its "
		       "cookie: it expired (inactivity)");
	expect_refused(
	    (struct answer){.status = 200, .deleted = true, .headers = {{"Remote-User", "john"}}},
	    RESULT_AUTH_ERR, "and deleted its cookie");
	(void)url;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_templates),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_fqdn_from_hosts),
	    cmocka_unit_test(test_expansion),
	    cmocka_unit_test(test_user_names_for_a_header),
	    cmocka_unit_test_setup_teardown(test_answers, answers_setup, answers_teardown),
	};
	unit_log_capture();
	return cmocka_run_group_tests_name("access check", tests, NULL, NULL);
}
