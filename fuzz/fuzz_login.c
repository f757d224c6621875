/*
 * fuzz_login.c -- libFuzzer target for the whole helper: one input is one
 * login, every server answer chosen by the fuzzer.  A real session on a real
 * event loop (engine/session.c, the states, engine/http_client.c on libevent's
 * evhttp) talks to a fake shim and a fake Authelia that this harness plays,
 * both over socketpairs.  The fuzz build's HTTP client uses plain
 * bufferevents (PAM_AUTHELIA_FUZZ_PLAIN_HTTP in http_client.c): what the
 * fuzzer writes goes through evhttp's real parser, without TLS.  connect() is
 * interposed so that each connection the helper opens is a socketpair whose
 * other end the harness holds (or fails, when the script says so), sendto()
 * fails (no DNS query leaves the process), and the monotonic clock is
 * virtual: `~advance` moves it and libevent fires whatever timers fall due,
 * the whole-exchange timeout included.
 *
 * The input is a script (fuzz/script.h); operations, in any order:
 *
 *   ~setup [user=U] [rhost=IP] [service=S] [authtok=T] [watch] [path=/p]
 *          [host=127.0.0.1|[::1]|localhost] [port=N]
 *   OPTION-LINES    hello, url= and ca-cert= (a harness CA), each option
 *                   line as it is (but url=, ca-cert=,
 *                   oauth2-client-secret-file=), the PAM items, the client
 *                   socket to watch, start
 *   ~frame T        one frame of type T (a letter, or a decimal number)
 *   ~raw            bytes onto the shim channel as they are
 *   ~reply          a reply frame (the user's answer); ~converr: conv_error
 *   ~eof [rdwr]     the shim closes its end (writing, or both ways)
 *   ~http [STATUS] [to=PATH-PART] [conn=N] [close] [chunked] [chunk=N] [open]
 *         [length=N] [nolength] [part=N] [v10] [reason=R]
 *   HEADER-LINES, an empty line, BODY: one response to the oldest request
 *                   not yet answered (whose path holds to=, on conn=N);
 *                   without one, to the newest connection; Content-Length is
 *                   added (correct unless length=N; none with nolength,
 *                   which closes after the body); chunked splits the body
 *                   in chunks of chunk=N bytes (open: no last chunk); part=N
 *                   writes only the first N bytes
 *   ~send [to=PATH-PART] [conn=N] [close]  raw bytes to that connection
 *   ~close [to=PATH-PART] [conn=N]  the server closes that connection
 *   ~refuse [N] [err=refused|reset|unreach|timeout]  the next N connects fail
 *   ~sign [key=k1|k2|hs256|none|badsig]
 *   HEADER-JSON-LINE, CLAIMS-JSON: an ID token for %IDT% (k1 and k2 are
 *                   RSA-2048 keys whose JWKs are %JWK% and %JWK2%)
 *   ~advance MS     the virtual clock moves MS ms; ~next: to the next timer
 *   ~hangup         the watched client socket closes
 *   ~signal [term|int|hup]
 *   ~oom N          the N-th allocation (malloc, calloc, realloc, strdup,
 *                   strndup, asprintf) or libevent constructor (event_new,
 *                   bufferevent_socket_new, evhttp_connection_base_bufferevent_new,
 *                   evhttp_request_new, evdns_base_new, evhttp_add_header)
 *                   the helper's code makes from then on fails, once
 *                   (link-time wrapping, Makefile FUZZ_LOGIN_WRAP; what
 *                   goes through secure_alloc.c, yajl's, is spared)
 *
 * Response payloads may use %URL% (the url), %HOST% (host:port), %USER%,
 * %NOW%, %NOW+N%, %NOW-N% (Unix time), %JWK%, %JWK2% and %IDT%.
 *
 * Whatever the input, the harness checks: no crash, leak or sanitizer
 * report; no busy loop and no hang (once the script ends, the helper must
 * finish as its timers fall due); every frame it sends well formed, one
 * result at most and nothing after it (exactly one unless the shim hung
 * up); a result other than success logged at notice or above; no typed
 * secret in a log line; no descriptor left open; and success only when the
 * fake Authelia's answers justify it, read by the harness itself (yajl's
 * tree, not engine/json.c): the password answered "OK" and /api/state naming
 * the PAM user at level 1 or more; a second factor answered "OK" with a new
 * session cookie (Duo without data.result); or a genuinely signed ID token
 * whose claims hold (aud, azp, exp, iat, nbf, auth_time, amr, sub) and a
 * userinfo naming the PAM user with the token's sub; with authz-url, an
 * access check answered 200 or 401.  An answer the harness cannot read as
 * the helper does (its own framing, a NUL, raw bytes, repeated claims)
 * counts as a yes, so the oracle never blames the helper wrongly.
 *
 * The first session that gets as far as connecting applies the helper's
 * sandbox (no_new_privs and the seccomp allowlist, plus what libFuzzer and
 * this harness need: engine/sandbox_rules.h).
 */
#include "../engine/log.h"
#include "../engine/oidc.h"
#include "../engine/session.h"
#include "../protocol/frame.h"
#include "script.h"

#include <dlfcn.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_CONNS    32
#define MAX_CONNECTS 256
#define MAX_REQUESTS 128
#define CONN_BUF     65536
#define OUT_MAX	     (1 << 20)
#define LOG_MAX	     (256 * 1024)
#define SETTLE_LIMIT 2000
#define FUZZ_PORT    9091
#define TOKEN_MAX    16384
#define SUBST_GROWTH (TOKEN_MAX + 4096)

/* A harness CA: the helper reads ca-cert before any prompt; TLS is not used. */
static const char fuzz_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlDCCATugAwIBAgIUe0EMRJotoS7t5kT3hgN+meX1YdowCgYIKoZIzj0EAwIw\n"
    "HzEdMBsGA1UEAwwUcGFtX2F1dGhlbGlhIGZ1enogQ0EwIBcNMjYxMjAxMDAzMjU0\n"
    "WhgPMjEyNjExMDcwMDMyNTRaMB8xHTAbBgNVBAMMFHBhbV9hdXRoZWxpYSBmdXp6\n"
    "IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBphdhaHj0H5zSt9M68zmhfGK\n"
    "Q0NVNbHQGTo45jreZ2uytTuVsIZK2eA3Rn60KyTbsFu8mHAfVYRYG3NRPCPs+aNT\n"
    "MFEwHQYDVR0OBBYEFHFCOr2JZvLSO6IsPHXWZeZs7V0NMB8GA1UdIwQYMBaAFHFC\n"
    "Or2JZvLSO6IsPHXWZeZs7V0NMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n"
    "RwAwRAIgDrfpPi8+sUVTSJ8BJstEjOO98gnlr/G0DmEUoDZROrgCIFWU4ZyTI2kY\n"
    "OcpTBJDLhyXTPmORRJDd2Eq8Be7jSAlN\n"
    "-----END CERTIFICATE-----\n";

/* What a request was for, from its path (the oracle's view). */
enum kind {
	KIND_OTHER,
	KIND_FIRST_FACTOR,
	KIND_STATE,
	KIND_USER_INFO,
	KIND_TOTP,
	KIND_DUO,
	KIND_DEVICE,
	KIND_TOKEN,
	KIND_BEARER, /* userinfo: the only request with a bearer token */
	KIND_AUTHZ,  /* the access check: /api/authz/... */
	KIND_COUNT
};

struct fake_conn {
	int fd;		 /* the server's end; -1 once closed */
	size_t len;	 /* request bytes not yet parsed */
	unsigned ok;	 /* sequence number of the last "HTTP/x 200" written */
	unsigned ok_401; /* ... "HTTP/x 401" (which the access check may take) */
	char buf[CONN_BUF];
};

struct request {
	int conn;
	enum kind kind;
	unsigned seq;
	bool answered;
	bool verified; /* a ~http 200 whose body says yes (see response_says_yes) */
	bool lenient;  /* a 200 the harness cannot read as the helper does */
	char path[128];
};

static struct harness {
	bool active;
	long long offset_ms; /* the virtual clock's lead */
	int refuse, refuse_errno;
	unsigned connects;
	struct fake_conn *conns[MAX_CONNS];
	int conn_count;
	struct request requests[MAX_REQUESTS];
	int request_count;
	unsigned seq;
	int chan[2];  /* [0] the shim's end (ours), [1] the helper's */
	int watch[2]; /* [0] the client's end (ours), [1] the watched socket */
	bool eof_sent;
	struct event_base *base;
	struct session session;
	bool exited;
	size_t out_len;
	size_t log_len;
	int log_loud; /* lines at notice or above */
	char url[128], hostport[64], user[300];
	char token[TOKEN_MAX];
	char claims[TOKEN_MAX]; /* the last signed token's claims, as signed */
	bool claims_known;	/* ... whole (no NUL, not cut short) */
	bool token_genuine, genuine_token_sent;
	bool substituted_genuine; /* the last substitute() put in a genuine token */
} h;

static bool verbose; /* FUZZ_VERBOSE=1: log lines, requests and frames on stderr */
static struct fake_conn conn_pool[MAX_CONNS];
static unsigned char *out_buf; /* what the helper sent to the shim */
static char *log_buf;
static char ca_path[64];
static EVP_PKEY *key1, *key2;
static char jwk1[1024], jwk2[1024];
static char *key1_pem;

/* --- interposed libc: the virtual clock, connect, sendto ------------------ */

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_gettimeofday)(struct timeval *, void *);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);

__attribute__((constructor)) static void interpose_init(void)
{
	*(void **)&real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
	*(void **)&real_gettimeofday = dlsym(RTLD_NEXT, "gettimeofday");
	*(void **)&real_connect = dlsym(RTLD_NEXT, "connect");
	*(void **)&real_sendto = dlsym(RTLD_NEXT, "sendto");
}

/* libevent's timers run on the monotonic clock and its cached wall clock on
 * gettimeofday; CLOCK_REALTIME stays real (libFuzzer times units with it, and
 * ID tokens are checked against time()). */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc = real_clock_gettime(id, ts);

	if (rc == 0 && h.offset_ms != 0 &&
	    (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE || id == CLOCK_MONOTONIC_RAW ||
	     id == CLOCK_BOOTTIME)) {
		long long ns = ts->tv_nsec + (h.offset_ms % 1000) * 1000000LL;
		ts->tv_sec += (time_t)(h.offset_ms / 1000 + ns / 1000000000LL);
		ts->tv_nsec = (long)(ns % 1000000000LL);
	}
	return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	int rc = real_gettimeofday(tv, tz);

	if (rc == 0 && h.offset_ms != 0) {
		long long us = tv->tv_usec + (h.offset_ms % 1000) * 1000LL;
		tv->tv_sec += (time_t)(h.offset_ms / 1000 + us / 1000000LL);
		tv->tv_usec = (suseconds_t)(us % 1000000LL);
	}
	return rc;
}

/* Every TCP connection the helper opens becomes a socketpair: the helper's
 * socket is replaced by one end (dup2), the harness keeps the other. */
int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fake_conn *conn;
	int sv[2];

	if (!h.active || sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return real_connect(fd, sa, len);
	if (++h.connects > MAX_CONNECTS)
		__builtin_trap(); /* reconnecting without end */
	if (h.refuse > 0) {
		h.refuse--;
		errno = h.refuse_errno;
		return -1;
	}
	if (h.conn_count >= MAX_CONNS) {
		errno = ECONNREFUSED;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	if (dup2(sv[0], fd) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[0]);
	conn = &conn_pool[h.conn_count]; /* static: no page faults per input */
	conn->fd = sv[1];
	conn->len = 0;
	conn->ok = conn->ok_401 = 0;
	h.conns[h.conn_count++] = conn;
	errno = EINPROGRESS; /* libevent waits for it to become writable */
	return -1;
}

/* The resolver's queries: nothing leaves the process. */
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	if (h.active) {
		errno = ENETUNREACH;
		return -1;
	}
	return real_sendto(fd, buf, len, flags, to, tolen);
}

/* --- injected failures: ~oom N (link-time wrapping) ------------------------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
struct event *__real_event_new(struct event_base *base, evutil_socket_t fd, short what,
			       event_callback_fn cb, void *arg);
struct bufferevent *__real_bufferevent_socket_new(struct event_base *base, evutil_socket_t fd,
						  int options);
struct evhttp_connection *__real_evhttp_connection_base_bufferevent_new(struct event_base *base,
									struct evdns_base *dns,
									struct bufferevent *bev,
									const char *address,
									ev_uint16_t port);
struct evhttp_request *__real_evhttp_request_new(void (*cb)(struct evhttp_request *, void *),
						 void *arg);
struct evdns_base *__real_evdns_base_new(struct event_base *base, int flags);
int __real_evhttp_add_header(struct evkeyvalq *headers, const char *key, const char *value);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct event *__wrap_event_new(struct event_base *base, evutil_socket_t fd, short what,
			       event_callback_fn cb, void *arg);
struct bufferevent *__wrap_bufferevent_socket_new(struct event_base *base, evutil_socket_t fd,
						  int options);
struct evhttp_connection *__wrap_evhttp_connection_base_bufferevent_new(struct event_base *base,
									struct evdns_base *dns,
									struct bufferevent *bev,
									const char *address,
									ev_uint16_t port);
struct evhttp_request *__wrap_evhttp_request_new(void (*cb)(struct evhttp_request *, void *),
						 void *arg);
struct evdns_base *__wrap_evdns_base_new(struct event_base *base, int flags);
int __wrap_evhttp_add_header(struct evkeyvalq *headers, const char *key, const char *value);

void *__real_secure_malloc(size_t size);
void *__real_secure_realloc(void *ptr, size_t size);
void *__wrap_secure_malloc(size_t size);
void *__wrap_secure_realloc(void *ptr, size_t size);

static long oom_countdown; /* the call that fails, counted from ~oom; 0: none */
static int oom_spared;	   /* > 0 inside secure_malloc and secure_realloc */

static bool oom_now(void)
{
	if (!h.active || oom_spared > 0 || oom_countdown <= 0 || --oom_countdown > 0)
		return false;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t size)
{
	return oom_now() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return oom_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return oom_now() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
	return oom_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return oom_now() ? NULL : __real_strndup(s, n);
}

/* What goes through secure_alloc.c is spared: yajl 2.1 allocates its
 * handles and buffers there (engine/json.c) and dereferences what its
 * allocator returns without a check (yajl_alloc, yajl_buf), so a failure
 * there is a NULL dereference inside yajl, not the helper's own error path. */
void *__wrap_secure_malloc(size_t size)
{
	void *p;

	oom_spared++;
	p = __real_secure_malloc(size);
	oom_spared--;
	return p;
}

void *__wrap_secure_realloc(void *ptr, size_t size)
{
	void *p;

	oom_spared++;
	p = __real_secure_realloc(ptr, size);
	oom_spared--;
	return p;
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (oom_now())
		return -1;
	va_start(ap, fmt);
	rc = vasprintf(out, fmt, ap);
	va_end(ap);
	return rc;
}

struct event *__wrap_event_new(struct event_base *base, evutil_socket_t fd, short what,
			       event_callback_fn cb, void *arg)
{
	return oom_now() ? NULL : __real_event_new(base, fd, what, cb, arg);
}

struct bufferevent *__wrap_bufferevent_socket_new(struct event_base *base, evutil_socket_t fd,
						  int options)
{
	return oom_now() ? NULL : __real_bufferevent_socket_new(base, fd, options);
}

struct evhttp_connection *__wrap_evhttp_connection_base_bufferevent_new(struct event_base *base,
									struct evdns_base *dns,
									struct bufferevent *bev,
									const char *address,
									ev_uint16_t port)
{
	return oom_now()
		   ? NULL
		   : __real_evhttp_connection_base_bufferevent_new(base, dns, bev, address, port);
}

struct evhttp_request *__wrap_evhttp_request_new(void (*cb)(struct evhttp_request *, void *),
						 void *arg)
{
	return oom_now() ? NULL : __real_evhttp_request_new(cb, arg);
}

struct evdns_base *__wrap_evdns_base_new(struct event_base *base, int flags)
{
	return oom_now() ? NULL : __real_evdns_base_new(base, flags);
}

int __wrap_evhttp_add_header(struct evkeyvalq *headers, const char *key, const char *value)
{
	return oom_now() ? -1 : __real_evhttp_add_header(headers, key, value);
}

/* --- keys and ID tokens ------------------------------------------------------ */

static size_t b64url(const unsigned char *in, size_t len, char *out, size_t size)
{
	size_t n;

	if ((len + 2) / 3 * 4 + 1 > size)
		return 0;
	n = (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return n;
}

static void make_jwk(EVP_PKEY *key, const char *kid, char *out, size_t size)
{
	BIGNUM *n = NULL;
	unsigned char bytes[512];
	char text[700];
	int len;

	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n))
		abort();
	len = BN_bn2bin(n, bytes);
	b64url(bytes, (size_t)len, text, sizeof(text));
	BN_free(n);
	snprintf(out, size,
		 "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\",\"e\":\"AQAB\","
		 "\"n\":\"%s\"}",
		 kid, text);
}

/* header.claims.signature, signed the way ~sign's key= says. */
static void sign_token(const char *how, size_t how_len, const uint8_t *header, size_t hlen,
		       const uint8_t *claims, size_t clen)
{
	char *p = h.token;
	size_t room = sizeof(h.token), n;
	unsigned char sig[512];
	size_t siglen = 0;
	bool rsa = how_len == 0 || (how_len == 2 && memcmp(how, "k1", 2) == 0) ||
		   (how_len == 2 && memcmp(how, "k2", 2) == 0) ||
		   (how_len == 6 && memcmp(how, "badsig", 6) == 0);

	h.token[0] = '\0';
	h.token_genuine = false;
	n = b64url(header, hlen, p, room);
	if (n == 0 && hlen > 0)
		return;
	p += n, room -= n;
	if (room < 2)
		return;
	*p++ = '.', room--;
	n = b64url(claims, clen, p, room);
	if (n == 0 && clen > 0)
		return;
	p += n, room -= n;
	if (rsa) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_PKEY *key = how_len == 2 && how[1] == '2' ? key2 : key1;

		siglen = sizeof(sig);
		if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
		    EVP_DigestSign(md, sig, &siglen, (unsigned char *)h.token,
				   (size_t)(p - h.token)) != 1)
			siglen = 0;
		EVP_MD_CTX_free(md);
		if (how_len == 6)
			sig[siglen / 2] ^= 1;
		else
			h.token_genuine = siglen > 0;
	} else if (how_len == 5 && memcmp(how, "hs256", 5) == 0) {
		/* The key-confusion forgery libjwt 1.10 would accept. */
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key1_pem, strlen(key1_pem),
			      (unsigned char *)h.token, (size_t)(p - h.token), sig, sizeof(sig),
			      &siglen) == NULL)
			siglen = 0;
	} /* none: an empty signature */
	if (room < 2)
		return;
	*p++ = '.', room--;
	b64url(sig, siglen, p, room);
}

/* --- the fake shim and the fake server -------------------------------------- */

static void quiet_libevent(int severity, const char *msg)
{
	(void)severity;
	if (verbose)
		fprintf(stderr, "libevent: %s\n", msg);
}

static void log_capture(int priority, const char *line)
{
	size_t len = strlen(line);

	if (priority <= LOG_NOTICE)
		h.log_loud++;
	if (verbose)
		fprintf(stderr, "log<%d>: %s\n", priority, line);
	if (h.log_len + len + 2 > LOG_MAX)
		return;
	memcpy(log_buf + h.log_len, line, len);
	h.log_len += len;
	log_buf[h.log_len++] = '\n';
	log_buf[h.log_len] = '\0';
}

static void drain_channel(void)
{
	unsigned char buf[65536];
	ssize_t n;

	while ((n = read(h.chan[0], buf, sizeof(buf))) > 0) {
		size_t take = (size_t)n;
		if (h.out_len + take > OUT_MAX)
			take = OUT_MAX - h.out_len;
		memcpy(out_buf + h.out_len, buf, take);
		h.out_len += take;
	}
}

static enum kind request_kind(const char *path, size_t len, bool bearer)
{
	static const struct {
		const char *suffix;
		enum kind kind;
	} table[] = {
	    {"/api/firstfactor", KIND_FIRST_FACTOR},
	    {"/api/state", KIND_STATE},
	    {"/api/user/info", KIND_USER_INFO},
	    {"/api/secondfactor/totp", KIND_TOTP},
	    {"/api/secondfactor/duo", KIND_DUO},
	    {"/api/oidc/device-authorization", KIND_DEVICE},
	    {"/api/oidc/token", KIND_TOKEN},
	};

	if (bearer)
		return KIND_BEARER;
	if (memmem(path, len, "/api/authz/", 11) != NULL)
		return KIND_AUTHZ;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t sl = strlen(table[i].suffix);
		if (len >= sl && memcmp(path + len - sl, table[i].suffix, sl) == 0)
			return table[i].kind;
	}
	return KIND_OTHER;
}

/* Complete requests in a connection's buffer become records, in order. */
static void parse_requests(int index)
{
	struct fake_conn *conn = h.conns[index];

	for (;;) {
		char *end = memmem(conn->buf, conn->len, "\r\n\r\n", 4), *line_end, *sp1, *sp2;
		char *cl;
		size_t head, body = 0, total;
		bool bearer;

		if (end == NULL)
			return;
		head = (size_t)(end - conn->buf) + 4;
		cl = memmem(conn->buf, head, "\r\nContent-Length: ", 18);
		if (cl != NULL)
			body = strtoul(cl + 18, NULL, 10);
		total = head + body;
		if (total > conn->len)
			return;
		line_end = memchr(conn->buf, '\r', head);
		sp1 = memchr(conn->buf, ' ', (size_t)(line_end - conn->buf));
		sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
		bearer = memmem(conn->buf, head, "\r\nAuthorization: Bearer ", 24) != NULL;
		if (h.request_count < MAX_REQUESTS) {
			struct request *r = &h.requests[h.request_count++];
			r->conn = index;
			r->kind = sp2 ? request_kind(sp1 + 1, (size_t)(sp2 - sp1 - 1), bearer)
				      : KIND_OTHER;
			r->seq = ++h.seq;
			r->answered = false;
			r->verified = r->lenient = false;
			r->path[0] = '\0';
			if (sp2)
				script_copy(sp1 + 1, (size_t)(sp2 - sp1 - 1), r->path,
					    sizeof(r->path));
			if (verbose)
				fprintf(stderr, "request on conn %d: %.*s\n", index,
					(int)(line_end - conn->buf), conn->buf);
		}
		memmove(conn->buf, conn->buf + total, conn->len - total);
		conn->len -= total;
	}
}

static void drain_servers(void)
{
	for (int i = 0; i < h.conn_count; i++) {
		struct fake_conn *conn = h.conns[i];
		ssize_t n;

		while (conn->fd >= 0) {
			if (conn->len == sizeof(conn->buf))
				conn->len = 0; /* no request is this large: drop it */
			n = read(conn->fd, conn->buf + conn->len, sizeof(conn->buf) - conn->len);
			if (n <= 0)
				break;
			conn->len += (size_t)n;
			parse_requests(i);
		}
	}
}

static bool fd_readable(int fd)
{
	int n = 0;

	return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* Runs the loop until nothing is left to do now; a loop that never settles is
 * a busy loop. */
static void settle(void)
{
	int idle = 0;

	for (int i = 0; i < SETTLE_LIMIT && !h.exited; i++) {
		bool busy;

		event_base_loop(h.base, EVLOOP_NONBLOCK);
		if (event_base_got_break(h.base) || event_base_got_exit(h.base)) {
			h.exited = true;
			break;
		}
		drain_channel();
		drain_servers();
		busy = event_base_get_num_events(h.base, EVENT_BASE_COUNT_ACTIVE) > 0 ||
		       fd_readable(h.chan[1]) || fd_readable(h.watch[1]);
		if (busy) {
			idle = 0;
			continue;
		}
		if (++idle >= 3)
			return;
	}
	drain_channel();
	drain_servers();
	if (!h.exited)
		__builtin_trap(); /* a busy loop */
}

static void advance(long long ms)
{
	h.offset_ms += ms;
	settle();
}

static int earliest_timer(const struct event_base *base, const struct event *ev, void *arg)
{
	struct timeval *earliest = arg, tv;

	(void)base;
	if (event_pending(ev, EV_TIMEOUT, &tv) &&
	    (earliest->tv_sec < 0 || evutil_timercmp(&tv, earliest, <)))
		*earliest = tv;
	return 0;
}

/* To the next timer that is due (at least 1 ms on). */
static void next_timer(void)
{
	struct timeval earliest = {-1, 0}, now, left;
	long long ms = 1;

	event_base_foreach_event(h.base, earliest_timer, &earliest);
	if (earliest.tv_sec < 0)
		return;
	event_base_gettimeofday_cached(h.base, &now);
	if (evutil_timercmp(&earliest, &now, >)) {
		evutil_timersub(&earliest, &now, &left);
		ms = (long long)left.tv_sec * 1000 + left.tv_usec / 1000 + 1;
	}
	advance(ms);
}

static void write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	int stalls = 0;

	while (len > 0 && fd >= 0) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return;
		if (++stalls > 16 || h.exited)
			return; /* the other side reads no more */
		settle();
	}
}

static void send_frame(int type, const void *payload, size_t len)
{
	unsigned char hdr[FRAME_HEADER_SIZE];

	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
	write_all(h.chan[0], hdr, sizeof(hdr));
	write_all(h.chan[0], payload, len);
}

static void send_text(int type, const char *text)
{
	send_frame(type, text, strlen(text));
}

/* --- placeholders in responses --------------------------------------------- */

struct buf {
	char *data;
	size_t len, size;
};

static void buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->size) {
		size_t size = (b->len + len + 1) * 2;
		char *p = __real_realloc(b->data, size); /* never fails by ~oom */
		if (p == NULL)
			abort();
		b->data = p;
		b->size = size;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void substitute(struct buf *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len;) {
		const uint8_t *end;
		size_t name_len;
		const char *name = (const char *)in + i + 1;
		char number[32];

		end = in[i] == '%' && i + 1 < len ? memchr(in + i + 1, '%', len - i - 1) : NULL;
		name_len = end ? (size_t)(end - in) - i - 1 : 0;
		if (end == NULL || name_len == 0 || name_len > 16) {
			buf_add(out, in + i, 1);
			i++;
			continue;
		}
		if (name_len == 3 && memcmp(name, "URL", 3) == 0) {
			buf_str(out, h.url);
		} else if (name_len == 4 && memcmp(name, "HOST", 4) == 0) {
			buf_str(out, h.hostport);
		} else if (name_len == 4 && memcmp(name, "USER", 4) == 0) {
			buf_str(out, h.user);
		} else if (name_len == 3 && memcmp(name, "JWK", 3) == 0) {
			buf_str(out, jwk1);
		} else if (name_len == 4 && memcmp(name, "JWK2", 4) == 0) {
			buf_str(out, jwk2);
		} else if (name_len == 3 && memcmp(name, "IDT", 3) == 0) {
			buf_str(out, h.token);
			if (h.token_genuine)
				h.genuine_token_sent = h.substituted_genuine = true;
		} else if (name_len >= 3 && memcmp(name, "NOW", 3) == 0) {
			long delta = 0;
			if (name_len > 4 && (name[3] == '+' || name[3] == '-')) {
				for (size_t k = 4; k < name_len && name[k] >= '0' && name[k] <= '9';
				     k++)
					delta = delta * 10 + (name[k] - '0');
				if (name[3] == '-')
					delta = -delta;
			}
			snprintf(number, sizeof(number), "%lld", (long long)time(NULL) + delta);
			buf_str(out, number);
		} else {
			buf_add(out, in + i, 1);
			i++;
			continue;
		}
		i += name_len + 2;
	}
}

/* --- answering ---------------------------------------------------------------- */

/* The connection an answer goes to: the oldest request not yet answered
 * (on conn=N, or whose path holds to=TEXT), else the newest open connection
 * (or conn=N). */
static int target_conn(const struct script_op *op, struct request **request)
{
	long n = script_num(op, "conn", -1, 0, MAX_CONNS - 1);
	const char *to = NULL;
	size_t to_len = 0;
	char want[128] = "";

	if (script_arg(op, "to", &to, &to_len))
		script_copy(to, to_len, want, sizeof(want));
	*request = NULL;
	for (int i = 0; i < h.request_count; i++) {
		struct request *r = &h.requests[i];
		if (!r->answered && (n < 0 || r->conn == n) && strstr(r->path, want) != NULL) {
			*request = r;
			return r->conn;
		}
	}
	if (want[0] != '\0')
		return -1;
	if (n >= 0)
		return n < h.conn_count ? (int)n : -1;
	for (int i = h.conn_count - 1; i >= 0; i--)
		if (h.conns[i]->fd >= 0)
			return i;
	return -1;
}

static void close_conn(int index)
{
	if (index >= 0 && index < h.conn_count && h.conns[index]->fd >= 0) {
		close(h.conns[index]->fd);
		h.conns[index]->fd = -1;
	}
}

/*
 * Writes bytes of responses to a connection.  For the oracle, any
 * "HTTP/1.x 200" from offset `from` on counts as a yes for whatever request
 * on that connection came before it (a response written ahead of its request,
 * or hidden in another's body, is read by evhttp as the next one's answer).
 */
static void answer(int index, struct request *request, const char *data, size_t len, size_t from)
{
	struct fake_conn *conn;

	if (index < 0 || index >= h.conn_count)
		return;
	conn = h.conns[index];
	if (request != NULL)
		request->answered = true;
	for (size_t i = from; i + 12 <= len; i++) {
		if ((i == 0 || data[i - 1] == '\n') && memcmp(data + i, "HTTP/1.", 7) == 0 &&
		    memcmp(data + i + 8, " 200", 4) == 0)
			conn->ok = ++h.seq;
		else if ((i == 0 || data[i - 1] == '\n') && memcmp(data + i, "HTTP/1.", 7) == 0 &&
			 memcmp(data + i + 8, " 401", 4) == 0)
			conn->ok_401 = ++h.seq;
	}
	write_all(conn->fd, data, len);
}

static yajl_val json_at(yajl_val root, const char *a, const char *b)
{
	const char *path[] = {a, b, NULL};

	return root != NULL ? yajl_tree_get(root, path, yajl_t_any) : NULL;
}

static bool json_is(yajl_val v, const char *text)
{
	return v != NULL && YAJL_IS_STRING(v) && strcmp(v->u.string, text) == 0;
}

static bool json_int(yajl_val v, long long *out)
{
	if (v == NULL || !YAJL_IS_INTEGER(v))
		return false;
	*out = YAJL_GET_INTEGER(v);
	return true;
}

/*
 * The last signed token's claims as the oracle reads them, or NULL when it
 * cannot read them as the helper does: the helper gets them from libjwt
 * (jansson, where a repeated key's last value wins), yajl keeps the first.
 */
static yajl_val claims_parse(void)
{
	char err[128];
	yajl_val root = h.claims_known ? yajl_tree_parse(h.claims, err, sizeof(err)) : NULL;

	for (size_t i = 0; root != NULL && YAJL_IS_OBJECT(root) && i < root->u.object.len; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(root->u.object.keys[i], root->u.object.keys[k]) == 0) {
				yajl_tree_free(root);
				return NULL;
			}
	if (root != NULL && !YAJL_IS_OBJECT(root)) {
		yajl_tree_free(root);
		return NULL;
	}
	return root;
}

/*
 * The oracle's own check of the signed token's claims against what the
 * helper was configured with (two seconds of slack where the clock moved on
 * between the helper's check and this one): aud holding the client, azp
 * absent or the client, exp ahead, iat, nbf and auth_time not ahead,
 * auth_time within device-max-age, amr showing two factors (unless 1FA), a
 * subject.  iss is left to the helper (it compares it with the discovery
 * document's issuer, which the oracle does not model); claims it cannot read
 * as the helper does pass (see claims_parse).
 */
static bool claims_ok(void)
{
	static const char *const knowledge[] = {"pwd", "pin", "kba"};
	static const char *const possession[] = {"otp", "hwk", "swk", "sms", "tel", "sc", "pop"};
	const struct config *c = &h.session.config;
	yajl_val root = claims_parse();
	yajl_val aud = json_at(root, "aud", NULL), azp = json_at(root, "azp", NULL);
	yajl_val amr = json_at(root, "amr", NULL), sub = json_at(root, "sub", NULL);
	long long now = (long long)time(NULL), exp, iat, nbf, auth_time;
	bool ok = false, aud_ok = false, know = false, have = false;

	if (root == NULL)
		return true;
	if (c->oauth2_client_id == NULL)
		goto out;
	if (aud != NULL && YAJL_IS_STRING(aud))
		aud_ok = strcmp(aud->u.string, c->oauth2_client_id) == 0;
	for (size_t i = 0; aud != NULL && YAJL_IS_ARRAY(aud) && i < aud->u.array.len; i++)
		aud_ok = aud_ok || json_is(aud->u.array.values[i], c->oauth2_client_id);
	for (size_t i = 0; amr != NULL && YAJL_IS_ARRAY(amr) && i < amr->u.array.len; i++) {
		yajl_val v = amr->u.array.values[i];
		know = know || json_is(v, "mfa");
		have = have || json_is(v, "mfa");
		for (size_t k = 0; k < sizeof(knowledge) / sizeof(knowledge[0]); k++)
			know = know || json_is(v, knowledge[k]);
		for (size_t k = 0; k < sizeof(possession) / sizeof(possession[0]); k++)
			have = have || json_is(v, possession[k]);
	}
	if (c->auth_level == AUTH_LEVEL_1FA)
		know = have = true;
	if (json_int(json_at(root, "nbf", NULL), &nbf) && nbf > now + OIDC_IAT_LEEWAY + 2)
		goto out;
	ok = aud_ok && (azp == NULL || json_is(azp, c->oauth2_client_id)) &&
	     json_int(json_at(root, "exp", NULL), &exp) && exp > now - 2 &&
	     json_int(json_at(root, "iat", NULL), &iat) && iat <= now + OIDC_IAT_LEEWAY + 2 &&
	     json_int(json_at(root, "auth_time", NULL), &auth_time) &&
	     auth_time <= now + OIDC_IAT_LEEWAY + 2 &&
	     now - auth_time <= (long long)c->device_max_age + 2 && know && have && sub != NULL &&
	     YAJL_IS_STRING(sub) && sub->u.string[0] != '\0';
out:
	yajl_tree_free(root);
	return ok;
}

/* Does the userinfo's sub equal the signed token's (true when the oracle
 * cannot read the claims as the helper does)? */
static bool claims_sub_is(yajl_val usub)
{
	yajl_val root = claims_parse(), sub = json_at(root, "sub", NULL);
	bool same =
	    root == NULL || (sub != NULL && YAJL_IS_STRING(sub) && usub != NULL &&
			     YAJL_IS_STRING(usub) && strcmp(sub->u.string, usub->u.string) == 0);

	yajl_tree_free(root);
	return same;
}

/* A Set-Cookie header line setting the session cookie to a non-empty value
 * (or a folded header line, which evhttp joins to the one before it: the
 * oracle does not model that). */
static bool sets_session_cookie(const char *headers, size_t len)
{
	const char *name =
	    h.session.config.cookie_name ? h.session.config.cookie_name : "authelia_session";
	size_t n = strlen(name);

	for (size_t i = 0; i < len;) {
		const char *line = headers + i, *nl = memchr(line, '\n', len - i);
		size_t l = nl ? (size_t)(nl - line) : len - i, k = 11;

		if (i > 0 && l > 0 && (line[0] == ' ' || line[0] == '\t'))
			return true;
		if (l > 11 && strncasecmp(line, "set-cookie:", 11) == 0) {
			while (k < l && (line[k] == ' ' || line[k] == '\t'))
				k++;
			if (l - k > n + 1 && strncmp(line + k, name, n) == 0 &&
			    line[k + n] == '=' && line[k + n + 1] != ';' && line[k + n + 1] != '\r')
				return true;
		}
		i += l + 1;
	}
	return false;
}

/*
 * The oracle's own reading of an answer Authelia would give only to a login
 * that may succeed (yajl's tree, not engine/json.c): the password accepted;
 * the session the PAM user's at level 1 or more; a second factor accepted
 * with a new session cookie (Duo without data.result); a genuinely signed ID
 * token; userinfo naming the PAM user.
 */
static bool response_says_yes(enum kind kind, const char *headers, size_t hlen, const char *body)
{
	const char *user = h.session.user;
	char err[128];
	yajl_val root = kind == KIND_TOKEN ? NULL : yajl_tree_parse(body, err, sizeof(err));
	yajl_val level = json_at(root, "data", "authentication_level");
	bool yes = false;

	switch (kind) {
	case KIND_FIRST_FACTOR:
		yes = json_is(json_at(root, "status", NULL), "OK");
		break;
	case KIND_STATE:
		yes = json_is(json_at(root, "status", NULL), "OK") && user != NULL &&
		      json_is(json_at(root, "data", "username"), user) && level != NULL &&
		      YAJL_IS_INTEGER(level) && YAJL_GET_INTEGER(level) >= 1;
		break;
	case KIND_TOTP:
		yes = json_is(json_at(root, "status", NULL), "OK") &&
		      sets_session_cookie(headers, hlen);
		break;
	case KIND_DUO:
		yes = json_is(json_at(root, "status", NULL), "OK") &&
		      json_at(root, "data", "result") == NULL && sets_session_cookie(headers, hlen);
		break;
	case KIND_TOKEN:
		yes = h.substituted_genuine;
		break;
	case KIND_BEARER:
		yes = user != NULL && json_is(json_at(root, "authelia.pam.username", NULL), user) &&
		      claims_sub_is(json_at(root, "sub", NULL));
		break;
	default:
		yes = true;
		break;
	}
	yajl_tree_free(root);
	return yes;
}

static void op_http(const struct script_op *op)
{
	struct buf text = {0}, resp = {0};
	struct request *request;
	const char *v, *sep, *body;
	size_t vlen, hlen, blen, head_len;
	long status = script_pos_num(op, 200, 0, 999);
	long chunk = script_num(op, "chunk", 0, 1, 65536);
	long part = script_num(op, "part", -1, 0, 1 << 20);
	bool chunked = script_arg(op, "chunked", &v, &vlen);
	bool nolength = script_arg(op, "nolength", &v, &vlen);
	bool closing = script_arg(op, "close", &v, &vlen);
	int index = target_conn(op, &request);
	char line[128], reason[32] = "X";

	if (index < 0)
		return;
	h.substituted_genuine = false;
	substitute(&text, op->payload, op->payload_len);
	if (text.data == NULL)
		buf_str(&text, "");
	/* Headers, an empty line, the body; no empty line: headers only. */
	sep = text.len > 0 && text.data[0] == '\n' ? text.data : strstr(text.data, "\n\n");
	hlen = sep ? (size_t)(sep - text.data) : text.len;
	body = sep ? sep + (sep == text.data ? 1 : 2) : text.data + text.len;
	blen = text.len - (size_t)(body - text.data);
	if (script_arg(op, "reason", &v, &vlen))
		script_copy(v, vlen, reason, sizeof(reason));
	snprintf(line, sizeof(line), "HTTP/1.%c %03ld %s\r\n",
		 script_arg(op, "v10", &v, &vlen) ? '0' : '1', status, reason);
	buf_str(&resp, line);
	for (size_t i = 0; i < hlen;) {
		const char *nl = memchr(text.data + i, '\n', hlen - i);
		size_t l = nl ? (size_t)(nl - text.data) - i : hlen - i, k = l;
		if (k > 0 && text.data[i + k - 1] == '\r')
			k--;
		if (k > 0) {
			buf_add(&resp, text.data + i, k);
			buf_str(&resp, "\r\n");
		}
		i += l + 1;
	}
	if (chunked) {
		buf_str(&resp, "Transfer-Encoding: chunked\r\n");
	} else if (!nolength) {
		snprintf(line, sizeof(line), "Content-Length: %ld\r\n",
			 script_num(op, "length", (long)blen, 0, 1L << 40));
		buf_str(&resp, line);
	}
	if (closing)
		buf_str(&resp, "Connection: close\r\n");
	buf_str(&resp, "\r\n");
	head_len = resp.len;
	if (chunked) {
		size_t step = chunk > 0 ? (size_t)chunk : (blen > 0 ? blen : 1);
		for (size_t i = 0; i < blen; i += step) {
			size_t n = blen - i < step ? blen - i : step;
			snprintf(line, sizeof(line), "%zx\r\n", n);
			buf_str(&resp, line);
			buf_add(&resp, body + i, n);
			buf_str(&resp, "\r\n");
		}
		if (!script_arg(op, "open", &v, &vlen))
			buf_str(&resp, "0\r\n\r\n");
	} else {
		buf_add(&resp, body, blen);
	}
	/* A 401 may let the access check go on to a second factor. */
	if (status == 401 && request != NULL && request->kind == KIND_AUTHZ)
		request->verified = true;
	/* What the helper reads is this body only when nothing else frames it. */
	if (status == 200 && request != NULL) {
		bool framed = part < 0 && !script_arg(op, "length", &v, &vlen) &&
			      memchr(body, '\0', blen) == NULL &&
			      memmem(text.data, hlen, "ength", 5) == NULL &&
			      memmem(text.data, hlen, "ncoding", 7) == NULL;
		if (framed)
			request->verified = response_says_yes(request->kind, text.data, hlen, body);
		else
			request->lenient = true;
	}
	answer(index, request, resp.data,
	       part >= 0 && (size_t)part < resp.len ? (size_t)part : resp.len,
	       request != NULL ? head_len : 0);
	if (closing || nolength)
		close_conn(index);
	free(text.data);
	free(resp.data);
}

static void op_send(const struct script_op *op)
{
	struct buf text = {0};
	struct request *request;
	const char *v;
	size_t vlen;
	int index = target_conn(op, &request);

	if (index < 0)
		return;
	substitute(&text, op->payload, op->payload_len);
	answer(index, request, text.data ? text.data : "", text.len, 0);
	if (script_arg(op, "close", &v, &vlen))
		close_conn(index);
	free(text.data);
}

static void op_close(const struct script_op *op)
{
	struct request *request;

	close_conn(target_conn(op, &request));
}

static void op_refuse(const struct script_op *op)
{
	const char *v;
	size_t vlen;

	h.refuse = (int)script_pos_num(op, 1, 0, 100);
	h.refuse_errno = ECONNREFUSED;
	if (script_arg(op, "err", &v, &vlen) && vlen > 0) {
		if (v[0] == 'r' && vlen > 1 && v[1] == 'e' && vlen > 2 && v[2] == 's')
			h.refuse_errno = ECONNRESET;
		else if (v[0] == 'u')
			h.refuse_errno = ENETUNREACH;
		else if (v[0] == 't')
			h.refuse_errno = ETIMEDOUT;
		else if (v[0] == 'a')
			h.refuse_errno = EACCES;
	}
}

static void op_sign(const struct script_op *op)
{
	struct buf claims = {0};
	const char *how = "";
	size_t how_len = 0;
	const uint8_t *nl = memchr(op->payload, '\n', op->payload_len);
	size_t hlen = nl ? (size_t)(nl - op->payload) : op->payload_len;

	script_arg(op, "key", &how, &how_len);
	if (nl != NULL)
		substitute(&claims, nl + 1, op->payload_len - hlen - 1);
	h.claims_known = claims.len < sizeof(h.claims) &&
			 (claims.len == 0 || memchr(claims.data, '\0', claims.len) == NULL);
	h.claims[0] = '\0';
	if (h.claims_known && claims.len > 0)
		memcpy(h.claims, claims.data, claims.len + 1);
	sign_token(how, how_len, op->payload, hlen,
		   (const uint8_t *)(claims.data ? claims.data : ""), claims.len);
	free(claims.data);
}

/* hello, url, ca-cert, the option lines, the PAM items, start. */
static void op_setup(const struct script_op *op)
{
	const char *v;
	size_t vlen;
	char value[300], host[64] = "127.0.0.1", path[64] = "", arg[4200];
	long port = script_num(op, "port", FUZZ_PORT, 1, 65535);

	if (script_arg(op, "host", &v, &vlen) && vlen > 0)
		script_copy(v, vlen, host, sizeof(host));
	if (script_arg(op, "path", &v, &vlen) && vlen > 0)
		script_copy(v, vlen, path, sizeof(path));
	snprintf(h.hostport, sizeof(h.hostport), "%s:%ld", host, port);
	snprintf(h.url, sizeof(h.url), "https://%s%s", h.hostport, path);
	send_text(FRAME_HELLO, PROTOCOL_VERSION);
	snprintf(arg, sizeof(arg), "url=%s", h.url);
	send_text(FRAME_OPTION, arg);
	snprintf(arg, sizeof(arg), "ca-cert=%s", ca_path);
	send_text(FRAME_OPTION, arg);
	for (size_t i = 0; i < op->payload_len;) {
		const uint8_t *nl = memchr(op->payload + i, '\n', op->payload_len - i);
		size_t l = nl ? (size_t)(nl - op->payload) - i : op->payload_len - i;
		const char *line = (const char *)op->payload + i;
		if (l > 0 && !(l >= 4 && memcmp(line, "url=", 4) == 0) &&
		    !(l >= 8 && memcmp(line, "ca-cert=", 8) == 0) &&
		    !(l >= 26 && memcmp(line, "oauth2-client-secret-file=", 26) == 0))
			send_frame(FRAME_OPTION, line, l);
		i += l + 1;
	}
	if (!script_arg(op, "service", &v, &vlen))
		v = "sshd", vlen = 4;
	script_copy(v, vlen, value, sizeof(value));
	send_text(FRAME_SERVICE, value);
	if (!script_arg(op, "user", &v, &vlen))
		v = "john", vlen = 4;
	script_copy(v, vlen, h.user, sizeof(h.user));
	send_text(FRAME_USER, h.user);
	if (script_arg(op, "rhost", &v, &vlen)) {
		script_copy(v, vlen, value, sizeof(value));
		send_text(FRAME_RHOST, value);
	}
	if (script_arg(op, "authtok", &v, &vlen)) {
		script_copy(v, vlen, value, sizeof(value));
		send_text(FRAME_AUTHTOK, value);
	}
	if (script_arg(op, "watch", &v, &vlen) && h.watch[0] < 0 &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, h.watch) == 0) {
		snprintf(value, sizeof(value), "%d", h.watch[1]);
		send_text(FRAME_WATCH_FD, value);
	}
	send_frame(FRAME_START, NULL, 0);
}

static void op_frame(const struct script_op *op)
{
	const char *w;
	size_t len;
	int type = 'P';

	if (script_word(op, 1, &w, &len) && len > 0) {
		if (w[0] >= '0' && w[0] <= '9')
			type = (int)script_pos_num(op, 0, 0, 255);
		else
			type = (unsigned char)w[0];
	}
	send_frame(type, op->payload, op->payload_len);
}

static void op_signal(const struct script_op *op)
{
	const char *w;
	size_t len;
	int sig = SIGTERM;

	if (script_word(op, 1, &w, &len) && len > 0)
		sig = w[0] == 'i' ? SIGINT : w[0] == 'h' ? SIGHUP : SIGTERM;
	raise(sig);
}

static void run_op(const struct script_op *op)
{
	const char *v;
	size_t vlen;

	if (script_is(op, "setup"))
		op_setup(op);
	else if (script_is(op, "frame"))
		op_frame(op);
	else if (script_is(op, "raw"))
		write_all(h.chan[0], op->payload, op->payload_len);
	else if (script_is(op, "reply"))
		send_frame(FRAME_REPLY, op->payload, op->payload_len);
	else if (script_is(op, "converr"))
		send_frame(FRAME_CONV_ERROR, NULL, 0);
	else if (script_is(op, "eof")) {
		shutdown(h.chan[0], script_arg(op, "rdwr", &v, &vlen) ? SHUT_RDWR : SHUT_WR);
		h.eof_sent = true;
	} else if (script_is(op, "http"))
		op_http(op);
	else if (script_is(op, "send"))
		op_send(op);
	else if (script_is(op, "close"))
		op_close(op);
	else if (script_is(op, "refuse"))
		op_refuse(op);
	else if (script_is(op, "sign"))
		op_sign(op);
	else if (script_is(op, "advance"))
		h.offset_ms += script_pos_num(op, 1000, 0, 100000000L);
	else if (script_is(op, "next"))
		next_timer();
	else if (script_is(op, "hangup")) {
		if (h.watch[0] >= 0) {
			close(h.watch[0]);
			h.watch[0] = -1;
		}
	} else if (script_is(op, "signal"))
		op_signal(op);
	else if (script_is(op, "oom"))
		oom_countdown = script_pos_num(op, 1, 1, 100000);
	settle();
}

/* --- the checks ------------------------------------------------------------------ */

static bool answered_ok(enum kind kind)
{
	for (int i = 0; i < h.request_count; i++) {
		const struct request *r = &h.requests[i];
		const struct fake_conn *conn = h.conns[r->conn];
		if (r->kind == kind && (r->verified || r->lenient || conn->ok > r->seq ||
					(kind == KIND_AUTHZ && conn->ok_401 > r->seq)))
			return true;
	}
	return false;
}

/* Success only on what the fake Authelia said (response_says_yes): the
 * password accepted and the session confirmed, then a second factor when the
 * level needs one; or the device flow's genuinely signed token and its
 * userinfo; and with authz-url, an access check answered 200 or 401 (the
 * oracle leaves which of them allows what to the helper). */
static void check_success(void)
{
	const struct config *c = &h.session.config;
	bool password = answered_ok(KIND_FIRST_FACTOR) && answered_ok(KIND_STATE);
	bool device = answered_ok(KIND_TOKEN) && h.genuine_token_sent && claims_ok() &&
		      answered_ok(KIND_BEARER);
	bool second = answered_ok(KIND_TOTP) || answered_ok(KIND_DUO) || device;
	bool access = c->authz_url == NULL || answered_ok(KIND_AUTHZ);
	bool factors = c->auth_level == AUTH_LEVEL_1FA	    ? password
		       : c->auth_level == AUTH_LEVEL_POLICY ? password || device
							    : (password && second) || device;

	if (factors && access)
		return;
	__builtin_trap();
}

/* No typed secret in a log line: a reply holding "SECRET" (which nothing of
 * the harness's own says) found nowhere else in the script (a server may
 * echo it). */
static void check_secrets(const uint8_t *data, size_t size)
{
	struct script script;
	struct script_op op;

	script_init(&script, data, size);
	while (script_next(&script, &op)) {
		const uint8_t *secret = op.payload;
		size_t len = op.payload_len;

		if (!script_is(&op, "reply") || h.log_len == 0 ||
		    memmem(secret, len, "SECRET", 6) == NULL)
			continue;
		if (memmem(data, size, secret, len) != (const void *)secret ||
		    memmem(secret + 1, size - (size_t)(secret + 1 - data), secret, len) != NULL)
			continue; /* it appears elsewhere in the script: a server may echo it */
		if (memmem(log_buf, h.log_len, secret, len) != NULL)
			__builtin_trap();
	}
}

static void check_frames(void)
{
	size_t off = 0;
	int results = 0;
	enum auth_result result = RESULT_SERVICE_ERR;

	while (off < h.out_len) {
		struct frame frame;
		size_t used = 0;
		const char *why = NULL;

		if (frame_parse(out_buf + off, h.out_len - off, &frame, &used, &why) !=
		    FRAME_PARSE_OK)
			__builtin_trap(); /* a malformed or cut frame from the helper */
		if (results > 0)
			__builtin_trap(); /* a frame after the result */
		if (verbose)
			fprintf(stderr, "frame %c: %.*s\n", frame.type, (int)frame.len,
				frame.payload);
		if (frame.type == FRAME_RESULT) {
			if (auth_result_from_name(frame.payload, frame.len, &result) != 0)
				__builtin_trap();
			results++;
		} else if (frame.type != FRAME_PROMPT_ECHO_OFF &&
			   frame.type != FRAME_PROMPT_ECHO_ON && frame.type != FRAME_INFO &&
			   frame.type != FRAME_ERROR) {
			__builtin_trap();
		}
		off += used;
	}
	if (results == 0 && !h.eof_sent && h.out_len < OUT_MAX)
		__builtin_trap(); /* the shim is still there and heard nothing */
	if (results == 1 && result == RESULT_SUCCESS)
		check_success();
	if (results == 1 && result != RESULT_SUCCESS && h.log_loud == 0)
		__builtin_trap(); /* a failure nobody can read about */
}

/* --- the target ------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* ca-cert must lie below directories only root can write (tls.c's safe
	 * path): /run when we are root, else /tmp (and the login stops there). */
	char dir[] = "/run/pam_authelia_fuzz", tmpl[64];
	BIO *bio;
	char *pem;
	long len;
	int fd;

	(void)argc;
	(void)argv;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		snprintf(dir, sizeof(dir), "/tmp");
	snprintf(tmpl, sizeof(tmpl), "%s/ca.XXXXXX", dir);
	fd = mkstemp(tmpl);
	if (fd >= 0)
		fchmod(fd, 0644);
	if (fd < 0 || write(fd, fuzz_ca_pem, sizeof(fuzz_ca_pem) - 1) < 0)
		abort();
	close(fd);
	snprintf(ca_path, sizeof(ca_path), "%s", tmpl);
	key1 = EVP_RSA_gen(2048);
	key2 = EVP_RSA_gen(2048);
	if (key1 == NULL || key2 == NULL)
		abort();
	make_jwk(key1, "k1", jwk1, sizeof(jwk1));
	make_jwk(key2, "k2", jwk2, sizeof(jwk2));
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || !PEM_write_bio_PUBKEY(bio, key1) ||
	    (len = BIO_get_mem_data(bio, &pem)) <= 0)
		abort();
	key1_pem = strndup(pem, (size_t)len);
	BIO_free(bio);
	out_buf = malloc(OUT_MAX);
	log_buf = malloc(LOG_MAX + 1);
	if (out_buf == NULL || log_buf == NULL || key1_pem == NULL)
		abort();
	signal(SIGPIPE, SIG_IGN);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	event_set_log_callback(quiet_libevent); /* evdns complaining of no network */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script script;
	struct script_op op;
	int fds_before;

	if (size > 65536)
		return 0;
	fds_before = script_count_fds();
	oom_countdown = 0;
	memset(&h.refuse, 0, sizeof(h) - offsetof(struct harness, refuse));
	h.chan[0] = h.chan[1] = h.watch[0] = h.watch[1] = -1;
	h.offset_ms = 0;
	snprintf(h.user, sizeof(h.user), "john");
	snprintf(h.hostport, sizeof(h.hostport), "127.0.0.1:%d", FUZZ_PORT);
	snprintf(h.url, sizeof(h.url), "https://%s", h.hostport);
	log_buf[0] = '\0';
	log_set_sink(log_capture);
	log_set_debug(false);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, h.chan) != 0)
		abort();
	fcntl(h.chan[0], F_SETFL, O_NONBLOCK);
	h.base = event_base_new();
	if (h.base == NULL || session_init(&h.session, h.base, h.chan[1], h.chan[1]) != 0)
		abort();
	h.active = true;
	h.session.sandbox = SANDBOX_FUZZ;
	machine_start(&h.session);
	settle();

	script_init(&script, data, size);
	while (!h.exited && script_next(&script, &op))
		run_op(&op);
	/* Whatever the script left undone, the helper's own timers end it. */
	for (int i = 0; i < 4 && !h.exited; i++)
		advance(100000000LL);
	if (!h.exited)
		__builtin_trap(); /* a login that never ends */
	oom_countdown = 0;
	drain_channel();
	check_frames();
	check_secrets(data, size);

	session_free_with_base(&h.session, h.base);
	h.active = false;
	h.offset_ms = 0;
	close(h.chan[0]);
	close(h.chan[1]);
	for (int i = 0; i < 2; i++)
		if (h.watch[i] >= 0)
			close(h.watch[i]);
	for (int i = 0; i < h.conn_count; i++) {
		if (h.conns[i]->fd >= 0)
			close(h.conns[i]->fd);
	}
	if (fds_before >= 0 && script_count_fds() != fds_before)
		__builtin_trap(); /* a descriptor left open */
	return 0;
}
