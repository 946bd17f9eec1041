# casebook as a container image, for `casebook agent` in a cluster
# (deploy/casebook-agent.yaml). A static Go binary on distroless, run as
# the distroless "nonroot" user (65532).
#
#   docker build -t casebook:latest --build-arg VERSION=$(git describe --tags --always) .

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" -o /out/casebook ./cmd/casebook

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/casebook /casebook
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/casebook"]
CMD ["agent"]
