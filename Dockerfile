# syntax=docker/dockerfile:1
# chatapp: one image, every role. The role is the command:
#   docker run … ghcr.io/OWNER/chatapp all          (the default)
#   docker run … ghcr.io/OWNER/chatapp front        (and auth, ws, migrate, seed, keygen DIR)

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source-only changes reuse the cached layer.
COPY Cargo.toml Cargo.lock build.rs ./
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src bench/src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && cargo build --release --locked -p chatapp || true
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked -p chatapp

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/chatapp --shell /usr/sbin/nologin chatapp \
    && install -d -o chatapp -g chatapp -m 0700 /var/lib/chatapp
COPY --from=build /src/target/release/chatapp /usr/local/bin/chatapp
COPY static /opt/chatapp/static
USER chatapp
WORKDIR /var/lib/chatapp
ENV CHATAPP__DATA_DIR=/var/lib/chatapp \
    CHATAPP__ALL__BIND=0.0.0.0:8080 \
    CHATAPP__FRONT__BIND=0.0.0.0:5000 \
    CHATAPP__AUTH__BIND=0.0.0.0:5001 \
    CHATAPP__WS__BIND=0.0.0.0:5002 \
    CHATAPP_HEALTH_PORT=8080
EXPOSE 8080 5000 5001 5002
# Set CHATAPP_HEALTH_PORT to the role's port (5000 front, 5001 auth, 5002 ws).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${CHATAPP_HEALTH_PORT}/healthz" >/dev/null || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chatapp"]
CMD ["all"]
