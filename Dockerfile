# One image for every process of the cluster (auth, message, gateway, scheduler, worker) and
# for the one-shot dev-secrets job. Services run from their TypeScript sources with
# `node --import tsx <entry>`, exactly as natively: there is no build step.
#
#   docker build -t chat-cluster .
#   docker run --rm chat-cluster node --import tsx services/auth/src/main.ts   # any entry
#
# docker-compose.yml sets `command:` per service; the default CMD is the gateway.

# Debian (glibc) rather than Alpine: bcrypt's and esbuild's prebuilt binaries are glibc builds,
# so nothing is compiled and no toolchain is needed in the image.
FROM node:20-bookworm-slim

WORKDIR /app

# SCARF_ANALYTICS: swagger-ui-express pulls in @scarf/scarf, whose install script phones home.
ENV SCARF_ANALYTICS=false \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Manifests first, so the dependency layer is rebuilt only when they change. Every workspace's
# package.json must be here for `npm ci` to link it (a glob COPY would flatten the paths):
# add a line when a new workspace appears.
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY services/auth/package.json services/auth/
COPY services/gateway/package.json services/gateway/
COPY services/message/package.json services/message/
COPY services/scheduler/package.json services/scheduler/

# devDependencies are kept on purpose: tsx (the TypeScript loader every process starts with)
# is a root devDependency. --include=dev also protects against NODE_ENV=production, which
# would make npm omit them.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --include=dev --no-audit --no-fund

# Sources (see .dockerignore), owned by root: the service user can read them, not change them.
COPY . .

# Mount point of the dev-secrets volume. An empty named volume takes the owner of the image
# directory it is mounted on, so the one-shot `secrets` job (running as `node`) can write it.
RUN mkdir -p /secrets && chown node:node /secrets

ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0

# The unprivileged user of the node image (uid 1000). tsx caches compiled files in /tmp.
USER node

EXPOSE 3000 4001 4002 4003 4004

# The wrapper fills INTERNAL_API_TOKEN / ADMIN_API_TOKEN from /secrets/secrets.env when the
# environment does not set them, then execs the command (run through sh: no x-bit needed).
ENTRYPOINT ["/bin/sh", "/app/infra/docker/entrypoint.sh"]
CMD ["node", "--import", "tsx", "services/gateway/src/main.ts"]
