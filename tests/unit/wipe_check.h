/*
 * wipe_check.h -- finds a secret that was freed without being wiped: the test
 * binary's own free() (it comes before libc's for every caller) searches each
 * block for the armed secret before handing it to glibc.  What the helper's
 * explicit_bzero, secret_free and secure_free calls are for, checked where a
 * missing one would leave the secret: in memory given back to malloc.
 * Not in the ASan build (its allocator is not glibc's): the tests skip there.
 */
#ifndef PAM_AUTHELIA_WIPE_CHECK_H
#define PAM_AUTHELIA_WIPE_CHECK_H

#include <malloc.h>
#include <stddef.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define WIPE_CHECK_AVAILABLE 0
#else
#define WIPE_CHECK_AVAILABLE 1

void __libc_free(void *ptr);

static const char *wipe_secret;
static size_t wipe_secret_len;
static int wipe_found;

void free(void *ptr)
{
	if (ptr != NULL && wipe_secret != NULL &&
	    memmem(ptr, malloc_usable_size(ptr), wipe_secret, wipe_secret_len) != NULL)
		wipe_found++;
	__libc_free(ptr);
}
#endif

/* From now on, counts the freed blocks that hold secret. */
static inline void wipe_check_arm(const char *secret)
{
#if WIPE_CHECK_AVAILABLE
	wipe_found = 0;
	wipe_secret_len = strlen(secret);
	wipe_secret = secret;
#else
	(void)secret;
#endif
}

/* Stops counting; returns how many freed blocks held the secret. */
static inline int wipe_check_disarm(void)
{
#if WIPE_CHECK_AVAILABLE
	wipe_secret = NULL;
	return wipe_found;
#else
	return 0;
#endif
}

#endif
