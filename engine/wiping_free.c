/*
 * wiping_free.c -- the helper's free(): zeroes every block before glibc
 * releases it, whoever frees it.  Our own secrets go through secret_free and
 * OpenSSL's and libevent's buffers through secure_free, but libjwt 1.10 has
 * no allocator hook: jwt_decode copies the ID token (and libjwt's libcrypto
 * and jansson the parts they decode) and releases the copies with plain
 * free(), which leaves all but malloc's first 16 bytes in the heap
 * (tests/integration/test_memory_scan.py found them).  Defined in the
 * executable, this free() is the one every shared library binds to,
 * including the libjwt that jwt_loader.c opens; glibc's own internal frees
 * do not come here.  Linked into the helper binary only, and left out under
 * AddressSanitizer, whose free() must stay in charge.
 */
#include "secure_alloc.h"

#include <stdint.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WIPING_FREE_OFF 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WIPING_FREE_OFF 1
#endif

#ifndef WIPING_FREE_OFF
void *__libc_malloc(size_t size);
void __libc_free(void *ptr);
void free(void *ptr);

/* Learns the key glibc writes into the second word of a block its tcache
 * holds (see secure_alloc.h): without it, wiping a block freed twice would
 * erase the mark glibc's double-free check looks for.  Reading the freed
 * block is what glibc itself does on the next free; the helper never runs
 * under valgrind, and sanitizer builds leave this file out. */
__attribute__((constructor)) static void wiping_free_learn_key(void)
{
	unsigned char *volatile block = __libc_malloc(24);

	secure_free_wipes = true;
	if (block != NULL) {
		__libc_free(block);
		memcpy(&secure_freed_key, block + sizeof(uintptr_t), sizeof(secure_freed_key));
	}
}

void free(void *ptr)
{
	if (ptr != NULL)
		secure_wipe(ptr);
	__libc_free(ptr);
}
#endif
