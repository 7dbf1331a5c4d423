#!/bin/sh
# build-tools.sh builds the Kubernetes control-plane binaries and kwok that the
# tests in this module run, into a cache directory that survives between runs:
#
#   ${BERTH_K8S_CACHE:-/var/cache/berth-k8s}/k8s-v1.34.2-kwok-v0.8.0/
#       kube-apiserver kube-controller-manager kube-scheduler kwok etcd
#       kwok-stages.yaml (kwok's default node and pod stages, as kwokctl uses them)
#
# Only missing files are built. Each one is written under a temporary name and
# renamed into place, so an interrupted run never leaves a half-written binary.
# The directory is printed on stdout; progress goes to stderr.
# Needs only the Go toolchain and the Go module proxy. A cold build takes
# about 10-15 minutes on 2 cores; a warm run takes milliseconds.
set -eu

K8S_VERSION=v1.34.2
KWOK_VERSION=v0.8.0
# etcd 3.6 from the module proxy, not Debian's 3.4: kwok's client-go (0.36) asks for watch
# progress notifications, which 3.4 cannot give, and its fake pods then take 30 s and more to
# start and to go away.
ETCD_VERSION=v3.6.16

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
cache=${BERTH_K8S_CACHE:-/var/cache/berth-k8s}
dir=$cache/k8s-$K8S_VERSION-kwok-$KWOK_VERSION
stages=kwok-stages.yaml

# Never download a newer toolchain than the one installed.
GOTOOLCHAIN=local
export GOTOOLCHAIN

log() { printf 'build-tools: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
now() { date +%s; }

# missing prints the names of the given files not yet in $dir.
missing() {
	for f in "$@"; do
		[ -s "$dir/$f" ] || printf '%s\n' "$f"
	done
}

if [ -z "$(missing kube-apiserver kube-controller-manager kube-scheduler kwok etcd $stages)" ]; then
	printf '%s\n' "$dir"
	exit 0
fi

command -v go >/dev/null 2>&1 || die "go not found in PATH"
mkdir -p "$dir" || die "cannot create $dir (set BERTH_K8S_CACHE to a writable directory)"

# One build at a time per cache directory: a second caller waits, then finds
# the files in place.
if command -v flock >/dev/null 2>&1 && [ -z "${BERTH_K8S_BUILD_LOCKED:-}" ]; then
	BERTH_K8S_BUILD_LOCKED=1 exec flock "$dir/.lock" /bin/sh "$0" "$@"
fi

tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The version the binaries report on /version (without this it is
# v0.0.0-master+$Format:%H$ and kubectl version fails).
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

# Built inside this module: k8s.io/kubernetes needs its staging replaces,
# which go.mod maps to the published v0.34.x modules.
for b in $(missing kube-apiserver kube-controller-manager kube-scheduler); do
	start=$(now)
	log "building $b $K8S_VERSION (cold: several minutes)"
	(cd "$here" && go build -ldflags "$ldflags" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b") ||
		die "building $b failed"
	mv -f "$tmp/$b" "$dir/$b"
	log "built $b in $(($(now) - start))s"
done

# Built outside this module with GOFLAGS cleared, so its replaces and -mod
# settings do not apply to kwok's own module graph.
for b in $(missing kwok); do
	start=$(now)
	log "building $b $KWOK_VERSION"
	mkdir -p "$tmp/bin"
	(cd "$tmp" && GOFLAGS='' GOBIN="$tmp/bin" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/$b@$KWOK_VERSION") ||
		die "building $b failed"
	mv -f "$tmp/bin/$b" "$dir/$b"
	log "built $b in $(($(now) - start))s"
done

# etcd's server module has replaces of its own: a scratch module requiring it, with a main that
# calls etcdmain.Main, builds the same binary (about 30 s).
if [ -n "$(missing etcd)" ]; then
	start=$(now)
	log "building etcd $ETCD_VERSION"
	mkdir -p "$tmp/etcd"
	printf 'module berth.test/etcd\n\ngo 1.26.8\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$tmp/etcd/go.mod"
	printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >"$tmp/etcd/main.go"
	(cd "$tmp/etcd" && GOFLAGS=-mod=mod go mod tidy && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" -o "$tmp/etcd/etcd" .) ||
		die "building etcd failed"
	mv -f "$tmp/etcd/etcd" "$dir/etcd"
	log "built etcd in $(($(now) - start))s"
fi

# The stages kwokctl gives a cluster by default: nodes become Ready and keep a
# lease; pods become Running/Ready, complete, and go away when deleted. Read
# from the kwok module's kustomize/stage files at this version.
if [ -n "$(missing $stages)" ]; then
	src=$(cd "$tmp" && GOFLAGS='' go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$src" ] || [ ! -d "$src/kustomize/stage" ]; then
		die "cannot find the sigs.k8s.io/kwok@$KWOK_VERSION module source"
	fi
	for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		[ -f "$src/kustomize/stage/$f" ] || die "kwok $KWOK_VERSION has no kustomize/stage/$f"
		printf -- '---\n'
		cat "$src/kustomize/stage/$f"
	done >"$tmp/$stages"
	mv -f "$tmp/$stages" "$dir/$stages"
	log "wrote $stages"
fi

printf '%s\n' "$dir"
