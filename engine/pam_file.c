/*
 * pam_file.c -- Linux-PAM configuration files read as libpam reads them, and
 * its dispatcher modelled (see pam_file.h).  The parsing follows
 * libpam/pam_handlers.c (_pam_assemble_line, _pam_parse_conf_file,
 * _pam_parse_control) and the model libpam/pam_dispatch.c
 * (_pam_dispatch_aux), Linux-PAM 1.5.
 */
#include "pam_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <stdarg.h>

#define PAM_FILE_MAX_LINE 8192

/* The names of the return codes in `[value=action]`, in code order. */
static const char *const pam_token_returns[_PAM_RETURN_VALUES + 1] = {
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
    "default",
};

static const char *const pam_code_names[_PAM_RETURN_VALUES] = {
    "PAM_SUCCESS",
    "PAM_OPEN_ERR",
    "PAM_SYMBOL_ERR",
    "PAM_SERVICE_ERR",
    "PAM_SYSTEM_ERR",
    "PAM_BUF_ERR",
    "PAM_PERM_DENIED",
    "PAM_AUTH_ERR",
    "PAM_CRED_INSUFFICIENT",
    "PAM_AUTHINFO_UNAVAIL",
    "PAM_USER_UNKNOWN",
    "PAM_MAXTRIES",
    "PAM_NEW_AUTHTOK_REQD",
    "PAM_ACCT_EXPIRED",
    "PAM_SESSION_ERR",
    "PAM_CRED_UNAVAIL",
    "PAM_CRED_EXPIRED",
    "PAM_CRED_ERR",
    "PAM_NO_MODULE_DATA",
    "PAM_CONV_ERR",
    "PAM_AUTHTOK_ERR",
    "PAM_AUTHTOK_RECOVERY_ERR",
    "PAM_AUTHTOK_LOCK_BUSY",
    "PAM_AUTHTOK_DISABLE_AGING",
    "PAM_TRY_AGAIN",
    "PAM_IGNORE",
    "PAM_ABORT",
    "PAM_AUTHTOK_EXPIRED",
    "PAM_MODULE_UNKNOWN",
    "PAM_BAD_ITEM",
    "PAM_CONV_AGAIN",
    "PAM_INCOMPLETE",
};

static const char *const pam_type_names[PAM_FILE_TYPES] = {"auth", "account", "password",
							   "session"};

struct loader {
	struct pam_stack *stack;
	const char *dir;
	enum pam_file_type type;
	pam_file_problem_cb problem;
	void *arg;
};

static int load_file(struct loader *ld, const char *path, int level, int depth,
		     const char *from_file, int from_line);

const char *pam_code_name(int code)
{
	return code >= 0 && code < _PAM_RETURN_VALUES ? pam_code_names[code] : "PAM_(unknown)";
}

const char *pam_entry_module_name(const struct pam_entry *entry)
{
	const char *slash = strrchr(entry->module, '/');

	return slash ? slash + 1 : entry->module;
}

static void problem(struct loader *ld, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct loader *ld, const char *file, int line, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ld->problem != NULL)
		ld->problem(ld->arg, file, line, what);
}

/* Reads one logical line: continuations joined, a comment ('#' anywhere) cut. */
static int read_line(FILE *f, char *buf, size_t size, int *lineno)
{
	size_t len = 0;
	bool any = false;
	char piece[PAM_FILE_MAX_LINE];

	while (fgets(piece, sizeof(piece), f) != NULL) {
		size_t n;
		char *hash;

		any = true;
		(*lineno)++;
		hash = strchr(piece, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		n = strlen(piece);
		while (n > 0 && (piece[n - 1] == '\n' || piece[n - 1] == '\r'))
			n--;
		piece[n] = '\0';
		if (hash == NULL && n > 0 && piece[n - 1] == '\\') {
			piece[n - 1] = ' ';
			if (len + n < size) {
				memcpy(buf + len, piece, n);
				len += n;
			}
			continue;
		}
		if (len + n < size) {
			memcpy(buf + len, piece, n);
			len += n;
		}
		break;
	}
	buf[len] = '\0';
	return any ? 0 : -1;
}

/* The next token; a token starting with '[' runs to the matching ']' ("\]" escapes it). */
static char *next_token(char **p, bool brackets)
{
	char *s = *p, *start, *out;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	start = s;
	if (brackets && *s == '[') {
		out = s;
		for (s++; *s != '\0' && *s != ']'; s++) {
			if (*s == '\\' && s[1] == ']')
				s++;
			*out++ = *s;
		}
		/* out now holds "[" dropped: keep the text between the brackets. */
		if (*s == ']')
			s++;
		if (*s != '\0' && !isspace((unsigned char)*s)) {
			/* "[a]b": libpam takes the rest up to white space as part of it */
			while (*s != '\0' && !isspace((unsigned char)*s))
				*out++ = *s++;
		}
		if (*s != '\0')
			s++;
		*out = '\0';
		*p = s;
		return start; /* the text inside the brackets, without them */
	}
	while (*s != '\0' && !isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return start;
}

static void set_default(int actions[_PAM_RETURN_VALUES], int action)
{
	for (int i = 0; i < _PAM_RETURN_VALUES; i++)
		if (actions[i] == PAM_FILE_UNDEF)
			actions[i] = action;
}

/* Parses "value=action ..." (the inside of the brackets). */
static int parse_control(int actions[_PAM_RETURN_VALUES], const char *text, char *err,
			 size_t errlen)
{
	const char *p = text;

	while (*p != '\0') {
		char word[64], act[64];
		size_t n = 0, m = 0;
		int value = -1, action;

		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		while (*p != '\0' && *p != '=' && !isspace((unsigned char)*p) &&
		       n + 1 < sizeof(word))
			word[n++] = *p++;
		word[n] = '\0';
		if (*p != '=') {
			snprintf(err, errlen, "control \"[%s]\": \"%s\" has no =action", text,
				 word);
			return -1;
		}
		p++;
		while (*p != '\0' && !isspace((unsigned char)*p) && m + 1 < sizeof(act))
			act[m++] = *p++;
		act[m] = '\0';
		for (int i = 0; i <= _PAM_RETURN_VALUES; i++)
			if (strcasecmp(word, pam_token_returns[i]) == 0)
				value = i;
		if (value < 0) {
			snprintf(err, errlen, "control \"[%s]\": unknown return value \"%s\"", text,
				 word);
			return -1;
		}
		if (strcasecmp(act, "ignore") == 0)
			action = PAM_FILE_IGNORE;
		else if (strcasecmp(act, "ok") == 0)
			action = PAM_FILE_OK;
		else if (strcasecmp(act, "done") == 0)
			action = PAM_FILE_DONE;
		else if (strcasecmp(act, "bad") == 0)
			action = PAM_FILE_BAD;
		else if (strcasecmp(act, "die") == 0)
			action = PAM_FILE_DIE;
		else if (strcasecmp(act, "reset") == 0)
			action = PAM_FILE_RESET;
		else if (act[0] >= '1' && act[0] <= '9' && strspn(act, "0123456789") == m)
			action = atoi(act);
		else {
			snprintf(err, errlen, "control \"[%s]\": unknown action \"%s\"", text, act);
			return -1;
		}
		if (value == _PAM_RETURN_VALUES)
			set_default(actions, action);
		else
			actions[value] = action;
	}
	return 0;
}

static int keyword_control(int actions[_PAM_RETURN_VALUES], const char *word)
{
	if (strcasecmp(word, "required") == 0 || strcasecmp(word, "requisite") == 0) {
		actions[PAM_SUCCESS] = PAM_FILE_OK;
		actions[PAM_NEW_AUTHTOK_REQD] = PAM_FILE_OK;
		actions[PAM_IGNORE] = PAM_FILE_IGNORE;
		set_default(actions,
			    strcasecmp(word, "required") == 0 ? PAM_FILE_BAD : PAM_FILE_DIE);
	} else if (strcasecmp(word, "optional") == 0) {
		actions[PAM_SUCCESS] = PAM_FILE_OK;
		actions[PAM_NEW_AUTHTOK_REQD] = PAM_FILE_OK;
		set_default(actions, PAM_FILE_IGNORE);
	} else if (strcasecmp(word, "sufficient") == 0) {
		actions[PAM_SUCCESS] = PAM_FILE_DONE;
		actions[PAM_NEW_AUTHTOK_REQD] = PAM_FILE_DONE;
		set_default(actions, PAM_FILE_IGNORE);
	} else {
		return -1;
	}
	return 0;
}

static int type_of(const char *word, enum pam_file_type *type)
{
	for (int i = 0; i < PAM_FILE_TYPES; i++) {
		if (strcasecmp(word, pam_type_names[i]) == 0) {
			*type = (enum pam_file_type)i;
			return 0;
		}
	}
	return -1;
}

/* An included file's path: absolute, else in dir, else in /etc/pam.d. */
static void include_path(const struct loader *ld, const char *name, char *out, size_t size)
{
	if (name[0] == '/') {
		snprintf(out, size, "%s", name);
		return;
	}
	snprintf(out, size, "%s/%s", ld->dir, name);
	if (access(out, F_OK) != 0)
		snprintf(out, size, "/etc/pam.d/%s", name);
}

static void pam_entry_free(struct pam_entry *e)
{
	free(e->file);
	free(e->control);
	free(e->module);
	for (int a = 0; a < e->argc; a++)
		free(e->argv[a]);
	free(e->argv);
	memset(e, 0, sizeof(*e));
}

static int add_entry(struct loader *ld, const char *file, int line, enum pam_file_type type,
		     bool dash, int level, const char *control, const int actions[],
		     const char *module, char *rest)
{
	struct pam_entry *e;
	char *arg;
	bool oom;

	if (ld->stack->count == PAM_FILE_MAX_ENTRIES) {
		problem(ld, file, line, "more than %d modules in one stack", PAM_FILE_MAX_ENTRIES);
		return -1;
	}
	e = &ld->stack->entries[ld->stack->count++];
	memset(e, 0, sizeof(*e));
	e->file = strdup(file);
	e->line = line;
	e->type = type;
	e->dash = dash;
	e->level = level;
	e->control = strdup(control);
	memcpy(e->actions, actions, sizeof(e->actions));
	e->module = strdup(module);
	e->argv = calloc(PAM_FILE_MAX_ENTRIES, sizeof(char *));
	oom = e->file == NULL || e->control == NULL || e->module == NULL || e->argv == NULL;
	while (!oom && e->argc < PAM_FILE_MAX_ENTRIES - 1 &&
	       (arg = next_token(&rest, true)) != NULL) {
		if ((e->argv[e->argc] = strdup(arg)) == NULL)
			oom = true;
		else
			e->argc++;
	}
	if (oom) { /* the entry is dropped: a check must not read half of it */
		pam_entry_free(e);
		ld->stack->count--;
		problem(ld, file, line, "out of memory");
		return -1;
	}
	return 0;
}

static void parse_line(struct loader *ld, char *text, const char *file, int line, int level,
		       int depth)
{
	char *p = text, *first, *control, *module, err[512], path[4096], shown[600];
	enum pam_file_type type;
	int actions[_PAM_RETURN_VALUES];
	bool dash = false;

	first = next_token(&p, false);
	if (first == NULL)
		return;
	if (strcmp(first, "@include") == 0) {
		module = next_token(&p, false);
		if (module == NULL) {
			problem(ld, file, line, "@include without a file name");
			return;
		}
		include_path(ld, module, path, sizeof(path));
		load_file(ld, path, level, depth + 1, file, line);
		return;
	}
	if (first[0] == '-') {
		dash = true;
		first++;
	}
	if (type_of(first, &type) != 0) {
		problem(ld, file, line, "unknown module type \"%s\"", first);
		return;
	}
	while (*p != '\0' && isspace((unsigned char)*p))
		p++;
	for (int i = 0; i < _PAM_RETURN_VALUES; i++)
		actions[i] = PAM_FILE_UNDEF;
	if (*p == '[') {
		control = next_token(&p, true);
		if (control == NULL || parse_control(actions, control, err, sizeof(err)) != 0) {
			problem(ld, file, line, "%s", control ? err : "empty control");
			return;
		}
		set_default(actions, PAM_FILE_BAD);
		snprintf(shown, sizeof(shown), "[%s]", control);
	} else {
		control = next_token(&p, false);
		if (control == NULL) {
			problem(ld, file, line, "no control flag");
			return;
		}
		snprintf(shown, sizeof(shown), "%s", control);
		if (strcasecmp(control, "include") == 0 || strcasecmp(control, "substack") == 0) {
			module = next_token(&p, false);
			if (module == NULL) {
				problem(ld, file, line, "%s without a file name", control);
				return;
			}
			if (type != ld->type)
				return;
			include_path(ld, module, path, sizeof(path));
			load_file(ld, path,
				  strcasecmp(control, "substack") == 0 ? level + 1 : level,
				  depth + 1, file, line);
			return;
		}
		if (keyword_control(actions, control) != 0) {
			problem(ld, file, line, "unknown control flag \"%s\"", control);
			return;
		}
	}
	module = next_token(&p, false);
	if (module == NULL) {
		problem(ld, file, line, "no module path");
		return;
	}
	if (type == ld->type)
		add_entry(ld, file, line, type, dash, level, shown, actions, module, p);
}

static int load_file(struct loader *ld, const char *path, int level, int depth,
		     const char *from_file, int from_line)
{
	char *buf;
	int lineno = 0, next = 0;
	FILE *f;

	if (depth > PAM_FILE_MAX_DEPTH || level > PAM_FILE_MAX_DEPTH) {
		problem(ld, from_file, from_line, "includes nested deeper than %d (a loop?) at %s",
			PAM_FILE_MAX_DEPTH, path);
		return -1;
	}
	f = fopen(path, "re");
	if (f == NULL) {
		if (from_file != NULL)
			problem(ld, from_file, from_line, "included file %s: %s", path,
				strerror(errno));
		else
			problem(ld, path, 0, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(PAM_FILE_MAX_LINE * 4);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	while (read_line(f, buf, PAM_FILE_MAX_LINE * 4, &next) == 0) {
		int first_line = lineno + 1;
		lineno = next;
		parse_line(ld, buf, path, first_line, level, depth);
	}
	free(buf);
	fclose(f);
	return 0;
}

int pam_stack_load(struct pam_stack *stack, const char *path, const char *dir,
		   enum pam_file_type type, pam_file_problem_cb problem_cb, void *arg)
{
	struct loader ld = {
	    .stack = stack, .dir = dir, .type = type, .problem = problem_cb, .arg = arg};

	stack->count = 0;
	return load_file(&ld, path, 0, 0, NULL, 0);
}

void pam_stack_free(struct pam_stack *stack)
{
	for (size_t i = 0; i < stack->count; i++)
		pam_entry_free(&stack->entries[i]);
	stack->count = 0;
}

/* libpam's _pam_dispatch_aux without caching (pam_authenticate's first call). */
int pam_stack_simulate(const struct pam_stack *stack,
		       int (*outcome)(const struct pam_entry *entry, void *arg), void *arg)
{
	enum { UNDEF, POSITIVE, NEGATIVE } impression = UNDEF;
	struct {
		int impression, status;
	} substates[PAM_FILE_MAX_DEPTH + 2];
	int status = PAM_PERM_DENIED; /* PAM_MUST_FAIL_CODE */
	int prev_level = 0;

	substates[0].impression = impression;
	substates[0].status = status;

	for (size_t i = 0; i < stack->count; prev_level = stack->entries[i].level, i++) {
		const struct pam_entry *e = &stack->entries[i];
		int level = e->level, retval, action;

		if (prev_level < level && level <= PAM_FILE_MAX_DEPTH + 1) {
			substates[level].impression = impression;
			substates[level].status = status;
		}
		retval = outcome(e, arg);
		if (retval < 0 || retval >= _PAM_RETURN_VALUES)
			retval = PAM_SYSTEM_ERR;
		action = e->actions[retval];
		switch (action) {
		case PAM_FILE_RESET:
			impression = substates[level].impression;
			status = substates[level].status;
			break;
		case PAM_FILE_OK:
		case PAM_FILE_DONE:
			if ((impression == UNDEF ||
			     (impression == POSITIVE && status == PAM_SUCCESS)) &&
			    retval != PAM_IGNORE) {
				impression = POSITIVE;
				status = retval;
			}
			if (impression != NEGATIVE && action == PAM_FILE_DONE)
				while (i + 1 < stack->count && stack->entries[i + 1].level >= level)
					i++;
			break;
		case PAM_FILE_BAD:
		case PAM_FILE_DIE:
			if (impression != NEGATIVE) {
				impression = NEGATIVE;
				status = retval == PAM_IGNORE ? PAM_PERM_DENIED : retval;
			}
			if (action == PAM_FILE_DIE)
				while (i + 1 < stack->count && stack->entries[i + 1].level >= level)
					i++;
			break;
		case PAM_FILE_IGNORE:
		case PAM_FILE_UNDEF:
			break;
		default:
			/* a jump over `action` modules of this level */
			while (i + 1 < stack->count && stack->entries[i + 1].level >= level &&
			       action > 0) {
				do {
					i++;
				} while (i + 1 < stack->count &&
					 stack->entries[i + 1].level > level);
				action--;
			}
			if (action > 0) { /* "bad jump in stack" */
				impression = NEGATIVE;
				status = PAM_PERM_DENIED;
			}
			break;
		}
	}
	if (status == PAM_SUCCESS && impression != POSITIVE)
		status = PAM_PERM_DENIED;
	return status;
}
