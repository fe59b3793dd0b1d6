# mlvet as a container image: one binary for `mlvet serve` (API replicas) and `mlvet worker`
# (background work). See docs/deploy.md.
#
#   docker build -t mlvet:local .
#
# Build stage: the toolchain the workspace requires (rust-version 1.95).
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
# The workspace (the repository has no Cargo.lock: dependencies resolve at build time).
COPY Cargo.toml ./
COPY crates ./crates
RUN cargo build --release -p mlvet-cli --bin mlvet \
    && install -m 0755 target/release/mlvet /usr/local/bin/mlvet

# Runtime stage: Debian slim, no compiler, a non-root user owning only the data directory.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mlvet \
    && useradd --system --uid 10001 --gid mlvet --home-dir /var/lib/mlvet --create-home mlvet
COPY --from=builder /usr/local/bin/mlvet /usr/local/bin/mlvet
USER 10001:10001
# The advisory database (and, without --database, the SQLite store) lives here; share it
# between every process of one deployment (see docs/deploy.md).
ENV MLVET_DATA_DIR=/var/lib/mlvet
VOLUME ["/var/lib/mlvet"]
EXPOSE 8080
ENTRYPOINT ["mlvet"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
