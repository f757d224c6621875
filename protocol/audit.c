/*
 * audit.c -- formatting the audit line (see audit.h).
 */
#include "audit.h"

#include <security/pam_appl.h>
#include <stdio.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
} pam_names[] = {
    {PAM_SUCCESS, "PAM_SUCCESS"},
    {PAM_OPEN_ERR, "PAM_OPEN_ERR"},
    {PAM_SYMBOL_ERR, "PAM_SYMBOL_ERR"},
    {PAM_SERVICE_ERR, "PAM_SERVICE_ERR"},
    {PAM_SYSTEM_ERR, "PAM_SYSTEM_ERR"},
    {PAM_BUF_ERR, "PAM_BUF_ERR"},
    {PAM_PERM_DENIED, "PAM_PERM_DENIED"},
    {PAM_AUTH_ERR, "PAM_AUTH_ERR"},
    {PAM_CRED_INSUFFICIENT, "PAM_CRED_INSUFFICIENT"},
    {PAM_AUTHINFO_UNAVAIL, "PAM_AUTHINFO_UNAVAIL"},
    {PAM_USER_UNKNOWN, "PAM_USER_UNKNOWN"},
    {PAM_MAXTRIES, "PAM_MAXTRIES"},
    {PAM_NEW_AUTHTOK_REQD, "PAM_NEW_AUTHTOK_REQD"},
    {PAM_ACCT_EXPIRED, "PAM_ACCT_EXPIRED"},
    {PAM_SESSION_ERR, "PAM_SESSION_ERR"},
    {PAM_CRED_UNAVAIL, "PAM_CRED_UNAVAIL"},
    {PAM_CRED_EXPIRED, "PAM_CRED_EXPIRED"},
    {PAM_CRED_ERR, "PAM_CRED_ERR"},
    {PAM_NO_MODULE_DATA, "PAM_NO_MODULE_DATA"},
    {PAM_CONV_ERR, "PAM_CONV_ERR"},
    {PAM_AUTHTOK_ERR, "PAM_AUTHTOK_ERR"},
    {PAM_AUTHTOK_RECOVERY_ERR, "PAM_AUTHTOK_RECOVERY_ERR"},
    {PAM_AUTHTOK_LOCK_BUSY, "PAM_AUTHTOK_LOCK_BUSY"},
    {PAM_AUTHTOK_DISABLE_AGING, "PAM_AUTHTOK_DISABLE_AGING"},
    {PAM_TRY_AGAIN, "PAM_TRY_AGAIN"},
    {PAM_IGNORE, "PAM_IGNORE"},
    {PAM_ABORT, "PAM_ABORT"},
    {PAM_AUTHTOK_EXPIRED, "PAM_AUTHTOK_EXPIRED"},
    {PAM_MODULE_UNKNOWN, "PAM_MODULE_UNKNOWN"},
#ifdef PAM_BAD_ITEM
    {PAM_BAD_ITEM, "PAM_BAD_ITEM"},
#endif
#ifdef PAM_CONV_AGAIN
    {PAM_CONV_AGAIN, "PAM_CONV_AGAIN"},
#endif
#ifdef PAM_INCOMPLETE
    {PAM_INCOMPLETE, "PAM_INCOMPLETE"},
#endif
};

const char *audit_pam_name(int code, char buf[24])
{
	for (size_t i = 0; i < sizeof(pam_names) / sizeof(pam_names[0]); i++)
		if (pam_names[i].code == code)
			return pam_names[i].name;
	snprintf(buf, 24, "PAM_%d", code);
	return buf;
}

const char *audit_result_of_code(int code, char buf[24])
{
	char name[24];
	const char *pam = audit_pam_name(code, name);
	size_t n = 0;

	if (strncmp(pam, "PAM_", 4) == 0)
		pam += 4;
	for (; pam[n] != '\0' && n < 23; n++)
		buf[n] = (pam[n] >= 'A' && pam[n] <= 'Z') ? (char)(pam[n] - 'A' + 'a') : pam[n];
	buf[n] = '\0';
	return buf;
}

static int audit_word_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

const char *audit_word(const char *text, char out[AUDIT_WORD_SIZE])
{
	size_t n = 0;

	if (text == NULL || text[0] == '\0') {
		snprintf(out, AUDIT_WORD_SIZE, "-");
		return out;
	}
	for (; text[n] != '\0' && n < AUDIT_WORD_MAX; n++)
		out[n] = audit_word_char((unsigned char)text[n]) ? text[n] : '?';
	if (text[n] != '\0')
		out[n++] = '.', out[n++] = '.', out[n++] = '.';
	out[n] = '\0';
	return out;
}

/* Appends reason, double-quoted, '"' and '\' escaped, anything unprintable as
 * '?', cut with "..." where the line would end. */
static size_t audit_quote(char *out, size_t n, size_t size, const char *reason)
{
	/* Room for the worst step (an escape, 2 bytes) plus `..."` and the NUL. */
	const size_t reserve = 2 + 5;

	out[n++] = '"';
	for (const char *p = reason; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (n + reserve > size) {
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		if (c == '"' || c == '\\')
			out[n++] = '\\';
		out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[n++] = '"';
	out[n] = '\0';
	return n;
}

void audit_format(const struct audit_record *record, char out[AUDIT_LINE_SIZE])
{
	char user[AUDIT_WORD_SIZE], service[AUDIT_WORD_SIZE], rhost[AUDIT_WORD_SIZE];
	char factors[AUDIT_WORD_SIZE], result[AUDIT_WORD_SIZE], pam[AUDIT_WORD_SIZE];
	char state[AUDIT_WORD_SIZE], helper[24], overrides[AUDIT_WORD_SIZE];
	const char *f =
	    record->factors && record->factors[0] ? record->factors : AUDIT_FACTORS_NONE;
	int len;
	size_t n;

	if (record->helper > 0)
		snprintf(helper, sizeof(helper), "%ld", record->helper);
	else
		snprintf(helper, sizeof(helper), "-");
	len = snprintf(out, AUDIT_LINE_SIZE,
		       AUDIT_PREFIX "user=%s service=%s rhost=%s factors=%s result=%s pam=%s "
				    "duration_ms=%lld helper=%s",
		       audit_word(record->user, user), audit_word(record->service, service),
		       audit_word(record->rhost, rhost), audit_word(f, factors),
		       audit_word(record->result, result), audit_word(record->pam, pam),
		       record->duration_ms < 0 ? 0 : record->duration_ms, helper);
	n = len < 0 ? 0 : (size_t)len;

	/* The words above are bounded: ~9 * 67 bytes, well inside the line. */
	if (record->overrides != NULL && n < AUDIT_LINE_SIZE) {
		len = snprintf(out + n, AUDIT_LINE_SIZE - n, " overrides=%s",
			       audit_word(record->overrides, overrides));
		n += len < 0 ? 0 : (size_t)len;
	}
	if (record->state != NULL && n < AUDIT_LINE_SIZE) {
		len = snprintf(out + n, AUDIT_LINE_SIZE - n, " state=%s",
			       audit_word(record->state, state));
		n += len < 0 ? 0 : (size_t)len;
	}
	if (record->reason != NULL && n + sizeof(" reason=\"...\"") < AUDIT_LINE_SIZE) {
		memcpy(out + n, " reason=", 8);
		audit_quote(out, n + 8, AUDIT_LINE_SIZE, record->reason);
	}
}
