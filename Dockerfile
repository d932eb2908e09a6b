# kbsyncd container image: build stage with the -dev packages, runtime stage
# with only the shared libraries, the binary and the Lua scripts.
#
#   podman build --pull=never -t kbsyncd .          (or: docker build -t kbsyncd .)
#   podman build --build-arg UID=$(id -u) --build-arg GID=$(id -g) -t kbsyncd .
#
# Mount points: /data (the watched folder), /etc/kbsyncd (config.lua and
# policy scripts), /var/log/kbsyncd (log file), /var/lib/kbsyncd (state and
# spool).  See docs/docker.md.

ARG BASE=docker.io/library/debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential pkg-config liblua5.4-dev libcurl4-openssl-dev \
        zlib1g-dev lua-cjson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the binary and its scripts are made from, so editing tests or
# docs does not invalidate the compile layer.
COPY Makefile VERSION ./
COPY src/ src/
COPY lua/ lua/
RUN make -j"$(nproc)" build/kbsyncd \
 && make install PREFIX=/usr/local DESTDIR=/out \
 && strip /out/usr/local/bin/kbsyncd

FROM ${BASE}
# The uid/gid the daemon runs as; match the owner of the bind-mounted folders
# (--build-arg UID=$(id -u) --build-arg GID=$(id -g)), or pass --user at run
# time instead.
ARG UID=10001
ARG GID=10001
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        liblua5.4-0 libcurl4 zlib1g lua-cjson ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/*.log \
 && groupadd --gid "$GID" kbsyncd \
 && useradd --uid "$UID" --gid "$GID" --no-create-home \
        --home-dir /var/lib/kbsyncd --shell /usr/sbin/nologin kbsyncd \
 && install -d -o kbsyncd -g kbsyncd /data /var/log/kbsyncd /var/lib/kbsyncd \
 && install -d /etc/kbsyncd \
 && chgrp 0 /data /var/log/kbsyncd /var/lib/kbsyncd \
 && chmod 2770 /data /var/log/kbsyncd /var/lib/kbsyncd
# The folders are owned by kbsyncd and group 0 (group-writable), so a
# different uid given with `--user UID:0` can still write into the image's
# own (unmounted) folders; bind mounts keep the host's ownership.
COPY --from=build /out/usr/local/ /usr/local/
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
USER kbsyncd
VOLUME ["/data", "/var/log/kbsyncd", "/var/lib/kbsyncd"]

# The daemon is PID 1: it does not fork, handles TERM/INT itself (finish or
# abort running loads, save state, exit 0) and HUP (reload config and scripts).
STOPSIGNAL SIGTERM
ENTRYPOINT ["kbsyncd"]
CMD ["run", "-c", "/etc/kbsyncd/config.lua"]

LABEL org.opencontainers.image.title="kbsyncd" \
      org.opencontainers.image.description="Mirrors a local folder into Keboola Storage (sub-folder to bucket, CSV to table)"
