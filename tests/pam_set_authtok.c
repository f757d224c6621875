/*
 * pam_set_authtok.c -- a test PAM module standing where pam_unix.so stands in
 * an auth-level=2FA stack: it asks for the password with pam_get_authtok(),
 * which stores it as PAM_AUTHTOK for the modules below, and succeeds.  (PAM
 * applications cannot set PAM_AUTHTOK themselves; only modules can.)
 */
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <stddef.h>

int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *authtok = NULL;

	(void)flags;
	(void)argc;
	(void)argv;
	return pam_get_authtok(pamh, PAM_AUTHTOK, &authtok, NULL);
}

int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
