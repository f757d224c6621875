/*
 * http_client.h -- the helper's HTTPS client: libevent's evhttp over
 * bufferevent_openssl.  A login's requests share one or two keep-alive
 * connections to Authelia, all opened at once (TCP + TLS, no request) by
 * http_client_start(); requests made before that wait in order.  A request
 * goes out on an idle connection: evhttp does not pipeline, so two
 * connections are what lets two independent requests overlap.  Every request
 * carries Host, User-Agent and, when PAM_RHOST is known, X-Forwarded-For; the
 * session cookie named by cookie-name is kept from every response and sent
 * with the next request, whichever connection it takes.  Sockets get
 * TCP_NODELAY (evhttp writes a request's headers and body as two TLS records,
 * and Nagle would hold the body back for the server's delayed ACK).  A
 * request that may be sent twice (see http_may_send_twice: not the Duo push)
 * and fails on a connection opened before it, before any byte of an answer,
 * is sent once more on a new connection: the server may have closed the idle
 * connection just as we used it.  Deadlines are our own timers: evhttp's
 * timeout only measures inactivity.
 */
#ifndef PAM_AUTHELIA_HTTP_CLIENT_H
#define PAM_AUTHELIA_HTTP_CLIENT_H

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <stdbool.h>

#include "config.h"

#define HTTP_MAX_BODY		(64 * 1024)
#define HTTP_MAX_HEADERS	(16 * 1024)
#define HTTP_REQUEST_TIMEOUT_MS 30000
#define HTTP_ERROR_SIZE		256
#define HTTP_MAX_CONNECTIONS	3

/* What a request is for, so the state receiving the response knows. */
enum http_purpose {
	HTTP_HEALTH, /* GET /api/health: pam_authelia --check's reachability probe */
	HTTP_FIRST_FACTOR,
	HTTP_USER_INFO,
	HTTP_TOTP,
	HTTP_DUO,
	HTTP_STATE,
	HTTP_DEVICE_AUTHORIZATION,
	HTTP_DISCOVERY,
	HTTP_JWKS,
	HTTP_TOKEN,
	HTTP_USERINFO,
	HTTP_AUTHZ,	     /* GET <authz-endpoint>: may this session access the authz URL? */
	HTTP_AUTHZ_OWN_HOST, /* pam_authelia --check: the same about url's own host */
	HTTP_AUTHZ_METHOD,   /* pam_authelia --check: POST, which only some implementations take */
};

/* Why a request got no usable response (see README, "PAM return codes"). */
enum http_failure {
	HTTP_UNREACHABLE, /* connect, name resolution, TLS, connection lost, own deadline */
	HTTP_UNUSABLE,	  /* the server answered, but not HTTP we can read (size, headers) */
	HTTP_LOCAL,	  /* our side failed (out of memory) */
};

struct http_response {
	enum http_purpose purpose;
	int status;		   /* the HTTP status; 0 when error is set */
	const char *error;	   /* why no response arrived (connection, TLS, timeout) */
	enum http_failure failure; /* what error means, when it is set */
	const char *body;
	size_t body_len;
	const char *date; /* the Date header, or NULL (pam_authelia --check compares clocks) */
	/* This response set the session cookie to a new, non-empty value (Authelia
	 * regenerates the session after every factor it accepts). */
	bool cookie_rotated;
	/* This response deleted the session cookie (an empty value, Max-Age <= 0
	 * or an Expires date in the past): the client sends none from now on. */
	bool cookie_deleted;
	/* The request went out on a connection whose TLS was up: the server may
	 * have received it (a failure before, such as a refused connect or a
	 * failed handshake, leaves it false). */
	bool sent;
	/* Every response header, valid during the callback only (NULL without a
	 * response); read with evhttp_find_header or TAILQ_FOREACH. */
	const struct evkeyvalq *headers;
};

typedef void (*http_response_cb)(const struct http_response *response, void *arg);

struct http_client;

/* No TLS and no socket yet; the resolver reads resolv.conf and hosts now
 * (before the sandbox).  Requests made from now on wait for the start. */
struct http_client *http_client_new(struct event_base *base, const struct config *config,
				    const char *rhost, http_response_cb callback, void *arg,
				    char err[HTTP_ERROR_SIZE]);
/* Sets up `connections` (1 or 2) connections verified against tls (no file
 * opened); no socket yet. */
int http_client_start(struct http_client *client, SSL_CTX *tls, unsigned connections,
		      char err[HTTP_ERROR_SIZE]);
/* Opens them all now (TCP + TLS, no request) and sends what was queued.  A
 * connection that cannot be opened now is opened again by the first request
 * that needs it, which then reports the failure. */
void http_client_connect(struct http_client *client);
void http_client_free(struct http_client *client);

/* A request header of the caller's own; values are sent as they are, so the
 * caller checks anything that comes from a user (no CR, LF or NUL). */
struct http_header {
	const char *name, *value;
};

/*
 * Queues a request: GET when body is NULL, else POST with the body (JSON
 * unless content_type says otherwise).  The response (or failure) arrives
 * through the callback, never from inside this call.  timeout_ms of 0 means no
 * deadline of its own (the whole-exchange timeout still applies): a Duo push
 * waits for the user.  Such a request is never sent twice.
 */
struct http_request_spec {
	enum http_purpose purpose;
	const char *path; /* below the url's path */
	const char *body;
	size_t body_len;
	const char *content_type;	   /* default application/json */
	const char *authorization;	   /* an Authorization header value (secret), or NULL */
	const struct http_header *headers; /* header_count more headers, in order */
	size_t header_count;
	unsigned timeout_ms;
};
int http_client_send(struct http_client *client, const struct http_request_spec *spec);
/* A JSON POST (or a GET when body is NULL). */
int http_client_request(struct http_client *client, enum http_purpose purpose, const char *path,
			const char *body, size_t body_len, unsigned timeout_ms);
/* Cancels every request; no callback follows. */
void http_client_cancel_all(struct http_client *client);
bool http_client_busy(const struct http_client *client);

/*
 * Reads one Set-Cookie header: 0 with the value (len 0: deleted) when it sets
 * the cookie called name, 1 when it sets another, -1 when the value has bytes
 * a cookie may not have (it would go back into our Cookie header verbatim).
 */
int http_cookie_parse(const char *header, const char *name, const char **value, size_t *len);

#endif
