/*
 * secure_alloc.h -- wiping memory on free.  Passwords, TOTP codes and tokens
 * pass through libevent's buffers and OpenSSL's record buffers, which free
 * without clearing.  Installing these allocators in both libraries (before
 * their first allocation) means every block they release is zeroed first.
 */
#ifndef PAM_AUTHELIA_SECURE_ALLOC_H
#define PAM_AUTHELIA_SECURE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* glibc's tcache marks a block it holds as free with a random key in the
 * block's second word, and checks that key to catch a double free.  Zeroing a
 * block that is already free would erase the mark and silence the check (a
 * double free would then hand one chunk out twice).  wiping_free.c learns the
 * key at start-up; 0 (unit tests, sanitizer builds) means unknown. */
extern uintptr_t secure_freed_key;

/* True in the helper binary, whose own free() (wiping_free.c) wipes every
 * block: secure_free then leaves the wipe to it instead of doing it twice. */
extern bool secure_free_wipes;

/* Zeroes a live heap block before it is freed, but not one that carries
 * glibc's freed-block key: that block is free already, and glibc's free
 * must see its mark and abort. */
void secure_wipe(void *ptr);

/* Returns 0 when both libraries took the allocators. Call first thing in main. */
int secure_alloc_install(void);

void *secure_malloc(size_t size);
void *secure_realloc(void *ptr, size_t size);
void secure_free(void *ptr);

/* A heap copy of len bytes plus a NUL, for secrets; free with secret_free. */
char *secret_dup(const char *data, size_t len);
void secret_free(char **secret);

/* Like asprintf, for text that holds a secret: glibc's asprintf grows its
 * buffer and frees the old one unwiped, leaving a copy behind.  Returns NULL
 * on failure; free with secret_free. */
char *secret_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
