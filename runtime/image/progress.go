package image

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/docker/go-units"
)

// Progress receives the state of each item of a transfer (a layer, mostly) as it changes.
// Implementations must be safe for concurrent use: layers move in parallel.
type Progress interface {
	// Update reports item id in status ("Downloading", "Pull complete", ...), with bytes done of
	// total (total <= 0 when unknown or not a byte count).
	Update(id, status string, current, total int64)
	// Message prints a line that is not about one item ("Digest: sha256:...").
	Message(line string)
}

// NoProgress discards everything: `-q`.
type NoProgress struct{}

func (NoProgress) Update(string, string, int64, int64) {}
func (NoProgress) Message(string)                      {}

// Display renders progress as Docker's CLI does: on a terminal, one line per item redrawn in place
// with a bar while bytes move; elsewhere, a plain line each time an item changes state.
type Display struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	order []string
	items map[string]*displayItem
	drawn int // lines drawn by the last redraw, on a terminal
}

type displayItem struct {
	status         string
	current, total int64
}

// NewDisplay renders to w; tty selects the redrawn form.
func NewDisplay(w io.Writer, tty bool) *Display {
	return &Display{w: w, tty: tty, items: map[string]*displayItem{}}
}

// Update implements Progress.
func (d *Display) Update(id, status string, current, total int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	it, ok := d.items[id]
	if !ok {
		it = &displayItem{}
		d.items[id] = it
		d.order = append(d.order, id)
	}
	changed := it.status != status
	it.status, it.current, it.total = status, current, total
	if d.tty {
		d.redraw()
	} else if changed {
		fmt.Fprintf(d.w, "%s: %s\n", id, status)
	}
}

// Message implements Progress.
func (d *Display) Message(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty {
		// Below the item lines, which stay where they are.
		d.drawn = 0
		d.order = nil
		d.items = map[string]*displayItem{}
	}
	fmt.Fprintln(d.w, line)
}

func (d *Display) redraw() {
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
	}
	for _, id := range d.order {
		it := d.items[id]
		b.WriteString("\x1b[2K")
		fmt.Fprintf(&b, "%s: %s", id, it.status)
		if it.total > 0 && it.current < it.total {
			fmt.Fprintf(&b, " %s", bar(it.current, it.total))
		}
		b.WriteString("\n")
	}
	d.drawn = len(d.order)
	io.WriteString(d.w, b.String())
}

// bar is Docker's `[=====>     ]  1.2MB/2.1MB`.
func bar(current, total int64) string {
	const width = 50
	n := int(float64(width) * float64(current) / float64(total))
	n = max(0, min(n, width))
	arrow := strings.Repeat("=", n)
	if n < width {
		arrow += ">"
		arrow += strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf("[%s] %8s/%s", arrow, units.HumanSizeWithPrecision(float64(current), 3), units.HumanSizeWithPrecision(float64(total), 3))
}

// ShortID is the 12-hex-digit form Docker uses for layers and image IDs.
func ShortID(digest string) string {
	_, hex, ok := strings.Cut(digest, ":")
	if !ok {
		hex = digest
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}
