# syntax=docker/dockerfile:1
#
# docker build --build-arg VERSION=$(git describe --tags --always) -t incidentbot .
#
# The result is a static binary on distroless: no shell, no package manager,
# CA certificates and time zone data included, running as uid 65532.

# Build on the builder's own platform and cross-compile (no emulation for
# multi-platform builds).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
ARG TARGETOS TARGETARCH
ARG VERSION=dev
# Modules and the build cache stay in cache mounts between builds, so only
# the first build downloads anything.
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/incidentbot ./cmd/incidentbot
# The volume's mount point, owned by nonroot: a new Docker volume copies this
# owner, so the database can be created without root.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/incidentbot /incidentbot
COPY --from=build --chown=65532:65532 /out/data /data
ENV INCIDENTBOT_ADDR=:8080 \
    INCIDENTBOT_DB=/data/incidentbot.db
USER 65532:65532
EXPOSE 8080
VOLUME /data
ENTRYPOINT ["/incidentbot"]
CMD ["serve"]
