# The demo service: docker compose up (see docker-compose.yml), or
#   docker build -t fastify-redis-hash-session-demo . && docker run -p 8080:8080 -e REDIS_URL=redis://host:6379 fastify-redis-hash-session-demo

# --- build: all dependencies, compile with the project's own build script -------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY demo/package.json demo/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY plugin plugin
COPY demo demo
RUN npm run build

# --- runtime: production dependencies only, compiled code, static files, not root ----------------
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
COPY demo/package.json demo/package.json
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/plugin dist/plugin
COPY --from=build /app/dist/demo dist/demo
COPY demo/public demo/public
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/demo/server.js"]
