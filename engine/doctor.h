/*
 * doctor.h -- `pam_authelia --check` without option flags: the doctor an
 * operator runs on a host where logins do not work.  Without logging anyone
 * in it reports, one line per finding, OK / WARN / FAIL with the fix: the PAM
 * files that load pam_authelia.so (includes followed), each line's options
 * validated as a login validates them, control flags that let a login
 * through when the module fails, the helper binary and the secret file;
 * sshd's effective configuration (sshd -T); Authelia (probed from a child
 * process under the login's sandbox) reachable over verified TLS, its clock, and for the device
 * flow the discovery document and the client's credentials; last, the login's sandbox applied to
 * itself.  Exit status 0, 1 or 2: all OK, warnings, failures.
 */
#ifndef PAM_AUTHELIA_DOCTOR_H
#define PAM_AUTHELIA_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>

/* True when argv asks for the doctor: --check with no option flags. */
bool doctor_wanted(int argc, char **argv);
int doctor_main(int argc, char **argv);

/* What the doctor makes of a probe child's output (text, len bytes; changed
 * in place): finding lines relayed to stdout (any control byte as '?') and
 * added to counts (OK, WARN, FAIL), other lines (a sanitizer's report) to
 * stderr.  The last line must be the trailer "probe-counts <ok> <warn>
 * <fail>", each in 0..1000 and equal to the lines relayed: 0 then, else -1
 * (the probe is a FAIL). */
int doctor_probe_relay(char *text, size_t len, int counts[3]);

#endif
