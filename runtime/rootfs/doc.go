// Package rootfs owns preparing a container's root filesystem view inside the
// init's mount namespace: root propagation, /proc, /sys, /sys/fs/cgroup, /dev
// and its nodes and symlinks, /dev/pts, /dev/shm, /dev/mqueue, the extra
// mounts of the container (hosts/resolv.conf/hostname files, tmpfs, volumes),
// Docker's masked and read-only paths, pivot_root and the read-only remount
// of /.
//
// Prepare must never run in the host's mount namespace: everything it does is
// a mount or pivot_root, and done there it would rearrange the host. It
// checks this itself and refuses when /proc/self/ns/mnt is the mount
// namespace of /proc/1 (the host's init, since /proc is still the host's
// procfs when Prepare starts). The caller (berth init) is born in new mount,
// PID, UTS and IPC namespaces.
//
// Every mount target inside the rootfs is resolved component by component
// with the rootfs as "/" (absolute symlinks and ".." restart or stop at the
// rootfs, never above it), created when missing, and opened as an O_PATH
// file descriptor. Mounts are then made on that descriptor, through
// /proc/self/fd/N or move_mount(2), so that an image which plants a symlink
// such as /data -> /../../../host/dir cannot redirect a mount to a host path,
// and a path swapped after the check fails rather than escapes (the
// CVE-2024-21626 and CVE-2019-16884 classes, runc's mountViaFds).
//
// Decisions, where Docker leaves room or berth differs:
//
//   - / is made rslave, not rprivate, so host unmounts still reach the
//     container (runc's reason) and nothing propagates back to the host.
//   - Root is always bind-mounted onto itself: pivot_root needs a mount point,
//     and the bind is a mount this namespace owns, so the final read-only
//     remount changes only it and never the overlay's superblock.
//   - /sys/fs/cgroup: on a cgroup v2 host a cgroup2 file system, read-only
//     unless Privileged (Docker's rule). Its root is the caller's cgroup
//     namespace root, so the init should be in a cgroup namespace of its own
//     for the container to see only its cgroup. On a v1 or hybrid host an
//     empty read-only tmpfs is mounted instead: runc's per-controller binds
//     are not implemented.
//   - Privileged: the default masked and read-only paths are not applied, and
//     /sys and /sys/fs/cgroup are writable. Host devices are NOT added here:
//     the caller passes them in Spec.Devices (HostDevices lists them).
//   - MaskedPaths and ReadonlyPaths: nil means Docker's defaults (none when
//     Privileged); a non-nil empty slice means none; explicit lists are
//     applied even when Privileged.
//   - A Mount at the same target as a standard mount replaces it, and a
//     Mount at /dev drops the whole standard /dev (tmpfs, nodes, symlinks,
//     pts, shm, mqueue), as Docker does.
//   - Mounts under /proc are refused except runc's lxcfs allow-list.
//   - Bind mounts are cloned with open_tree(2), given their flags with
//     mount_setattr(2) while still detached (so a read-only bind is never
//     writable, and MS_REC|MS_RDONLY is recursively read-only, Docker's
//     "rro"), then attached with move_mount(2). Their propagation is
//     rprivate unless Mount.Propagation says otherwise (Docker's default).
//
// Not done here: the runc msMoveRoot fallback for a ramfs/initramfs root
// (pivot_root fails with EINVAL there), SELinux labels, idmapped mounts,
// and shared/slave propagation of volumes towards the host (that needs the
// root to be rshared, which this package never does).
package rootfs
