# Afterword: build with `docker build -t afterword .`,
# run with `docker run -p 8080:8080 -v afterword-data:/data --name afterword afterword`,
# then make a moderator: `docker exec -it afterword afterword admin create me`.
# More in docs/docker.md. The build steps are docker/build.sh's, which CI replays
# outside a container (.ci/docker-steps.sh): keep every COPY of the build stage there too.

# ---- build ----
# The Rust image has the C compiler, perl and make that the bundled SQLite, libpq and
# OpenSSL need. The binary links glibc dynamically (no musl toolchain here): the runtime
# below is the same Debian release.
FROM rust:1.95-bookworm AS builder
WORKDIR /src

# The dependencies alone first, so that a change in src/ does not rebuild them. Cargo
# reads every target the manifest declares before it builds anything: the benches' sources
# come too (small; the image builds no bench).
COPY docker/build.sh docker/build.sh
COPY Cargo.toml Cargo.lock ./
COPY benches/spam_checks.rs benches/import_render.rs ./benches/
RUN docker/build.sh deps

COPY src ./src
COPY migrations ./migrations
# Rebuilds when a migration changes (they are embedded in the binary).
COPY build.rs ./
# The browser scripts are built from embed/src and committed; the binary embeds them,
# and the admin page's templates and assets.
COPY embed/dist ./embed/dist
# The embed's strings, which the server-rendered comments share with the script.
COPY embed/src/i18n.js ./embed/src/i18n.js
COPY admin ./admin
COPY askama.toml ./
RUN docker/build.sh app

# ---- run ----
FROM debian:bookworm-slim

# ca-certificates: TLS to the SMTP server and to PostgreSQL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 afterword \
 && useradd --system --uid 10001 --gid afterword --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin afterword \
 && mkdir /data \
 && chown afterword:afterword /data

COPY --from=builder /src/bin/afterword /usr/local/bin/afterword

USER 10001:10001
WORKDIR /data
VOLUME /data

ENV AFTERWORD_LISTEN=0.0.0.0:8080 \
    AFTERWORD_DATABASE_URL=sqlite:///data/afterword.db \
    AFTERWORD_LOG_FORMAT=json

EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["/usr/local/bin/afterword", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/afterword"]
CMD ["serve"]
