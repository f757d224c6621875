# pam_authelia -- build, install and test.
#   make            build/pam_authelia.so (the PAM module) and build/pam_authelia (the helper)
#   make check      every test (installs missing Debian packages when run as root)
#   make install    DESTDIR, PREFIX (default /usr), PAMDIR and MANDIR are honoured; as root
#                   (without DESTDIR) it also creates the helper's system account _pam_authelia
#   make deb        the Debian package libpam-authelia, built in build/deb/ (dpkg-buildpackage)
#   make fuzz       run every fuzz target for FUZZ_SECONDS each
#   make fuzz-coverage  line coverage (llvm-cov) of the committed fuzz corpora, per file
#   make fuzz-long  the long run (about an hour on one core, 10^8 executions)
#   make mutants    the mutation catalogue (tests/mutation/): each security control
#                   weakened in a scratch copy, its test must fail (MUTANTS=id1,id2: some)
#   make bench      one table: each flow's wait, round trips, requests, CPU and RSS, and
#                   what the sandbox costs a login (root)
#   make demo       a private sshd and Authelia test double, every flow shown (root)

VERSION      := 0.1.0
CC           ?= cc
CLANG        ?= clang
PKG_CONFIG   ?= pkg-config
PREFIX       ?= /usr
BINDIR       ?= $(PREFIX)/bin
# The directory that holds pam_unix.so on this system (multiarch aware).
PAMDIR       ?= $(shell dirname "$$(find /lib /usr/lib /lib64 /usr/lib64 -name pam_unix.so -print -quit 2>/dev/null || true)" 2>/dev/null)
MANDIR       ?= $(PREFIX)/share/man
BUILD        := build
# tools/deps.sh installs missing Debian packages (build: what make and make
# install need; deb: make deb; test: only the tests); debian/rules turns it off.
DEPS         ?= tools/deps.sh
FUZZ_SECONDS ?= 20

WARNINGS := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	    -Wmissing-prototypes -Wpointer-arith -Wvla -Wno-unused-parameter
HARDENING := -fstack-protector-strong -D_FORTIFY_SOURCE=3 -fstack-clash-protection -fcf-protection
CFLAGS   ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -DPAM_AUTHELIA_VERSION='"$(VERSION)"' $(WARNINGS)
LINK_HARDENING := -Wl,-z,relro,-z,now -Wl,-z,noexecstack

# Evaluated lazily, after the deps target has installed pkg-config files.
SHIM_LIBS    = $(shell $(PKG_CONFIG) --libs pam)
HELPER_PKGS  := libevent libevent_openssl openssl yajl libqrencode libjwt libseccomp
HELPER_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(HELPER_PKGS))
HELPER_LIBS   = $(shell $(PKG_CONFIG) --libs $(HELPER_PKGS))
CMOCKA_LIBS   = $(shell $(PKG_CONFIG) --libs cmocka)
# How the helper binary links its libraries.  dynamic (the default): every
# library shared, so the helper gets Debian's OpenSSL and libevent security
# updates with apt, and one OpenSSL (under the wiping allocator) serves the
# whole process.  static (opt-in): OpenSSL, libevent and yajl are linked in
# (Debian's .a files), which spares every login the dynamic relocation of
# libcrypto's ~4,000 symbols (13% of a TOTP login's instructions, see make
# bench); but the helper must be rebuilt after every security update of
# OpenSSL or libevent, and the device flow's libjwt (only a shared library,
# opened by engine/jwt_loader.c) brings a second libcrypto.so into the
# process, outside the wiping allocator.  make check builds it once
# (make static-helper: build/static) and logs in with it.  Tests and
# fuzzers link dynamically.
HELPER_LINK  ?= dynamic
ifeq ($(HELPER_LINK),static)
HELPER_BIN_OBJ  = $(BUILD)/obj/helper/engine/jwt_forward.o $(BUILD)/obj/helper/engine/wiping_free.o
HELPER_BIN_LIBS = -Wl,--gc-sections -Wl,-z,pack-relative-relocs -Wl,-Bstatic -levent_openssl \
		  -levent -lyajl_s -lssl -lcrypto -Wl,-Bdynamic \
		  $(shell $(PKG_CONFIG) --libs libqrencode libseccomp)
else
HELPER_BIN_OBJ  = $(BUILD)/obj/helper/engine/wiping_free.o
HELPER_BIN_LIBS = $(HELPER_LIBS)
endif

PROTOCOL_SRC := protocol/frame.c protocol/options.c protocol/binary_path.c protocol/shown.c \
		protocol/audit.c
SHIM_SRC     := shim/pam_authelia.c shim/shim_options.c shim/client_socket.c \
		shim/helper_process.c shim/relay.c shim/shim_audit.c
ENGINE_SRC   := engine/log.c engine/secure_alloc.c engine/config.c engine/tls.c engine/json.c \
		engine/http_client.c engine/authelia_api.c engine/qr.c engine/oidc.c \
		engine/jwt_loader.c engine/channel.c engine/session.c engine/secret_file.c \
		engine/pam_file.c engine/doctor.c engine/ca_store.c engine/sandbox.c \
		engine/file_read.c engine/authz.c
STATES_SRC   := $(wildcard states/*.c)
HELPER_LIB_SRC := $(PROTOCOL_SRC) $(ENGINE_SRC) $(STATES_SRC)
UNIT_TESTS   := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
comma := ,

SHIM_OBJ   := $(patsubst %.c,$(BUILD)/obj/shim/%.o,$(SHIM_SRC) $(PROTOCOL_SRC))
HELPER_OBJ := $(patsubst %.c,$(BUILD)/obj/helper/%.o,$(HELPER_LIB_SRC))

.PHONY: all deps test-deps check bench demo demo-stop demo-totp unit-tests integration-tests sanitizer-tests sanitizer-helper static-helper fuzz fuzz-smoke fuzz-coverage fuzz-long \
	check-exports install uninstall clean format man deb mutants
.DEFAULT_GOAL := all

MANPAGES := $(BUILD)/man/pam_authelia.8 $(BUILD)/man/pam_authelia.1

all: deps $(BUILD)/pam_authelia.so $(BUILD)/pam_authelia $(MANPAGES)

deps:
	@$(DEPS) build

test-deps:
	@$(DEPS) test

# --- manual pages: scdoc sources in man/ ---
$(BUILD)/man/%: man/%.scd | deps
	@mkdir -p $(dir $@)
	scdoc < $< > $@

man: $(MANPAGES)

# --- the Debian package, built from a copy of the tree so that nothing lands in
# the tree's parent directory: build/deb/libpam-authelia_*.deb ---
deb: deps
	@$(DEPS) deb
	@tools/build_deb.sh

# --- the PAM module: PIC, libc + libpam only, exports pam_sm_* only ---
$(BUILD)/obj/shim/%.o: %.c $(wildcard shim/*.h protocol/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(HARDENING) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/pam_authelia.so: $(SHIM_OBJ) shim/pam_authelia.map
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $(SHIM_OBJ) $(LINK_HARDENING) -Wl,-z,defs \
		-Wl,--version-script=shim/pam_authelia.map $(LDFLAGS) $(SHIM_LIBS)

# --- the helper: PIE ---
# The seccomp allowlist (engine/sandbox_rules.h) compiled to BPF at build time.
$(BUILD)/gen/sandbox_filter.h: tools/sandbox_filter_gen.c engine/sandbox_rules.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O2 $(HELPER_CFLAGS) -o $(BUILD)/gen/sandbox_filter_gen $< \
		$(shell $(PKG_CONFIG) --libs libseccomp)
	$(BUILD)/gen/sandbox_filter_gen > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/helper/engine/sandbox.o: $(BUILD)/gen/sandbox_filter.h

$(BUILD)/obj/helper/%.o: %.c $(wildcard engine/*.h states/*.h protocol/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(HARDENING) $(CFLAGS) -fPIE $(HELPER_CFLAGS) -I$(BUILD)/gen -c -o $@ $<

$(BUILD)/obj/libhelper.a: $(HELPER_OBJ)
	ar rcs $@ $^

$(BUILD)/pam_authelia: $(BUILD)/obj/helper/engine/main.o $(HELPER_BIN_OBJ) $(BUILD)/obj/libhelper.a
	$(CC) $(CFLAGS) -pie -o $@ $^ $(LINK_HARDENING) $(LDFLAGS) $(HELPER_BIN_LIBS)

# --- tests ---
$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/obj/libhelper.a $(SHIM_OBJ) | test-deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Wno-missing-prototypes $(HELPER_CFLAGS) -o $@ $< \
		$(filter-out $(BUILD)/obj/shim/protocol/% $(BUILD)/obj/shim/shim/pam_authelia.o,$(SHIM_OBJ)) \
		$(BUILD)/obj/libhelper.a $(HELPER_LIBS) $(SHIM_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/pam_test_app: tests/pam_test_app.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(SHIM_LIBS)

# Sanitizer build of the helper and the unit tests (ASan + UBSan), in its own tree.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

unit-tests: test-deps all $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))
	@tests/run_unit.sh $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))

sanitizer-tests: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/san CFLAGS="$(SAN_FLAGS)" \
		HARDENING="" LDFLAGS="-fsanitize=address,undefined" unit-tests

# The helper of make check's integration-asan suite, in a tree of its own: ASan, and UBSan's
# checks trapping (SIGILL) instead of reporting through libubsan.  The shim sends the helper's
# stderr to /dev/null, so no report is lost; what goes is libubsan's 6 MB of .bss (a second
# stack depot, never touched) that LeakSanitizer's check at exit scans page by page: 20 of the
# 44 ms an exit costs on a VM with slow page faults, too much with twenty concurrent logins on
# two CPUs for the shim's 500 ms between a result and the helper's exit.
SAN_HELPER_FLAGS := $(SAN_FLAGS) -fsanitize-undefined-trap-on-error
sanitizer-helper: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/san-helper CFLAGS="$(SAN_HELPER_FLAGS)" \
		HARDENING="" LDFLAGS="-fsanitize=address" $(BUILD)/san-helper/pam_authelia

# The opt-in static build of the helper (HELPER_LINK=static), in a tree of its
# own: make bench measures it, tests/integration/test_static_helper.py logs in with it.
static-helper: deps
	@$(MAKE) --no-print-directory HELPER_LINK=static BUILD=$(BUILD)/static \
		$(BUILD)/static/pam_authelia

# The stand-in helper's executable front (the shim cannot execute a script).
# The helper's free() and secure_free, freeing one block twice (test_memory_scan.py).
$(BUILD)/tests/double_free: tests/double_free.c $(BUILD)/obj/helper/engine/wiping_free.o \
		$(BUILD)/obj/libhelper.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(HELPER_CFLAGS) -o $@ $< \
		$(BUILD)/obj/helper/engine/wiping_free.o $(BUILD)/obj/libhelper.a $(HELPER_LIBS)

$(BUILD)/tests/stand_in_wrapper: tests/stand_in_wrapper.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

$(BUILD)/tests/pam_set_authtok.so: tests/pam_set_authtok.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Wno-missing-prototypes $(CFLAGS) -fPIC -shared -o $@ $< $(SHIM_LIBS)

# The helper built to try, once sandboxed, what its sandbox must refuse
# (PAM_AUTHELIA_SELFTEST names the attempt).  For tests only; never installed.
$(BUILD)/tests/pam_authelia_selftest: engine/sandbox.c engine/sandbox.h engine/sandbox_rules.h \
		$(BUILD)/gen/sandbox_filter.h $(BUILD)/obj/helper/engine/main.o $(BUILD)/obj/libhelper.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(HARDENING) $(CFLAGS) -DPAM_AUTHELIA_SANDBOX_SELFTEST -fPIE \
		$(HELPER_CFLAGS) -I$(BUILD)/gen -c -o $(BUILD)/obj/sandbox_selftest.o engine/sandbox.c
	$(CC) $(CFLAGS) -pie -o $@ $(BUILD)/obj/sandbox_selftest.o $(BUILD)/obj/helper/engine/main.o \
		$(BUILD)/obj/libhelper.a $(LINK_HARDENING) $(LDFLAGS) $(HELPER_LIBS)

$(BUILD)/tests/pam_fd_snapshot.so: tests/pam_fd_snapshot.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Wno-missing-prototypes $(CFLAGS) -fPIC -shared -o $@ $< $(SHIM_LIBS)

TEST_PROGRAMS := $(BUILD)/tests/pam_test_app $(BUILD)/tests/pam_set_authtok.so \
	$(BUILD)/tests/pam_fd_snapshot.so \
	$(BUILD)/tests/stand_in_wrapper $(BUILD)/tests/pam_authelia_selftest \
	$(BUILD)/tests/double_free

integration-tests: test-deps all $(TEST_PROGRAMS)
	@tests/run_integration.sh

# The mutation catalogue: builds a scratch copy of the tree once, then per mutant
# rebuilds incrementally and runs one test (root, as the integration tests).
mutants: test-deps
	@/usr/bin/python3 tests/mutation/run_mutants.py $(if $(MUTANTS),--only $(MUTANTS))

check-exports: test-deps all
	@tests/check_exports.sh $(BUILD)/pam_authelia.so

# --- fuzzing (clang libFuzzer) ---
# Every source is compiled once per fuzz tree ($(FUZZ_BUILD)/obj), then each
# target links what it needs.  PAM_AUTHELIA_FUZZ_PLAIN_HTTP (fuzz builds only)
# gives engine/http_client.c plain bufferevents instead of TLS ones, so
# fuzz_login's fake server writes straight into evhttp's parser.
# fuzz_shim wraps the shim's libc and libpam calls at link time (FUZZ_SHIM_WRAP),
# fuzz_login the helper's allocations (FUZZ_LOGIN_WRAP).
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_CFLAGS  ?= -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LDFLAGS ?= -fsanitize=address,undefined
FUZZ_DEFINES := -DPAM_AUTHELIA_SANDBOX_FUZZ -DPAM_AUTHELIA_FUZZ_PLAIN_HTTP
FUZZ_HELPER_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(HELPER_LIB_SRC) \
		   $(filter-out shim/pam_authelia.c,$(SHIM_SRC)))
FUZZ_SHIM_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(SHIM_SRC) $(PROTOCOL_SRC))
FUZZ_SHIM_WRAP := malloc calloc strndup socketpair open fork poll recv sendmsg waitpid kill \
		  pidfd_open pidfd_send_signal waitid pam_get_user pam_get_item pam_syslog pam_vsyslog \
		  clock_gettime
FUZZ_SCRIPT_OBJ := $(FUZZ_BUILD)/obj/fuzz/script.o
.PRECIOUS: $(FUZZ_BUILD)/obj/%.o

$(FUZZ_BUILD)/obj/%.o: %.c $(wildcard engine/*.h states/*.h protocol/*.h shim/*.h fuzz/*.h) \
		$(BUILD)/gen/sandbox_filter.h | deps test-deps
	@mkdir -p $(dir $@)
	$(CLANG) $(BASE_CFLAGS) $(FUZZ_DEFINES) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
		$(HELPER_CFLAGS) -I$(BUILD)/gen -c -o $@ $<

$(FUZZ_BUILD)/fuzz_shim: $(FUZZ_BUILD)/obj/fuzz/fuzz_shim.o $(FUZZ_SCRIPT_OBJ) $(FUZZ_SHIM_OBJ)
	$(CLANG) $(FUZZ_LDFLAGS) -fsanitize=fuzzer -o $@ $^ \
		$(addprefix -Wl$(comma)--wrap=,$(FUZZ_SHIM_WRAP)) $(SHIM_LIBS)

# fuzz_login's ~oom: allocations and libevent constructors, wrapped at link time.
FUZZ_LOGIN_WRAP := malloc calloc realloc strdup strndup asprintf event_new bufferevent_socket_new \
	evhttp_connection_base_bufferevent_new evhttp_request_new evdns_base_new evhttp_add_header \
	secure_malloc secure_realloc
$(FUZZ_BUILD)/fuzz_login: $(FUZZ_BUILD)/obj/fuzz/fuzz_login.o $(FUZZ_SCRIPT_OBJ) $(FUZZ_HELPER_OBJ)
	$(CLANG) $(FUZZ_LDFLAGS) -fsanitize=fuzzer -o $@ $^ \
		$(addprefix -Wl$(comma)--wrap=,$(FUZZ_LOGIN_WRAP)) $(HELPER_LIBS) $(SHIM_LIBS) -ldl

$(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/fuzz/%.o $(FUZZ_SCRIPT_OBJ) $(FUZZ_HELPER_OBJ)
	$(CLANG) $(FUZZ_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(HELPER_LIBS) $(SHIM_LIBS) -ldl

fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@tests/run_fuzz.sh $(FUZZ_SECONDS) $^

fuzz-smoke: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@tests/run_fuzz.sh $${FUZZ_SMOKE_SECONDS:-10} $^

# The long run documented in README (tests/fuzz_long.sh: one target after the
# other on one core; FUZZ_LONG="fuzz_frame=1000 ..." sets the budgets).
fuzz-long: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@tests/fuzz_long.sh $(FUZZ_LONG)

# Line coverage of the committed corpora alone (no fuzzing): every target is
# built again with clang's source-based coverage and replays fuzz/corpus/NAME.
FUZZ_COV_CFLAGS := -g -O0 -fprofile-instr-generate -fcoverage-mapping -DPAM_AUTHELIA_FUZZ_COVERAGE
fuzz-coverage: deps test-deps
	@$(MAKE) --no-print-directory FUZZ_BUILD=$(BUILD)/fuzz-cov \
		FUZZ_CFLAGS="$(FUZZ_COV_CFLAGS)" FUZZ_LDFLAGS="$(FUZZ_COV_CFLAGS)" \
		$(addprefix $(BUILD)/fuzz-cov/,$(FUZZ_TARGETS))
	@tests/fuzz_coverage.sh $(BUILD)/fuzz-cov $(FUZZ_TARGETS)

demo: test-deps all
	@tools/private_dev.sh /usr/bin/python3 tools/demo.py

demo-stop:
	@if [ -f $(BUILD)/demo/demo.pid ]; then kill "$$(cat $(BUILD)/demo/demo.pid)"; \
	else echo "no demo is running"; fi

demo-totp:
	@/usr/bin/python3 tools/demo.py totp john

$(BUILD)/tests/bare_client: tests/bench/bare_client.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(shell $(PKG_CONFIG) --cflags --libs openssl)

$(BUILD)/tests/bench_sandbox: tests/bench/bench_sandbox.c $(BUILD)/obj/libhelper.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(HELPER_CFLAGS) -o $@ $< $(BUILD)/obj/libhelper.a $(HELPER_LIBS)

# The login benchmark runs for both builds of the helper: the default (dynamic)
# and HELPER_LINK=static (make static-helper, in $(BUILD)/static): one table each.
bench: test-deps all $(TEST_PROGRAMS) $(BUILD)/tests/bench_sandbox $(BUILD)/tests/bare_client
	@$(MAKE) --no-print-directory static-helper
	@tools/private_dev.sh /usr/bin/python3 tests/bench/bench_login.py $${RUNS:-30}
	@echo
	@PAM_AUTHELIA_HELPER="$(CURDIR)/$(BUILD)/static/pam_authelia" \
		tools/private_dev.sh /usr/bin/python3 tests/bench/bench_login.py $${RUNS:-30}
	@if [ "$$(id -u)" -eq 0 ]; then \
		tools/private_dev.sh /usr/bin/python3 tests/bench/bench_sandbox.py $${RUNS:-30}; \
	else echo "sandbox benchmark skipped: it needs root (a private /dev/log)"; fi

check: test-deps all $(addprefix $(BUILD)/tests/,$(UNIT_TESTS)) $(TEST_PROGRAMS)
	@tests/run_all.sh

install: all
	@[ -n "$(PAMDIR)" ] || { echo "cannot find pam_unix.so; give PAMDIR=" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PAMDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/pam_authelia $(DESTDIR)$(BINDIR)/pam_authelia
	install -m 0644 $(BUILD)/pam_authelia.so $(DESTDIR)$(PAMDIR)/pam_authelia.so
	install -m 0644 $(BUILD)/man/pam_authelia.1 $(DESTDIR)$(MANDIR)/man1/pam_authelia.1
	install -m 0644 $(BUILD)/man/pam_authelia.8 $(DESTDIR)$(MANDIR)/man8/pam_authelia.8
	@tools/system_account.sh "$(DESTDIR)"

# (the system account stays: files it owns may remain, as Debian policy says)
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pam_authelia $(DESTDIR)$(PAMDIR)/pam_authelia.so \
		$(DESTDIR)$(MANDIR)/man1/pam_authelia.1 $(DESTDIR)$(MANDIR)/man8/pam_authelia.8

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
