# SPDX-License-Identifier: MIT
# tattletale in a container. The build stage runs the same autotools steps
# as CI on Debian 12; the runtime stage holds only the binary, its Lua
# files and the shared libraries, and runs as the non-root user tattletale
# (uid 10001).
#
#   docker build -t tattletale .
#   docker run -v "$PWD/rules.d:/etc/tattletale/rules.d:ro" \
#       -v "$PWD/key:/run/secrets/tattletale-key:ro" tattletale
#
# The config is /etc/tattletale/tattletale.yaml (mount your own over it):
# broker host "mosquitto", the key from /run/secrets/tattletale-key and the
# rules from /etc/tattletale/rules.d. The key file must be readable by uid
# 10001. The health check runs `tattletale check`, which validates the
# config, the key and the rules but does not test the broker connection.

FROM debian:12-slim AS build
RUN apt-get update \
	&& apt-get install -y --no-install-recommends build-essential autoconf automake \
		pkg-config liblua5.4-dev libmosquitto-dev libssl-dev libyaml-dev libjansson-dev \
		libcriterion-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN autoreconf -fi \
	&& ./configure --prefix=/usr --sysconfdir=/etc \
	&& make -j"$(nproc)" \
	&& make install DESTDIR=/out

FROM debian:12-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends liblua5.4-0 libmosquitto1 libssl3 \
		libyaml-0-2 libjansson4 ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 10001 --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin tattletale \
	&& mkdir -p /etc/tattletale/rules.d
COPY --from=build /out/usr/ /usr/
COPY examples/compose/tattletale.yaml /etc/tattletale/tattletale.yaml
ENV TATTLETALE_CONFIG=/etc/tattletale/tattletale.yaml
VOLUME /etc/tattletale/rules.d
USER tattletale
WORKDIR /
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 \
	CMD ["tattletale", "check"]
ENTRYPOINT ["tattletale"]
CMD ["run"]
