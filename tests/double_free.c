/*
 * double_free.c -- frees one block twice, through the helper's free()
 * (engine/wiping_free.c) or secure_free (the allocator OpenSSL and libevent
 * get).  glibc must still catch it (SIGABRT): a wipe that erased the mark
 * glibc's tcache puts in a freed block would let the same chunk be handed
 * out twice, an exploitation primitive in the process that parses a server's
 * answers.  test_memory_scan.py runs it.
 */
#include "../engine/secure_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int secure = argc > 1 && strcmp(argv[1], "secure") == 0;
	char *volatile a = malloc(40), *volatile b = malloc(40);
	char *x, *y, *z;

	if (secure) {
		secure_free(a);
		secure_free(b);
		secure_free(a);
	} else {
		free(a);
		free(b);
		free(a);
	}
	x = malloc(40);
	y = malloc(40);
	z = malloc(40);
	printf("%s\n", x == y || x == z || y == z ? "one chunk handed out twice" : "distinct");
	return 0;
}
