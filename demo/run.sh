#!/bin/bash
# `make demo`: the workshop's app with MySQL (examples/todo) brought up by berth, from nothing.
#   1. builds berth (make build)
#   2. makes the base images from Debian's packages unless they are in berth's store already
#      (demo/images/make-images.sh base; the root filesystems are cached in BERTH_DEMO_CACHE,
#      default /var/cache/berth-demo, so only the first run on a machine downloads anything)
#   3. berth up -d --wait --build: builds the app and MariaDB images, starts both
#   4. adds two todos through the published port and lists them
#   5. berth ps, and what to try next
# A second run reuses everything and takes seconds; the todos of earlier runs are still there (the
# database is in a named volume). `demo/run.sh clean` (make demo DEMO_ARGS=clean) takes the
# project down and removes its volume.
#
# Run as root. berth uses its default state (/var/lib/berth, /run/berth) unless BERTH_ROOT and
# BERTH_RUN_ROOT say otherwise, and the host's network: the app is published on
# 127.0.0.1:${TODO_PORT:-3000}.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
berth=$repo/bin/berth
files=(-f "$repo/examples/todo/compose.yaml")
port=${TODO_PORT:-3000}
export TODO_PORT=$port
begin=$SECONDS

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# Commands shown to the user, relative to the checkout when run from it.
rel() { local p=$1; [[ $PWD == "$repo" ]] && p=${p#"$repo"/}; printf '%s' "$p"; }
show_berth="$(rel "$berth") -f $(rel "$repo/examples/todo/compose.yaml")"

# beat LABEL CMD...: runs CMD; when the output is not a terminal (where berth draws live
# progress), says every 10 s that it still works, so that a log never sits silent for long.
beat() {
	local label=$1
	shift
	if [[ -t 1 ]]; then
		"$@"
		return
	fi
	local start=$SECONDS
	(while sleep 10; do printf 'demo: %s: still working (%d s)\n' "$label" $((SECONDS - start)); done) &
	local pid=$! rc=0
	"$@" || rc=$?
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return "$rc"
}

[[ $(id -u) -eq 0 ]] || fail "needs root: berth creates containers, networks and mounts (run: sudo make demo)"

case ${1:-} in
"") ;;
clean)
	[[ -x $berth ]] || fail "no berth binary at $berth: nothing to clean (make build first)"
	say "berth down -v: removing the demo's containers, network and volume"
	"$berth" "${files[@]}" down -v
	exit 0
	;;
*) fail "unknown argument $1 (only: clean)" ;;
esac

say "Building berth (make build)"
command -v go >/dev/null || fail "needs Go to build berth (see the README's requirements)"
make -C "$repo" --no-print-directory build

say "Base images (berth-demo/debian, golang, mariadb-base) from Debian's packages"
BERTH_BIN=$berth "$repo/demo/images/make-images.sh" base

say "berth up -d --wait --build  (examples/todo: app + MariaDB)"
started=$SECONDS
beat "up --build" "$berth" "${files[@]}" up -d --wait --build
echo "up took $((SECONDS - started)) s"

# http METHOD PATH [JSON]: one request to the app; prints the answer's body. curl where there is
# one, else wget (GNU or busybox), else bash's /dev/tcp.
http() {
	local method=$1 path=$2 body=${3:-} url="http://127.0.0.1:$port$2"
	if command -v curl >/dev/null; then
		if [[ -n $body ]]; then
			curl -fsS -X "$method" -H 'Content-Type: application/json' -d "$body" "$url"
		else
			curl -fsS -X "$method" "$url"
		fi
	elif command -v wget >/dev/null && [[ $method == GET || $method == POST ]]; then
		if [[ -n $body ]]; then
			wget -qO- --header='Content-Type: application/json' --post-data="$body" "$url"
		else
			wget -qO- "$url"
		fi
	else
		local resp len
		len=$(LC_ALL=C; printf '%s' "${#body}")
		exec 3<>"/dev/tcp/127.0.0.1/$port"
		printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
			"$method" "$path" "$len" "$body" >&3
		resp=$(cat <&3)
		exec 3<&-
		[[ $resp == "HTTP/1."?" 200"* ]] || { printf '%s\n' "$resp" >&2; return 1; }
		printf '%s' "${resp#*$'\r\n\r\n'}"
	fi
}

say "Adding two todos through http://127.0.0.1:$port"
for name in "Learn berth" "Run the workshop's app with MySQL"; do
	printf 'POST /items {"name":"%s"} -> ' "$name"
	out=$(http POST /items "{\"name\":\"$name\"}") || fail "POST /items failed: see $show_berth logs app"
	printf '%s\n' "$out"
done

say "Listing them: GET /items"
items=$(http GET /items) || fail "GET /items failed: see $show_berth logs app"
# One item a line, without needing jq.
printf '%s\n' "$items" | sed -e 's/^\[//' -e 's/\]$//' -e 's/},{/}\n{/g'
count=$(printf '%s' "$items" | grep -o '"id"' | wc -l)
echo "$count items (earlier runs' items are kept in the volume todo_todo-mysql-data)"

say "berth ps"
"$berth" "${files[@]}" ps

say "Done in $((SECONDS - begin)) s. Try next:"
cat <<EOF
  Open http://127.0.0.1:$port in a browser on this host.
  The app's log (Ctrl-C ends it):
    $show_berth logs -f app
  The todos in the database, with the mariadb client in the db container (leave out -e ... for a prompt):
    $show_berth exec db sh -c 'mariadb -uroot -p"\$(cat /run/secrets/db_root_password)" todos -e "select * from todo_items"'
  The dev loop: the app runs from examples/todo's source; edit a .go file there, then restart app:
    $show_berth -f $(rel "$repo/examples/todo/compose.dev.yaml") up -d --wait --build
    $show_berth -f $(rel "$repo/examples/todo/compose.dev.yaml") restart app
  Stop and remove the containers and the network; the todos stay in the volume:
    $show_berth down
  ... and remove the volume too (or: make demo DEMO_ARGS=clean):
    $show_berth down -v
  Run make demo again: it takes seconds, and the todos are still there.
EOF
