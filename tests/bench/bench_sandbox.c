/*
 * bench_sandbox.c -- what the sandbox changed for logins without ca-cert, in
 * CPU time (user + system, CLOCK_THREAD_CPUTIME_ID), each sample in a fresh
 * child with OpenSSL initialised, as in a login.  Printed, never asserted.
 * (What sandbox_apply() itself costs is measured in real logins by
 * bench_sandbox.py, from the helper's own debug line.)
 *
 *   store-old    OpenSSL's hashed directory: context, then what verifying a
 *                leaf <- intermediate <- root chain asks the store: the
 *                intermediate (not there), then the root (what logins
 *                without ca-cert did before the sandbox)
 *   store-new    the bundle and the directory's names read before the
 *                sandbox, then the same two lookups in memory
 *                (engine/ca_store.c)
 * The root is the bundle's middle certificate: the in-memory search walks the
 * bundle up to it, so its position decides the cost (first: least, last:
 * about twice this).
 *
 * usage: bench_sandbox [RUNS]
 */
#include "../../engine/tls.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(const char *name, double *v, int n, const char *what)
{
	qsort(v, (size_t)n, sizeof(*v), compare);
	printf("%-11s n=%-3d median=%7.3f ms  p95=%7.3f ms  max=%7.3f ms  (%s)\n", name, n,
	       v[n / 2], v[(int)(0.95 * (n - 1) + 0.5)], v[n - 1], what);
}

/* An issuer a chain would ask for: the subject of the bundle's middle cert. */
static X509_NAME *bundle_subject(void)
{
	FILE *f = fopen(X509_get_default_cert_file(), "r");
	X509 *x, *certs[1024];
	X509_NAME *name;
	int n = 0;

	if (f == NULL)
		return NULL;
	while (n < 1024 && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		certs[n++] = x;
	fclose(f);
	name = n ? X509_NAME_dup(X509_get_subject_name(certs[n / 2])) : NULL;
	while (n > 0)
		X509_free(certs[--n]);
	return name;
}

static double store_sample(bool old, const X509_NAME *name, const X509_NAME *intermediate)
{
	char err[TLS_ERROR_SIZE];
	double t0 = cpu_ms(), t;
	SSL_CTX *ctx;
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	X509_OBJECT *obj;

	if (old) {
		ctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_load_verify_dir(ctx, X509_get_default_cert_dir());
	} else {
		ctx = tls_context_new(NULL, err);
	}
	X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(ctx), NULL, NULL);
	X509_OBJECT_free(X509_STORE_CTX_get_obj_by_subject(sctx, X509_LU_X509, intermediate));
	obj = X509_STORE_CTX_get_obj_by_subject(sctx, X509_LU_X509, name);
	t = cpu_ms() - t0;
	if (obj == NULL)
		t = -1;
	X509_OBJECT_free(obj);
	X509_STORE_CTX_free(sctx);
	SSL_CTX_free(ctx);
	return t;
}

/* Runs one sample in a child (OpenSSL initialised, as the helper's is by then);
 * what it measured comes back through a pipe. */
static double sample(int kind, const X509_NAME *name, const X509_NAME *intermediate)
{
	int fds[2], status;
	double v = -1;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		double t;

		close(fds[0]);
		SSL_CTX_free(SSL_CTX_new(TLS_client_method()));
		t = store_sample(kind == 1, name, intermediate);
		if (write(fds[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (pid > 0 && read(fds[0], &v, sizeof(v)) != (ssize_t)sizeof(v))
		v = -1;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return v;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 30;
	double *v = calloc((size_t)(runs > 0 ? runs : 1), sizeof(double));
	X509_NAME *name = bundle_subject(), *intermediate = X509_NAME_new();
	static const char *const names[] = {"", "store-old", "store-new"};

	X509_NAME_add_entry_by_txt(intermediate, "CN", MBSTRING_ASC,
				   (const unsigned char *)"An Intermediate CA", -1, -1, 0);
	static const char *const what[] = {"", "hashed directory: context, intermediate, root",
					   "in memory: context, the same intermediate and root"};

	if (v == NULL || runs <= 0)
		return 2;
	printf("system CA store without ca-cert, CPU time, %d runs each\n", runs);
	for (int kind = 1; kind < 3; kind++) {
		int n = 0;

		if (name == NULL) {
			printf("%-11s (no CA bundle at %s)\n", names[kind],
			       X509_get_default_cert_file());
			continue;
		}
		for (int i = 0; i < runs; i++) {
			double t = sample(kind, name, intermediate);
			if (t >= 0)
				v[n++] = t;
		}
		if (n == 0)
			printf("%-11s failed\n", names[kind]);
		else
			report(names[kind], v, n, what[kind]);
	}
	X509_NAME_free(name);
	X509_NAME_free(intermediate);
	free(v);
	return 0;
}
