# Makefile: builds the core library (static), a2md, mod_md.so and the unit tests.
# APR flags come from apxs/apr-1-config, the rest from pkg-config. APXS= picks the apxs.

APXS      ?= apxs
BUILD     ?= build
CC        ?= cc
PREFIX    ?= /usr/local
SAN       ?=

APR_CONFIG := $(shell $(APXS) -q APR_CONFIG 2>/dev/null || echo apr-1-config)
APU_CONFIG := $(shell $(APXS) -q APU_CONFIG 2>/dev/null || echo apu-1-config)
APR_CFLAGS := $(shell $(APR_CONFIG) --cflags --cppflags --includes)
APR_LIBS   := $(shell $(APR_CONFIG) --link-ld --libs) $(shell $(APU_CONFIG) --link-ld)
PKGS       := openssl libcurl jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=c11 $(WARN) $(CFLAGS) -fPIC $(APR_CFLAGS) $(PKG_CFLAGS) -Isrc/lib -MMD -MP
LIBS    := $(PKG_LIBS) $(APR_LIBS)
# the module: httpd's headers and flags; APR comes from the httpd that loads it
HTTPD_INC    := $(shell $(APXS) -q INCLUDEDIR)
HTTPD_CFLAGS := -I$(HTTPD_INC) $(shell $(APXS) -q EXTRA_CPPFLAGS 2>/dev/null)
MODULE_DIR   := $(shell $(APXS) -q LIBEXECDIR)
SYSCONF_DIR  := $(shell $(APXS) -q SYSCONFDIR)

LIB_SRC   := $(wildcard src/lib/*.c)
LIB_OBJ   := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
A2MD_SRC  := $(wildcard src/a2md/*.c)
A2MD_OBJ  := $(A2MD_SRC:src/%.c=$(BUILD)/obj/%.o)
MOD_SRC   := $(wildcard src/mod_md/*.c)
MOD_OBJ   := $(MOD_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC  := $(wildcard test/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:test/unit/%.c=$(BUILD)/test/%)
UNIT_LIB  := $(wildcard test/unit/unit_*.c)
FORMAT_FILES := $(wildcard src/*/*.c src/*/*.h test/unit/*.c test/unit/*.h)

.PHONY: all clean check check-unit check-e2e format format-check install
all: $(BUILD)/libmd.a $(BUILD)/a2md $(BUILD)/mod_md.so

$(BUILD)/obj/mod_md/%.o: src/mod_md/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HTTPD_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libmd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/a2md: $(A2MD_OBJ) $(BUILD)/libmd.a
	$(CC) $(LDFLAGS) -o $@ $(A2MD_OBJ) $(BUILD)/libmd.a $(LIBS)

# The core library is linked in statically and its symbols are kept private to the module.
$(BUILD)/mod_md.so: $(MOD_OBJ) $(BUILD)/libmd.a
	$(CC) -shared $(LDFLAGS) -o $@ $(MOD_OBJ) $(BUILD)/libmd.a -Wl,--exclude-libs,ALL $(PKG_LIBS)

$(BUILD)/test/%: test/unit/%.c $(UNIT_LIB) $(BUILD)/libmd.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itest/unit $(LDFLAGS) -o $@ $< $(UNIT_LIB) $(BUILD)/libmd.a $(LIBS) -lcmocka

# Runs every unit test binary; prints one line per binary and fails if any fails.
check-unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
	  if $$t >$$t.log 2>&1; then echo "unit: $$(basename $$t) ok"; \
	  else echo "unit: $$(basename $$t) FAILED"; cat $$t.log; fail=1; fi; done; exit $$fail

check-e2e: all
	/usr/bin/python3 -m pytest -q test/e2e

check: check-unit check-e2e

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MODULE_DIR)
	install -m 0755 $(BUILD)/a2md $(DESTDIR)$(PREFIX)/bin/a2md
	install -m 0644 $(BUILD)/mod_md.so $(DESTDIR)$(MODULE_DIR)/mod_md.so
	@if [ -d $(DESTDIR)$(SYSCONF_DIR)/mods-available ]; then \
	  install -m 0644 conf/md.load conf/md.conf $(DESTDIR)$(SYSCONF_DIR)/mods-available/; \
	  echo "installed md.load/md.conf: 'a2enmod md' enables the module"; fi

clean:
	rm -rf $(BUILD) build-san

-include $(LIB_OBJ:.o=.d) $(A2MD_OBJ:.o=.d) $(MOD_OBJ:.o=.d)
