/*
 * main.c -- the helper's entry point.
 *
 * Started by pam_authelia.so with no arguments: the configuration and the
 * credentials arrive as frames on fd 0, replies go out on fd 1, and one
 * libevent loop runs the login.  Run by hand with `--url ...`-style flags, it
 * validates a configuration the way a login would (`--check`), so operators
 * can test a PAM line without sshd, and then applies the login's sandbox to
 * itself and prints what it got; secrets are never taken from the command
 * line.
 */
#include "authz.h"
#include "config.h"
#include "doctor.h"
#include "jwt_loader.h"
#include "log.h"
#include "sandbox.h"
#include "secure_alloc.h"
#include "session.h"
#include "tls.h"

#include <event2/event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PAM_AUTHELIA_VERSION
#define PAM_AUTHELIA_VERSION "0"
#endif

/*
 * Before anything secret is in memory: no core file and no ptrace by
 * non-root (a crash must not write the password, TOTP code, client secret or
 * cookie to disk), files private to us, and the resource limits this process
 * relies on reset, whatever the caller left: under su or sudo the invoking
 * user chooses the limits a setuid caller passes on, and a helper starved of
 * descriptors or memory would fail its connection to Authelia, which would
 * read as "Authelia unavailable".  Raising a hard limit needs
 * CAP_SYS_RESOURCE; without it the soft limit goes up to the hard one.
 * Likewise the scheduling a caller sets and a child inherits (`chrt --idle`,
 * `nice -n 19`, `taskset -c 0` in front of su, and a CPU hog beside it): a
 * starved helper would miss its requests' deadlines.  Back to SCHED_OTHER,
 * nice 0 and every CPU (as root: lowering nice needs CAP_SYS_NICE; a cpuset
 * cgroup still bounds the CPUs).
 */
static void process_harden(void)
{
	static const struct {
		int resource;
		rlim_t want; /* at least this much */
	} wanted[] = {
	    {RLIMIT_NOFILE, 1024},
	    {RLIMIT_AS, RLIM_INFINITY},
	    {RLIMIT_DATA, RLIM_INFINITY},
	    {RLIMIT_CPU, RLIM_INFINITY},
	    /* Under su the caller's `ulimit -s 64` would crash the root helper in
	     * OpenSSL or the JSON parser; the main thread's stack grows up to the
	     * soft limit in force when it faults, so raising it now is enough. */
	    {RLIMIT_STACK, 8 * 1024 * 1024},
	};
	const struct rlimit no_core = {0, 0};

	const struct sched_param normal = {.sched_priority = 0};
	cpu_set_t every;

	prctl(PR_SET_DUMPABLE, 0);
	setrlimit(RLIMIT_CORE, &no_core);
	umask(077);
	sched_setscheduler(0, SCHED_OTHER, &normal);
	setpriority(PRIO_PROCESS, 0, 0);
	CPU_ZERO(&every);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &every);
	sched_setaffinity(0, sizeof(every), &every);
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		struct rlimit rl, raised;

		if (getrlimit(wanted[i].resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
		    (wanted[i].want != RLIM_INFINITY && rl.rlim_cur >= wanted[i].want))
			continue;
		raised.rlim_cur = wanted[i].want;
		raised.rlim_max = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > wanted[i].want
				      ? rl.rlim_max
				      : wanted[i].want;
		if (setrlimit(wanted[i].resource, &raised) != 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(wanted[i].resource, &rl);
		}
	}
}

#if defined(__SANITIZE_ADDRESS__)
#define MAIN_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAIN_SANITIZER 1
#endif
#endif
#ifdef MAIN_SANITIZER
/* The ASan build (tests only): its reports go to the shim's /dev/null, and the
 * sandbox forbids starting a symbolizer; the exit status is what tests see. */
const char *__asan_default_options(void);
const char *__lsan_default_options(void);
const char *__asan_default_options(void)
{
	return "symbolize=0:color=never";
}
const char *__lsan_default_options(void)
{
	return "symbolize=0:color=never";
}
#endif

static int usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: pam_authelia --check [--pam-file FILE] [--sshd-config FILE]\n"
	    "       pam_authelia --check --url URL [--auth-level LEVEL] [--cookie-name NAME]\n"
	    "                    [--ca-cert FILE] [--timeout SECONDS] [--method-priority LIST]\n"
	    "                    [--oauth2-client-id ID] [--oauth2-scope LIST] [--authz-url URL]\n"
	    "                    [--authz-endpoint PATH] [--debug]\n"
	    "       pam_authelia --version\n"
	    "The first form checks this host (PAM files, sshd, Authelia): see pam_authelia(1).\n"
	    "The second validates the options of one pam_authelia.so line the way a login does.\n"
	    "Without arguments it speaks the module's framed protocol on fds 0 and 1.\n");
	return 2;
}

/* authz-url filled for this host, as a login through sshd would fill it (the
 * doctor's first form shows it for each service of the PAM files). */
static void print_access_url(const struct config *config)
{
	char err[OPTION_ERROR_SIZE];
	struct authz_host host;
	struct authz_target target;

	printf("authz-url=%s\nauthz-endpoint=%s\n", config->authz_url, config->authz_endpoint);
	if (authz_host_names(AUTHZ_HOSTS_FILE, authz_template_wants_fqdn(config->authz_url), &host,
			     err) != 0 ||
	    authz_expand(config->authz_url, &host, "sshd", &target, err) != 0) {
		printf("access check for service sshd on this host: %s\n", err);
		return;
	}
	printf("access check for service sshd on this host: %s\n", target.url);
	authz_target_free(&target);
}

/* Turns "--name value" / "--name=value" / "--debug" into module arguments. */
static int run_by_hand(int argc, char **argv)
{
	struct config config;
	char err[OPTION_ERROR_SIZE > TLS_ERROR_SIZE ? OPTION_ERROR_SIZE : TLS_ERROR_SIZE];
	char sandbox_err[SANDBOX_ERROR_SIZE];
	char argument[OPTION_MAX_ARGUMENT + 64];
	int check = 0, rc = 1;
	SSL_CTX *tls = NULL;

	log_open(true);
	config_init(&config);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq;
		const struct option_desc *desc;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			config_free(&config);
			usage(stdout);
			return 0;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("pam_authelia %s\n", PAM_AUTHELIA_VERSION);
			config_free(&config);
			return 0;
		}
		if (strcmp(arg, "--check") == 0) {
			check = 1;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0) {
			config_free(&config);
			return usage(stderr);
		}
		name = arg + 2;
		eq = strchr(name, '=');
		desc = option_find(name, eq ? (size_t)(eq - name) : strlen(name));
		if (desc != NULL && desc->secret) {
			fprintf(stderr,
				"pam_authelia: --%s is not accepted on the command line, where "
				"other users can read it; the module passes it over its pipe\n",
				desc->name);
			config_free(&config);
			return 2;
		}
		if (desc != NULL && desc->takes_value && eq == NULL && i + 1 < argc)
			snprintf(argument, sizeof(argument), "%s=%s", name, argv[++i]);
		else
			snprintf(argument, sizeof(argument), "%s", name);
		if (config_apply(&config, argument, err) != 0) {
			fprintf(stderr, "pam_authelia: %s\n", err);
			config_free(&config);
			return 1;
		}
	}
	if (!check) {
		config_free(&config);
		return usage(stderr);
	}
	if (config_finish(&config, err) != 0 ||
	    (tls = tls_context_new(config.ca_cert, err)) == NULL ||
	    (config.oauth2_client_id != NULL && jwt_loader_open(err, sizeof(err)) != 0)) {
		fprintf(stderr, "pam_authelia: %s\n", err);
		SSL_CTX_free(tls);
	} else {
		printf("configuration OK\nurl=%s\nauth-level=%s\ncookie-name=%s\nca-cert=%s\n"
		       "timeout=%u\nmethod-priority=",
		       config.url, auth_level_name(config.auth_level), config.cookie_name,
		       config.ca_cert ? config.ca_cert : "(system store)", config.timeout);
		for (size_t i = 0; i < config.method_count; i++)
			printf("%s%s", i ? "," : "", method_name(config.methods[i]));
		printf("\noauth2-client-id=%s\noauth2-scope=%s\n",
		       config.oauth2_client_id ? config.oauth2_client_id : "(none)",
		       config.oauth2_scope);
		if (config.authz_url != NULL)
			print_access_url(&config);
		/* The login's sandbox, applied to this process: what a login
		 * would get on this machine, or why it would fail. */
		fflush(stdout);
		if (sandbox_apply(SANDBOX_HELPER, &config, sandbox_err) != 0) {
			fprintf(stderr, "pam_authelia: %s\n", sandbox_err);
		} else {
			printf("sandbox: %s\n", sandbox_summary());
			rc = 0;
		}
		SSL_CTX_free(tls);
	}
	config_free(&config);
	return rc;
}

static int run_for_module(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;
	struct session session;
	int rc = 1;

	log_open(false);
	/* EV_CLOSED on the client socket needs a backend that reports early close. */
	if (cfg != NULL) {
		event_config_require_features(cfg, EV_FEATURE_EARLY_CLOSE);
		base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	if (base == NULL) {
		log_error("cannot create the event loop");
		return 1;
	}
	if (session_init(&session, base, STDIN_FILENO, STDOUT_FILENO) != 0) {
		log_error("cannot set up the login");
	} else {
		session.sandbox = SANDBOX_HELPER;
		machine_start(&session);
		event_base_dispatch(base);
		rc = session.exit_code;
	}
	session_free_with_base(&session, base);
	return rc;
}

int main(int argc, char **argv)
{
	process_harden();
	/* Before OpenSSL or libevent allocate anything. */
	if (secure_alloc_install() != 0) {
		fprintf(stderr, "pam_authelia: cannot install the wiping allocator\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && doctor_wanted(argc, argv))
		return doctor_main(argc, argv);
	if (argc > 1)
		return run_by_hand(argc, argv);
	/* The module started us: die with it (the shim set this too, before exec). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* Not the application's directory: nothing is read relative to it. */
	if (chdir("/") != 0)
		return 1;
	return run_for_module();
}
