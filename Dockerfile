# syntax=docker/dockerfile:1
# The image holds Node and one file, the bundle (`npm run build`): no node_modules, nothing else to load at start.
#
# Bases, both glibc, as the Node the tests run (the `node` devDependency is the glibc build of nodejs.org):
# - build: node:24-bookworm-slim (Node, npm and a shell for `npm install`).
# - runtime: distroless Node 24 on Debian 12: glibc, only Node and the libraries it needs (no shell, package manager
#   or npm), a nonroot user, rebuilt by Google on Debian security updates and Node releases. node:24-alpine (the
#   former base) runs Node on musl, a build the Node project lists as experimental, and carries a shell and apk.
# Pin them for reproducible builds by digest, from the registry you pull from, e.g.
#   docker build --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:<digest> .
# (`docker buildx imagetools inspect IMAGE` or `crane digest IMAGE` prints the digest).
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` honours package-lock.json; `npm ci` of npm >= 11.16 rejects a lockfile whose optional platform
# packages a registry does not carry (npm/cli#9846), which jest's resolver bindings trigger.
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts scripts/bundle-options.ts scripts/fill-compile-cache.ts ./scripts/
COPY src ./src
# The runtime user fills the compile cache, so it needs a directory of its own (made here: the runtime has no shell).
RUN npm run build && mkdir dist/compile-cache

FROM ${RUNTIME_IMAGE}
ARG VERSION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="thanos-store-discovery" \
      org.opencontainers.image.description="Keeps a Thanos Query store list equal to the -grpc records of Route53 private zones" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
# distroless keeps Node in /nodejs/bin, the node:24 images in /usr/local/bin.
ENV PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV NODE_ENV=production
WORKDIR /app
# The bundle is an ES module; the .mjs name says so without a package.json beside it.
COPY --from=build /app/dist/main.js ./main.mjs
COPY --from=build --chown=1000:1000 /app/dist/compile-cache ./.compile-cache
# Numeric uid/gid, as the chart's runAsUser (1000), so Kubernetes can verify runAsNonRoot and the cache made below
# is the one the pod's Node looks for.
USER 1000:1000
# Made by this image's Node as the runtime user, with the flags of CMD and the chart (node.flags); the build fails
# unless a second start is shown to use it.
RUN --mount=type=bind,from=build,source=/app/scripts,target=/tmp/scripts \
    ["node", "/tmp/scripts/fill-compile-cache.ts", "/app/.compile-cache", "main.mjs", "--max-semi-space-size=1", "--single-threaded"]
# V8's compiled code for the bundle: a start skips most parsing and compiling of it. Node reads it only when the
# Node version, the flags that change compiled code (heap sizes do not) and the uid all match the ones that made it.
ENV NODE_COMPILE_CACHE=/app/.compile-cache
EXPOSE 8080
# The chart passes flags (heap cap from the memory limit) and the bundle as args; these are the defaults without it.
ENTRYPOINT ["node"]
CMD ["--max-semi-space-size=1", "--single-threaded", "main.mjs"]
