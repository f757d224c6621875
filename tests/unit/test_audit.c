/*
 * test_audit.c -- the audit line's format (protocol/audit.c): the keys in
 * their order, values that are not ours as one word that forges nothing, the
 * quoted reason with its escapes and its cut, and the names of PAM codes and
 * results agreeing with protocol/frame.c.
 */
#include "unit.h"

#include "../../protocol/audit.h"
#include "../../protocol/frame.h"

#include <security/pam_appl.h>

static void test_success_line(void **state)
{
	char line[AUDIT_LINE_SIZE];
	const struct audit_record record = {
	    .user = "john",
	    .service = "sshd",
	    .rhost = "192.0.2.7",
	    .factors = "password,totp",
	    .result = "success",
	    .pam = "PAM_SUCCESS",
	    .duration_ms = 412,
	};

	(void)state;
	audit_format(&record, line);
	assert_string_equal(line, "audit: user=john service=sshd rhost=192.0.2.7 "
				  "factors=password,totp result=success pam=PAM_SUCCESS "
				  "duration_ms=412 helper=-");
}

static void test_failure_line(void **state)
{
	char line[AUDIT_LINE_SIZE];
	const struct audit_record record = {
	    .user = "john",
	    .service = "sudo",
	    .rhost = NULL,
	    .factors = "",
	    .result = "auth_err",
	    .pam = "PAM_AUTH_ERR",
	    .duration_ms = 5230,
	    .state = "first_factor",
	    .reason = "first factor authentication failed: first factor for user \"john\" "
		      "refused (response status=401)",
	};

	(void)state;
	audit_format(&record, line);
	assert_string_equal(line, "audit: user=john service=sudo rhost=- factors=none "
				  "result=auth_err pam=PAM_AUTH_ERR duration_ms=5230 helper=- "
				  "state=first_factor reason=\"first factor authentication "
				  "failed: first factor for user \\\"john\\\" refused (response "
				  "status=401)\"");
}

/* The two lines of one attempt: the helper's (it logged success before it
 * sent it) and the module's (the helper then exited 3), paired by helper=. */
static void test_helper_pid_pairs_an_overridden_line(void **state)
{
	char helper_line[AUDIT_LINE_SIZE], module_line[AUDIT_LINE_SIZE];
	const struct audit_record helper = {
	    .user = "john",
	    .service = "sshd",
	    .rhost = "192.0.2.7",
	    .factors = "password",
	    .result = "success",
	    .pam = "PAM_SUCCESS",
	    .duration_ms = 300,
	    .helper = 4711,
	};
	const struct audit_record module = {
	    .user = "john",
	    .service = "sshd",
	    .rhost = "192.0.2.7",
	    .factors = "unknown",
	    .result = "service_err",
	    .pam = "PAM_SERVICE_ERR",
	    .duration_ms = 310,
	    .helper = 4711,
	    .overrides = "success",
	    .reason = "helper /usr/bin/pam_authelia exited with status 3",
	};

	(void)state;
	audit_format(&helper, helper_line);
	audit_format(&module, module_line);
	assert_string_equal(helper_line, "audit: user=john service=sshd rhost=192.0.2.7 "
					 "factors=password result=success pam=PAM_SUCCESS "
					 "duration_ms=300 helper=4711");
	assert_string_equal(module_line, "audit: user=john service=sshd rhost=192.0.2.7 "
					 "factors=unknown result=service_err pam=PAM_SERVICE_ERR "
					 "duration_ms=310 helper=4711 overrides=success "
					 "reason=\"helper /usr/bin/pam_authelia exited with status "
					 "3\"");
}

static void test_values_not_ours_are_one_word(void **state)
{
	char line[AUDIT_LINE_SIZE];
	const struct audit_record record = {
	    .user = "x result=success pam=PAM_SUCCESS \"\\\n\x1b[2J\xc3\xa9",
	    .service = "",
	    .rhost = "evil\r\nhost",
	    .factors = "password",
	    .result = "auth_err",
	    .pam = "PAM_AUTH_ERR",
	    .reason = "r",
	};

	(void)state;
	audit_format(&record, line);
	assert_string_equal(line, "audit: user=x?result?success?pam?PAM_SUCCESS?????[2J?? "
				  "service=- rhost=evil??host factors=password result=auth_err "
				  "pam=PAM_AUTH_ERR duration_ms=0 helper=- reason=\"r\"");
}

static void test_long_values_are_cut(void **state)
{
	char line[AUDIT_LINE_SIZE], user[300], reason[2000], word[AUDIT_WORD_SIZE];
	const struct audit_record record = {
	    .user = user,
	    .service = user,
	    .rhost = user,
	    .factors = user,
	    .result = "auth_err",
	    .pam = "PAM_AUTH_ERR",
	    .duration_ms = 1,
	    .state = user,
	    .reason = reason,
	};
	size_t len;

	(void)state;
	memset(user, 'u', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	/* Every byte escaped: the worst case for the line's length. */
	for (size_t i = 0; i < sizeof(reason) - 1; i++)
		reason[i] = i % 2 ? '"' : '\\';
	reason[sizeof(reason) - 1] = '\0';
	assert_string_equal(audit_word(user, word),
			    "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu...");
	audit_format(&record, line);
	len = strlen(line);
	assert_true(len < AUDIT_LINE_SIZE);
	assert_true(len > AUDIT_LINE_SIZE - 10); /* the reason fills what is left */
	assert_string_equal(line + len - 4, "...\"");
	assert_non_null(strstr(line, " reason=\"\\\\\\\""));
}

static void test_reason_cut_never_splits_an_escape(void **state)
{
	char line[AUDIT_LINE_SIZE], reason[2000];
	const struct audit_record record = {
	    .result = "abort",
	    .pam = "PAM_ABORT",
	    .reason = reason,
	};

	(void)state;
	/* Every length of plain text before a run of quotes. */
	for (size_t plain = 800; plain < 1000; plain++) {
		const char *p;
		size_t backslashes = 0;

		memset(reason, 'a', plain);
		memset(reason + plain, '"', sizeof(reason) - 1 - plain);
		reason[sizeof(reason) - 1] = '\0';
		audit_format(&record, line);
		p = line + strlen(line) - 1;
		assert_int_equal(*p, '"');
		assert_memory_equal(p - 3, "...", 3);
		/* An even run of backslashes before the closing quote: it is not escaped. */
		for (const char *q = p - 4; *q == '\\'; q--)
			backslashes++;
		assert_int_equal(backslashes % 2, 0);
	}
}

static void test_pam_names(void **state)
{
	char buf[24];

	(void)state;
	assert_string_equal(audit_pam_name(PAM_SUCCESS, buf), "PAM_SUCCESS");
	assert_string_equal(audit_pam_name(PAM_AUTHINFO_UNAVAIL, buf), "PAM_AUTHINFO_UNAVAIL");
	assert_string_equal(audit_pam_name(PAM_USER_UNKNOWN, buf), "PAM_USER_UNKNOWN");
	assert_string_equal(audit_pam_name(PAM_INCOMPLETE, buf), "PAM_INCOMPLETE");
	assert_string_equal(audit_pam_name(4711, buf), "PAM_4711");
	assert_string_equal(audit_result_of_code(PAM_USER_UNKNOWN, buf), "user_unknown");
	assert_string_equal(audit_result_of_code(PAM_BUF_ERR, buf), "buf_err");
}

/* The helper names a result and its code from frame.c; the module names a
 * code it returns from audit.c: both say the same for every result. */
static void test_results_and_codes_agree(void **state)
{
	static const struct {
		enum auth_result result;
		int code;
	} want[] = {
	    {RESULT_SUCCESS, PAM_SUCCESS},
	    {RESULT_AUTH_ERR, PAM_AUTH_ERR},
	    {RESULT_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL},
	    {RESULT_SERVICE_ERR, PAM_SERVICE_ERR},
	    {RESULT_CONV_ERR, PAM_CONV_ERR},
	    {RESULT_ABORT, PAM_ABORT},
	};
	char buf[24];

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(auth_result_pam_code(want[i].result), want[i].code);
		assert_string_equal(audit_result_of_code(want[i].code, buf),
				    auth_result_name(want[i].result));
	}
	assert_int_equal(auth_result_pam_code((enum auth_result)99), PAM_SERVICE_ERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_success_line),
	    cmocka_unit_test(test_failure_line),
	    cmocka_unit_test(test_helper_pid_pairs_an_overridden_line),
	    cmocka_unit_test(test_values_not_ours_are_one_word),
	    cmocka_unit_test(test_long_values_are_cut),
	    cmocka_unit_test(test_reason_cut_never_splits_an_escape),
	    cmocka_unit_test(test_pam_names),
	    cmocka_unit_test(test_results_and_codes_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
