#!/usr/bin/env bash
# Runs every check and test of the workspace: gofmt, go vet and go test -race
# over each module of go.work. Installs Debian's clickhouse-server first when
# it is missing (tests start their own throwaway servers from it).
set -euo pipefail
cd "$(dirname "$0")/.."

have_clickhouse() {
  command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ]
}
if ! have_clickhouse; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing clickhouse-server (Debian package)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null
  else
    echo "!! clickhouse-server is missing and cannot be installed here (need root and apt-get)" >&2
    [ "${CI:-}" = "true" ] && exit 1
  fi
fi

mods=$(go list -m -f '{{.Dir}}')

echo "== gofmt"
unformatted=$(gofmt -l $mods)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi

echo "== go vet"
for d in $mods; do (cd "$d" && go vet ./...); done

echo "== staticcheck"
for d in $mods; do (cd "$d" && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...); done

echo "== GOWORK=off builds of every service"
for d in services/*/ cmd/mlc/; do (cd "$d" && GOWORK=off go build -o /dev/null ./...); done

echo "== go test -race"
status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for d in $mods; do
  if ! (cd "$d" && go test -race -count=1 -timeout 20m ./... 2>&1) | tee -a "$out"; then
    status=1 # keep going: every module's result is worth seeing
  fi
done
passed=$(grep -c '^ok ' "$out" || true)
failed=$(grep -c '^FAIL' "$out" || true)
echo "packages: $passed passed, $failed failed"
exit $status
