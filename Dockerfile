# syntax=docker/dockerfile:1

# ---- build: compile TypeScript to dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
# No scripts yet: `prepare` builds the client package, whose sources are copied next.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build

# ---- runtime: production deps + compiled JS only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The client package is a workspace npm links; the service only takes its types, so it needs no build here.
COPY packages/client/package.json packages/client/
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Liveness only (/healthz checks no dependency). Override or disable for the worker command.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# API by default; the worker is `node dist/workers/main.js`, both in one process: `node dist/src/main.js --with-workers`.
CMD ["node", "dist/src/main.js"]
