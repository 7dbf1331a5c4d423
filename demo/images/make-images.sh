#!/bin/sh
# Makes berth's demo images from Debian packages, without Docker Hub, and imports them into berth's
# image store. Two sets:
#   base      the base images of examples/todo, made with mmdebstrap:
#               berth-demo/debian:bookworm        Debian bookworm with apt (apt-get works inside)
#               berth-demo/golang:bookworm        the same with golang-go (Go 1.19), gcc, libc6-dev
#               berth-demo/mariadb-base:bookworm  the same with mariadb-server and mariadb-client
#                                                 installed, and an empty /var/lib/mysql
#   workshop  the two images of Docker's getting-started workshop (parts 7 and 8), for demo/:
#               mysql:8.0       (also berth-demo/mariadb:10.11)  built from examples/todo/mariadb
#                               on berth-demo/mariadb-base:bookworm: MariaDB 10.11 with the
#                               official mysql image's entrypoint contract
#               node:18-alpine  (also berth-demo/node:18)        Node.js 18 with express, mysql,
#                               sqlite3 and uuid from Debian, and berth's offline yarn
#             The names are the workshop's so that its compose file runs unchanged; the images are
#             Debian, not Alpine, and the database is MariaDB, not MySQL.
#
# Usage: make-images.sh [--no-import] [base] [workshop]   (no set: both)
#   --no-import   only build (or find) the root filesystem tarballs and print their paths; this
#                 is the step that needs Debian's mirror, and the only slow one
#
# Run as root. Environment:
#   BERTH_ROOT, BERTH_RUN_ROOT  berth's state, as for berth itself
#   BERTH_BIN                   the berth binary (default: bin/berth of this checkout)
#   BERTH_DEMO_CACHE            where the rootfs tarballs are kept (default /var/cache/berth-demo);
#                               a second run with the same recipe reuses them and needs no network
#   BERTH_DEMO_MIRROR           Debian mirror (default http://deb.debian.org/debian)
#   BERTH_DEMO_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)
#
# An image already in the store from the same tarball is not imported again (its label
# sh.berth.demo.recipe names the tarball's recipe), so images built on it keep their build cache.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
berth=${BERTH_BIN:-$repo/bin/berth}
cache=${BERTH_DEMO_CACHE:-/var/cache/berth-demo}
mirror=${BERTH_DEMO_MIRROR:-http://deb.debian.org/debian}
security=${BERTH_DEMO_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm

say() { echo "make-images: $*" >&2; }

import=1 base=0 workshop=0
for arg in "$@"; do
	case "$arg" in
	--no-import) import=0 ;;
	base) base=1 ;;
	workshop) workshop=1 ;;
	*) say "unknown argument $arg (usage: make-images.sh [--no-import] [base] [workshop])"; exit 2 ;;
	esac
done
if [ "$base" -eq 0 ] && [ "$workshop" -eq 0 ]; then base=1 workshop=1; fi

if [ "$(id -u)" -ne 0 ]; then
	say "needs root (mmdebstrap makes the root filesystems as root)"
	exit 1
fi
if [ "$import" -eq 1 ] && [ ! -x "$berth" ]; then
	say "no berth binary at $berth: run make build, or set BERTH_BIN"
	exit 1
fi
mkdir -p "$cache"

# Only what is needed at run time: no manuals, docs or translations.
slim="--dpkgopt=path-exclude=/usr/share/man/* --dpkgopt=path-exclude=/usr/share/info/*
--dpkgopt=path-exclude=/usr/share/doc/* --dpkgopt=path-include=/usr/share/doc/*/copyright
--dpkgopt=path-exclude=/usr/share/locale/* --dpkgopt=path-include=/usr/share/locale/locale.alias
--aptopt=APT::Install-Recommends=false"

tmp='' beat=''
# beat_start LABEL: says every 5 s that LABEL still runs (mmdebstrap is quiet while apt downloads
# and unpacks, and an import of a large tarball takes a while), until beat_stop.
beat_start() {
	bstart=$(date +%s)
	( while sleep 5; do say "$1: still running ($(($(date +%s) - bstart)) s)"; done ) &
	beat=$!
}
beat_stop() {
	kill "$beat" 2>/dev/null || true
	beat=
}
cleanup() {
	[ -z "$beat" ] || kill "$beat" 2>/dev/null || true
	[ -z "$tmp" ] || rm -f "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# rootfs NAME VARIANT PACKAGES HOOK [FILE]: sets $tar to $cache/NAME-<key>.tar, making it with
# mmdebstrap unless it is there. The key is a hash of everything that goes into the tarball, so a
# changed recipe (or FILE, copied into /usr/local/bin) builds anew. Sets $key too.
rootfs() {
	name=$1 variant=$2 packages=$3 hook=$4 file=${5:-}
	key=$( { echo "$suite $mirror $security $variant $packages $slim $hook"; [ -z "$file" ] || cat "$file"; } | sha256sum | cut -c1-16)
	tar=$cache/$name-$key.tar
	if [ -f "$tar" ]; then
		say "$name: cached $tar ($(du -h "$tar" | cut -f1))"
		return
	fi
	if ! command -v mmdebstrap >/dev/null 2>&1; then
		say "mmdebstrap is missing: installing it (apt-get install mmdebstrap)"
		apt-get install -y -q --no-install-recommends mmdebstrap >&2
	fi
	say "$name: building $tar with mmdebstrap from $mirror (packages: ${packages:-none beyond $variant}); this takes a few minutes once"
	start=$(date +%s)
	tmp=$cache/.$name-$$.tar
	beat_start "$name: mmdebstrap"
	copy=
	[ -z "$file" ] || copy="--customize-hook=copy-in $file /usr/local/bin"
	# shellcheck disable=SC2086 # $slim is a list of options
	mmdebstrap --variant="$variant" ${packages:+--include="$packages"} $slim \
		${copy:+"$copy"} --customize-hook="$hook" \
		"$suite" "$tmp" \
		"deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main"
	beat_stop
	mv "$tmp" "$tar"
	tmp=
	# Tarballs of an older recipe go.
	for old in "$cache/$name"-*.tar; do
		[ "$old" = "$tar" ] || rm -f "$old"
	done
	say "$name: built in $(($(date +%s) - start)) s, $(du -h "$tar" | cut -f1)"
}

# import TAR KEY REF MESSAGE CHANGE...: imports TAR as REF unless REF is already that tarball.
import() {
	itar=$1 ikey=$2 ref=$3 msg=$4
	shift 4
	if "$berth" image inspect "$ref" 2>/dev/null | grep -q "\"sh.berth.demo.recipe\": *\"$ikey\""; then
		say "$ref: already imported from $(basename "$itar")"
		return
	fi
	say "$ref: importing $itar ($(du -h "$itar" | cut -f1))"
	start=$(date +%s)
	for c in "$@"; do set -- "$@" -c "$c"; shift; done
	beat_start "$ref: import"
	"$berth" image import -m "$msg" -c "LABEL sh.berth.demo.recipe=$ikey" "$@" "$itar" "$ref" >/dev/null
	beat_stop
	say "$ref: imported in $(($(date +%s) - start)) s"
}

path="ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
by="by berth's demo/images/make-images.sh"

# Debian's postinst makes a datadir; the image must ship an empty one, as the official image
# does, so that the entrypoint initialises the container's volume with the given passwords.
# shellcheck disable=SC2016 # $1 is mmdebstrap's, in the hook
emptydatadir='rm -rf "$1/var/lib/mysql" && mkdir -m 0755 "$1/var/lib/mysql" && chroot "$1" chown mysql:mysql /var/lib/mysql'
need_mariadb_base=$((base + workshop))

tars=
if [ "$base" -eq 1 ]; then
	rootfs debian apt "" true
	debian_tar=$tar debian_key=$key
	rootfs golang apt golang-go,gcc,libc6-dev true
	golang_tar=$tar golang_key=$key
	tars="$tars $debian_tar $golang_tar"
fi
if [ "$need_mariadb_base" -gt 0 ]; then
	rootfs mariadb-base apt mariadb-server,mariadb-client "$emptydatadir"
	mariadb_tar=$tar mariadb_key=$key
	tars="$tars $mariadb_tar"
fi
if [ "$workshop" -eq 1 ]; then
	# node-sqlite3 is Debian's build of sqlite3 for this nodejs; nodemon is not packaged in Debian
	# (the offline yarn runs `node --watch` for it).
	# shellcheck disable=SC2016 # $1 is mmdebstrap's, in the hook
	rootfs node essential nodejs,node-express,node-mysql,node-uuid,node-sqlite3 \
		'chmod 0755 "$1/usr/local/bin/yarn"' "$here/node/yarn"
	node_tar=$tar node_key=$key
	tars="$tars $node_tar"
fi

if [ "$import" -eq 0 ]; then
	for t in $tars; do echo "$t"; done
	exit 0
fi

if [ "$base" -eq 1 ]; then
	import "$debian_tar" "$debian_key" berth-demo/debian:bookworm "Debian $suite with apt, $by" \
		"$path" 'CMD ["bash"]'
	import "$golang_tar" "$golang_key" berth-demo/golang:bookworm "Go 1.19 from Debian $suite, $by" \
		"$path" "ENV GOLANG_VERSION=1.19" "ENV GOPATH=/go" "WORKDIR /go" 'CMD ["bash"]'
fi
if [ "$need_mariadb_base" -gt 0 ]; then
	import "$mariadb_tar" "$mariadb_key" berth-demo/mariadb-base:bookworm \
		"MariaDB 10.11 from Debian $suite, datadir empty, $by" \
		"$path" "ENV MARIADB_MAJOR=10.11" 'CMD ["bash"]'
fi
if [ "$workshop" -eq 1 ]; then
	# The workshop's database is the todo example's: one Dockerfile and one entrypoint for both.
	say "mysql:8.0: building $repo/examples/todo/mariadb on berth-demo/mariadb-base:bookworm"
	"$berth" image build --progress plain -t mysql:8.0 -t berth-demo/mariadb:10.11 "$repo/examples/todo/mariadb" >&2
	import "$node_tar" "$node_key" node:18-alpine "Node.js 18 from Debian $suite, $by" \
		"$path" "ENV NODE_VERSION=18" "ENV YARN_VERSION=berth-offline" 'CMD ["node"]'
	"$berth" image tag node:18-alpine berth-demo/node:18
	say "imported mysql:8.0 (berth-demo/mariadb:10.11) and node:18-alpine (berth-demo/node:18)"
fi
if [ "$base" -eq 1 ]; then
	say "base images ready: berth-demo/debian:bookworm berth-demo/golang:bookworm berth-demo/mariadb-base:bookworm"
fi
