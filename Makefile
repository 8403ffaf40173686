# imhost — top-level build.  `make demo` and `make test` are the two entry points
# (see README.md); both install missing Debian packages first.
PREFIX  ?= /usr/local
DESTDIR ?=
PLUGINDIR ?= $(PREFIX)/lib/imhost/modules

CC      ?= cc
CFLAGS  ?= -O2 -g
# CI builds with -Werror; locally warnings stay warnings.
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes $(if $(CI),-Werror)
PKGS     = sqlite3 jansson libcrypto
CORE_CFLAGS = $(CFLAGS) $(WARN) -std=c11 -D_GNU_SOURCE -fPIC -pthread \
              $(shell pkg-config --cflags $(PKGS) lua5.4) -Imodule/core
CORE_LIBS   = $(shell pkg-config --libs $(PKGS)) -pthread -lm
TEST_LIBS   = $(shell pkg-config --libs cmocka)
STROPHE_CFLAGS = $(shell pkg-config --cflags libstrophe 2>/dev/null)
STROPHE_LIBS   = $(shell pkg-config --libs libstrophe 2>/dev/null)

BUILD   = build
# The C core: every module/core/*.c except the Lua binding goes into a static
# library that unit tests link; the binding adds the Lua entry point for Prosody.
CORE_SRC = $(filter-out module/core/lua_binding.c,$(wildcard module/core/*.c))
CORE_HDR = $(wildcard module/core/*.h)
# The desk tokenizes and stems queries exactly as sitegen's index writer did: the
# core links sitegen's own searchidx.c (docs/search-index.md) rather than a copy.
SHARED_SRC = sitegen/src/searchidx.c
CORE_OBJ = $(CORE_SRC:module/core/%.c=$(BUILD)/core/%.o) $(BUILD)/core/sg_searchidx.o
ASAN_OBJ = $(CORE_SRC:module/core/%.c=$(BUILD)/asan/%.o) $(BUILD)/asan/sg_searchidx.o
UNIT_SRC = $(wildcard tests/unit/test_*.c)
# Shared fixtures (temp databases, calling operations) linked into every unit test.
UNIT_SUPPORT = $(wildcard tests/unit/support/*.c)
UNIT_SUPPORT_HDR = $(wildcard tests/unit/support/*.h)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit/%)
UNIT_ASAN= $(UNIT_SRC:tests/unit/%.c=$(BUILD)/unit-asan/%)
# The tests that run threads against each other (the writer, the worker pool
# and its lock-free completions, the slot pool, desk races) also run under
# ThreadSanitizer.
TSAN_OBJ = $(CORE_SRC:module/core/%.c=$(BUILD)/tsan/%.o) $(BUILD)/tsan/sg_searchidx.o
UNIT_TSAN = $(patsubst %,$(BUILD)/unit-tsan/test_%,workers logwriter slotpool scram desk_race)
LUA_SRC  = $(wildcard module/mod_imhost*.lua module/*.lib.lua)
PLUGINS  = $(BUILD)/plugins
SANITIZE = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSANITIZE = -fsanitize=thread

.PHONY: all deps deps-test lint module sitegen test unit unit-asan unit-tsan integration test-sitegen \
        bench bench-site site demo install uninstall clean

all: module sitegen

deps:
	@sh scripts/install-deps.sh build
deps-test:
	@sh scripts/install-deps.sh test

# --- the Prosody module --------------------------------------------------------
module: $(PLUGINS)/imhost_core.so $(LUA_SRC:module/%=$(PLUGINS)/%)

$(BUILD)/core/%.o: module/core/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -c $< -o $@
$(BUILD)/asan/%.o: module/core/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -O1 $(SANITIZE) -c $< -o $@
$(BUILD)/tsan/%.o: module/core/%.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -O1 $(TSANITIZE) -c $< -o $@
$(BUILD)/core/sg_searchidx.o: $(SHARED_SRC) $(wildcard sitegen/src/searchidx*.h)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -Isitegen/src -c $< -o $@
$(BUILD)/asan/sg_searchidx.o: $(SHARED_SRC) $(wildcard sitegen/src/searchidx*.h)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -Isitegen/src -O1 $(SANITIZE) -c $< -o $@
$(BUILD)/tsan/sg_searchidx.o: $(SHARED_SRC) $(wildcard sitegen/src/searchidx*.h)
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -Isitegen/src -O1 $(TSANITIZE) -c $< -o $@
$(BUILD)/libimhost.a: $(CORE_OBJ)
	$(AR) rcs $@ $^
$(BUILD)/libimhost-asan.a: $(ASAN_OBJ)
	$(AR) rcs $@ $^
$(BUILD)/libimhost-tsan.a: $(TSAN_OBJ)
	$(AR) rcs $@ $^

# Do not link liblua: /usr/bin/lua5.4 (Prosody's interpreter) exports the API.
$(PLUGINS)/imhost_core.so: module/core/lua_binding.c $(BUILD)/libimhost.a
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -shared -o $@ $< $(BUILD)/libimhost.a $(CORE_LIBS)
$(PLUGINS)/%.lua: module/%.lua
	@mkdir -p $(@D)
	cp $< $@

# --- tests ----------------------------------------------------------------------
test: deps-test
	@$(MAKE) --no-print-directory lint unit unit-asan unit-tsan integration test-sitegen

lint:
	luacheck -q module/

$(BUILD)/unit/%: tests/unit/%.c $(UNIT_SUPPORT) $(UNIT_SUPPORT_HDR) $(BUILD)/libimhost.a
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -Itests/unit/support -o $@ $< $(UNIT_SUPPORT) $(BUILD)/libimhost.a $(CORE_LIBS) $(TEST_LIBS)
$(BUILD)/unit-asan/%: tests/unit/%.c $(UNIT_SUPPORT) $(UNIT_SUPPORT_HDR) $(BUILD)/libimhost-asan.a
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -Itests/unit/support -O1 $(SANITIZE) -o $@ $< $(UNIT_SUPPORT) $(BUILD)/libimhost-asan.a $(CORE_LIBS) $(TEST_LIBS)
$(BUILD)/unit-tsan/%: tests/unit/%.c $(UNIT_SUPPORT) $(UNIT_SUPPORT_HDR) $(BUILD)/libimhost-tsan.a
	@mkdir -p $(@D)
	$(CC) $(CORE_CFLAGS) -Itests/unit/support -O1 $(TSANITIZE) -o $@ $< $(UNIT_SUPPORT) $(BUILD)/libimhost-tsan.a $(CORE_LIBS) $(TEST_LIBS)

unit: $(UNIT_BIN) module
	@sh tests/run-unit.sh "C unit tests" $(UNIT_BIN)
unit-asan: $(UNIT_ASAN) module
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  sh tests/run-unit.sh "C unit tests (ASan+UBSan)" $(UNIT_ASAN)
unit-tsan: $(UNIT_TSAN)
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  sh tests/run-unit.sh "C unit tests (TSan)" $(UNIT_TSAN)

integration: module sitegen
	@$(MAKE) --no-print-directory -C tests/integration
	@sh tests/integration/run.sh

test-sitegen:
	@$(MAKE) --no-print-directory -C sitegen test

# --- sitegen and the help site ----------------------------------------------------
sitegen:
	@$(MAKE) --no-print-directory -C sitegen

site: sitegen
	sitegen/sitegen build --repo . --worktree --out _site

bench: module
	@sh scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory -C bench
	@sh bench/run.sh

bench-site: sitegen
	@sh scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory -C sitegen bench

demo: deps
	@$(MAKE) --no-print-directory module sitegen
	@sh demo/run.sh

install: module
	install -d $(DESTDIR)$(PLUGINDIR)
	install -m 644 $(LUA_SRC) $(DESTDIR)$(PLUGINDIR)/
	install -m 755 $(PLUGINS)/imhost_core.so $(DESTDIR)$(PLUGINDIR)/
	@$(MAKE) --no-print-directory -C sitegen install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
	@echo "Add to prosody.cfg.lua:  plugin_paths = { \"$(PLUGINDIR)\" }"

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PLUGINDIR)/,$(notdir $(LUA_SRC)) imhost_core.so)
	-@$(MAKE) --no-print-directory -C sitegen uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

clean:
	rm -rf $(BUILD) _site
	-@$(MAKE) --no-print-directory -C sitegen clean
	-@$(MAKE) --no-print-directory -C tests/integration clean
	-@$(MAKE) --no-print-directory -C bench clean
