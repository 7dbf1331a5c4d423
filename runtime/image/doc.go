// Package image owns berth's OCI image store: the content-addressed blobs (compressed layers as
// pulled, configs, manifests, indexes), the references that name them, the unpacked layer
// snapshots and the overlay root filesystems stacked from them. It must not run containers, and it
// talks to the network only through pull and push.
//
// # Content store
//
// The store under $ROOT/images is written only by this package's own crash-safe code, never by
// go-containerregistry's layout package (which writes configs and manifests in place and rewrites
// its index without a lock):
//
//	blobs/sha256/<hex>   verified blobs, named by the sha256 of their bytes
//	ingest/              temporary files of writes in progress; whatever a killed process leaves
//	refs.json            reference name -> descriptor of a manifest or index, replaced atomically
//	lock                 store-wide flock: shared for writers, exclusive for garbage collection
//	refs.lock            flock serialising read-modify-write of refs.json
//
// Every write streams into ingest/ while hashing, checks size and digest, fsyncs the file, renames
// it into blobs/ and fsyncs the directory, so a blob is either whole and verified or absent. An
// image's manifest is written after its config and layers, so a manifest present in the store
// implies that its content is too (non-distributable layers excepted).
//
// # Processes
//
// berth has no daemon, so several processes may use the store at once. Everything that adds
// content (pull, load, import, build) does so inside a Txn, which holds the shared store lock
// from before the first blob is written until after the reference to it is set. Garbage
// collection takes the exclusive lock, so it never runs between a pull writing a blob and the
// pull naming it. Readers take no lock: blobs never change once visible, and refs.json is only
// ever replaced by rename. A reader that needs an image nothing names to survive a concurrent
// collection must either hold a Txn or be covered by the keep function passed to GC.
package image
