/*
 * fuzz_oidc.c -- libFuzzer target for the device flow's parsers: the input
 * is offered as a device authorization answer, a token answer (under a status
 * the first byte picks), a discovery document, a JWKS, an ID token checked
 * against a fixed JWKS, and a userinfo answer.  Nothing may crash, and nothing
 * but a properly signed RS256 token may verify (none can be, here).
 */
#include "../engine/log.h"
#include "../engine/json.h"
#include "../engine/oidc.h"
#include "../engine/secure_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char jwks_text[] =
    "{\"keys\":[{\"use\":\"sig\",\"kty\":\"RSA\",\"kid\":\"k1\",\"alg\":\"RS256\",\"e\":\"AQAB\","
    "\"n\":\"xGOr-H7A-PWgj4sMe8dX5qOWvhfHtCqVd2Fk_jVZrJAy9LKXG8uPDJcx2DkLAm4Md4zBgBXLZqsq0u0h"
    "J8eYPh5kqSqD5eoPGRRr5ZK4Uk3kHqBKr4h45JEQwsXJd1dKKDb0iJ3uCKUsT3DmAOFrvTpe6lrLk8Fa6wP5k8X"
    "Z0PtQpXq9aW4Gm7bC9B-u8OY5WQzZs0BFp2q0gkVZC6dN1o4YeyfG4OmK9Xc8A8yS0w4M7rIHQJj5o9CnVv0RSfB"
    "FfpWe9LvAzYqgE2Gq6BdA_sP2o6D7Xqz0-m6wb1sFsZL1a5FXCeyXf8sS2Z8A7kqvBD0pQg4M2jP7QcW3q6r3Q\"}]}";

static void quiet(int priority, const char *line)
{
	(void)priority;
	(void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config config;
	static yajl_val jwks;
	static const struct id_token_policy policy = {.issuer = "https://auth.example.com",
						      .client_id = "pam",
						      .two_factors = true,
						      .max_age = 3600};
	char err[OIDC_ERROR_SIZE], cerr[OPTION_ERROR_SIZE], *text, *sub = NULL;
	struct device_grant grant;
	struct token_set tokens;
	struct discovery discovery;
	yajl_val keys;

	if (size == 0)
		return 0;
	if (jwks == NULL) {
		log_set_sink(quiet);
		config_init(&config);
		config_apply(&config, "url=https://auth.example.com", cerr);
		config_apply(&config, "oauth2-client-id=pam", cerr);
		config_finish(&config, cerr);
		jwks = oidc_read_jwks(jwks_text, strlen(jwks_text), err);
	}
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	if (oidc_read_device_grant(text, size, &config, &grant, err) == 0) {
		if (oidc_check_verification_url(grant.verification_url, &config, err) != 0)
			__builtin_trap();
		oidc_device_grant_free(&grant);
	}
	if (oidc_read_token_response(data[0] % 2 ? 200 : 400, text, size, &tokens, err) ==
	    POLL_TOKENS)
		oidc_token_set_free(&tokens);
	if (oidc_read_discovery(text, size, &config, &discovery, err) == 0)
		oidc_discovery_free(&discovery);
	keys = oidc_read_jwks(text, size, err);
	if (keys != NULL) {
		if (oidc_verify_id_token("e30.e30.", keys, &policy, &sub, err) == 0)
			__builtin_trap();
		json_free(keys);
	}
	if (strlen(text) == size && oidc_verify_id_token(text, jwks, &policy, &sub, err) == 0)
		__builtin_trap(); /* no key to sign with: nothing may verify */
	free(sub);
	oidc_check_userinfo(text, size, "sub", "john", err);
	free(text);
	return 0;
}
