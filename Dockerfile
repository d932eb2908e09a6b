# kbsyncd container image: a build stage with the -dev packages, and a
# runtime stage with no distribution in it (no shell, no package manager):
# the binary, exactly the shared libraries it loads, the Lua scripts, the CA
# certificates, a passwd/group entry and the folders.
#
#   podman build --pull=never -t kbsyncd .          (or: docker build -t kbsyncd .)
#   podman build --build-arg UID=$(id -u) --build-arg GID=$(id -g) -t kbsyncd .
#   docker buildx build --platform linux/amd64,linux/arm64 -t kbsyncd .
#
# Mount points: /data (the watched folder), /var/log/kbsyncd (log file),
# /var/lib/kbsyncd (state and spool); optionally /etc/kbsyncd (your own
# config.lua and policy scripts).  See docs/docker.md.

ARG BASE=docker.io/library/debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential pkg-config liblua5.4-dev libcurl4-openssl-dev \
        zlib1g-dev lua-cjson-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the binary and its scripts are made from, so editing tests or
# docs does not invalidate the compile layer.
COPY Makefile VERSION ./
COPY src/ src/
COPY lua/ lua/
# The runtime root is assembled in /rootfs.
RUN make -j"$(nproc)" build/kbsyncd \
 && make install PREFIX=/usr/local DESTDIR=/rootfs \
 && strip /rootfs/usr/local/bin/kbsyncd
# Exactly the shared objects the binary loads, found by asking the dynamic
# loader (ldd) rather than listed by hand, so a new dependency cannot be
# left out.  Each resolved library, and the loader itself, is copied to the
# path it was resolved at, whatever the architecture's multiarch folder
# (/lib/x86_64-linux-gnu, /lib/aarch64-linux-gnu) or loader name; those are
# folders the loader searches by default, so the image needs no
# ld.so.cache.  A library ldd cannot find fails the build.  Debian's
# lua5.4-cjson is a library the binary links (the Makefile's CJSON=lib), so
# it is among them; a build that made cjson a Lua module instead stops here
# rather than ship an image that cannot read JSON.
RUN set -e; \
    ldd /rootfs/usr/local/bin/kbsyncd > /tmp/ldd.txt; \
    if grep -q 'not found' /tmp/ldd.txt; then cat /tmp/ldd.txt; exit 1; fi; \
    grep -q cjson /tmp/ldd.txt || { echo "lua-cjson is not linked into kbsyncd (CJSON=module?)"; exit 1; }; \
    for lib in $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' /tmp/ldd.txt); do \
        cp -L --parents "$lib" /rootfs; \
    done; \
    mkdir -p /rootfs/etc/ssl/certs \
 && cp -L /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/
# The uid/gid the daemon runs as; match the owner of the bind-mounted folders
# (--build-arg UID=$(id -u) --build-arg GID=$(id -g)), or pass --user at run
# time instead.  Declared after the compile so changing them reuses it.
ARG UID=10001
ARG GID=10001
# The folders are owned by kbsyncd and group 0 (group-writable), so a
# different uid given with `--user UID:0` can still write into the image's
# own folders and into named volumes, which start as a copy of them.  With
# no shell in the runtime stage, passwd, group and nsswitch.conf are written
# here; nsswitch.conf makes glibc read only these files (no NSS modules).
RUN printf 'root:x:0:0:root:/root:/sbin/nologin\nkbsyncd:x:%s:%s:kbsyncd:/var/lib/kbsyncd:/sbin/nologin\n' \
        "$UID" "$GID" > /rootfs/etc/passwd \
 && printf 'root:x:0:\nkbsyncd:x:%s:\n' "$GID" > /rootfs/etc/group \
 && printf 'passwd: files\ngroup: files\nhosts: files dns\n' > /rootfs/etc/nsswitch.conf \
 && install -d -m 2770 -o "$UID" -g 0 /rootfs/data /rootfs/var/log/kbsyncd /rootfs/var/lib/kbsyncd \
 && install -d -m 755 /rootfs/etc/kbsyncd

FROM scratch
ARG UID=10001
ARG GID=10001
# COPY --from keeps the owners and modes set in the build stage.
COPY --from=build /rootfs/ /
COPY docker/config.lua /etc/kbsyncd/config.lua

# Read by glibc and GnuTLS as the process starts, so they are set here (an
# idle daemon keeps about 1.25 MB less resident with both):
# - glibc's per-thread cache of freed blocks counts them as in use, so
#   malloc_trim cannot return the pages they sit on (0.45 MB after the
#   start-up burst); the slower small malloc does not matter, the hot paths
#   work in large buffers;
# - Debian's libcurl pulls in GnuTLS (through libldap and librtmp), whose
#   constructor initialises it in every process (0.8 MB) though kbsyncd's
#   libcurl uses OpenSSL.
ENV GLIBC_TUNABLES=glibc.malloc.tcache_count=0 \
    GNUTLS_NO_IMPLICIT_INIT=1

# An arbitrary --user has no passwd entry; give it a writable HOME and a
# working directory that is not the watched folder (the daemon reads a .env
# from its working directory).
ENV HOME=/var/lib/kbsyncd
WORKDIR /var/lib/kbsyncd
# Numeric, so the engine (and Kubernetes' runAsNonRoot) sees a non-root
# user without reading /etc/passwd.
USER ${UID}:${GID}
VOLUME ["/data", "/var/log/kbsyncd", "/var/lib/kbsyncd"]

# The daemon is PID 1: it does not fork, handles TERM/INT itself (finish or
# abort running loads, save state, exit 0) and HUP (reload config and scripts).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kbsyncd"]
CMD ["run", "-c", "/etc/kbsyncd/config.lua"]

LABEL org.opencontainers.image.title="kbsyncd" \
      org.opencontainers.image.description="Mirrors a local folder into Keboola Storage (sub-folder to bucket, CSV to table)"
