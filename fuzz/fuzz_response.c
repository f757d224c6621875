/*
 * fuzz_response.c -- libFuzzer target for what comes back from the server:
 * the input's first byte picks an HTTP status, the rest is the body, read the
 * way the states read it (Authelia's envelope, then the user info and session
 * state fields); the same bytes also go through the Set-Cookie parser.
 */
#include "../engine/authelia_api.h"
#include "../engine/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(int priority, const char *line)
{
	(void)priority;
	(void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = {200, 200, 200, 200, 302, 401, 403, 404, 429, 500};
	struct http_response response = {0};
	struct authelia_reply reply;
	char reason[AUTHELIA_REASON_SIZE], err[JSON_ERROR_SIZE], *header;
	const char *s, *value;
	bool b;
	long long n;
	size_t len;

	if (size == 0)
		return 0;
	log_set_sink(quiet);
	response.status = statuses[data[0] % 10];
	response.body = (const char *)data + 1;
	response.body_len = size - 1;
	if (authelia_reply_read(&response, "fuzz", &reply, reason) == RESULT_SUCCESS) {
		if (response.status != 200)
			__builtin_trap();
		json_get_string(reply.data, "method", "data.method", &s, err);
		json_get_bool(reply.data, "has_totp", "data.has_totp", &b, err);
		json_get_integer(reply.data, "authentication_level", "l", &n, err);
		json_get_string(reply.data, "result", "data.result", &s, err);
		authelia_reply_free(&reply);
	}
	header = malloc(size);
	memcpy(header, data + 1, size - 1);
	header[size - 1] = '\0';
	if (http_cookie_parse(header, "authelia_session", &value, &len) == 0 &&
	    (value < header || value + len > header + size - 1))
		__builtin_trap();
	free(header);
	return 0;
}
