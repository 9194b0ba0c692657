# syntax=docker/dockerfile:1
#
# offpush image: one static binary on distroless, running as a non-root user.
#
#   docker build -t offpush:dev .
#   docker run --rm offpush:dev --help
#
# The same image runs every verb: the default command is the worker (`offpush run`), and
# docker-compose.yml also runs it as the APNs simulator (`offpush apns-sim`).

# ---- build ---------------------------------------------------------------------------------
# $BUILDPLATFORM: build natively and cross-compile (no CGO), so a multi-arch build
# (docker buildx build --platform linux/amd64,linux/arm64) needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src

# Dependencies first: this layer is reused until go.mod or go.sum change. The cache mounts
# keep the module and build caches between builds without putting them in any layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /offpush ./cmd/offpush

# An empty directory for the final image (which has no shell to mkdir). A Docker named volume
# mounted on a directory of the image starts with that directory's owner, so owning /shared as
# the nonroot user lets `offpush apns-sim` write its CA there in docker-compose.yml.
RUN mkdir /shared

# ---- run -----------------------------------------------------------------------------------
# static-debian12 has CA certificates (to trust api.push.apple.com), tzdata and /etc/passwd
# with the nonroot user, and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /offpush /offpush
COPY --from=build --chown=65532:65532 /shared /shared
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 65532:65532
# 8080: state API (api.addr); 9090: /metrics, /healthz, /readyz (ops.addr).
EXPOSE 8080 9090
ENTRYPOINT ["/offpush"]
CMD ["run", "--config", "/etc/offpush/config.yaml"]
