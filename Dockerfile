# syntax=docker/dockerfile:1
# Build on glibc: the `node` devDependency installs a glibc Node 24 that npm scripts put first on PATH.
ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=node:24-alpine

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` honours package-lock.json; `npm ci` of npm >= 11.16 rejects a lockfile whose optional platform
# packages a registry does not carry (npm/cli#9846), which jest's resolver bindings trigger.
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime dependencies only, installed on the runtime's own libc.
FROM ${RUNTIME_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No runtime dependency has an install script; --ignore-scripts keeps it that way.
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Its "type": "module" makes Node load dist/*.js as ES modules.
COPY package.json ./
# Numeric uid/gid of the image's `node` user, so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "dist/main.js"]
