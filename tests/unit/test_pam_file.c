/*
 * test_pam_file.c -- reading PAM files (continuations, comments, bracketed
 * controls and arguments, include/substack/@include) and the model of libpam's
 * dispatcher that `pam_authelia --check` asks what a stack returns when
 * pam_authelia.so fails.  The expected results are libpam's own
 * (pam_dispatch.c), worked out by hand for each stack.
 */
#include "unit.h"

#include "../../engine/pam_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/pam_file_test-XXXXXX";
static struct pam_stack stack;
static int problems;

static void count_problem(void *arg, const char *file, int line, const char *what)
{
	(void)arg;
	(void)file;
	(void)line;
	(void)what;
	problems++;
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void load(const char *text)
{
	char path[256];

	write_file("svc", text);
	snprintf(path, sizeof(path), "%s/svc", dir);
	pam_stack_free(&stack);
	problems = 0;
	assert_int_equal(pam_stack_load(&stack, path, dir, PAM_FILE_AUTH, count_problem, NULL), 0);
}

struct outcome {
	int authelia, others;
};

static int outcome(const struct pam_entry *e, void *arg)
{
	const struct outcome *o = arg;
	const char *name = pam_entry_module_name(e);

	if (strcmp(name, "pam_authelia.so") == 0)
		return o->authelia;
	if (strcmp(name, "pam_deny.so") == 0)
		return PAM_AUTH_ERR;
	if (strcmp(name, "pam_permit.so") == 0)
		return PAM_SUCCESS;
	return o->others;
}

static int run(int authelia, int others)
{
	struct outcome o = {authelia, others};
	return pam_stack_simulate(&stack, outcome, &o);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	pam_stack_free(&stack);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_parsing(void **state)
{
	(void)state;
	load("# a comment\n"
	     "auth [success=ok default=die] \\\n"
	     "   pam_authelia.so url=https://a [arg with spaces \\] inside] # trailing\n"
	     "account required pam_unix.so\n"
	     "-auth optional /lib/security/pam_x.so\n");
	assert_int_equal(problems, 0);
	assert_int_equal(stack.count, 2);
	assert_string_equal(stack.entries[0].control, "[success=ok default=die]");
	assert_int_equal(stack.entries[0].line, 2);
	assert_int_equal(stack.entries[0].argc, 2);
	assert_string_equal(stack.entries[0].argv[1], "arg with spaces ] inside");
	assert_int_equal(stack.entries[0].actions[PAM_SUCCESS], PAM_FILE_OK);
	assert_int_equal(stack.entries[0].actions[PAM_AUTH_ERR], PAM_FILE_DIE);
	assert_true(stack.entries[1].dash);
	assert_string_equal(pam_entry_module_name(&stack.entries[1]), "pam_x.so");
	load("auth bogus pam_unix.so\nauth [nosuch=ok] pam_unix.so\nwhat required x.so\n");
	assert_int_equal(problems, 3);
	assert_int_equal(stack.count, 0);
}

static void test_includes(void **state)
{
	(void)state;
	write_file("common", "auth required pam_unix.so\naccount required pam_authelia.so\n");
	load("@include common\nauth include common\nauth substack common\n"
	     "auth include missing-file\n");
	assert_int_equal(problems, 1);
	assert_int_equal(stack.count, 3); /* the account line is not in the auth stack */
	assert_int_equal(stack.entries[0].level, 0);
	assert_int_equal(stack.entries[2].level, 1);
	write_file("loop", "@include loop\n");
	load("@include loop\n");
	assert_int_equal(problems, 1);
}

static void test_required_and_sufficient(void **state)
{
	(void)state;
	load("auth required pam_authelia.so\n");
	assert_int_equal(run(PAM_SUCCESS, PAM_SUCCESS), PAM_SUCCESS);
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_AUTH_ERR);
	assert_int_equal(run(PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS), PAM_AUTHINFO_UNAVAIL);
	/* sufficient, then pam_unix: a refusal falls through to the local password */
	load("auth sufficient pam_authelia.so\nauth required pam_unix.so\n");
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_SUCCESS);
	assert_int_equal(run(PAM_AUTH_ERR, PAM_AUTH_ERR), PAM_AUTH_ERR);
	/* sufficient alone: an ignored failure with no other result is PAM_PERM_DENIED */
	load("auth sufficient pam_authelia.so\n");
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_PERM_DENIED);
	/* a failure before a sufficient success still fails */
	load("auth required pam_unix.so\nauth sufficient pam_authelia.so\n"
	     "auth required pam_permit.so\n");
	assert_int_equal(run(PAM_SUCCESS, PAM_AUTH_ERR), PAM_AUTH_ERR);
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_SUCCESS);
}

static void test_jumps_ignore_and_substacks(void **state)
{
	(void)state;
	/* Debian's common-auth with the module behind it */
	load("auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n"
	     "auth required pam_permit.so\nauth required pam_authelia.so\n");
	assert_int_equal(run(PAM_SUCCESS, PAM_SUCCESS), PAM_SUCCESS);
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_AUTH_ERR);
	assert_int_equal(run(PAM_SUCCESS, PAM_AUTH_ERR), PAM_AUTH_ERR);
	/* a jump that skips the module */
	load("auth [success=2 default=ignore] pam_unix.so\nauth required pam_authelia.so\n"
	     "auth requisite pam_deny.so\nauth required pam_permit.so\n");
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_SUCCESS);
	/* a jump past the end is a "bad jump in stack" */
	load("auth [success=5 default=bad] pam_unix.so\n");
	assert_int_equal(run(PAM_SUCCESS, PAM_SUCCESS), PAM_PERM_DENIED);
	/* authinfo_unavail=ignore behind pam_unix fails open */
	load("auth required pam_unix.so\n"
	     "auth [success=ok authinfo_unavail=ignore default=bad] pam_authelia.so\n");
	assert_int_equal(run(PAM_AUTHINFO_UNAVAIL, PAM_SUCCESS), PAM_SUCCESS);
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_AUTH_ERR);
	/* done inside a substack ends the substack only */
	write_file("sub", "auth sufficient pam_unix.so\nauth required pam_deny.so\n");
	load("auth substack sub\nauth required pam_authelia.so\n");
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_AUTH_ERR);
	assert_int_equal(run(PAM_SUCCESS, PAM_SUCCESS), PAM_SUCCESS);
	/* reset restores the state at the stack's start: nothing decided */
	load("auth required pam_unix.so\nauth [default=reset] pam_authelia.so\n");
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_PERM_DENIED);
	/* ... or at the substack's entry, where pam_unix had already succeeded */
	write_file("sub2", "auth [success=ok default=reset] pam_authelia.so\n");
	load("auth required pam_unix.so\nauth substack sub2\n");
	assert_int_equal(run(PAM_AUTH_ERR, PAM_SUCCESS), PAM_SUCCESS);
	assert_int_equal(run(PAM_AUTH_ERR, PAM_AUTH_ERR), PAM_AUTH_ERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parsing),
	    cmocka_unit_test(test_includes),
	    cmocka_unit_test(test_required_and_sufficient),
	    cmocka_unit_test(test_jumps_ignore_and_substacks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
