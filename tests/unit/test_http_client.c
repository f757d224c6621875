/*
 * test_http_client.c -- the HTTPS client against local servers: its own
 * deadlines and cancellation (a TCP server that never speaks), a refused
 * connection, and, against a small TLS server forked here (a self-signed
 * certificate made at start-up), what the connections do: opened before any
 * request and with TCP_NODELAY, two requests on two connections, requests
 * made before the start, an early connect that fails with nothing queued (no
 * crash; the next request connects again), and the one retry: only on a
 * connection opened before the request, only before any byte of an answer,
 * only once, never for a request without a deadline of its own (Duo).  And
 * the session cookie: wiped whenever a copy of it is freed.
 */
#include "unit.h"
#include "wipe_check.h"

#include "../../engine/http_client.h"
#include "../../engine/secure_alloc.h"
#include "../../engine/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct seen {
	int count;
	int status;
	bool rotated, deleted;
	bool sent;
	char error[HTTP_ERROR_SIZE];
	enum http_failure failure;
	char body[256];
	int stop_after; /* loopbreak once count reaches it (0: 1) */
	struct event_base *base;
};

static void on_response(const struct http_response *response, void *arg)
{
	struct seen *seen = arg;

	seen->count++;
	seen->status = response->status;
	seen->rotated = response->cookie_rotated;
	seen->deleted = response->cookie_deleted;
	seen->sent = response->sent;
	seen->failure = response->failure;
	snprintf(seen->error, sizeof(seen->error), "%s", response->error ? response->error : "");
	snprintf(seen->body, sizeof(seen->body), "%.*s", (int)response->body_len,
		 response->body ? response->body : "");
	if (seen->count >= (seen->stop_after ? seen->stop_after : 1))
		event_base_loopbreak(seen->base);
}

static int listening_socket(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

static struct http_client *client_for(struct event_base *base, int port, struct seen *seen,
				      struct config *config, const char *ca)
{
	char err[OPTION_ERROR_SIZE], arg[256];

	config_init(config);
	snprintf(arg, sizeof(arg), "url=https://127.0.0.1:%d", port);
	assert_int_equal(config_apply(config, arg, err), 0);
	if (ca != NULL) {
		snprintf(arg, sizeof(arg), "ca-cert=%s", ca);
		assert_int_equal(config_apply(config, arg, err), 0);
	}
	assert_int_equal(config_finish(config, err), 0);
	seen->base = base;
	return http_client_new(base, config, NULL, on_response, seen, err);
}

/* The TLS context; ca's PEM is read here, not by tls_trust_read, which trusts
 * only a file below directories root alone can write (not /tmp). */
static SSL_CTX *start(struct http_client *client, const char *ca, unsigned connections)
{
	char err[TLS_ERROR_SIZE];
	struct tls_trust trust = {0};
	SSL_CTX *tls;

	if (ca == NULL) {
		tls = tls_context_new(NULL, err);
	} else {
		FILE *f = fopen(ca, "r");
		char pem[16384];

		assert_non_null(f);
		trust.pem_len = fread(pem, 1, sizeof(pem) - 1, f);
		fclose(f);
		pem[trust.pem_len] = '\0';
		trust.pem = strdup(pem);
		trust.ca_cert = strdup(ca);
		tls = tls_context_from(&trust, err);
		tls_trust_free(&trust);
	}
	assert_non_null(tls);
	assert_int_equal(http_client_start(client, tls, connections, err), 0);
	http_client_connect(client);
	return tls;
}

static long elapsed_ms(struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void stop_soon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop for ms (connections finish their handshakes meanwhile). */
static void run_for(struct event_base *base, long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	event_base_once(base, -1, EV_TIMEOUT, stop_soon, base, &tv);
	event_base_dispatch(base);
}

/* Runs the loop until the expected responses arrived (or 5 s passed). */
static void run_until_answered(struct event_base *base, struct seen *seen, int count)
{
	struct timeval limit = {5, 0};
	struct event *guard = evtimer_new(base, stop_soon, base);

	seen->stop_after = count;
	evtimer_add(guard, &limit);
	while (seen->count < count && evtimer_pending(guard, NULL))
		event_base_dispatch(base);
	event_free(guard);
}

/* --- a small TLS server, forked ------------------------------------------- */

static char ca_path[64], key_path[64];
static const char *self; /* argv[0]: the server runs as this program, exec'd */

/* A self-signed certificate for 127.0.0.1 (ca_path, for ca-cert) and its key. */
static void make_certificate(void)
{
	EVP_PKEY *server_key;
	X509 *server_cert;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f;
	int fd;

	server_key = EVP_EC_gen("P-256");
	server_cert = X509_new();
	assert_non_null(server_key);
	X509_set_version(server_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(server_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(server_cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(server_cert), 3600);
	X509_set_pubkey(server_cert, server_key);
	name = X509_get_subject_name(server_cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
				   -1, 0);
	X509_set_issuer_name(server_cert, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, server_cert, server_cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	X509_add_ext(server_cert, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(server_cert, server_key, EVP_sha256()) > 0);
	snprintf(ca_path, sizeof(ca_path), "/tmp/test_http_client_XXXXXX");
	fd = mkstemp(ca_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	PEM_write_X509(f, server_cert);
	fclose(f);
	snprintf(key_path, sizeof(key_path), "/tmp/test_http_client_XXXXXX");
	fd = mkstemp(key_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	PEM_write_PrivateKey(f, server_key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(server_cert);
	EVP_PKEY_free(server_key);
}

/* The Cookie header of the last request read ("" without one). */
static char last_cookie[256];

/* Reads one request (headers and Content-Length body); 0 at EOF. */
static int read_request(SSL *ssl)
{
	char buf[8192];
	size_t have = 0;
	char *end, *cl;
	long body = 0;

	for (;;) {
		int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - 1 - have));
		if (n <= 0)
			return 0;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	last_cookie[0] = '\0';
	if ((cl = strcasestr(buf, "\r\ncookie: ")) != NULL)
		snprintf(last_cookie, sizeof(last_cookie), "%.*s", (int)strcspn(cl + 10, "\r"),
			 cl + 10);
	cl = strcasestr(buf, "content-length:");
	if (cl != NULL)
		body = strtol(cl + 15, NULL, 10);
	while ((long)(have - (size_t)(end + 4 - buf)) < body) {
		int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - 1 - have));
		if (n <= 0)
			return 0;
		have += (size_t)n;
	}
	return 1;
}

/*
 * One connection's behaviour:
 *   a  answer every request: 200, {"conn":N}, a new session cookie
 *   s  the same, each answer 300 ms late
 *   d  read one request, close without answering
 *   p  read one request, send part of an answer, close
 *   x  close at once, before TLS
 *   k  answer request i with the i-th Set-Cookie of cookie_script (none past
 *      its end), the body the Cookie header that request carried
 */
#define COOKIE_MARK "cookie-9d41e7-"

static const char *const cookie_script[] = {
    "authelia_session=k1; path=/",						/* new */
    "authelia_session=k1; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/",	/* deleted */
    "authelia_session=k3; path=/",						/* new */
    "authelia_session=k3; Max-Age=0",						/* deleted */
    "authelia_session=k5; path=/",						/* new */
    "authelia_session=; path=/",						/* deleted */
    "authelia_session=k7; Max-Age=3600; expires=Thu, 01 Jan 1970 00:00:00 GMT", /* new */
    "authelia_session=k7; expires=Fri, 01 Jan 2100 00:00:00 GMT; path=/",	/* kept */
    "authelia_session=k7; Max-Age=soon; expires=Mon, 01 Jan 2001 00:00:00 GMT", /* deleted */
    "authelia_session=k10; expires=yesterday",					/* new */
    "authelia_session=k10; Max-Age=-1",						/* deleted */
};
static void serve_connection(SSL_CTX *ctx, int fd, char how, int number)
{
	SSL *ssl;
	char answer[256];
	int len;

	if (how == 'x') {
		close(fd);
		return;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		return;
	for (int request = 0; read_request(ssl); request++) {
		if (how == 'd')
			break;
		if (how == 'k') {
			const int n = (int)(sizeof(cookie_script) / sizeof(cookie_script[0]));
			char line[160] = "";

			if (request < n)
				snprintf(line, sizeof(line), "Set-Cookie: %s\r\n",
					 cookie_script[request]);
			len = snprintf(answer, sizeof(answer),
				       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n%s"
				       "Content-Length: %zu\r\n\r\n%s",
				       line, strlen(last_cookie), last_cookie);
			SSL_write(ssl, answer, len);
			continue;
		}
		if (how == 'p') {
			SSL_write(ssl, "HTTP/1.1 200 OK\r\nContent-Le", 27);
			break;
		}
		if (how == 's')
			usleep(300000);
		len = snprintf(answer, sizeof(answer),
			       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			       "Set-Cookie: authelia_session=" COOKIE_MARK "%d%ld; path=/\r\n"
			       "Content-Length: 10\r\n\r\n{\"conn\":%d}",
			       number, (long)random() % 100000, number);
		SSL_write(ssl, answer, len);
	}
	SSL_shutdown(ssl);
	close(fd);
}

/* The server process: accepts strlen(script) connections, one behaviour each. */
static int tls_server_main(int listener, const char *script, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	/* Gone with the test (and its connections with it), even when a test fails. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;
	alarm(30);
	signal(SIGPIPE, SIG_IGN);
	if (SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return 1;
	for (int i = 0; script[i] != '\0'; i++) {
		int fd = accept(listener, NULL, NULL);
		if (fd < 0)
			break;
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(30);
			serve_connection(ctx, fd, script[i], i + 1);
			_exit(0);
		}
		close(fd);
	}
	while (wait(NULL) > 0)
		;
	return 0;
}

/* Starts the server as a program of its own (valgrind and ASan watch only
 * this process, not the server's copy of it). */
static pid_t tls_server(const char *script, int *port)
{
	int listener = listening_socket(port);
	pid_t pid = fork();
	char fd[16];

	assert_true(pid >= 0);
	if (pid > 0) {
		close(listener);
		return pid;
	}
	snprintf(fd, sizeof(fd), "%d", listener);
	execl(self, self, "--tls-server", fd, script, ca_path, key_path, (char *)NULL);
	_exit(127);
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* The TCP sockets of this process connected to port, and how many have TCP_NODELAY. */
static int sockets_to(int port, int *nodelay)
{
	int count = 0;

	*nodelay = 0;
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int on = 0;
		socklen_t on_len = sizeof(on);

		if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0 ||
		    peer.sin_family != AF_INET || ntohs(peer.sin_port) != port)
			continue;
		count++;
		if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &on_len) == 0 && on)
			(*nodelay)++;
	}
	return count;
}

struct rig {
	struct event_base *base;
	struct seen seen;
	struct config config;
	struct http_client *client;
	SSL_CTX *tls;
	pid_t server;
	int port;
};

static void rig_open(struct rig *rig, const char *script)
{
	memset(rig, 0, sizeof(*rig));
	rig->base = event_base_new();
	rig->server = tls_server(script, &rig->port);
	rig->client = client_for(rig->base, rig->port, &rig->seen, &rig->config, ca_path);
	assert_non_null(rig->client);
}

static void rig_close(struct rig *rig)
{
	http_client_free(rig->client);
	if (rig->tls != NULL)
		SSL_CTX_free(rig->tls);
	config_free(&rig->config);
	for (int i = 0; i < 4; i++)
		event_base_loop(rig->base, EVLOOP_NONBLOCK);
	event_base_free(rig->base);
	stop_server(rig->server);
}

/* Runs the loop until n connections to the rig's server finished TLS (each
 * gets TCP_NODELAY then), or fails after 5 s. */
static void wait_connected(struct rig *rig, int n)
{
	int nodelay = 0;

	for (int i = 0; i < 250; i++) {
		run_for(rig->base, 20);
		sockets_to(rig->port, &nodelay);
		if (nodelay >= n)
			return;
	}
	fail_msg("%d of %d connections up", nodelay, n);
}

/* --- tests ------------------------------------------------------------------ */

static void test_request_deadline(void **state)
{
	struct event_base *base = event_base_new();
	struct seen seen = {0};
	struct config config;
	struct timespec t0;
	SSL_CTX *tls;
	int port, server = listening_socket(&port);
	struct http_client *client = client_for(base, port, &seen, &config, NULL);
	char want[HTTP_ERROR_SIZE];

	(void)state;
	tls = start(client, NULL, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(http_client_request(client, HTTP_TOTP, "/api/x", "{}", 2, 200), 0);
	assert_true(http_client_busy(client));
	event_base_dispatch(base);
	assert_int_equal(seen.count, 1);
	assert_int_equal(seen.status, 0);
	snprintf(want, sizeof(want), "no response from 127.0.0.1:%d within 200 ms", port);
	assert_string_equal(seen.error, want);
	/* The request's own deadline: Authelia unreachable (PAM_AUTHINFO_UNAVAIL). */
	assert_int_equal(seen.failure, HTTP_UNREACHABLE);
	assert_true(elapsed_ms(&t0) >= 190 && elapsed_ms(&t0) < 1000);
	assert_false(http_client_busy(client));
	http_client_free(client);
	SSL_CTX_free(tls);
	config_free(&config);
	event_base_free(base);
	close(server);
}

/* The loop frozen (a cgroup freezer, SCHED_IDLE starved by a CPU hog) from
 * just after the request went out until past its deadline, the answer
 * arriving meanwhile: on thaw the answer's bytes and the expired deadline are
 * ready in the same pass.  The answer wins, never "unreachable". */
static void test_an_answer_waiting_when_the_deadline_fires_wins(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig, "ss");
	rig.tls = start(rig.client, ca_path, 1);
	wait_connected(&rig, 1);
	for (int round = 0; round < 2; round++) {
		rig.seen.count = 0;
		/* The server answers 300 ms after the request, the deadline is 200 ms. */
		assert_int_equal(http_client_request(rig.client, HTTP_STATE, "/s", NULL, 0, 200),
				 0);
		run_for(rig.base, 50); /* the request goes out; no answer yet */
		assert_int_equal(rig.seen.count, 0);
		usleep(700 * 1000); /* frozen: the deadline passes, the answer arrives */
		run_until_answered(rig.base, &rig.seen, 1);
		assert_int_equal(rig.seen.count, 1);
		assert_string_equal(rig.seen.error, "");
		assert_int_equal(rig.seen.status, 200);
		assert_string_equal(rig.seen.body, "{\"conn\":1}");
	}
	rig_close(&rig);
}

static void test_cancel_all_leaves_no_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct seen seen = {0};
	struct config config;
	struct timeval later = {0, 300000};
	SSL_CTX *tls;
	int port, server = listening_socket(&port);
	struct http_client *client = client_for(base, port, &seen, &config, NULL);

	(void)state;
	tls = start(client, NULL, 2);
	assert_int_equal(http_client_request(client, HTTP_STATE, "/api/state", NULL, 0, 100), 0);
	assert_int_equal(http_client_request(client, HTTP_DUO, "/api/duo", "{}", 2, 0), 0);
	assert_int_equal(http_client_request(client, HTTP_TOTP, "/api/totp", "{}", 2, 100), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	http_client_cancel_all(client);
	assert_false(http_client_busy(client));
	event_base_once(base, -1, EV_TIMEOUT, stop_soon, base, &later);
	event_base_dispatch(base); /* the 100 ms deadlines would have fired here */
	assert_int_equal(seen.count, 0);
	http_client_free(client);
	SSL_CTX_free(tls);
	config_free(&config);
	event_base_free(base);
	close(server);
}

static void test_refused_connection(void **state)
{
	struct event_base *base = event_base_new();
	struct seen seen = {0};
	struct config config;
	SSL_CTX *tls;
	int port, server = listening_socket(&port);
	struct http_client *client;
	char want[HTTP_ERROR_SIZE];

	(void)state;
	close(server); /* nothing listens there now */
	client = client_for(base, port, &seen, &config, NULL);
	tls = start(client, NULL, 2);
	run_for(base, 100); /* both early connects are refused, with nothing queued */
	assert_int_equal(
	    http_client_request(client, HTTP_FIRST_FACTOR, "/api/firstfactor", "{}", 2, 5000), 0);
	event_base_dispatch(base);
	assert_int_equal(seen.count, 1);
	snprintf(want, sizeof(want), "connection to 127.0.0.1:%d refused or unreachable", port);
	assert_string_equal(seen.error, want);
	assert_int_equal(seen.failure, HTTP_UNREACHABLE);
	assert_false(seen.sent); /* never went out: the Duo state keeps this unavailable */
	http_client_free(client);
	SSL_CTX_free(tls);
	config_free(&config);
	event_base_free(base);
}

static void test_connections_open_early_with_nodelay(void **state)
{
	struct rig rig;
	int nodelay = 0;

	(void)state;
	rig_open(&rig, "aa");
	rig.tls = start(rig.client, ca_path, 2);
	/* Both connected before any request, both with TCP_NODELAY (evhttp writes a
	 * request's headers and body as two records). */
	wait_connected(&rig, 2);
	assert_int_equal(sockets_to(rig.port, &nodelay), 2);
	assert_int_equal(nodelay, 2);
	assert_int_equal(http_client_request(rig.client, HTTP_TOTP, "/t", "{}", 2, 5000), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.status, 200);
	assert_true(rig.seen.rotated);
	assert_int_equal(sockets_to(rig.port, &nodelay), 2); /* no new connection */
	rig_close(&rig);
}

/* A Set-Cookie that deletes the session cookie (empty value, Max-Age <= 0,
 * an Expires date past) is reported as such and the cookie is forgotten;
 * one with a new value is a rotation; the same value again neither. */
static void test_a_deleted_session_cookie_is_reported_and_forgotten(void **state)
{
	static const struct {
		bool rotated, deleted;
		const char *sent; /* the Cookie header of this request */
	} want[] = {
	    {true, false, ""},
	    {false, true, "authelia_session=k1"},
	    {true, false, ""},
	    {false, true, "authelia_session=k3"},
	    {true, false, ""},
	    {false, true, "authelia_session=k5"},
	    {true, false, ""}, /* Max-Age wins over Expires */
	    {false, false, "authelia_session=k7"},
	    {false, true, "authelia_session=k7"}, /* a Max-Age that does not parse is ignored */
	    {true, false, ""},			  /* an Expires that does not parse likewise */
	    {false, true, "authelia_session=k10"},
	    {false, false, ""},
	};
	struct rig rig;

	(void)state;
	rig_open(&rig, "k");
	rig.tls = start(rig.client, ca_path, 1);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		print_message("  request %zu\n", i + 1);
		rig.seen.count = 0;
		assert_int_equal(http_client_request(rig.client, HTTP_STATE, "/s", NULL, 0, 5000),
				 0);
		run_until_answered(rig.base, &rig.seen, 1);
		assert_int_equal(rig.seen.status, 200);
		assert_string_equal(rig.seen.body, want[i].sent);
		assert_int_equal(rig.seen.rotated, want[i].rotated);
		assert_int_equal(rig.seen.deleted, want[i].deleted);
	}
	rig_close(&rig);
}

static void test_requests_made_before_the_start_wait_for_it(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig, "a");
	assert_int_equal(http_client_request(rig.client, HTTP_STATE, "/s", NULL, 0, 5000), 0);
	run_for(rig.base, 100);
	assert_int_equal(rig.seen.count, 0);
	rig.tls = start(rig.client, ca_path, 1);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.status, 200);
	rig_close(&rig);
}

static void test_two_requests_go_out_on_two_connections(void **state)
{
	struct rig rig;
	char first[256];

	(void)state;
	rig_open(&rig, "ss");
	rig.tls = start(rig.client, ca_path, 2);
	wait_connected(&rig, 2);
	assert_int_equal(http_client_request(rig.client, HTTP_USER_INFO, "/u", "", 0, 5000), 0);
	assert_int_equal(http_client_request(rig.client, HTTP_STATE, "/s", NULL, 0, 5000), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	snprintf(first, sizeof(first), "%s", rig.seen.body);
	run_until_answered(rig.base, &rig.seen, 2);
	assert_int_equal(rig.seen.count, 2);
	assert_string_not_equal(first, rig.seen.body); /* {"conn":1} and {"conn":2} */
	rig_close(&rig);
}

static void test_early_connect_failures_do_not_crash(void **state)
{
	struct rig rig;

	(void)state;
	/* Both early connects are closed before TLS with nothing queued (libevent
	 * 2.1.12 would assert); the request connects again. */
	rig_open(&rig, "xxa");
	unit_log_capture();
	log_set_debug(true);
	rig.tls = start(rig.client, ca_path, 2);
	for (int i = 0; i < 250 && unit_log_count < 2; i++)
		run_for(rig.base, 20);
	log_set_debug(false);
	assert_int_equal(unit_log_count, 2);
	assert_logged("connecting early failed (connection 1)");
	assert_logged("connecting early failed (connection 2)");
	assert_int_equal(http_client_request(rig.client, HTTP_STATE, "/s", NULL, 0, 5000), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.status, 200);
	assert_string_equal(rig.seen.body, "{\"conn\":3}");
	rig_close(&rig);
}

static void test_retried_once_when_a_kept_connection_was_closed(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig, "da");
	rig.tls = start(rig.client, ca_path, 1);
	wait_connected(&rig, 1); /* up before the request: a kept connection */
	assert_int_equal(http_client_request(rig.client, HTTP_TOTP, "/t", "{\"a\":1}", 7, 5000), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.count, 1);
	assert_int_equal(rig.seen.status, 200);
	assert_string_equal(rig.seen.body, "{\"conn\":2}");
	rig_close(&rig);
}

/* The cookie the server set, then rotated: its old value, the Cookie header
 * of the second request and the value at the end are wiped when freed. */
static void test_the_session_cookie_is_wiped(void **state)
{
	struct rig rig;

	(void)state;
	if (!WIPE_CHECK_AVAILABLE)
		skip();
	wipe_check_arm(COOKIE_MARK);
	rig_open(&rig, "a");
	rig.tls = start(rig.client, ca_path, 1);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(http_client_request(rig.client, HTTP_STATE, "/s", NULL, 0, 5000),
				 0);
		run_until_answered(rig.base, &rig.seen, i);
		assert_int_equal(rig.seen.status, 200);
		assert_true(rig.seen.rotated);
	}
	rig_close(&rig);
	assert_int_equal(wipe_check_disarm(), 0);
}

static void test_second_failure_is_real(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig, "dda");
	rig.tls = start(rig.client, ca_path, 1);
	wait_connected(&rig, 1);
	assert_int_equal(http_client_request(rig.client, HTTP_TOTP, "/t", "{}", 2, 5000), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.status, 0);
	assert_non_null(strstr(rig.seen.error, "closed before a response"));
	assert_int_equal(rig.seen.failure, HTTP_UNREACHABLE);
	rig_close(&rig);
}

static void test_no_retry_on_a_fresh_connection(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig, "da");
	rig.tls = start(rig.client, ca_path, 1);
	/* Sent at once: it goes out on the connection being opened for it. */
	assert_int_equal(http_client_request(rig.client, HTTP_TOTP, "/t", "{}", 2, 5000), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.status, 0);
	assert_non_null(strstr(rig.seen.error, "closed before a response"));
	rig_close(&rig);
}

/* The Duo push (no deadline of its own: it lasts as long as the user lets it)
 * is never sent twice: a second copy is a second push to the phone.  Its
 * failure says it went out (the Duo state makes that PAM_AUTH_ERR). */
static void test_no_retry_without_a_deadline_of_its_own(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig, "da");
	rig.tls = start(rig.client, ca_path, 1);
	wait_connected(&rig, 1);
	assert_int_equal(http_client_request(rig.client, HTTP_DUO, "/d", "{}", 2, 0), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.status, 0);
	assert_non_null(strstr(rig.seen.error, "closed before a response"));
	assert_true(rig.seen.sent);
	rig_close(&rig);
}

static void test_no_retry_after_part_of_an_answer(void **state)
{
	struct rig rig;

	(void)state;
	rig_open(&rig, "pa");
	rig.tls = start(rig.client, ca_path, 1);
	wait_connected(&rig, 1);
	assert_int_equal(http_client_request(rig.client, HTTP_TOTP, "/t", "{}", 2, 5000), 0);
	run_until_answered(rig.base, &rig.seen, 1);
	assert_int_equal(rig.seen.status, 0);
	assert_string_not_equal(rig.seen.error, "");
	rig_close(&rig);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_deadline),
	    cmocka_unit_test(test_an_answer_waiting_when_the_deadline_fires_wins),
	    cmocka_unit_test(test_cancel_all_leaves_no_callback),
	    cmocka_unit_test(test_refused_connection),
	    cmocka_unit_test(test_connections_open_early_with_nodelay),
	    cmocka_unit_test(test_requests_made_before_the_start_wait_for_it),
	    cmocka_unit_test(test_a_deleted_session_cookie_is_reported_and_forgotten),
	    cmocka_unit_test(test_two_requests_go_out_on_two_connections),
	    cmocka_unit_test(test_early_connect_failures_do_not_crash),
	    cmocka_unit_test(test_retried_once_when_a_kept_connection_was_closed),
	    cmocka_unit_test(test_the_session_cookie_is_wiped),
	    cmocka_unit_test(test_second_failure_is_real),
	    cmocka_unit_test(test_no_retry_on_a_fresh_connection),
	    cmocka_unit_test(test_no_retry_after_part_of_an_answer),
	    cmocka_unit_test(test_no_retry_without_a_deadline_of_its_own),
	};
	int rc;

	if (argc == 6 && strcmp(argv[1], "--tls-server") == 0)
		return tls_server_main(atoi(argv[2]), argv[3], argv[4], argv[5]);
	self = argv[0];
	/* As the helper does first thing: libevent's and OpenSSL's buffers are
	 * wiped when freed (test_the_session_cookie_is_wiped relies on it). */
	if (secure_alloc_install() != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	unit_log_capture();
	make_certificate();
	rc = cmocka_run_group_tests_name("http client", tests, NULL, NULL);
	unlink(ca_path);
	unlink(key_path);
	return rc;
}
