# privgate: a static binary on distroless, running as nonroot (uid 65532).
# Build: docker build -t privgate .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo) so it runs on distroless/static; -trimpath for reproducible builds.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/privgate ./cmd/privgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/privgate /privgate
USER 65532:65532
ENTRYPOINT ["/privgate"]
