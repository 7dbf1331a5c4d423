#!/bin/sh
# compare.sh converts the same compose projects with `berth convert` and with kompose v1.38.0,
# validates every object of both with Kubernetes' own validation (package kval of this module)
# and measures, field by field, what each tool carries over (kcmp, the Go program beside this
# script: probe.go says what counts as carried). It prints the summary; RESULTS.md discusses it.
#
#   test/k8s/kompose/compare.sh [-o DIR]
#
# -o DIR keeps everything in DIR (DIR/report.md has every rejected object, dropped field and
# dangling reference; DIR/inputs/<name>/ each tool's output and standard error); without it a
# temporary directory is used and removed.
#
# Inputs: every examples/*/compose.yaml, the todo example with compose.dev.yaml, every project
# of the awesome-compose copy in kube/testdata, and testdata/fields (fields the others lack).
# Each is converted from a copy of its directory. Secret and config files the copy lacks (the
# corpus has only compose files) are created as placeholders first, because kompose stops at
# the first missing one; the runs on the copy as it is are kept to report those failures.
# Both tools run with an empty environment and berth with an empty state directory, so the
# output does not depend on the caller's variables or images.
#
# Builds what is missing: kompose into ${BERTH_K8S_CACHE:-/var/cache/berth-k8s}/kompose-v1.38.0/
# (a scratch module through the Go module proxy; kompose is not a dependency of berth), bin/berth
# (make build), and kcmp. Cold (empty Go build cache, 2 cores): about 7.5 minutes, of which
# kompose about 1 and kcmp (this module's k8s.io/kubernetes packages) about 3; warm: about 20
# seconds. Not part of `make test`.
set -eu

KOMPOSE_VERSION=v1.38.0

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
module=$(dirname -- "$here")
repo=$(CDPATH='' cd -- "$module/../.." && pwd)
cache=${BERTH_K8S_CACHE:-/var/cache/berth-k8s}/kompose-$KOMPOSE_VERSION
GOTOOLCHAIN=local
export GOTOOLCHAIN

log() { printf 'compare: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

keep=
while getopts o: opt; do
	case $opt in
	o) keep=$OPTARG ;;
	*) die "usage: compare.sh [-o DIR]" ;;
	esac
done
start=$(date +%s)

command -v go >/dev/null 2>&1 || die "go not found in PATH"

# kompose: `go install` of it fails on its replace directive (github.com/openshift/api), so a
# scratch module requires it with the same replace and builds its main package.
build_kompose() {
	tmp=$(mktemp -d "$cache/.build.XXXXXX")
	cat >"$tmp/go.mod" <<EOF
module berth.test/kompose-build

go 1.24.0

require github.com/kubernetes/kompose $KOMPOSE_VERSION

replace github.com/openshift/api v3.9.0+incompatible => github.com/openshift/api v0.0.0-20230704153349-abb98ff04d03
EOF
	cat >"$tmp/tools.go" <<EOF
//go:build tools

package tools

import _ "github.com/kubernetes/kompose"
EOF
	log "building kompose $KOMPOSE_VERSION into $cache (about a minute cold)"
	if (cd "$tmp" && GOFLAGS=-mod=mod go mod tidy && GOFLAGS=-mod=mod go build -trimpath -o kompose github.com/kubernetes/kompose) >&2; then
		mv "$tmp/kompose" "$cache/kompose"
		rm -rf "$tmp"
	else
		rm -rf "$tmp"
		die "building kompose failed"
	fi
}
if [ ! -x "$cache/kompose" ]; then
	mkdir -p "$cache" || die "cannot create $cache (set BERTH_K8S_CACHE to a writable directory)"
	# One build at a time per cache directory: a second caller waits, then finds it in place.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$cache/.lock"
		flock 9
	fi
	[ -x "$cache/kompose" ] || build_kompose
	exec 9>&-
fi
kompose=$cache/kompose

log "building bin/berth"
make -C "$repo" build >&2 || die "make build failed"
berth=$repo/bin/berth

if [ -n "$keep" ]; then
	run=$keep
	rm -rf "$run/inputs" "$run/src"
	mkdir -p "$run"
	run=$(CDPATH='' cd -- "$run" && pwd)
else
	run=$(mktemp -d "${TMPDIR:-/tmp}/berth-kompose.XXXXXX")
	trap 'rm -rf "$run"' EXIT
fi
trap 'exit 130' INT TERM
mkdir -p "$run/inputs" "$run/src" "$run/home"

log "building kcmp"
(cd "$module" && GOFLAGS=-mod=readonly go build -o "$run/kcmp" ./kompose) >&2 || die "building kcmp failed"

# tool NAME DIR OUT: run NAME's convert in DIR on the compose files $files into OUT, with an
# empty environment; OUT.rc and OUT.err get its exit code and standard error.
tool() {
	t_name=$1 t_dir=$2 out=$3
	set --
	for f in $files; do set -- "$@" -f "$f"; done
	rm -rf "$out"
	mkdir -p "$out"
	rc=0
	case $t_name in
	berth)
		(cd "$t_dir" && env -i PATH=/usr/bin:/bin HOME="$run/home" "$berth" --root "$run/berth-root" \
			--run-root "$run/berth-run" "$@" convert -o "$out") >/dev/null 2>"$out.err" || rc=$?
		;;
	kompose)
		(cd "$t_dir" && env -i PATH=/usr/bin:/bin HOME="$run/home" "$kompose" "$@" convert -o "$out") \
			>/dev/null 2>"$out.err" || rc=$?
		;;
	esac
	echo "$rc" >"$out.rc"
}

# one NAME SET SRCDIR FILE...: convert one project with both tools.
one() {
	name=$1 set=$2 src=$3
	shift 3
	files=$*
	dir=$run/src/$name
	in=$run/inputs/$name
	cp -a "$src" "$dir"
	mkdir -p "$in"
	echo "$set" >"$in/set"
	set --
	for f in $files; do set -- "$@" -f "$f"; done
	(cd "$dir" && env -i PATH=/usr/bin:/bin HOME="$run/home" "$berth" --root "$run/berth-root" \
		--run-root "$run/berth-run" "$@" config --format json) >"$in/config.json" 2>"$in/config.err" ||
		die "$name: berth config failed: $(cat "$in/config.err")"
	for t in berth kompose; do
		tool $t "$dir" "$in/asis-$t"
		rm -rf "$in/asis-$t"
	done
	"$run/kcmp" placeholders "$in/config.json" >"$in/placeholders.txt"
	for t in berth kompose; do
		tool $t "$dir" "$in/$t"
	done
}

n=0
for f in "$repo"/examples/*/compose.yaml; do
	d=$(dirname "$f")
	one "$(basename "$d")" examples "$d" compose.yaml
	n=$((n + 1))
done
one todo-dev examples "$repo/examples/todo" compose.yaml compose.dev.yaml
n=$((n + 1))
for d in "$repo"/kube/testdata/awesome-compose/*/; do
	d=${d%/}
	for c in compose.yaml compose.yml docker-compose.yaml docker-compose.yml; do
		if [ -f "$d/$c" ]; then
			one "$(basename "$d")" corpus "$d" "$c"
			n=$((n + 1))
			break
		fi
	done
done
one fields extra "$here/testdata/fields" compose.yaml
n=$((n + 1))
log "converted $n inputs with both tools; validating and probing"

"$run/kcmp" report "$run"
log "done in $(($(date +%s) - start)) s$([ -n "$keep" ] && echo "; details in $run/report.md")"
