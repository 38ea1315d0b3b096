# syntax=docker/dockerfile:1
# The image holds Node and one file, the bundle (`npm run build`): no node_modules, nothing else to load at start.
# Build on glibc: the `node` devDependency installs a glibc Node 24 that npm scripts put first on PATH.
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=node:24-alpine

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` honours package-lock.json; `npm ci` of npm >= 11.16 rejects a lockfile whose optional platform
# packages a registry does not carry (npm/cli#9846), which jest's resolver bindings trigger.
RUN npm install --no-audit --no-fund
COPY scripts/build.ts scripts/bundle-options.ts ./scripts/
COPY src ./src
RUN npm run build

FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
# V8's compiled code for the bundle, made below by this image's own Node: a start skips most parsing and compiling
# (about 0.01 s of a start now that the bundle is 1.4 MB; bench/results/real-peers.json). Flags other than heap sizes must
# match the ones used here, or Node ignores the cache and compiles as usual.
ENV NODE_COMPILE_CACHE=/app/.compile-cache
WORKDIR /app
# The bundle is an ES module; the .mjs name says so without a package.json beside it.
COPY --from=build /app/dist/main.js ./main.mjs
# Without configuration the bundle loads, then exits 2 naming the missing settings: that start fills the cache.
RUN node --max-semi-space-size=1 --single-threaded main.mjs > /dev/null 2>&1; test $? -eq 2 && test -n "$(ls .compile-cache)"
# Numeric uid/gid of the image's `node` user, so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080
# The chart passes flags (heap cap from the memory limit) and the bundle as args; these are the defaults without it.
ENTRYPOINT ["node"]
CMD ["--max-semi-space-size=1", "--single-threaded", "main.mjs"]
