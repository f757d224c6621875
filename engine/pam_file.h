/*
 * pam_file.h -- reading Linux-PAM configuration files the way libpam does,
 * for `pam_authelia --check`: comments, continued lines, `[value=action]`
 * controls, bracketed arguments, and `include`, `substack` and Debian's
 * `@include`, flattened into the list of modules one type of stack (auth,
 * account, ...) runs; and a small model of libpam's dispatcher
 * (_pam_dispatch_aux) that tells what a stack returns when each module
 * returns a given code, so the doctor can ask "does a failure of
 * pam_authelia.so still let this login in?".
 */
#ifndef PAM_AUTHELIA_PAM_FILE_H
#define PAM_AUTHELIA_PAM_FILE_H

#include <security/_pam_types.h>
#include <stdbool.h>
#include <stddef.h>

#define PAM_FILE_MAX_ENTRIES 256
#define PAM_FILE_MAX_DEPTH   16 /* libpam's PAM_SUBSTACK_MAX_LEVEL */

enum pam_file_type {
	PAM_FILE_AUTH,
	PAM_FILE_ACCOUNT,
	PAM_FILE_PASSWORD,
	PAM_FILE_SESSION,
	PAM_FILE_TYPES,
};

/* libpam's actions: >0 jumps over that many modules. */
enum pam_file_action {
	PAM_FILE_IGNORE = 0,
	PAM_FILE_OK = -1,
	PAM_FILE_DONE = -2,
	PAM_FILE_BAD = -3,
	PAM_FILE_DIE = -4,
	PAM_FILE_RESET = -5,
	PAM_FILE_UNDEF = -6,
};

struct pam_entry {
	char *file; /* where the line is */
	int line;
	enum pam_file_type type;
	bool dash;     /* "-auth": skipped silently when the module is missing */
	int level;     /* substack depth */
	char *control; /* as written, for messages */
	int actions[_PAM_RETURN_VALUES];
	char *module; /* as written */
	int argc;
	char **argv;
};

struct pam_stack {
	struct pam_entry entries[PAM_FILE_MAX_ENTRIES];
	size_t count;
};

/* Told about each problem met while reading (a missing include, a bad line). */
typedef void (*pam_file_problem_cb)(void *arg, const char *file, int line, const char *what);

/*
 * Reads the stack of one type that the service file path runs.  Relative
 * include names are looked up in dir, then in /etc/pam.d.  Returns 0, or -1
 * when the file itself cannot be read (problem was told why).
 */
int pam_stack_load(struct pam_stack *stack, const char *path, const char *dir,
		   enum pam_file_type type, pam_file_problem_cb problem, void *arg);
void pam_stack_free(struct pam_stack *stack);

/* The file name of a module path ("pam_unix.so" for "/lib/.../pam_unix.so"). */
const char *pam_entry_module_name(const struct pam_entry *entry);

/*
 * What libpam would return for the stack when each module returns
 * outcome(entry, arg): PAM_SUCCESS or the failure code.  passed (optional)
 * collects, one bit per entry, the modules whose result counted.
 */
int pam_stack_simulate(const struct pam_stack *stack,
		       int (*outcome)(const struct pam_entry *entry, void *arg), void *arg);

/* "PAM_AUTH_ERR" for PAM_AUTH_ERR, and so on. */
const char *pam_code_name(int code);

#endif
