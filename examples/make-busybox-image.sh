#!/bin/sh
# Makes berth-examples/busybox:1, the image of the small examples, from Debian's static busybox
# (apt-get install busybox-static): a root file system holding /bin/busybox with a link for each
# of its applets, packed with tar and imported with `berth image import`. Nothing is downloaded.
#
#   sudo sh examples/make-busybox-image.sh            # uses `berth` from PATH
#   sudo BERTH=bin/berth sh examples/make-busybox-image.sh
set -eu

BERTH=${BERTH:-berth}
IMAGE=${1:-berth-examples/busybox:1}

busybox=
for p in /bin/busybox /usr/bin/busybox; do
	# A dynamically linked busybox (Debian's "busybox" package) would not run in an image
	# without the host's C library.
	if [ -x "$p" ] && LC_ALL=C ldd "$p" 2>&1 | grep -q "not a dynamic executable"; then
		busybox=$p
		break
	fi
done
if [ -z "$busybox" ]; then
	echo "make-busybox-image.sh: needs a static busybox: apt-get install busybox-static" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
rootfs=$tmp/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
chmod 755 "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	case $applet in busybox | */*) continue ;; esac
	ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

echo "Importing $busybox as $IMAGE" >&2
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$tmp/rootfs.tar" .
"$BERTH" image import -c 'CMD ["/bin/sh"]' -m "busybox from $busybox" "$tmp/rootfs.tar" "$IMAGE"
