# Trackbot in a container: build with the dev tools, run the compiled server as a non-root user.
# Untested on the machines this project is developed on (no container registry there); see docs/operations.md#containers.

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source at install.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY prisma ./prisma
COPY openapi ./openapi
COPY generated ./generated
COPY src ./src
COPY scripts ./scripts
# npm ci also generates the Prisma clients (postinstall); then compile and drop the dev dependencies.
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=file:/data/trackbot.db
WORKDIR /app
# The server reads the spec and the migrations from the package root at start.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/openapi ./openapi
COPY --from=build /app/prisma ./prisma
RUN mkdir /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node, not npm: SIGTERM reaches the server directly and it shuts down cleanly.
# The same allocator settings and node flags as `npm start` (docs/performance.md says why).
ENV GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/src/server.js"]
