// Package build builds images from Dockerfiles, as Docker's classic builder does: it parses with
// BuildKit's dockerfile packages, expands variables as Docker does, runs each stage's steps in
// order, runs RUN steps in berth containers (runtime/container) whose overlay upper directory
// becomes the step's layer, and writes ordinary images into the image store (runtime/image).
//
// A step's result is cached under $ROOT/build/cache.json, keyed by its parent image ID, its
// history string (which holds the expanded instruction, the build args a RUN sees and, for COPY
// and ADD, a checksum of the sources' content and modes, never their mtimes) and the image config
// it produces. A miss invalidates the rest of its stage, not the stages after it. Stages the
// target does not need are skipped; the others build in parallel, each waiting only for the
// stages it starts from or copies from. The history strings and empty_layer marks are the
// classic builder's, so that `berth image history` reads like `docker image history`.
//
// Beyond the classic builder, it takes BuildKit's RUN --mount=type=cache (directories under
// $ROOT/build/cache-mounts, kept between builds and never part of a layer) and type=tmpfs, ADD
// of http(s) URLs, COPY/ADD --exclude and symbolic --chmod.
//
// It must not print anything but progress to Options.Out, and it leaves nothing behind when a
// build fails: no build container, no mount, no tag. Intermediate images (the parents of RUN
// steps, which a container needs as a manifest in the store) stay in the store as untagged
// images, as the classic builder's do; the step cache records them, so `image ls` shows them
// only with -a.
package build
