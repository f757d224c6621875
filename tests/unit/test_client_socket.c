/*
 * test_client_socket.c -- finding the SSH client's socket by PAM_RHOST:
 * IPv4, IPv6 and v4-mapped forms, no match, and no PAM_RHOST at all.
 */
#include "unit.h"

#include "../../shim/shim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

struct pair {
	int listener, client, server;
};

/* A connected TCP pair on loopback; returns -1 when the family is unavailable. */
static int pair_open(struct pair *p, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		len = sizeof(struct sockaddr_in6);
	}
	p->listener = socket(family, SOCK_STREAM, 0);
	if (p->listener < 0 || bind(p->listener, (struct sockaddr *)&ss, len) != 0 ||
	    listen(p->listener, 1) != 0 || getsockname(p->listener, (struct sockaddr *)&ss, &len))
		return -1;
	p->client = socket(family, SOCK_STREAM, 0);
	assert_int_equal(connect(p->client, (struct sockaddr *)&ss, len), 0);
	p->server = accept(p->listener, NULL, NULL);
	assert_true(p->server >= 0);
	return 0;
}

static void pair_close(struct pair *p)
{
	close(p->listener);
	close(p->client);
	close(p->server);
}

static void test_ipv4(void **state)
{
	struct pair p;
	int found;

	(void)state;
	assert_int_equal(pair_open(&p, AF_INET), 0);
	/* Both ends have peer 127.0.0.1; the lowest fd wins, as sshd's client fd is low. */
	found = client_socket_find("127.0.0.1");
	assert_int_equal(found, p.client < p.server ? p.client : p.server);
	assert_int_equal(client_socket_find("::ffff:127.0.0.1"), found);
	assert_int_equal(client_socket_find("127.0.0.2"), -1);
	assert_int_equal(client_socket_find("::1"), -1);
	pair_close(&p);
}

static void test_ipv6(void **state)
{
	struct pair p;

	(void)state;
	if (pair_open(&p, AF_INET6) != 0)
		skip();
	assert_true(client_socket_find("::1") >= 0);
	assert_true(client_socket_find("0:0:0:0:0:0:0:1") >= 0);
	assert_int_equal(client_socket_find("127.0.0.1"), -1);
	pair_close(&p);
}

static void test_no_usable_rhost(void **state)
{
	struct pair p;

	(void)state;
	assert_int_equal(pair_open(&p, AF_INET), 0);
	assert_int_equal(client_socket_find(NULL), -1);
	assert_int_equal(client_socket_find(""), -1);
	assert_int_equal(client_socket_find("localhost"), -1); /* UseDNS yes: a name */
	assert_int_equal(client_socket_find("127.0.0.1:22"), -1);
	pair_close(&p);
}

static void test_listening_and_unix_sockets_are_ignored(void **state)
{
	int sv[2], l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	(void)state;
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(client_socket_find("127.0.0.1"), -1);
	close(l);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_no_usable_rhost),
	    cmocka_unit_test(test_listening_and_unix_sockets_are_ignored),
	};
	return cmocka_run_group_tests_name("client socket", tests, NULL, NULL);
}
