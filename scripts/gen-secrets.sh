#!/usr/bin/env bash
# Generates what a deployment of ml-connector needs besides the code, into
# deploy/secrets/ (or the directory given as the first argument):
#
#   tls/ca.pem, tls/ca-key.pem        a private CA for NATS (keep ca-key.pem offline)
#   tls/server.pem, server-key.pem    the NATS server certificate, for clients and routes
#   nkeys/<user>.nk                   the NKey seed of each user of deploy/nats/permissions.json
#   nats.env                          NATS_NKEY_<USER>=<public key>, the servers' environment
#   master.key                        MLC_MASTER_KEY (base64 of 32 random bytes)
#   clickhouse-password               the password of ClickHouse's mlc user (audit-mirror, mlc)
#   clickhouse-server.env             CLICKHOUSE_DB/USER/PASSWORD for the ClickHouse container
#   mlc-clickhouse.env                MLC_CLICKHOUSE_DSN for audit-mirror and mlc (docker-compose.yml)
#
# It only creates what is missing: run it again after adding a service to
# permissions.json and only the new user gets a key; delete a file and run
# it to replace just that (e.g. rm tls/server*.pem to reissue the
# certificate). Nothing secret is printed.
#
# The certificate names the compose nodes (nats-1..3) and the NATS Helm
# chart's services in namespace nats (MLC_NATS_NAMESPACE to change it).
# Extra names (a load balancer): MLC_NATS_SANS="DNS:nats.example.com,IP:10.0.0.5".
#
# Permissions: the directory is 0700, so no other user of the host gets
# in; the files the containers read are 0644, because the services run as
# the image's non-root user and a bind-mounted 0600 file of yours is not
# theirs. Only ca-key.pem, which no container needs, stays 0600.
#
# Needs openssl, and either the nk tool (github.com/nats-io/nkeys/nk) on
# PATH or Go to run it.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-deploy/secrets}
perms=deploy/nats/permissions.json
nats_ns=${MLC_NATS_NAMESPACE:-nats} # where the NATS Helm chart runs (deploy/k8s/nats)
umask 077
mkdir -p "$out/tls" "$out/nkeys"
chmod 0700 "$out"

command -v openssl >/dev/null || { echo "gen-secrets: openssl is required" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nk_bin=$(type -P nk || true)
if [ -z "$nk_bin" ]; then
  GOBIN=$tmp go install github.com/nats-io/nkeys/nk@v0.4.16
  nk_bin=$tmp/nk
fi
nk() { "$nk_bin" "$@"; }

# --- TLS: a CA and one certificate every node presents, to clients and to
# the other nodes (mutual TLS on routes, so both server and client auth).
tls=$out/tls
if [ ! -f "$tls/ca.pem" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$tls/ca-key.pem"
  openssl req -x509 -new -key "$tls/ca-key.pem" -sha256 -days 3650 -subj "/CN=ml-connector NATS CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$tls/ca.pem" 2>/dev/null
  rm -f "$tls/server.pem" "$tls/server-key.pem" # a new CA needs a new certificate
  echo "created $tls/ca.pem (keep $tls/ca-key.pem out of every deployment)"
fi
if [ ! -f "$tls/server.pem" ]; then
  sans="DNS:localhost,IP:127.0.0.1,DNS:nats-1,DNS:nats-2,DNS:nats-3"
  # The NATS Helm chart's pods (nats-0..2) behind the nats and nats-headless services.
  sans="$sans,DNS:nats,DNS:nats.$nats_ns,DNS:nats.$nats_ns.svc,DNS:nats.$nats_ns.svc.cluster.local"
  sans="$sans,DNS:*.nats-headless,DNS:*.nats-headless.$nats_ns,DNS:*.nats-headless.$nats_ns.svc,DNS:*.nats-headless.$nats_ns.svc.cluster.local"
  [ -n "${MLC_NATS_SANS:-}" ] && sans="$sans,$MLC_NATS_SANS"
  ext=$tmp/server.ext
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=$sans" >"$ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$tls/server-key.pem"
  openssl req -new -key "$tls/server-key.pem" -subj "/CN=nats" -out "$tls/server.csr" 2>/dev/null
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
    -CAserial "$tls/ca.srl" -days 825 -sha256 -extfile "$ext" -out "$tls/server.pem" 2>/dev/null
  rm -f "$tls/server.csr"
  echo "created $tls/server.pem for $sans"
fi

# --- NKeys: one user per service plus mlc (operator) and sys (server admin).
users=$(grep -o '"name": *"[a-z0-9-]*"' "$perms" | sed 's/.*"\([a-z0-9-]*\)"$/\1/')
for u in $users; do
  f=$out/nkeys/$u.nk
  if [ ! -f "$f" ]; then
    nk -gen user >"$f"
    echo "created $f"
  fi
done
env_file=$out/nats.env
: >"$env_file.tmp"
for u in $users; do
  var=NATS_NKEY_$(echo "$u" | tr 'a-z-' 'A-Z_')
  echo "$var=$(nk -inkey "$out/nkeys/$u.nk" -pubout)" >>"$env_file.tmp"
done
mv "$env_file.tmp" "$env_file"
chmod 0644 "$env_file" # public keys only

# --- The master key and the ClickHouse password.
if [ ! -f "$out/master.key" ]; then
  openssl rand -base64 32 >"$out/master.key"
  echo "created $out/master.key"
fi
if [ ! -f "$out/clickhouse-password" ]; then
  openssl rand -hex 24 >"$out/clickhouse-password"
  echo "created $out/clickhouse-password"
fi
pw=$(cat "$out/clickhouse-password")
printf 'CLICKHOUSE_DB=mlc\nCLICKHOUSE_USER=mlc\nCLICKHOUSE_PASSWORD=%s\n' "$pw" >"$out/clickhouse-server.env"
printf 'MLC_CLICKHOUSE_DSN=clickhouse://mlc:%s@clickhouse:9000/mlc\n' "$pw" >"$out/mlc-clickhouse.env"

chmod 0600 "$tls/ca-key.pem"
chmod 0644 "$tls/ca.pem" "$tls/server.pem" "$tls/server-key.pem" "$out"/nkeys/*.nk "$out/master.key" "$out/clickhouse-password" \
  "$out/clickhouse-server.env" "$out/mlc-clickhouse.env"
chmod 0755 "$tls" "$out/nkeys"
echo "secrets are in $out"
