#!/bin/sh
# Builds the two images of Docker's getting-started workshop (parts 7 and 8) from Debian packages,
# without Docker Hub, and imports them into berth's image store:
#   mysql:8.0       (also berth-demo/mariadb:10.11)  MariaDB 10.11 with an entrypoint that sets up
#                                                    the datadir as the official mysql image does
#   node:18-alpine  (also berth-demo/node:18)        Node.js 18 with express, mysql, sqlite3 and
#                                                    uuid from Debian, and berth's offline yarn
# The names are the workshop's so that its compose file runs unchanged; the images are Debian,
# not Alpine, and the database is MariaDB, not MySQL.
#
# Run as root. Environment:
#   BERTH_ROOT, BERTH_RUN_ROOT  berth's state, as for berth itself
#   BERTH_BIN                   the berth binary (default: bin/berth of this checkout)
#   BERTH_DEMO_CACHE            where the rootfs tarballs are kept (default ~/.cache/berth-demo);
#                               a second run with the same recipe reuses them and needs no network
#   BERTH_DEMO_MIRROR           Debian mirror (default http://deb.debian.org/debian)
#   BERTH_DEMO_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)
# Options:
#   --no-import                 only build (or find) the tarballs; print their paths
set -eu

here=$(cd "$(dirname "$0")" && pwd)
berth=${BERTH_BIN:-$here/../../bin/berth}
cache=${BERTH_DEMO_CACHE:-${HOME:-/root}/.cache/berth-demo}
mirror=${BERTH_DEMO_MIRROR:-http://deb.debian.org/debian}
security=${BERTH_DEMO_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm

import=1
case "${1:-}" in
--no-import) import=0 ;;
"") ;;
*) echo "make-images.sh: unknown option $1 (only --no-import)" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "make-images.sh: needs root (mmdebstrap makes the root filesystems as root)" >&2
	exit 1
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
	echo "make-images.sh: mmdebstrap is missing: installing it (apt-get install mmdebstrap)" >&2
	apt-get install -y -qq --no-install-recommends mmdebstrap >&2
fi
if [ "$import" -eq 1 ] && [ ! -x "$berth" ]; then
	echo "make-images.sh: no berth binary at $berth: run make build, or set BERTH_BIN" >&2
	exit 1
fi
mkdir -p "$cache"

# Only what is needed at run time: no manuals, docs or translations.
slim="--dpkgopt=path-exclude=/usr/share/man/* --dpkgopt=path-exclude=/usr/share/info/*
--dpkgopt=path-exclude=/usr/share/doc/* --dpkgopt=path-include=/usr/share/doc/*/copyright
--dpkgopt=path-exclude=/usr/share/locale/* --dpkgopt=path-include=/usr/share/locale/locale.alias
--aptopt=APT::Install-Recommends=false"

mysql_packages=mariadb-server,mariadb-client
# node-sqlite3 is Debian's build of sqlite3 for this nodejs; nodemon is not packaged in Debian
# (the offline yarn runs `node --watch` for it).
node_packages=nodejs,node-express,node-mysql,node-uuid,node-sqlite3

# build NAME PACKAGES FILE HOOK: makes $cache/NAME-<key>.tar unless it is there. The key is a hash
# of everything that goes into the tarball, so a changed recipe or script builds anew.
build() {
	name=$1 packages=$2 file=$3 hook=$4
	key=$( { echo "$suite $mirror $security $packages $slim $hook"; cat "$file"; } | sha256sum | cut -c1-16)
	tar=$cache/$name-$key.tar
	if [ -f "$tar" ]; then
		echo "$name: cached $tar ($(du -h "$tar" | cut -f1))" >&2
		return
	fi
	echo "$name: building $tar with mmdebstrap (packages: $packages)" >&2
	start=$(date +%s)
	tmp=$cache/.$name-$$.tar
	trap 'rm -f "$tmp"' EXIT INT TERM
	# shellcheck disable=SC2086 # $slim is a list of options
	mmdebstrap --quiet --variant=essential --include="$packages" $slim \
		--customize-hook="copy-in $file /usr/local/bin" \
		--customize-hook="$hook" \
		"$suite" "$tmp" \
		"deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main"
	mv "$tmp" "$tar"
	trap - EXIT INT TERM
	# Tarballs of an older recipe go.
	for old in "$cache/$name"-*.tar; do
		[ "$old" = "$tar" ] || rm -f "$old"
	done
	echo "$name: built in $(($(date +%s) - start)) s, $(du -h "$tar" | cut -f1)" >&2
}

# Debian's postinst makes a datadir; the image must ship an empty one, as the official image
# does, so that the entrypoint initialises the container's volume with the given passwords.
build mysql "$mysql_packages" "$here/mysql/docker-entrypoint.sh" \
	'rm -rf "$1/var/lib/mysql" && mkdir -m 0755 "$1/var/lib/mysql" && chroot "$1" chown mysql:mysql /var/lib/mysql'
mysql_tar=$tar
build node "$node_packages" "$here/node/yarn" \
	'chmod 0755 "$1/usr/local/bin/yarn"'
node_tar=$tar

if [ "$import" -eq 0 ]; then
	echo "$mysql_tar"
	echo "$node_tar"
	exit 0
fi

path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
"$berth" image import -m "MariaDB 10.11 from Debian $suite, by berth's demo/images/make-images.sh" \
	-c "ENV $path" -c "ENV MARIADB_MAJOR=10.11" \
	-c 'ENTRYPOINT ["docker-entrypoint.sh"]' -c 'CMD ["mariadbd"]' \
	-c "EXPOSE 3306" -c "VOLUME /var/lib/mysql" \
	"$mysql_tar" mysql:8.0
"$berth" image tag mysql:8.0 berth-demo/mariadb:10.11
"$berth" image import -m "Node.js 18 from Debian $suite, by berth's demo/images/make-images.sh" \
	-c "ENV $path" -c "ENV NODE_VERSION=18" -c "ENV YARN_VERSION=berth-offline" \
	-c 'CMD ["node"]' \
	"$node_tar" node:18-alpine
"$berth" image tag node:18-alpine berth-demo/node:18
echo "imported mysql:8.0 (berth-demo/mariadb:10.11) and node:18-alpine (berth-demo/node:18)" >&2
