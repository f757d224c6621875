#!/bin/sh
# check_binaries.sh -- what the built artifacts must look like: the module
# exports only pam_sm_*, links only libc and libpam, and both artifacts carry
# the hardening the Makefile asks for.  Prints one "ok"/"FAIL" line per check.
set -u
so=$1
helper=$2
passed=0
failed=0

check() {
	name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		failed=$((failed + 1))
	fi
}

exports_only_pam_sm() {
	[ "$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')" = \
		"pam_sm_authenticate pam_sm_setcred " ]
}
module_links_only_libc_and_libpam() {
	[ "$(readelf -d "$so" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | tr '\n' ' ')" = \
		"libc.so.6 libpam.so.0 " ]
}
# Each library linked in (HELPER_LINK=static: one of its functions is defined in
# the helper) or shared; libjwt shared or opened by the device flow.
helper_links_its_libraries() {
	needed=$(readelf -d "$helper" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
	defined=$(nm --defined-only "$helper" 2>/dev/null | awk '{print $3}')
	for pair in libevent_openssl:bufferevent_openssl_socket_new libevent-:event_base_new \
		libssl:SSL_CTX_new libcrypto:EVP_PKEY_fromdata libyajl:yajl_tree_parse; do
		lib=${pair%%:*} symbol=${pair#*:}
		echo "$needed" | grep -q "^$lib" || echo "$defined" | grep -qx "$symbol" || return 1
	done
	echo "$needed" | grep -q "^libqrencode" || return 1
	echo "$needed" | grep -q "^libjwt" || grep -q "libjwt.so.0" "$helper" || return 1
}
full_relro() {
	readelf -l "$1" | grep -q GNU_RELRO && readelf -d "$1" | grep -q 'BIND_NOW\|FLAGS.*NOW'
}
no_exec_stack() {
	readelf -lW "$1" | grep GNU_STACK | grep -qv RWE
}
stack_protector() {
	nm -D "$1" | grep -q __stack_chk_fail
}
fortified() {
	nm -D "$1" | grep -q '__.*_chk'
}
helper_is_pie() {
	readelf -h "$helper" | grep -q 'DYN'
}
module_is_pic() {
	! readelf -d "$so" | grep -q TEXTREL
}

check "module exports only pam_sm_*" exports_only_pam_sm
check "module links only libc and libpam" module_links_only_libc_and_libpam
check "helper uses libevent, libevent_openssl, OpenSSL, yajl, libqrencode, libjwt" helper_links_its_libraries
check "module: full RELRO" full_relro "$so"
check "helper: full RELRO" full_relro "$helper"
check "module: no executable stack" no_exec_stack "$so"
check "helper: no executable stack" no_exec_stack "$helper"
check "module: stack protector" stack_protector "$so"
check "helper: stack protector" stack_protector "$helper"
check "module: _FORTIFY_SOURCE" fortified "$so"
check "helper: _FORTIFY_SOURCE" fortified "$helper"
check "helper: PIE" helper_is_pie
check "module: PIC (no text relocations)" module_is_pic
echo "binaries: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
