# caloria_exporter and the Caloria backup job, on Debian 12 (what the build and the
# tests run on).
#
#   docker build -t caloria-exporter .                  # the exporter (the last stage)
#   docker build --target backup -t caloria-backup .    # the daily backup job
#
# docker-compose.yml builds both. Stages:
#   build    Debian's -dev packages (scripts/install-deps), cmake, the exporter and
#            caloria_backup_tool binaries
#   runtime  runtime libraries only, and the non-root user `caloria` (uid 10001) that
#            owns /var/backups/caloria
#   backup   runtime + pg_dump 15, gzip, sqlite3, scripts/caloria-backup (and
#            caloria-restore-test, run by hand or a timer: docs/restore.md) and beside it
#            caloria_backup_tool (the exporter's own code, which the script asks where
#            the database is and whether a backup is complete), run every day by
#            deploy/bin/caloria-backup-daily
#   exporter runtime + the binary; HEALTHCHECK on /health
# The backup job and the exporter run as the same user: caloria-backup writes its files
# with umask 077, and the exporter must read them to verify them.

ARG DEBIAN_IMAGE=debian:12-slim

# ---- build ---------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN bash scripts/install-deps && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY cmake/ cmake/
# The source folders, in the order data flows (docs/architecture.md).
COPY core/ core/
COPY config/ config/
COPY collectors/ collectors/
COPY poll/ poll/
COPY render/ render/
COPY http/ http/
COPY cmd/ cmd/
# The image has no .git (see .dockerignore): pass the revision in, e.g.
#   docker build --build-arg CALORIA_REVISION=$(git rev-parse --short=12 HEAD) .
# else build_info's revision reads "unknown".
ARG CALORIA_REVISION=
# A unity build (each library compiled as a few large files) halves the compile's CPU
# time (measured: 2m53 against 5m37); the tests' own builds are not unity builds, so a
# file that compiles only beside another is still caught there.
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCALORIA_BUILD_TESTS=OFF \
      -DCMAKE_UNITY_BUILD=ON -DCALORIA_REVISION="${CALORIA_REVISION}" \
 && cmake --build build -j"$(nproc)" \
 && strip build/caloria_exporter build/caloria_backup_tool \
 && build/caloria_exporter --version \
 && build/caloria_backup_tool --version

# ---- runtime -------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libprometheus-cpp-core1.0 libpq5 libsqlite3-0 zlib1g libcurl4 libssl3 libyaml-cpp0.7 libcrypt1 \
      ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 caloria \
 && useradd --system --uid 10001 --gid caloria --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin caloria \
 && install -d -o caloria -g caloria -m 0750 /var/backups/caloria

# ---- backup --------------------------------------------------------------------------
FROM runtime AS backup
# postgresql-client-15 matches the postgres:15 service (pg_dump refuses newer servers).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-client-15 gzip sqlite3 \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/caloria-backup /usr/local/bin/caloria-backup
COPY scripts/caloria-restore-test /usr/local/bin/caloria-restore-test
COPY scripts/lib/caloria-tool.bash /usr/local/lib/caloria/caloria-tool.bash
COPY --from=build /src/build/caloria_backup_tool /usr/local/bin/caloria_backup_tool
COPY deploy/bin/caloria-backup-daily /usr/local/bin/caloria-backup-daily
RUN chmod 0755 /usr/local/bin/caloria-backup /usr/local/bin/caloria-restore-test \
      /usr/local/bin/caloria-backup-daily \
 && chmod 0644 /usr/local/lib/caloria/caloria-tool.bash \
 && /usr/local/bin/caloria_backup_tool --version
USER caloria:caloria
ENV BACKUP_DIR=/var/backups/caloria \
    BACKUP_LOG=/var/backups/caloria/caloria-backup.log \
    BACKUP_RETENTION_DAYS=7 \
    BACKUP_AT=02:00
HEALTHCHECK --interval=1m --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/caloria-backup-daily", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/caloria-backup-daily"]

# ---- exporter (default target) -------------------------------------------------------
FROM runtime AS exporter
COPY --from=build /src/build/caloria_exporter /usr/local/bin/caloria_exporter
COPY deploy/bin/caloria-exporter-healthcheck /usr/local/bin/caloria-exporter-healthcheck
RUN chmod 0755 /usr/local/bin/caloria-exporter-healthcheck \
 && /usr/local/bin/caloria_exporter --version
USER caloria:caloria
EXPOSE 9841
# The runtime image has no curl: the check speaks HTTP through bash's /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/caloria-exporter-healthcheck"]
ENTRYPOINT ["/usr/local/bin/caloria_exporter"]
