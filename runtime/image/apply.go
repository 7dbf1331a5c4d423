package image

import (
	"fmt"
	"path"
	"strings"
)

// ApplyOptions tune Apply for the privileges berth runs with.
type ApplyOptions struct {
	// IgnoreOwnership leaves every entry owned by the applying user instead of the tar's uid and
	// gid, and skips block and character devices the kernel refuses to create. It is what a
	// rootless unpack needs: an unprivileged lchown to another user and mknod of a real device
	// fail with EPERM. Whiteouts are still created (see Apply).
	IgnoreOwnership bool
	// UserXattr marks opaque directories with user.overlay.opaque instead of
	// trusted.overlay.opaque, for overlays mounted with the userxattr option (rootless, where
	// trusted.* is out of reach).
	UserXattr bool
}

// Whiteout names of the OCI layer format (image-spec layer.md).
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// applyCleanName maps a tar entry name to a slash-separated path relative to the layer root,
// "." being the root itself. A leading "/" is dropped: archives made with absolute names mean the
// same place in the image. A name whose ".." components climb above the root is refused rather
// than clamped, because clamping would silently put the entry somewhere its producer did not
// name; such a tar is broken or hostile either way.
func applyCleanName(name string) (string, error) {
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("path %q leaves the layer root", name)
	}
	return rel, nil
}

// applyXattrKey reports the extended attribute named by a PAX record key, if it is one berth
// restores. Attributes in the overlay namespaces are dropped: they steer overlayfs (opaque,
// redirect, metacopy, origin), which must follow the layer's whiteouts, never its payload.
func applyXattrKey(key string) (string, bool) {
	const pax = "SCHILY.xattr."
	name, ok := strings.CutPrefix(key, pax)
	if !ok || name == "" {
		return "", false
	}
	if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
		return "", false
	}
	return name, true
}
