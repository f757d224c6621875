/*
 * test_options.c -- the shim's option parsing and the shared syntax checks:
 * every option of the guide, the defaults, and every error message.
 */
#include "unit.h"

#include "../../shim/shim.h"

#define PARSE(...)                                                                              \
	({                                                                                      \
		const char *argv_[] = {__VA_ARGS__};                                            \
		shim_options_parse((int)(sizeof(argv_) / sizeof(argv_[0])), argv_, &opts, err); \
	})

static struct shim_options opts;
static char err[OPTION_ERROR_SIZE];

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(shim_options_parse(0, NULL, &opts, err), 0);
	assert_string_equal(opts.binary, "/usr/bin/pam_authelia");
	assert_int_equal(opts.timeout, 60);
	assert_false(opts.forward_authtok);
	assert_false(opts.debug);
}

static void test_every_option_of_the_guide(void **state)
{
	(void)state;
	assert_int_equal(
	    PARSE("url=https://auth.example.com", "auth-level=2FA", "cookie-name=authelia_session",
		  "ca-cert=/etc/ssl/ca.pem", "timeout=300", "binary=/opt/pam_authelia",
		  "method-priority=device_authorization,user", "oauth2-client-id=pam-authelia",
		  "oauth2-client-secret=s3cret", "oauth2-scope=openid,authelia.pam", "debug"),
	    0);
	assert_string_equal(opts.binary, "/opt/pam_authelia");
	assert_int_equal(opts.timeout, 300);
	assert_true(opts.forward_authtok);
	assert_true(opts.debug);
	for (int id = 0; id < OPT_COUNT; id++)
		assert_non_null(option_by_id((enum option_id)id));
}

static void test_authtok_only_for_2fa(void **state)
{
	(void)state;
	assert_int_equal(PARSE("auth-level=1FA+2FA"), 0);
	assert_false(opts.forward_authtok);
	assert_int_equal(PARSE("auth-level=1FA"), 0);
	assert_false(opts.forward_authtok);
}

static void expect_error(int rc, const char *message)
{
	assert_int_equal(rc, -1);
	assert_string_equal(err, message);
}

static void test_error_messages(void **state)
{
	(void)state;
	expect_error(PARSE("colour=blue"), "unknown option \"colour\"");
	expect_error(PARSE("Debug"), "unknown option \"Debug\"");
	expect_error(PARSE("url"), "option \"url\" needs a value: url=...");
	expect_error(PARSE("debug=1"), "option \"debug\" takes no value");
	expect_error(PARSE("url="), "option \"url\" has an empty value");
	expect_error(PARSE("debug", "debug"), "option \"debug\" is given more than once");
	expect_error(PARSE("url=https://a", "url=https://b"),
		     "option \"url\" is given more than once");
	expect_error(PARSE("binary=bin/pam_authelia"), "binary must be an absolute path");
	expect_error(PARSE("=x"), "unknown option \"\"");
	expect_error(PARSE("unknown\"\n=x"), "unknown option \"unknown??\"");
	{
		const char *argv[] = {NULL};
		expect_error(shim_options_parse(1, argv, &opts, err), "empty module argument");
	}
}

static void test_timeout_values(void **state)
{
	static const char *const bad[] = {
	    "0", "-1", "1.5", "abc", " 5", "5 ", "86401", "99999999999999999999", "0x10", "+5"};
	char arg[64];

	(void)state;
	assert_int_equal(PARSE("timeout=1"), 0);
	assert_int_equal(opts.timeout, 1);
	assert_int_equal(PARSE("timeout=86400"), 0);
	assert_int_equal(opts.timeout, 86400);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[OPTION_ERROR_SIZE];
		snprintf(arg, sizeof(arg), "timeout=%s", bad[i]);
		snprintf(
		    want, sizeof(want),
		    "invalid timeout \"%s\": must be a whole number of seconds from 1 to 86400",
		    bad[i]);
		expect_error(PARSE(arg), want);
	}
}

static void test_secret_values_never_reach_a_message(void **state)
{
	(void)state;
	expect_error(PARSE("oauth2-client-secrte=TOPSECRET"),
		     "unknown option \"oauth2-client-secrte\"");
	expect_error(PARSE("oauth2-client-secret=TOPSECRET", "oauth2-client-secret=TOPSECRET"),
		     "option \"oauth2-client-secret\" is given more than once");
}

static void test_overlong_argument(void **state)
{
	static char arg[OPTION_MAX_ARGUMENT + 16];

	(void)state;
	memcpy(arg, "url=", 4);
	memset(arg + 4, 'a', OPTION_MAX_ARGUMENT);
	expect_error(PARSE(arg), "option \"url\" is longer than 4096 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_every_option_of_the_guide),
	    cmocka_unit_test(test_authtok_only_for_2fa),
	    cmocka_unit_test(test_error_messages),
	    cmocka_unit_test(test_timeout_values),
	    cmocka_unit_test(test_secret_values_never_reach_a_message),
	    cmocka_unit_test(test_overlong_argument),
	};
	return cmocka_run_group_tests_name("shim options", tests, NULL, NULL);
}
