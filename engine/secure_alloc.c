/*
 * secure_alloc.c -- allocators that zero every block before releasing it.
 */
#include "secure_alloc.h"

#include <event2/event.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *secure_malloc(size_t size)
{
	return malloc(size);
}

uintptr_t secure_freed_key;
bool secure_free_wipes;

void secure_wipe(void *ptr)
{
	size_t size = malloc_usable_size(ptr);
	uintptr_t second;

	if (secure_freed_key != 0 && size >= 2 * sizeof(uintptr_t)) {
		memcpy(&second, (const char *)ptr + sizeof(uintptr_t), sizeof(second));
		if (second == secure_freed_key)
			return;
	}
	explicit_bzero(ptr, size);
}

void secure_free(void *ptr)
{
	if (ptr != NULL) {
		if (!secure_free_wipes)
			secure_wipe(ptr);
		free(ptr);
	}
}

/* Never realloc in place: the old block must be wiped, not left behind. */
void *secure_realloc(void *ptr, size_t size)
{
	size_t old;
	void *fresh;

	if (ptr == NULL)
		return malloc(size);
	if (size == 0) {
		secure_free(ptr);
		return NULL;
	}
	old = malloc_usable_size(ptr);
	fresh = malloc(size);
	if (fresh == NULL)
		return NULL;
	memcpy(fresh, ptr, old < size ? old : size);
	secure_free(ptr);
	return fresh;
}

static void *openssl_malloc(size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	return secure_malloc(size);
}

static void *openssl_realloc(void *ptr, size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	return secure_realloc(ptr, size);
}

static void openssl_free(void *ptr, const char *file, int line)
{
	(void)file;
	(void)line;
	secure_free(ptr);
}

int secure_alloc_install(void)
{
	event_set_mem_functions(secure_malloc, secure_realloc, secure_free);
	return CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) ? 0 : -1;
}

char *secret_dup(const char *data, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy != NULL) {
		memcpy(copy, data, len);
		copy[len] = '\0';
	}
	return copy;
}

void secret_free(char **secret)
{
	if (*secret != NULL) {
		explicit_bzero(*secret, strlen(*secret));
		free(*secret);
		*secret = NULL;
	}
}

char *secret_printf(const char *format, ...)
{
	va_list ap;
	char *out;
	int n;

	va_start(ap, format);
	n = vsnprintf(NULL, 0, format, ap);
	va_end(ap);
	if (n < 0 || (out = malloc((size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, format);
	vsnprintf(out, (size_t)n + 1, format, ap);
	va_end(ap);
	return out;
}
