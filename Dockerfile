# syntax=docker/dockerfile:1
# Build stage: compiles TypeScript and better-sqlite3's native addon.
FROM node:24-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY cli ./cli
RUN npm run build && npm prune --omit=dev

# Runtime stage: only the built code and production dependencies, as a non-root user.
FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --home-dir /var/lib/snapkeep --create-home snapkeep
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production STATE_DIR=/var/lib/snapkeep HOST=0.0.0.0 PORT=7100
USER snapkeep
VOLUME ["/var/lib/snapkeep"]
EXPOSE 7100
# --max-semi-space-size: see cli/memory-settings.ts (V8 reads it only at start-up).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=4", "/app/dist/cli/snapkeep.js"]
CMD ["serve"]
