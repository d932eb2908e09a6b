# kbsyncd build.  `make` builds build/kbsyncd; `make test` runs every suite,
# then the C and Lua suites again under ASan+UBSan; `make asan` builds the
# sanitizer variant into build-asan/.
#
# Layout the rules rely on:
#   src/*.c          the host; src/main.c is the program, the rest is a library
#   tests/c/test_*.c C unit tests (TAP), each linked against the library
#   tests/c/tool_*.c helper programs the Python/shell tests drive

PREFIX   ?= /usr/local
PKGS     := lua5.4 libcurl zlib lua5.4-cjson
CC       ?= cc
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter
OPT      ?= -O2 -g
SAN      ?=
# CI builds with -Werror (CI=true is set by the CI runner).
ifeq ($(CI),true)
WERROR   ?= 1
endif
ifeq ($(WERROR),1)
WARN     += -Werror
endif
override CFLAGS  := $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
override LDFLAGS := $(SAN) $(LDFLAGS)
LDLIBS   += $(PKG_LIBS) -lm

B        ?= build
LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ  := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC))
TEST_SRC := $(wildcard tests/c/test_*.c)
TOOL_SRC := $(wildcard tests/c/tool_*.c)
TEST_BIN := $(patsubst tests/c/%.c,$(B)/tests/%,$(TEST_SRC) $(TOOL_SRC))
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

.PHONY: all asan test test-quick test-live clean install bench demo docker-test soak
all: $(B)/kbsyncd $(TEST_BIN)

$(B)/obj/%.o: src/%.c $(wildcard src/*.h src/*.inc) | $(B)/obj
	$(CC) $(CFLAGS) -DKBSYNCD_VERSION='"$(VERSION)"' -Isrc -c -o $@ $<

$(B)/libkbsyncd.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/kbsyncd: $(B)/obj/main.o $(B)/libkbsyncd.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/c/%.c $(B)/libkbsyncd.a $(wildcard tests/c/*.h) | $(B)/tests
	$(CC) $(CFLAGS) -Isrc -Itests/c $(LDFLAGS) -o $@ $< $(B)/libkbsyncd.a $(LDLIBS)

$(B)/obj $(B)/tests:
	mkdir -p $@

# The sanitizer build: same sources, separate tree, so both can coexist.
asan:
	$(MAKE) B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all

# Every suite, then the host suites again under ASan+UBSan.  tests/run ends
# with the line "N passed, N failed".
test: all asan
	tests/run

test-quick: all
	KBSYNCD_NO_ASAN=1 tests/run

bench: all
	bench/run

# The end-to-end scenarios against a real Keboola project, when
# KBC_STORAGE_API_HOST and KBC_STORAGE_API_TOKEN are set (else: skipped).
test-live: all
	python3 tests/live/test_live.py

# Seeded churn with faults and kills for DURATION seconds (SEED replays).
DURATION ?= 600
soak: all
	tests/soak/run $(DURATION) $(SEED)

# A local emulator, sample CSVs in ./demo and the daemon: no account needed.
demo: all
	scripts/demo

# Build the image with podman and test it against the rig.
docker-test:
	tests/docker/run

install: $(B)/kbsyncd
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/kbsyncd/lua
	install -m 755 $(B)/kbsyncd $(DESTDIR)$(PREFIX)/bin/kbsyncd
	cd lua && find . -name '*.lua' -exec install -D -m 644 {} \
	  $(DESTDIR)$(PREFIX)/share/kbsyncd/lua/{} \;

clean:
	rm -rf build build-asan
