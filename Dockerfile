# labdeck: multi-stage image. `npm run build` compiles the client (vite) and the server (esbuild
# bundle of server/, migrations/ and the shared contract into dist/server); the runtime runs that
# JavaScript with plain node: no TypeScript loader, no sources, no dev dependencies.
# Build:  docker build -t labdeck .
# Run:    docker run -p 8080:8080 -v labdeck-data:/data -e SESSION_SECRET=... \
#           -e LABDECK_CONFIG=/config/labdeck.json -v ./labdeck.json:/config/labdeck.json:ro labdeck

# 1. Build the client and the server with every dependency.
FROM node:22-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# 2. A clean install of the production dependencies only (compilers only as a fallback for
#    better-sqlite3 when no prebuilt binary is available).
FROM node:22-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. The runtime: no compilers, no dev dependencies, not root.
FROM node:22-slim
# MALLOC_MMAP_THRESHOLD_: glibc otherwise raises its mmap threshold after the first scrypt hash
# (16 MiB) and keeps every later one's buffer in a thread arena: 64 MiB of RSS held for good after
# a few sign-ins (bench/RESULTS.md, "Memory"). Fixed at glibc's default, freed buffers go back.
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=131072 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=/data/labdeck.db
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=build /app/dist/client ./dist/client
COPY --from=build /app/dist/server ./dist/server
RUN mkdir -p /data && chown node:node /data \
 && printf '#!/bin/sh\nexec node /app/dist/server/cli/main.js "$@"\n' > /usr/local/bin/labdeck \
 && chmod 0755 /usr/local/bin/labdeck
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The V8 heap sized for labdeck, as `npm start` runs it (bench/RESULTS.md, "Lean production"): a
# 4 MB young generation (default 16 MB: 24 MB more RSS, the same GC time per request) and an old
# space limit that makes V8 collect at a few times the live heap instead of letting garbage grow
# towards gigabytes; 512 MB is several times the live heap at 20,000 guests.
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=512", "dist/server/main.js"]
