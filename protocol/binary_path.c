/*
 * binary_path.c -- the safety check of the helper binary and of the files the
 * helper trusts (see binary_path.h).
 */
#include "binary_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a message names: "helper binary PATH" or "failed to read CA
 * certificate PATH", and whether an unsafe directory's message says the fix. */
struct safe_path_what {
	const char *label;
	const char *path;
	bool fix;
};

/* A directory a name of the path is looked up in: owned by root and writable
 * by root only, or whoever can write it can swap what the name means. */
static int safe_path_check_directory(const struct safe_path_what *what, const char *dir, char *err,
				     size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) != 0) {
		snprintf(err, errlen, "%s %s: %s: %s", what->label, what->path, dir,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen,
			 "%s %s: directory %s must be owned by root and writable by its owner "
			 "only%s",
			 what->label, what->path, dir,
			 what->fix ? "; fix: move the file below directories only root can write "
				     "(such as /etc/ssl/certs)"
				   : "");
		return -1;
	}
	return 0;
}

/*
 * Resolves path as realpath(3) does, one name at a time, and checks every
 * directory a name is looked up in: OpenSSH's safe_path() rule applied to the
 * whole resolution.  Checking only the resolved path would not do: a symlink
 * in a directory someone else can write could point at any root-owned
 * program (/bin/sh), whose own directories all pass.  Writes the resolved path
 * to real (PATH_MAX bytes).
 */
static int safe_path_resolve(const struct safe_path_what *what, char real[PATH_MAX], char *err,
			     size_t errlen)
{
	char rest[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	const char *path = what->path, *p = rest;
	int links = 0;

	if (path[0] != '/' || strlen(path) >= sizeof(rest)) {
		snprintf(err, errlen, "%s %s: not an absolute path", what->label, path);
		return -1;
	}
	snprintf(rest, sizeof(rest), "%s", path);
	snprintf(real, PATH_MAX, "/");
	while (*p != '\0') {
		const char *end;
		size_t len, have = strlen(real);
		struct stat st;
		ssize_t n;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(real, '/'); /* real has no symlinks: its parent */
			slash[slash == real ? 1 : 0] = '\0';
			p = end;
			continue;
		}
		if (safe_path_check_directory(what, real, err, errlen) != 0)
			return -1;
		if (have + 1 + len >= PATH_MAX) {
			snprintf(err, errlen, "%s %s: path too long", what->label, path);
			return -1;
		}
		snprintf(real + have, PATH_MAX - have, "%s%.*s", have > 1 ? "/" : "", (int)len, p);
		if (lstat(real, &st) != 0) {
			snprintf(err, errlen, "%s %s: %s", what->label, path, strerror(errno));
			return -1;
		}
		if (!S_ISLNK(st.st_mode)) {
			p = end;
			continue;
		}
		/* A symlink: its target, then what was left, walked from where it points. */
		n = readlink(real, target, sizeof(target) - 1);
		if (++links > 40 || n <= 0 ||
		    (size_t)snprintf(next, sizeof(next), "%.*s%s", (int)n, target, end) >=
			sizeof(next)) {
			snprintf(err, errlen, "%s %s: %s", what->label, path,
				 links > 40 ? strerror(ELOOP) : "cannot resolve a symbolic link");
			return -1;
		}
		real[have > 1 ? have : 1] = '\0'; /* back to the directory holding the link */
		if (target[0] == '/')
			snprintf(real, PATH_MAX, "/");
		memcpy(rest, next, sizeof(rest));
		p = rest;
	}
	return 0;
}

/*
 * The file at the end of a checked path, opened once and checked on that
 * descriptor: the helper binary (execute: O_PATH, for fexecve, so nothing
 * swapped in at the path later can run instead) or a trusted file
 * (read-only; O_NONBLOCK: a FIFO put in its place must not hang the login).
 * The texts differ as the module's and the CA's errors always have.
 */
static int safe_file_open(const struct safe_path_what *what, bool execute, char *err, size_t errlen)
{
	const char *path = what->path;
	struct stat st, again;
	char real[PATH_MAX];
	int fd;

	if (safe_path_resolve(what, real, err, errlen) != 0)
		return -1;
	fd = open(real, execute ? O_PATH | O_NOFOLLOW | O_CLOEXEC
				: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s %s: %s", what->label, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) ||
	    (execute && (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0)) {
		if (execute)
			snprintf(err, errlen, "%s %s is not an executable file", what->label, path);
		else
			snprintf(err, errlen, "%s %s: %s", what->label, path, strerror(EINVAL));
		goto fail;
	}
	/* The shim often runs as root: a helper others can replace is a root
	 * shell; whoever can change the trust anchor chooses whom the helper
	 * trusts. */
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		if (what->fix)
			snprintf(err, errlen,
				 "%s %s: it must be owned by root and writable by its owner only "
				 "(owner uid %u, mode %04o); fix: chown root %s and chmod 644 %s",
				 what->label, path, (unsigned)st.st_uid,
				 (unsigned)(st.st_mode & 07777), path, path);
		else
			snprintf(err, errlen,
				 "%s %s must be owned by root and writable by its owner only",
				 what->label, path);
		goto fail;
	}
	/* The checked directories still lead to the file that was opened. */
	if (lstat(real, &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
		if (what->fix)
			snprintf(err, errlen, "%s %s: it changed while it was checked", what->label,
				 path);
		else
			snprintf(err, errlen, "%s %s changed while it was checked", what->label,
				 path);
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int binary_path_open(const char *path, char *err, size_t errlen)
{
	const struct safe_path_what what = {.label = "helper binary", .path = path};

	return safe_file_open(&what, true, err, errlen);
}

int trusted_file_open(const char *path, char *err, size_t errlen)
{
	const struct safe_path_what what = {
	    .label = "failed to read CA certificate", .path = path, .fix = true};

	return safe_file_open(&what, false, err, errlen);
}
