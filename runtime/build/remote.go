package build

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// download fetches an ADD source URL into the build's temporary directory, as the classic
// builder does: the file is named after the Content-Disposition filename or the URL path's last
// element (or dest itself when dest names a file), gets mode 0600, and takes the Last-Modified
// time as its mtime. Its checksum (content and mode, never the mtime) keys the step's cache, so
// every build downloads it again and a changed file misses. It is copied, never unpacked.
func (b *builder) download(ctx context.Context, instr, rawURL, dest string) (source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return source{}, invalidf("%s %s: %v", instr, rawURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return source{}, invalidf("%s %s: %v", instr, rawURL, err)
	}
	if b.o.UserAgent != "" {
		req.Header.Set("User-Agent", b.o.UserAgent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return source{}, fmt.Errorf("%s failed: %w", instr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return source{}, invalidf("%s failed: failed to GET %s with status %s", instr, rawURL, resp.Status)
	}
	name := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		name = path.Base(filepath.ToSlash(params["filename"]))
	}
	if name == "" || name == "." || name == "/" {
		name = path.Base(u.Path)
	}
	if !strings.HasSuffix(dest, "/") && dest != "." {
		name = path.Base(dest)
	}
	if name == "" || name == "." || name == "/" {
		return source{}, invalidf("%s %s: cannot determine a filename from the URL: give the destination a file name", instr, rawURL)
	}
	dir, err := os.MkdirTemp(b.tmpDir, "remote-")
	if err != nil {
		return source{}, err
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return source{}, err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return source{}, fmt.Errorf("%s failed: reading %s: %w", instr, rawURL, err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		return source{}, err
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			if err := os.Chtimes(p, t, t); err != nil {
				return source{}, err
			}
		}
	}
	info, err := os.Lstat(p)
	if err != nil {
		return source{}, err
	}
	return source{rel: name, abs: p, info: info, remote: true}, nil
}
