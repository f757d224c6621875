/*
 * frame.c -- encoder and incremental parser for the shim <-> helper frames.
 */
#include "frame.h"

#include <security/pam_appl.h>
#include <string.h>

static const struct {
	enum frame_type type;
	const char *name;
} frame_types[] = {
    {FRAME_HELLO, "hello"},
    {FRAME_OPTION, "option"},
    {FRAME_SERVICE, "service"},
    {FRAME_USER, "user"},
    {FRAME_RHOST, "rhost"},
    {FRAME_AUTHTOK, "authtok"},
    {FRAME_WATCH_FD, "watch_fd"},
    {FRAME_START, "start"},
    {FRAME_REPLY, "reply"},
    {FRAME_CONV_ERROR, "conv_error"},
    {FRAME_PROMPT_ECHO_OFF, "prompt_echo_off"},
    {FRAME_PROMPT_ECHO_ON, "prompt_echo_on"},
    {FRAME_INFO, "info"},
    {FRAME_ERROR, "error"},
    {FRAME_RESULT, "result"},
};

/* Each result's name and the PAM code the shim returns for it: the one place
 * that says so (the helper's audit line names the code from here too). */
static const struct {
	const char *name;
	int pam_code;
} results[] = {
    [RESULT_SUCCESS] = {"success", PAM_SUCCESS},
    [RESULT_AUTH_ERR] = {"auth_err", PAM_AUTH_ERR},
    [RESULT_AUTHINFO_UNAVAIL] = {"authinfo_unavail", PAM_AUTHINFO_UNAVAIL},
    [RESULT_SERVICE_ERR] = {"service_err", PAM_SERVICE_ERR},
    [RESULT_CONV_ERR] = {"conv_err", PAM_CONV_ERR},
    [RESULT_ABORT] = {"abort", PAM_ABORT},
};
#define RESULT_COUNT (sizeof(results) / sizeof(results[0]))

int frame_type_is_known(int type)
{
	return frame_type_name(type) != NULL;
}

const char *frame_type_name(int type)
{
	for (size_t i = 0; i < sizeof(frame_types) / sizeof(frame_types[0]); i++)
		if ((int)frame_types[i].type == type)
			return frame_types[i].name;
	return NULL;
}

int frame_encode_header(unsigned char hdr[FRAME_HEADER_SIZE], int type, size_t len)
{
	if (!frame_type_is_known(type) || len > FRAME_MAX_PAYLOAD)
		return -1;
	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
	return 0;
}

enum frame_parse_status frame_parse(const void *buf, size_t len, struct frame *frame,
				    size_t *consumed, const char **why)
{
	const unsigned char *p = buf;
	size_t payload_len;

	if (len < FRAME_HEADER_SIZE) {
		*consumed = FRAME_HEADER_SIZE;
		return FRAME_PARSE_INCOMPLETE;
	}
	if (!frame_type_is_known(p[0])) {
		*why = "unknown frame type";
		return FRAME_PARSE_MALFORMED;
	}
	payload_len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
	if (payload_len > FRAME_MAX_PAYLOAD) {
		*why = "frame larger than 64 KiB";
		return FRAME_PARSE_MALFORMED;
	}
	if (len < FRAME_HEADER_SIZE + payload_len) {
		*consumed = FRAME_HEADER_SIZE + payload_len;
		return FRAME_PARSE_INCOMPLETE;
	}
	if (memchr(p + FRAME_HEADER_SIZE, '\0', payload_len) != NULL) {
		*why = "NUL byte in frame payload";
		return FRAME_PARSE_MALFORMED;
	}
	frame->type = (enum frame_type)p[0];
	frame->payload = (const char *)p + FRAME_HEADER_SIZE;
	frame->len = payload_len;
	*consumed = FRAME_HEADER_SIZE + payload_len;
	return FRAME_PARSE_OK;
}

const char *auth_result_name(enum auth_result result)
{
	if ((unsigned)result >= RESULT_COUNT)
		return results[RESULT_SERVICE_ERR].name;
	return results[result].name;
}

int auth_result_pam_code(enum auth_result result)
{
	if ((unsigned)result >= RESULT_COUNT)
		return PAM_SERVICE_ERR;
	return results[result].pam_code;
}

int auth_result_from_name(const char *name, size_t len, enum auth_result *result)
{
	for (size_t i = 0; i < RESULT_COUNT; i++) {
		if (strlen(results[i].name) == len && memcmp(results[i].name, name, len) == 0) {
			*result = (enum auth_result)i;
			return 0;
		}
	}
	return -1;
}
