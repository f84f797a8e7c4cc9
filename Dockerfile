# syntax=docker/dockerfile:1
# Multi-stage build of the psa-bridge daemon.
#   docker build -t psa-bridge .
#   docker run -v psa-bridge-data:/var/lib/psa-bridge -v $PWD/config:/etc/psa-bridge:ro \
#     -p 8080:8080 psa-bridge run --config /etc/psa-bridge/psa-bridge.toml
# In the config, set daemon.listen = "0.0.0.0:8080" (webhooks) and
# daemon.store_path = "/var/lib/psa-bridge/store". The admin API
# (daemon.admin_listen, default 127.0.0.1:9180) stays inside the container
# unless you bind it elsewhere and publish it on a private network.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin psa-bridge

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/psa-bridge --shell /usr/sbin/nologin psa-bridge \
 && mkdir -p /var/lib/psa-bridge /etc/psa-bridge \
 && chown psa-bridge:psa-bridge /var/lib/psa-bridge
COPY --from=build /src/target/release/psa-bridge /usr/local/bin/psa-bridge
COPY --from=build /src/psa-bridge.example.toml /etc/psa-bridge/psa-bridge.example.toml
COPY --from=build /src/mappings /etc/psa-bridge/mappings
USER psa-bridge
WORKDIR /var/lib/psa-bridge
VOLUME ["/var/lib/psa-bridge"]
EXPOSE 8080
# Asks the admin listener's /healthz (no curl in the image): exit 0 healthy,
# 1 not. `psa-bridge healthcheck --ready` asks /readyz (vendors reachable).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/psa-bridge", "healthcheck", "--config", "/etc/psa-bridge/psa-bridge.toml"]
# The daemon drains for up to daemon.shutdown_timeout_secs (default 30 s)
# after SIGTERM: stop it with `docker stop -t 40` (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/psa-bridge"]
CMD ["run", "--config", "/etc/psa-bridge/psa-bridge.toml"]
