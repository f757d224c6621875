/*
 * doctor.c -- `pam_authelia --check`, the configuration doctor (see doctor.h).
 * It reads PAM files with pam_file.c, validates each pam_authelia.so line with
 * the login's own config_apply/config_finish, models the stack with libpam's
 * rules, asks sshd for its effective settings, and probes Authelia with the
 * helper's own HTTPS client on one libevent loop, in a child process under
 * the login's sandbox (probe_in_child).  Nothing it does creates
 * state in Authelia: GET /api/health, GET the discovery document, and one
 * POST /api/oidc/token with a made-up device code (Authelia authenticates
 * the client first: 401 invalid_client means wrong client credentials; a
 * refused code means the client got through).  With authz-url it shows the
 * URL a login on this host would ask about, for each service, and asks the
 * authz endpoint about it without a session: 401 or 403 mean the endpoint
 * answers, 400 that Authelia refuses the question (then the same question
 * about url's own host tells the cookie domain from the rest), 404 or 405
 * that the endpoint is not enabled; a custom endpoint is sent a POST, which
 * only AuthRequest and ForwardAuth endpoints refuse (405).
 */
#include "doctor.h"
#include "authz.h"
#include "file_read.h"
#include "config.h"
#include "http_client.h"
#include "json.h"
#include "log.h"
#include "oidc.h"
#include "pam_file.h"
#include "sandbox.h"
#include "tls.h"
#include "../protocol/binary_path.h"
#include "jwt_loader.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <event2/event.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DOCTOR_MAX_TARGETS     16
#define DOCTOR_MAX_QUESTIONS   8 /* access-check URLs per Authelia */
#define DOCTOR_REQUEST_MS      10000
#define DOCTOR_CLOCK_WARN_S    10
#define DOCTOR_CLOCK_FAIL_S    60 /* the ID-token checks allow 60 s of skew */
#define DOCTOR_PROBE_CODE      "pam_authelia-check-probe"
#define DOCTOR_DEFAULT_PAM_DIR "/etc/pam.d"
/* The probe child's output: its last line, and bounds on what it may say. */
#define DOCTOR_PROBE_TRAILER	"probe-counts "
#define DOCTOR_PROBE_MAX_COUNT	1000
#define DOCTOR_PROBE_MAX_OUTPUT (256 * 1024)
#define DOCTOR_SSHD		"/usr/sbin/sshd"

enum finding_level { FINDING_OK, FINDING_WARN, FINDING_FAIL };

/* One URL an access check on this host would ask about, and where. */
struct question {
	struct authz_target target;
	char *endpoint;
	enum authz_kind kind;
};

/* One Authelia configuration to probe over the network (distinct url, CA, client). */
struct target {
	char *key;
	char **argv;
	int argc;
	char *where;
	struct question questions[DOCTOR_MAX_QUESTIONS];
	size_t question_count;
};

struct doctor {
	const char *pam_file; /* NULL: every service file in pam_dir */
	char *pam_dir;
	const char *sshd_config;
	int counts[3];
	struct target targets[DOCTOR_MAX_TARGETS];
	size_t target_count;
	bool sshd_stack_loads_module;
	size_t loading_files; /* files whose auth stack loads the module */
	unsigned sshd_max_timeout;
	bool sshd_uses_authz;	  /* a line of sshd's stack has authz-url */
	char seen_lines[64][300]; /* file:line already validated */
	size_t seen_count;
};

struct probe {
	struct doctor *doctor;
	struct event_base *base;
	struct config config;
	struct http_client *http;
	bool device;
	struct timeval started;
	const struct target *target;
	size_t question;	      /* the access-check question being probed */
	struct authz_target own_host; /* https://<url's host>/ */
};

struct simulation {
	int code;	  /* what pam_authelia.so returns */
	bool others_pass; /* unknown modules succeed (the worst case) */
	char through[256];
};

static void finding(struct doctor *d, enum finding_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *const finding_names[] = {"OK", "WARN", "FAIL"};

static void finding(struct doctor *d, enum finding_level level, const char *fmt, ...)
{
	va_list ap;

	printf("%-4s ", finding_names[level]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	d->counts[level]++;
}

bool doctor_wanted(int argc, char **argv)
{
	bool check = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check = true;
		else if ((strcmp(argv[i], "--pam-file") == 0 ||
			  strcmp(argv[i], "--sshd-config") == 0) &&
			 i + 1 < argc)
			i++;
		else
			return false;
	}
	return check;
}

static bool is_authelia(const struct pam_entry *e)
{
	return strcmp(pam_entry_module_name(e), "pam_authelia.so") == 0;
}

/* --- the lines that load the module ------------------------------------ */

static void problem_callback(void *arg, const char *file, int line, const char *what)
{
	finding(arg, FINDING_FAIL, "%s:%d: %s; fix: correct the line (libpam refuses the stack)",
		file, line, what);
}

static void check_binary(struct doctor *d, const char *where, const char *path)
{
	char err[OPTION_ERROR_SIZE + PATH_MAX];
	struct stat st;
	int fd;

	if (stat(path, &st) != 0) {
		finding(d, FINDING_FAIL,
			"%s: helper %s: %s; fix: install libpam-authelia (or `make install`), or "
			"point binary= at the helper",
			where, path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		finding(d, FINDING_FAIL,
			"%s: helper %s is not an executable file; fix: chmod 755 %s", where, path,
			path);
	} else if (st.st_uid != 0) {
		finding(d, FINDING_FAIL,
			"%s: helper %s is owned by uid %u, not root: the module will not run it; "
			"fix: chown root:root %s",
			where, path, (unsigned)st.st_uid, path);
	} else if ((st.st_mode & 022) != 0) {
		finding(d, FINDING_FAIL,
			"%s: helper %s is writable by group or others (mode %04o): the module will "
			"not run it; fix: chmod 755 %s",
			where, path, (unsigned)(st.st_mode & 07777), path);
	} else if ((fd = binary_path_open(path, err, sizeof(err))) < 0) {
		/* The module's own rule: a directory on the way others can write. */
		finding(d, FINDING_FAIL,
			"%s: %s: the module will not run it; fix: install the helper where only "
			"root can write (make install puts it in /usr/bin)",
			where, err);
	} else {
		close(fd);
		finding(d, FINDING_OK, "%s: helper %s is a root-owned executable", where, path);
	}
}

static void check_module_file(struct doctor *d, const char *where, const char *module)
{
	static const char *const patterns[] = {"/lib/security/",     "/lib64/security/",
					       "/usr/lib/security/", "/usr/lib64/security/",
					       "/lib/*/security/",   "/usr/lib/*/security/"};
	char pattern[4096];
	bool found = false;

	if (module[0] == '/') {
		found = access(module, F_OK) == 0;
	} else {
		for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]) && !found; i++) {
			glob_t g;
			snprintf(pattern, sizeof(pattern), "%s%s", patterns[i], module);
			if (glob(pattern, 0, NULL, &g) == 0)
				found = g.gl_pathc > 0;
			globfree(&g);
		}
	}
	if (!found)
		finding(d, FINDING_FAIL,
			"%s: module %s not found in the PAM module directories; fix: install "
			"libpam-authelia (or `make install`)",
			where, module);
}

static struct target *add_target(struct doctor *d, const struct config *config,
				 const struct pam_entry *e, const char *where)
{
	char key[4096];
	struct target *t;
	bool device = false;

	for (size_t i = 0; i < config->method_count; i++)
		device |= config->methods[i] == METHOD_DEVICE_AUTHORIZATION ||
			  (config->methods[i] == METHOD_USER && config->oauth2_client_id != NULL);
	snprintf(key, sizeof(key), "%s|%s|%s|%s|%s|%d", config->url,
		 config->ca_cert ? config->ca_cert : "",
		 device && config->oauth2_client_id ? config->oauth2_client_id : "",
		 device ? client_auth_name(config->client_auth) : "",
		 device && config->oauth2_client_secret_file ? config->oauth2_client_secret_file
							     : "",
		 device && config->secret_inline);
	for (size_t i = 0; i < d->target_count; i++)
		if (strcmp(d->targets[i].key, key) == 0)
			return &d->targets[i];
	if (d->target_count == DOCTOR_MAX_TARGETS)
		return NULL;
	t = &d->targets[d->target_count++];
	t->key = strdup(key);
	t->where = strdup(where);
	t->argv = calloc((size_t)e->argc + 1, sizeof(char *));
	for (int i = 0; i < e->argc && t->argv != NULL && (t->argv[i] = strdup(e->argv[i])); i++)
		t->argc = i + 1;
	if (t->key == NULL || t->where == NULL || t->argv == NULL || t->argc != e->argc) {
		finding(d, FINDING_FAIL, "%s: out of memory; fix: run the check again", where);
		free(t->key);
		free(t->where);
		for (int i = 0; t->argv != NULL && i < t->argc; i++)
			free(t->argv[i]);
		free(t->argv);
		memset(t, 0, sizeof(*t));
		d->target_count--;
		return NULL;
	}
	return t;
}

/* The access check of a line with authz-url, for one service on this host:
 * the URL it asks about (a finding), then a question for the probes. */
static void check_access_url(struct doctor *d, const struct config *config, struct target *t,
			     const char *where, const char *service)
{
	char err[OPTION_ERROR_SIZE];
	struct authz_host host;
	struct authz_target target;
	struct question *q;

	if (authz_host_names(AUTHZ_HOSTS_FILE, authz_template_wants_fqdn(config->authz_url), &host,
			     err) != 0 ||
	    authz_expand(config->authz_url, &host, service, &target, err) != 0) {
		finding(d, FINDING_FAIL, "%s: service %s: %s%s", where, service, err,
			strstr(err, "; fix: ") ? ""
					       : "; fix: correct authz-url (see pam_authelia(8))");
		return;
	}
	finding(d, FINDING_OK,
		"%s: service %s on this host asks Authelia's access control about %s "
		"(GET %s)",
		where, service, target.url, config->authz_endpoint);
	for (size_t i = 0; t != NULL && i < t->question_count; i++) {
		if (strcmp(t->questions[i].target.url, target.url) == 0 &&
		    strcmp(t->questions[i].endpoint, config->authz_endpoint) == 0) {
			authz_target_free(&target);
			return;
		}
	}
	if (t == NULL || t->question_count == DOCTOR_MAX_QUESTIONS) {
		authz_target_free(&target);
		return;
	}
	q = &t->questions[t->question_count++];
	q->target = target;
	q->endpoint = strdup(config->authz_endpoint);
	q->kind = config->authz_kind;
}

/* Validates one pam_authelia.so line the way a login does; service is the PAM
 * service whose stack holds it (authz-url's %s). */
static void check_line(struct doctor *d, const struct pam_entry *e, bool sshd_stack,
		       const char *service)
{
	char where[300],
	    err[OPTION_ERROR_SIZE > TLS_ERROR_SIZE ? OPTION_ERROR_SIZE : TLS_ERROR_SIZE];
	const char *binary = OPTION_DEFAULT_BINARY;
	struct config config;
	bool seen = false;
	SSL_CTX *tls;
	int rc = 0;

	snprintf(where, sizeof(where), "%s:%d", e->file, e->line);
	if (sshd_stack) {
		/* the timeout matters for sshd's LoginGraceTime even if seen before */
		config_init(&config);
		for (int i = 0; i < e->argc; i++) {
			if (strncmp(e->argv[i], "timeout=", 8) == 0)
				config_apply(&config, e->argv[i], err);
			/* and UseDNS matters for the access check */
			if (strncmp(e->argv[i], "authz-url=", 10) == 0)
				d->sshd_uses_authz = true;
		}
		if (config.timeout > d->sshd_max_timeout)
			d->sshd_max_timeout = config.timeout;
		config_free(&config);
	}
	for (size_t i = 0; i < d->seen_count; i++)
		seen |= strcmp(d->seen_lines[i], where) == 0;
	if (!seen && d->seen_count < sizeof(d->seen_lines) / sizeof(d->seen_lines[0]))
		snprintf(d->seen_lines[d->seen_count++], sizeof(d->seen_lines[0]), "%s", where);

	config_init(&config);
	for (int i = 0; i < e->argc && rc == 0; i++) {
		rc = config_apply(&config, e->argv[i], err);
		if (rc == 0 && strncmp(e->argv[i], "binary=", 7) == 0)
			binary = e->argv[i] + 7;
	}
	if (rc == 0 && binary[0] != '/') {
		snprintf(err, sizeof(err), "binary must be an absolute path");
		rc = -1;
	}
	if (rc == 0)
		rc = config_finish(&config, err);
	if (seen) {
		/* Reported with the first service; its access URL differs by service. */
		if (rc == 0 && config.authz_url != NULL)
			check_access_url(d, &config, add_target(d, &config, e, where), where,
					 service);
		config_free(&config);
		return;
	}
	if (rc != 0) {
		finding(d, FINDING_FAIL, "%s: %s; fix: correct the option (see pam_authelia(8))",
			where, err);
		config_free(&config);
		check_module_file(d, where, e->module);
		return;
	}
	tls = tls_context_new(config.ca_cert, err);
	if (tls == NULL && strstr(err, "; fix: ") != NULL) { /* an unsafe ca-cert says its fix */
		finding(d, FINDING_FAIL, "%s: %s", where, err);
	} else if (tls == NULL) {
		finding(d, FINDING_FAIL,
			"%s: %s; fix: ca-cert= must name a readable PEM file with the CA that "
			"signed Authelia's certificate",
			where, err);
	} else {
		SSL_CTX_free(tls);
		finding(d, FINDING_OK, "%s: options valid (url=%s auth-level=%s timeout=%u)", where,
			config.url, auth_level_name(config.auth_level), config.timeout);
	}
	if (config.oauth2_client_id != NULL && jwt_loader_open(err, sizeof(err)) != 0)
		finding(d, FINDING_FAIL,
			"%s: %s; fix: install libjwt0 (apt-get install libjwt0), or rebuild the "
			"helper with the default HELPER_LINK=dynamic",
			where, err);
	if (config.secret_inline)
		finding(
		    d, FINDING_WARN,
		    "%s: oauth2-client-secret= puts the client secret in a PAM file every local "
		    "user can read; fix: write it to a root-only file (chmod 600) and use "
		    "oauth2-client-secret-file= instead",
		    where);
	else if (config.oauth2_client_secret_file != NULL)
		finding(d, FINDING_OK,
			"%s: secret file %s is a root-owned regular file only root can read", where,
			config.oauth2_client_secret_file);
	check_module_file(d, where, e->module);
	check_binary(d, where, binary);
	if (tls != NULL) {
		struct target *t = add_target(d, &config, e, where);
		if (config.authz_url != NULL)
			check_access_url(d, &config, t, where, service);
	}
	config_free(&config);
}

/* --- what the stack returns when the module fails ------------------------- */

static int simulate_outcome(const struct pam_entry *e, void *arg)
{
	struct simulation *sim = arg;
	const char *name = pam_entry_module_name(e);

	if (is_authelia(e))
		return sim->code;
	if (strcmp(name, "pam_deny.so") == 0)
		return PAM_AUTH_ERR;
	if (strcmp(name, "pam_permit.so") == 0)
		return PAM_SUCCESS;
	if (!sim->others_pass)
		return PAM_AUTH_ERR;
	if (strstr(sim->through, name) == NULL &&
	    strlen(sim->through) + strlen(name) + 3 < sizeof(sim->through)) {
		if (sim->through[0] != '\0')
			strcat(sim->through, ", ");
		strcat(sim->through, name);
	}
	return PAM_SUCCESS;
}

static void check_stack_controls(struct doctor *d, const char *file, const struct pam_stack *auth)
{
	static const int codes[] = {PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, PAM_SERVICE_ERR, PAM_ABORT,
				    PAM_CONV_ERR, PAM_USER_UNKNOWN,	PAM_SYSTEM_ERR};
	char alone[256] = "", through[256] = "", lets[256] = "", controls[512] = "";
	bool refused_passes = false;

	for (size_t i = 0; i < auth->count; i++) {
		const struct pam_entry *e = &auth->entries[i];
		if (is_authelia(e) && strlen(controls) + strlen(e->control) + 40 < sizeof(controls))
			snprintf(controls + strlen(controls), sizeof(controls) - strlen(controls),
				 "%s%s:%d `%s`", controls[0] ? ", " : "", e->file, e->line,
				 e->control);
	}
	for (size_t c = 0; c < sizeof(codes) / sizeof(codes[0]); c++) {
		struct simulation fail = {.code = codes[c], .others_pass = false};
		struct simulation pass = {.code = codes[c], .others_pass = true};
		char *list = NULL;

		if (pam_stack_simulate(auth, simulate_outcome, &fail) == PAM_SUCCESS)
			list = alone;
		else if (pam_stack_simulate(auth, simulate_outcome, &pass) == PAM_SUCCESS) {
			list = through;
			snprintf(lets, sizeof(lets), "%s", pass.through);
		}
		if (list == NULL)
			continue;
		if (codes[c] == PAM_AUTH_ERR)
			refused_passes = true;
		snprintf(list + strlen(list), 256 - strlen(list), "%s%s", list[0] ? ", " : "",
			 pam_code_name(codes[c]));
	}
	if (alone[0] != '\0') {
		finding(
		    d, FINDING_FAIL,
		    "%s: when pam_authelia.so fails (%s) this stack still succeeds, with no other "
		    "module needed (%s); fix: make the line `required` or `requisite` and let no "
		    "`sufficient` module or success jump skip it",
		    file, alone, controls);
	} else if (refused_passes) {
		finding(
		    d, FINDING_FAIL,
		    "%s: when Authelia refuses the login (%s) this stack still succeeds through %s "
		    "(%s): Authelia is not enforced; fix: make the line `required` or `requisite`",
		    file, through, lets, controls);
	} else if (through[0] != '\0') {
		finding(
		    d, FINDING_WARN,
		    "%s: when pam_authelia.so returns %s (e.g. Authelia unreachable) the login "
		    "succeeds through %s alone (%s): the stack fails open; fix: drop the `=ignore` "
		    "for these codes unless that fallback is intended",
		    file, through, lets, controls);
	} else {
		finding(d, FINDING_OK, "%s: every failure of pam_authelia.so fails the login (%s)",
			file, controls);
	}
	/* A failure that is ignored with nothing after it: the result then comes from the
	 * modules before it alone -- harmless today, a bypass once one is added above. */
	if (alone[0] == '\0' && !refused_passes && through[0] == '\0') {
		for (size_t i = 0; i < auth->count; i++) {
			const struct pam_entry *e = &auth->entries[i];
			bool ignores = false, after = i + 1 < auth->count;
			for (size_t c = 0; c < sizeof(codes) / sizeof(codes[0]); c++)
				ignores |= e->actions[codes[c]] == PAM_FILE_IGNORE;
			if (is_authelia(e) && ignores && !after)
				finding(
				    d, FINDING_WARN,
				    "%s:%d: `%s` ignores some failures of pam_authelia.so and no "
				    "module follows it: the login's result is then left to the "
				    "modules above it; fix: use `required`",
				    e->file, e->line, e->control);
		}
	}
}

/* Reports one service file: its pam_authelia.so lines and its auth stack. */
static void check_service(struct doctor *d, const char *path)
{
	static const char *const type_names[] = {"auth", "account", "password", "session"};
	struct pam_stack *stack = calloc(1, sizeof(*stack));
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	bool sshd = strcmp(base, "sshd") == 0, loads = false;

	if (stack == NULL)
		return;
	for (int type = PAM_FILE_ACCOUNT; type < PAM_FILE_TYPES; type++) {
		pam_stack_load(stack, path, d->pam_dir, (enum pam_file_type)type, NULL, NULL);
		for (size_t i = 0; i < stack->count; i++)
			if (is_authelia(&stack->entries[i]))
				finding(d, FINDING_FAIL,
					"%s:%d: pam_authelia.so in a %s stack: it only provides "
					"auth; fix: use it on `auth` lines only",
					stack->entries[i].file, stack->entries[i].line,
					type_names[type]);
		pam_stack_free(stack);
	}
	if (pam_stack_load(stack, path, d->pam_dir, PAM_FILE_AUTH, problem_callback, d) == 0) {
		for (size_t i = 0; i < stack->count; i++) {
			if (!is_authelia(&stack->entries[i]))
				continue;
			if (!loads)
				finding(d, FINDING_OK, "%s loads pam_authelia.so", path);
			loads = true;
			check_line(d, &stack->entries[i], sshd, base);
		}
		if (loads) {
			d->loading_files++;
			check_stack_controls(d, path, stack);
			d->sshd_stack_loads_module |= sshd;
		}
	}
	pam_stack_free(stack);
	free(stack);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_pam_files(struct doctor *d)
{
	size_t services = 0;
	DIR *dir;
	struct dirent *de;

	if (d->pam_file != NULL) {
		if (access(d->pam_file, R_OK) != 0) {
			finding(d, FINDING_FAIL,
				"cannot read PAM file %s: %s; fix: name an existing "
				"file (run as root)",
				d->pam_file, strerror(errno));
			return -1;
		}
		check_service(d, d->pam_file);
		services = 1;
	} else if ((dir = opendir(d->pam_dir)) == NULL) {
		finding(d, FINDING_FAIL, "cannot read %s: %s; fix: run as root", d->pam_dir,
			strerror(errno));
		return -1;
	} else {
		char **names = NULL;
		size_t n = 0;
		while ((de = readdir(dir)) != NULL) {
			char **grown;
			/* service names: no dot files, no package-manager leftovers */
			if (de->d_name[0] == '.' || strchr(de->d_name, '.') != NULL ||
			    de->d_name[strlen(de->d_name) - 1] == '~')
				continue;
			grown = realloc(names, (n + 1) * sizeof(*names));
			if (grown == NULL)
				break;
			names = grown;
			if ((names[n] = strdup(de->d_name)) == NULL)
				break;
			n++;
		}
		closedir(dir);
		qsort(names, n, sizeof(*names), compare_names);
		for (size_t i = 0; i < n; i++) {
			char path[4096];
			struct stat st;
			snprintf(path, sizeof(path), "%s/%s", d->pam_dir, names[i]);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				check_service(d, path);
				services++;
			}
			free(names[i]);
		}
		free(names);
	}
	if (d->loading_files == 0)
		finding(d, FINDING_FAIL,
			"%s loads pam_authelia.so nowhere; fix: add an `auth required "
			"pam_authelia.so url=...` line (examples in "
			"/usr/share/doc/libpam-authelia/examples)",
			d->pam_file ? d->pam_file : d->pam_dir);
	return 0;
}

/* --- sshd ------------------------------------------------------------------ */

/* Runs `sshd -T [-f config]`; returns its stdout (malloc'd) or NULL with err. */
static char *sshd_effective_config(const char *config, char *err, size_t errlen)
{
	int out[2], errp[2], status;
	char *text = NULL, buf[4096];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return NULL;
	}
	pid = fork();
	if (pid == 0) {
		char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		dup2(out[1], 1);
		dup2(errp[1], 2);
		if (config != NULL)
			execle(DOCTOR_SSHD, DOCTOR_SSHD, "-T", "-f", config, (char *)NULL, envp);
		else
			execle(DOCTOR_SSHD, DOCTOR_SSHD, "-T", (char *)NULL, envp);
		_exit(127);
	}
	close(out[1]);
	close(errp[1]);
	while (pid > 0 && (n = read(out[0], buf, sizeof(buf))) != 0) {
		char *grown;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || len > 1024 * 1024 ||
		    (grown = realloc(text, len + (size_t)n + 1)) == NULL)
			break;
		text = grown;
		memcpy(text + len, buf, (size_t)n);
		len += (size_t)n;
		text[len] = '\0';
	}
	n = pid > 0 ? read(errp[0], buf, sizeof(buf) - 1) : 0;
	buf[n > 0 ? n : 0] = '\0';
	close(out[0]);
	close(errp[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || text == NULL) {
		buf[strcspn(buf, "\r\n")] = '\0'; /* sshd ends its lines with CR LF */
		snprintf(err, errlen, "%.300s", buf[0] ? buf : "sshd -T failed");
		free(text);
		return NULL;
	}
	return text;
}

/* The value of keyword in sshd -T output ("usepam yes"), or "" when absent. */
static const char *sshd_value(const char *text, const char *keyword, char *out, size_t size)
{
	size_t klen = strlen(keyword);

	out[0] = '\0';
	for (const char *p = text; p != NULL && *p != '\0';
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, keyword, klen) == 0 && p[klen] == ' ') {
			const char *end = strchr(p, '\n');
			size_t n = end ? (size_t)(end - p - (long)klen - 1) : strlen(p + klen + 1);
			snprintf(out, size, "%.*s", (int)n, p + klen + 1);
			break;
		}
	}
	return out;
}

static void check_sshd(struct doctor *d)
{
	char err[512], value[1024];
	char *text;
	long grace;

	if (d->sshd_config == NULL && !d->sshd_stack_loads_module)
		return;
	if (access(DOCTOR_SSHD, X_OK) != 0) {
		if (d->sshd_config != NULL)
			finding(d, FINDING_FAIL,
				"sshd: %s is not installed; fix: apt install openssh-server",
				DOCTOR_SSHD);
		return;
	}
	text = sshd_effective_config(d->sshd_config, err, sizeof(err));
	if (text == NULL) {
		finding(d, FINDING_FAIL, "sshd -T%s%s: %s; fix: correct sshd_config (sshd -t)",
			d->sshd_config ? " -f " : "", d->sshd_config ? d->sshd_config : "", err);
		return;
	}
	if (strcmp(sshd_value(text, "usepam", value, sizeof(value)), "yes") != 0)
		finding(d, FINDING_FAIL, "sshd: UsePAM is %s: sshd never asks PAM; fix: UsePAM yes",
			value[0] ? value : "off");
	else
		finding(d, FINDING_OK, "sshd: UsePAM yes");
	if (strcmp(sshd_value(text, "kbdinteractiveauthentication", value, sizeof(value)), "yes") !=
	    0)
		finding(
		    d, FINDING_FAIL,
		    "sshd: KbdInteractiveAuthentication is %s: the module's prompts cannot reach "
		    "the client; fix: KbdInteractiveAuthentication yes",
		    value[0] ? value : "off");
	else
		finding(d, FINDING_OK, "sshd: KbdInteractiveAuthentication yes");
	sshd_value(text, "authenticationmethods", value, sizeof(value));
	if (value[0] != '\0' && strcmp(value, "any") != 0 &&
	    strstr(value, "keyboard-interactive") == NULL)
		finding(d, FINDING_FAIL,
			"sshd: AuthenticationMethods %s never uses keyboard-interactive, so PAM's "
			"prompts are never shown; fix: AuthenticationMethods keyboard-interactive",
			value);
	else if (value[0] == '\0' || strcmp(value, "any") == 0)
		finding(d, FINDING_WARN,
			"sshd: AuthenticationMethods any: a public key alone logs in without "
			"pam_authelia.so; fix: AuthenticationMethods keyboard-interactive (or "
			"publickey,keyboard-interactive)");
	else
		finding(d, FINDING_OK, "sshd: AuthenticationMethods %s", value);
	if (strcmp(sshd_value(text, "passwordauthentication", value, sizeof(value)), "yes") == 0)
		finding(
		    d, FINDING_WARN,
		    "sshd: PasswordAuthentication yes: a client using it answers every PAM prompt "
		    "with the password and never sees a second-factor prompt; fix: "
		    "PasswordAuthentication no");
	/* The access check refuses a PAM_RHOST that is a host name (the client's
	 * address could not reach Authelia's networks rules). */
	if (d->sshd_uses_authz) {
		if (strcmp(sshd_value(text, "usedns", value, sizeof(value)), "yes") == 0)
			finding(d, FINDING_FAIL,
				"sshd: UseDNS yes puts the client's host name in PAM_RHOST, which "
				"the access check (authz-url) refuses, so logins from clients "
				"with a reverse DNS name fail; fix: UseDNS no");
		else
			finding(d, FINDING_OK, "sshd: UseDNS %s", value[0] ? value : "no");
	}
	grace = atol(sshd_value(text, "logingracetime", value, sizeof(value)));
	if (grace > 0 && d->sshd_max_timeout > 0 && (unsigned long)grace <= d->sshd_max_timeout)
		finding(
		    d, FINDING_WARN,
		    "sshd: LoginGraceTime %ld s is not longer than the module's timeout=%u: sshd "
		    "drops slow logins first; fix: LoginGraceTime %us or more",
		    grace, d->sshd_max_timeout, d->sshd_max_timeout + 30);
	else
		finding(d, FINDING_OK, "sshd: LoginGraceTime %s s", value[0] ? value : "?");
	free(text);
}

/* --- Authelia over the network ------------------------------------------- */

static long elapsed_ms(const struct timeval *since)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_usec - since->tv_usec) / 1000;
}

static void probe_clock(struct probe *p, const char *date)
{
	struct doctor *d = p->doctor;
	struct tm tm;
	const char *end;
	long skew;

	memset(&tm, 0, sizeof(tm));
	if (date == NULL || (end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL ||
	    *end != '\0') {
		finding(d, FINDING_WARN,
			"%s: no readable Date header, the clocks cannot be compared; fix: check "
			"that url reaches Authelia itself",
			p->config.url);
		return;
	}
	skew = (long)(timegm(&tm) - time(NULL));
	if (labs(skew) > DOCTOR_CLOCK_FAIL_S)
		finding(d, FINDING_FAIL,
			"%s: Authelia's clock is %ld s %s ours: device-flow ID tokens will be "
			"refused and TOTP codes may be; fix: synchronise both hosts with NTP",
			p->config.url, labs(skew), skew > 0 ? "ahead of" : "behind");
	else if (labs(skew) > DOCTOR_CLOCK_WARN_S)
		finding(
		    d, FINDING_WARN,
		    "%s: Authelia's clock is %ld s %s ours; fix: synchronise both hosts with NTP",
		    p->config.url, labs(skew), skew > 0 ? "ahead of" : "behind");
	else
		finding(d, FINDING_OK, "%s: Authelia's clock is within %d s of ours", p->config.url,
			DOCTOR_CLOCK_WARN_S);
}

static const char *fix_for(const char *error)
{
	if (strstr(error, "not trusted") != NULL)
		return "set ca-cert= to the CA that signed Authelia's certificate, and make url "
		       "name a host in that certificate";
	if (strstr(error, "refused or unreachable") != NULL || strstr(error, "resolve") != NULL)
		return "check url, DNS and firewalls: is Authelia listening there?";
	return "check url and that Authelia is up";
}

static void probe_done(struct probe *p)
{
	event_base_loopbreak(p->base);
}

static void probe_token(struct probe *p, const struct http_response *r)
{
	struct doctor *d = p->doctor;
	char err[JSON_ERROR_SIZE];
	const char *error = "";
	yajl_val root = r->body ? json_parse(r->body, r->body_len, err) : NULL;

	if (root != NULL && json_get_string(root, "error", "error", &error, err) != 0)
		error = "";
	if (r->status == 401)
		finding(
		    d, FINDING_FAIL,
		    "%s: Authelia refused the client \"%s\" (401 %s): the client id, secret or "
		    "oauth2-client-auth-method=%s do not match its client; fix: align them with "
		    "identity_providers.oidc.clients in Authelia's configuration",
		    p->config.url, p->config.oauth2_client_id, error[0] ? error : "invalid_client",
		    client_auth_name(p->config.client_auth));
	else if (r->status == 400 && strcmp(error, "unauthorized_client") == 0)
		finding(
		    d, FINDING_FAIL,
		    "%s: the client \"%s\" may not use the device flow (unauthorized_client); fix: "
		    "grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] on the client",
		    p->config.url, p->config.oauth2_client_id);
	else if (r->status == 400 && strcmp(error, "invalid_request") == 0)
		finding(
		    d, FINDING_FAIL,
		    "%s: Authelia refused the token request (invalid_request), usually because "
		    "url's host is not the authelia_url of a session cookie; fix: use Authelia's "
		    "canonical URL in url=",
		    p->config.url);
	else if (r->status == 429)
		finding(d, FINDING_WARN,
			"%s: the token endpoint is rate limited (429), the client was not checked; "
			"fix: run the check again later",
			p->config.url);
	else if (r->status == 400 || r->status == 500)
		finding(
		    d, FINDING_OK,
		    "%s: the client \"%s\" authenticated (%s); only the made-up device code was "
		    "refused (status %d)",
		    p->config.url, p->config.oauth2_client_id,
		    client_auth_name(p->config.client_auth), r->status);
	else
		finding(
		    d, FINDING_WARN,
		    "%s: unexpected answer from the token endpoint (status %d); fix: check that "
		    "url is Authelia's own URL",
		    p->config.url, r->status);
	json_free(root);
}

/* Asks about the current question (purpose HTTP_AUTHZ), about url's own host
 * (HTTP_AUTHZ_OWN_HOST) or with POST (HTTP_AUTHZ_METHOD); no session. */
static bool probe_authz_send(struct probe *p, enum http_purpose purpose)
{
	const struct question *q = &p->target->questions[p->question];
	const struct authz_target *about =
	    purpose == HTTP_AUTHZ_OWN_HOST ? &p->own_host : &q->target;

	if (about->url == NULL || about->host == NULL || about->path == NULL)
		return false;
	free(p->config.authz_endpoint);
	p->config.authz_endpoint = strdup(q->endpoint);
	p->config.authz_kind = q->kind;
	return p->config.authz_endpoint != NULL &&
	       authz_send(p->http, &p->config, about, NULL, purpose,
			  purpose == HTTP_AUTHZ_METHOD) == 0;
}

/* The next access-check question, or the end. */
static void probe_next_question(struct probe *p, bool first)
{
	if (!first)
		p->question++;
	if (p->question >= p->target->question_count || !probe_authz_send(p, HTTP_AUTHZ))
		probe_done(p);
}

/* A custom endpoint: is it AuthRequest or ForwardAuth?  Then the next question. */
static void probe_method_or_next(struct probe *p)
{
	if (p->target->questions[p->question].kind != AUTHZ_CUSTOM ||
	    !probe_authz_send(p, HTTP_AUTHZ_METHOD))
		probe_next_question(p, false);
}

static void probe_authz(struct probe *p, const struct http_response *r)
{
	struct doctor *d = p->doctor;
	const struct question *q = &p->target->questions[p->question];
	const char *url = q->target.url, *endpoint = q->endpoint;
	bool asks = r->headers != NULL && evhttp_find_header(r->headers, "WWW-Authenticate");

	if (r->status == 401 && !asks) {
		finding(d, FINDING_OK,
			"%s: %s answers about %s (status 401 without a session: a login is needed)",
			p->config.url, endpoint, url);
	} else if (r->status == 403) {
		finding(d, FINDING_WARN,
			"%s: %s denies %s before any login (status 403: a deny rule without "
			"subject, or default_policy, comes first for this host's address): no "
			"login may succeed there; fix: put the rules for the users who may log in "
			"above it",
			p->config.url, endpoint, url);
	} else if (r->status == 200) {
		finding(d, FINDING_WARN,
			"%s: a bypass rule matches %s (status 200 without a session): every user "
			"whose password is right logs in, with one factor; fix: keep bypass rules "
			"away from the pseudo-hosts of authz-url",
			p->config.url, url);
	} else if (r->status == 400) {
		/* Which precondition?  The same question about url's own host. */
		if (!probe_authz_send(p, HTTP_AUTHZ_OWN_HOST))
			probe_done(p);
		return;
	} else if (r->status == 404 || r->status == 405) {
		finding(
		    d, FINDING_FAIL,
		    "%s: authz-endpoint %s is not enabled (status %d); fix: list it under "
		    "server.endpoints.authz (an entry there replaces the default endpoints) with "
		    "implementation AuthRequest or ForwardAuth",
		    p->config.url, endpoint, r->status);
		probe_next_question(p, false);
		return;
	} else if ((r->status == 401 && asks) || r->status == 407) {
		finding(d, FINDING_FAIL,
			"%s: %s asks for credentials (status %d), so it does not read the session "
			"cookie; fix: give it the CookieSession strategy (server.endpoints.authz)",
			p->config.url, endpoint, r->status);
	} else {
		finding(d, r->status >= 500 ? FINDING_FAIL : FINDING_WARN,
			"%s: %s answered status %d about %s; fix: url must be Authelia's own URL "
			"and Authelia must be up",
			p->config.url, endpoint, r->status, url);
	}
	probe_method_or_next(p);
}

static void probe_authz_own_host(struct probe *p, const struct http_response *r)
{
	struct doctor *d = p->doctor;
	const struct question *q = &p->target->questions[p->question];

	if (r->status == 400)
		finding(
		    d, FINDING_FAIL,
		    "%s: Authelia refuses to be asked about %s (status 400), and even about its "
		    "own host %s; fix: url's host must lie within a session.cookies domain, and "
		    "authz-endpoint %s must be an AuthRequest or ForwardAuth endpoint "
		    "(Authelia's log says which)",
		    p->config.url, q->target.url, p->config.url_host, q->endpoint);
	else
		finding(d, FINDING_FAIL,
			"%s: Authelia refuses to be asked about %s (status 400, and %d for %s): %s "
			"is not within the session.cookies domain that holds %s; fix: name hosts "
			"under that domain in authz-url (e.g. %%h.ssh.<that domain>)",
			p->config.url, q->target.url, r->status, p->own_host.url, q->target.host,
			p->config.url_host);
	probe_method_or_next(p);
}

static void probe_authz_method(struct probe *p, const struct http_response *r)
{
	struct doctor *d = p->doctor;
	const char *endpoint = p->target->questions[p->question].endpoint;

	if (r->status == 405)
		finding(d, FINDING_OK,
			"%s: authz-endpoint %s takes GET and HEAD only: an AuthRequest or "
			"ForwardAuth endpoint",
			p->config.url, endpoint);
	else
		finding(d, FINDING_FAIL,
			"%s: authz-endpoint %s answers POST (status %d): an ExtAuthz or Legacy "
			"endpoint, which judges another URL than authz-url's (ExtAuthz reads "
			"Authelia's own Host); fix: implementation AuthRequest or ForwardAuth",
			p->config.url, endpoint, r->status);
	probe_next_question(p, false);
}

/* After the health and device-flow checks: the access-check questions. */
static void probe_after(struct probe *p)
{
	probe_next_question(p, true);
}

static void probe_http_callback(const struct http_response *r, void *arg)
{
	struct probe *p = arg;
	struct doctor *d = p->doctor;
	struct discovery disc = {0};
	char err[OIDC_ERROR_SIZE];
	const char *pairs[] = {"grant_type", OIDC_DEVICE_CODE_GRANT, "device_code",
			       DOCTOR_PROBE_CODE, NULL};

	if (r->error != NULL) {
		finding(d, FINDING_FAIL, "%s: %s; fix: %s", p->config.url, r->error,
			fix_for(r->error));
		probe_done(p);
		return;
	}
	switch (r->purpose) {
	case HTTP_HEALTH:
		if (r->status != 200) {
			finding(d, FINDING_FAIL,
				"%s: GET /api/health answered status %d; fix: url must be "
				"Authelia's own URL (no proxy login page in front)",
				p->config.url, r->status);
			probe_done(p);
			return;
		}
		finding(d, FINDING_OK, "%s: Authelia reachable (/api/health status 200 in %ld ms)",
			p->config.url, elapsed_ms(&p->started));
		finding(d, FINDING_OK, "%s: TLS certificate of %s:%d verified with %s",
			p->config.url, p->config.url_host, p->config.url_port,
			p->config.ca_cert ? p->config.ca_cert : "the system trust store");
		probe_clock(p, r->date);
		if (!p->device || http_client_request(p->http, HTTP_DISCOVERY, OIDC_DISCOVERY_PATH,
						      NULL, 0, DOCTOR_REQUEST_MS) != 0)
			probe_after(p);
		return;
	case HTTP_DISCOVERY:
		if (r->status != 200) {
			finding(
			    d, FINDING_FAIL,
			    "%s: the OIDC discovery document answered status %d; fix: configure "
			    "identity_providers.oidc in Authelia (v4.39 or later for the device "
			    "flow)",
			    p->config.url, r->status);
		} else if (oidc_read_discovery(r->body, r->body_len, &p->config, &disc, err) != 0) {
			finding(
			    d, FINDING_FAIL,
			    "%s: discovery document: %s; fix: url must be Authelia's canonical URL",
			    p->config.url, err);
		} else {
			finding(d, FINDING_OK, "%s: OIDC discovery: issuer %s", p->config.url,
				disc.issuer);
		}
		oidc_discovery_free(&disc);
		if (oidc_send_client_form(p->http, &p->config, HTTP_TOKEN, OIDC_TOKEN_PATH,
					  pairs) != 0)
			probe_after(p);
		return;
	case HTTP_TOKEN:
		probe_token(p, r);
		probe_after(p);
		return;
	case HTTP_AUTHZ:
		probe_authz(p, r);
		return;
	case HTTP_AUTHZ_OWN_HOST:
		probe_authz_own_host(p, r);
		return;
	case HTTP_AUTHZ_METHOD:
		probe_authz_method(p, r);
		return;
	default:
		probe_done(p);
		return;
	}
}

static void probe_target(struct doctor *d, struct event_base *base, const struct target *t)
{
	struct probe p = {.doctor = d, .base = base, .target = t};
	char err[OPTION_ERROR_SIZE > TLS_ERROR_SIZE ? OPTION_ERROR_SIZE : TLS_ERROR_SIZE];
	char herr[HTTP_ERROR_SIZE];
	char serr[SANDBOX_ERROR_SIZE];
	SSL_CTX *tls = NULL;
	int rc = 0;

	config_init(&p.config);
	for (int i = 0; i < t->argc && rc == 0; i++)
		rc = config_apply(&p.config, t->argv[i], err);
	if (rc != 0 || config_finish(&p.config, err) != 0 ||
	    (tls = tls_context_new(p.config.ca_cert, err)) == NULL) {
		config_free(&p.config);
		return; /* reported with the line */
	}
	/* The question about url's own host, when one about authz-url gets 400. */
	if (asprintf(&p.own_host.url, "https://%s/", p.config.url_host) < 0)
		p.own_host.url = NULL;
	p.own_host.host = strdup(p.config.url_host);
	p.own_host.path = strdup("/");
	for (size_t i = 0; i < p.config.method_count; i++)
		p.device |=
		    p.config.methods[i] == METHOD_DEVICE_AUTHORIZATION ||
		    (p.config.methods[i] == METHOD_USER && p.config.oauth2_client_id != NULL);
	p.http = http_client_new(base, &p.config, NULL, probe_http_callback, &p, herr);
	if (p.http == NULL || http_client_start(p.http, tls, 1, herr) != 0) {
		finding(d, FINDING_FAIL, "%s: %s", p.config.url, herr);
	} else if (sandbox_apply(SANDBOX_HELPER, &p.config, serr) != 0) {
		/* Never talk to the network unconfined: not probed. */
		finding(d, FINDING_FAIL, "%s: not probed: %s; fix: every login fails the same way",
			p.config.url, serr);
	} else {
		/* Sandboxed like a login from here on: the first byte from the
		 * network is parsed as the helper user, under seccomp. */
		gettimeofday(&p.started, NULL);
		http_client_connect(p.http);
		if (http_client_request(p.http, HTTP_HEALTH, "/api/health", NULL, 0,
					DOCTOR_REQUEST_MS) == 0)
			event_base_dispatch(base);
	}
	if (p.http != NULL)
		http_client_free(p.http);
	/* let libevent finish what freeing the connection started */
	event_base_loop(base, EVLOOP_NONBLOCK);
	SSL_CTX_free(tls);
	authz_target_free(&p.own_host);
	config_free(&p.config);
}

/* Frees a target, its options wiped first: another service's line may hold
 * an inline oauth2-client-secret. */
static void target_wipe(struct target *t)
{
	free(t->key);
	free(t->where);
	for (size_t q = 0; q < t->question_count; q++) {
		authz_target_free(&t->questions[q].target);
		free(t->questions[q].endpoint);
	}
	for (int a = 0; t->argv != NULL && a < t->argc; a++) {
		explicit_bzero(t->argv[a], strlen(t->argv[a]));
		free(t->argv[a]);
	}
	free(t->argv);
	memset(t, 0, sizeof(*t));
}

/* The probe child, before it does anything else: nothing of the doctor's but
 * its own target.  fd 0 is /dev/null, 1 and 2 the pipe (its findings and the
 * trailer; a sanitizer's report), nothing above: not root's terminal, not a
 * descriptor the doctor inherited.  0 on success. */
static int probe_child_isolate(struct doctor *d, size_t index, int out)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), hi_null, hi_out;

	for (size_t j = 0; j < d->target_count; j++)
		if (j != index)
			target_wipe(&d->targets[j]);
	if (devnull < 0)
		return -1;
	/* Above 2 first, so no dup2 below clobbers a source. */
	hi_null = fcntl(devnull, F_DUPFD_CLOEXEC, 3);
	hi_out = fcntl(out, F_DUPFD_CLOEXEC, 3);
	if (hi_null < 0 || hi_out < 0 || dup2(hi_null, 0) < 0 || dup2(hi_out, 1) < 0 ||
	    dup2(hi_out, 2) < 0)
		return -1;
	if (close_range(3, ~0U, 0) != 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	return 0;
}

/* See doctor.h. */
int doctor_probe_relay(char *text, size_t len, int counts[3])
{
	int seen[3] = {0, 0, 0}, said[3] = {-1, -1, -1}, trailer = 0;
	char *line = text, *end = text + len;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		int level = -1;

		if (trailer) {
			trailer = -1; /* anything after the trailer */
			break;
		}
		if (nl != NULL &&
		    strncmp(line, DOCTOR_PROBE_TRAILER, strlen(DOCTOR_PROBE_TRAILER)) == 0) {
			char *p = line + strlen(DOCTOR_PROBE_TRAILER);

			*nl = '\0';
			for (int i = 0; i < 3; i++) {
				char *after;
				long v;

				errno = 0;
				v = strtol(p, &after, 10);
				if (errno != 0 || after == p || v < 0 ||
				    v > DOCTOR_PROBE_MAX_COUNT || (i < 2 && *after != ' ') ||
				    (i == 2 && *after != '\0')) {
					said[0] = -1;
					break;
				}
				said[i] = (int)v;
				p = after + 1;
			}
			trailer = 1;
			line = nl + 1;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				line[i] = '?';
		for (int i = 0; i < 3; i++)
			if (n > 5 &&
			    strncmp(line, finding_names[i], strlen(finding_names[i])) == 0 &&
			    line[strlen(finding_names[i])] == ' ')
				level = i;
		if (level >= 0) {
			printf("%.*s\n", (int)n, line);
			seen[level]++;
		} else {
			fprintf(stderr, "%.*s\n", (int)n, line);
		}
		line = nl ? nl + 1 : end;
	}
	fflush(stdout);
	for (int i = 0; i < 3; i++)
		counts[i] += seen[i]; /* what was relayed counts, whatever the trailer says */
	return trailer == 1 && memcmp(seen, said, sizeof(seen)) == 0 ? 0 : -1;
}

/*
 * Each Authelia is probed in a child process of its own that does as root
 * only what a login does as root (the CA files, the secret file, the
 * resolver's files), then applies the login's sandbox and only then opens
 * the connection: a server's answers are parsed by the helper user under
 * seccomp and Landlock, never by root.  The child keeps nothing of the
 * doctor's but its own target (probe_child_isolate), writes its findings
 * and a trailer with their counts to a pipe, and the doctor relays them; a
 * child that dies, or whose trailer is missing or wrong, is a FAIL of its own.
 */
static void probe_in_child(struct doctor *d, size_t index)
{
	const struct target *t = &d->targets[index];
	int fds[2], status = 0;
	char *text;
	size_t len = 0;
	ssize_t got;
	pid_t pid;
	int relayed;

	fflush(stdout);
	fflush(stderr);
	text = malloc(DOCTOR_PROBE_MAX_OUTPUT + 1);
	if (text == NULL || pipe2(fds, O_CLOEXEC) != 0) {
		finding(d, FINDING_FAIL,
			"%s: cannot start the network probe: %s; fix: run the "
			"check again",
			t->where, strerror(errno));
		free(text);
		return;
	}
	pid = fork();
	if (pid < 0) {
		finding(d, FINDING_FAIL,
			"%s: cannot start the network probe: %s; fix: run the "
			"check again",
			t->where, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(text);
		return;
	}
	if (pid == 0) {
		struct event_base *base;

		free(text);
		if (probe_child_isolate(d, index, fds[1]) != 0)
			_exit(1);
		memset(d->counts, 0, sizeof(d->counts));
		base = event_base_new();
		if (base == NULL)
			finding(d, FINDING_FAIL,
				"%s: cannot create the event loop; fix: run the "
				"check again",
				t->where);
		else
			probe_target(d, base, t);
		printf(DOCTOR_PROBE_TRAILER "%d %d %d\n", d->counts[0], d->counts[1], d->counts[2]);
		if (fflush(stdout) != 0)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	/* Read to the end (the child's findings, bounded): what is past the
	 * bound is drained, and the trailer is then missing. */
	got = file_read_full(fds[0], text, DOCTOR_PROBE_MAX_OUTPUT);
	if (got > 0)
		len = (size_t)got;
	if (got == DOCTOR_PROBE_MAX_OUTPUT) {
		char sink[4096];

		while (file_read_full(fds[0], sink, sizeof(sink)) > 0)
			len = DOCTOR_PROBE_MAX_OUTPUT + 1; /* too much: no trailer */
	}
	close(fds[0]);
	/* ECHILD: the caller ignores SIGCHLD and the kernel reaped the child;
	 * status stays 0, and the trailer alone tells it finished. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	relayed = len <= DOCTOR_PROBE_MAX_OUTPUT ? doctor_probe_relay(text, len, d->counts) : -1;
	if (relayed != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char how[64];

		if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
		else
			snprintf(how, sizeof(how), "no or a wrong count of its findings");
		finding(d, FINDING_FAIL,
			"%s: the sandboxed network probe ended without its findings (%s); fix: "
			"a login would likely fail the same way: run it with debug and read the "
			"helper's log",
			t->where, how);
	}
	free(text);
}

/* Last of all: the login's sandbox applied to this process (only the summary
 * is printed after it), as a login on this host would get it. */
static void check_sandbox(struct doctor *d)
{
	struct config config;
	char err[SANDBOX_ERROR_SIZE];

	config_init(&config);
	config.url_port = 0; /* no TCP port: the doctor has no url of its own */
	if (sandbox_apply(SANDBOX_HELPER, &config, err) != 0)
		finding(d, FINDING_FAIL, "sandbox: %s; fix: every login fails the same way", err);
	else
		finding(d, FINDING_OK, "sandbox: %s", sandbox_summary());
	config_free(&config);
}

static void discard_log(int priority, const char *line)
{
	(void)priority;
	(void)line;
}

int doctor_main(int argc, char **argv)
{
	struct doctor *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pam-file") == 0)
			d->pam_file = argv[++i];
		else if (strcmp(argv[i], "--sshd-config") == 0)
			d->sshd_config = argv[++i];
	}
	if (d->pam_file != NULL) {
		char *copy = strdup(d->pam_file), *slash = copy ? strrchr(copy, '/') : NULL;
		if (slash != NULL)
			*slash = '\0';
		d->pam_dir = slash ? copy : (free(copy), strdup("."));
	} else {
		d->pam_dir = strdup(DOCTOR_DEFAULT_PAM_DIR);
	}
	if (d->pam_dir == NULL) {
		fprintf(stderr, "pam_authelia --check: out of memory\n");
		free(d);
		return 2;
	}
	/* Log lines of the shared code (HTTP client) would only repeat the findings. */
	log_set_sink(discard_log);
	check_pam_files(d);
	check_sshd(d);
	for (size_t i = 0; i < d->target_count; i++) {
		probe_in_child(d, i);
		target_wipe(&d->targets[i]);
	}
	check_sandbox(d);
	printf("summary: %d OK, %d WARN, %d FAIL\n", d->counts[FINDING_OK], d->counts[FINDING_WARN],
	       d->counts[FINDING_FAIL]);
	rc = d->counts[FINDING_FAIL] ? 2 : d->counts[FINDING_WARN] ? 1 : 0;
	free(d->pam_dir);
	free(d);
	return rc;
}
