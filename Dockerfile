# syntax=docker/dockerfile:1
#
# One image for every binary of the workspace: each function's service (configs/functions.json
# names its binary), the all-in-one `mathapi`, the traffic generator `mathapi-traffic` and the
# rest, none named here: a new crate's binary ships without an edit. docker-compose.yml picks
# the binary with `command`. The dependency layer (cargo-chef "cook") is cached apart from the
# sources, so editing code rebuilds only the workspace crates.

ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=debian:12.13-slim

FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# The recipe lists the workspace's manifests and lock file only: it changes when dependencies do.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --workspace --bins
COPY . .
# Every executable cargo leaves at the top of target/release/ is one of the workspace's binaries
# (build scripts and libraries live deeper or are not executable).
RUN cargo build --release --locked --workspace --bins \
    && mkdir -p /out \
    && find target/release -maxdepth 1 -type f -executable -exec cp {} /out/ \;

FROM ${RUNTIME_IMAGE} AS runtime
# curl serves the HEALTHCHECK only. Versions are not pinned on purpose: the Debian archive
# replaces them with security updates, which would break a pinned build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mathapi \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/mathapi --create-home mathapi
COPY --from=builder /out/ /usr/local/bin/
# The sequence's embedded store (fibonacci and mathapi serve it) lives under the working
# directory (data/).
WORKDIR /var/lib/mathapi
USER 10001:10001
# JSON log lines even under `docker run -t`: the log pipeline reads them.
ENV MATHAPI_HOST=0.0.0.0 \
    MATHAPI_PORT=8000 \
    MATHAPI_LOG_FORMAT=json
EXPOSE 8000
# Each service answers /health on its own port; compose sets MATHAPI_PORT per service.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["sh", "-c", "curl -fsS --max-time 2 -o /dev/null \"http://127.0.0.1:${MATHAPI_PORT}/health\""]
CMD ["mathapi"]
