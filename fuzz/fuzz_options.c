/*
 * fuzz_options.c -- libFuzzer target for option parsing: the input, split at
 * newlines, is a list of module arguments given to the shim's parser and to
 * the helper's configuration (URL parsing, lists, scopes, cookie names).
 */
#include "../engine/config.h"
#include "../shim/shim.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *save = NULL;
	const char *argv[32];
	int argc = 0;
	struct shim_options opts;
	struct config config;
	char err[OPTION_ERROR_SIZE];

	memcpy(text, data, size);
	text[size] = '\0';
	for (char *arg = strtok_r(text, "\n", &save); arg && argc < 32;
	     arg = strtok_r(NULL, "\n", &save))
		argv[argc++] = arg;
	if (shim_options_parse(argc, argv, &opts, err) == 0 && opts.timeout == 0)
		__builtin_trap();
	config_init(&config);
	for (int i = 0; i < argc; i++)
		if (config_apply(&config, argv[i], err) != 0)
			break;
	if (config_finish(&config, err) == 0 &&
	    (config.url == NULL || strncasecmp(config.url, "https://", 8) != 0 ||
	     config.method_count == 0 || strstr(config.oauth2_scope, "openid") == NULL))
		__builtin_trap();
	config_free(&config);
	free(text);
	return 0;
}
