# Afterword: build with `docker build -t afterword .`,
# run with `docker run -p 8080:8080 -v afterword-data:/data --name afterword afterword`,
# then make a moderator: `docker exec -it afterword afterword admin create me`.

# ---- build ----
# rust:1-bookworm has the C compiler, perl and make that the bundled SQLite,
# libpq and OpenSSL need.
FROM rust:1-bookworm AS builder
WORKDIR /src

# Build the dependencies alone first, so that a change in src/ does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src

COPY src ./src
COPY migrations ./migrations
# The browser scripts are built from embed/src and committed; the binary embeds them,
# and the admin page's templates and assets.
COPY embed/dist ./embed/dist
COPY admin ./admin
COPY askama.toml ./
# Make sure cargo sees the real sources as newer than the placeholders above.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked

# ---- run ----
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 afterword \
 && useradd --system --uid 10001 --gid afterword --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin afterword \
 && mkdir /data \
 && chown afterword:afterword /data

COPY --from=builder /src/target/release/afterword /usr/local/bin/afterword

USER afterword
WORKDIR /data
VOLUME /data

ENV AFTERWORD_LISTEN=0.0.0.0:8080 \
    AFTERWORD_DATABASE_URL=sqlite:///data/afterword.db

EXPOSE 8080

# No curl in the image: bash talks HTTP over /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && grep -q "200 OK" <&3' || exit 1

ENTRYPOINT ["/usr/local/bin/afterword"]
CMD ["serve"]
