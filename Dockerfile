# spanmeter container image.
#
#   docker build -t spanmeter .
#   docker run -p 127.0.0.1:4318:4318 -p 127.0.0.1:4317:4317 -p 127.0.0.1:8888:8888 -v spanmeter-data:/data --env-file .env spanmeter
#
# Configuration: the image runs /etc/spanmeter/pipeline.yaml, which is a copy of the embedded
# default (it reads SPANMETER_* and the Amberflo callback's AFLO_* variables, so env alone is
# enough). Mount your own file (or a ConfigMap directory) at /etc/spanmeter to replace it.
# Durable state (write-ahead log under /data/wal, exporter spools under /data/exporters) and the
# file exporter's output (/data/out) live on the /data volume: keep it across restarts.
# test/deploy.test.ts runs this file's exact ENTRYPOINT/CMD and ENV outside Docker.

ARG NODE_IMAGE=node:24-slim

# ---- build: compile TypeScript with the dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# npm run build compiles tsconfig.build.json: the sources without the tests, bench and test data.
COPY tsconfig.json tsconfig.build.json pipeline.yaml ./
COPY src ./src
COPY receivers ./receivers
COPY processors ./processors
COPY exporters ./exporters
COPY integrations ./integrations
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist /app/dist
COPY pipeline.yaml /app/pipeline.yaml
COPY pipeline.yaml /etc/spanmeter/pipeline.yaml

# The node image ships an unprivileged "node" user (uid 1000); /data must be writable by it.
RUN mkdir -p /data/out && chown -R node:node /data
VOLUME ["/data"]

# malloc hands freed memory back to the system (large request bodies are mapped and unmapped,
# free space is trimmed), so RSS returns to its idle level after a burst (docs/security.md).
ENV MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=65536 \
    MALLOC_TRIM_THRESHOLD_=131072

# Listen on all interfaces inside the container; everything else keeps the defaults of
# pipeline.yaml and can be overridden with -e / env_file / a Kubernetes Secret. Set
# SPANMETER_OTLP_TOKEN (the bearer token LiteLLM must send) whenever the OTLP ports are reachable
# from other hosts; without it the receiver logs a warning at start (docs/security.md).
ENV SPANMETER_OTLP_HTTP_ENDPOINT=0.0.0.0:4318 \
    SPANMETER_OTLP_GRPC_ENDPOINT=0.0.0.0:4317 \
    SPANMETER_METRICS_ADDRESS=0.0.0.0:8888 \
    SPANMETER_DATA_DIR=/data \
    SPANMETER_OUT_DIR=/data/out

EXPOSE 4317 4318 8888
USER node

# Ready = every component started (no curl in slim images: use node's fetch). Follows
# SPANMETER_METRICS_ADDRESS when it is overridden.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const a=(process.env.SPANMETER_METRICS_ADDRESS||'127.0.0.1:8888').replace(/^(0\\.0\\.0\\.0|\\[::\\]|):/,'127.0.0.1:');fetch('http://'+a+'/health/ready').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]

# SIGTERM: stop accepting, finish in-flight requests, cut open batches, flush within
# service.shutdown_timeout (default 30s; give the container a longer stop timeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
CMD ["run", "--config", "/etc/spanmeter/pipeline.yaml"]
