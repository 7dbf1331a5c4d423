package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

//go:embed static
var staticFiles embed.FS

// maxName is the name column's width in characters.
const maxName = 255

// server holds what the handlers need.
type server struct {
	store *Store
	log   *log.Logger
}

// routes returns the app's handler: the API under /items, /healthz, and the front end at /.
// Routing is by hand because the module targets Go 1.19, whose ServeMux has no methods or wildcards.
func (s *server) routes() http.Handler {
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/items", s.items)
	mux.HandleFunc("/items/", s.item)
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("/", http.FileServer(http.FS(static)))
	return mux
}

// items serves /items: GET lists, POST adds.
func (s *server) items(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		items, err := s.store.List(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, items)
	case http.MethodPost:
		var body struct {
			Name *string `json:"name"`
		}
		if err := readJSON(w, r, &body); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if body.Name == nil {
			writeError(w, http.StatusBadRequest, `body needs a "name"`)
			return
		}
		name, msg := checkName(*body.Name)
		if msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		it, err := s.store.Add(r.Context(), name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, it)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

// item serves /items/{id}: PUT updates the name and completed flag, DELETE removes. GET returns
// the item too, which the workshop app lacks but costs nothing.
func (s *server) item(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/items/")
	if id == "" || strings.Contains(id, "/") {
		writeError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
		return
	}
	switch r.Method {
	case http.MethodGet:
		it, err := s.store.Get(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, it)
	case http.MethodPut:
		// Either field may be left out to keep its value; the front end sends both.
		var body struct {
			Name      *string `json:"name"`
			Completed *bool   `json:"completed"`
		}
		if err := readJSON(w, r, &body); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		it, err := s.store.Get(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if body.Name != nil {
			name, msg := checkName(*body.Name)
			if msg != "" {
				writeError(w, http.StatusBadRequest, msg)
				return
			}
			it.Name = name
		}
		if body.Completed != nil {
			it.Completed = *body.Completed
		}
		if err := s.store.Update(r.Context(), it); err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, it)
	case http.MethodDelete:
		if err := s.store.Remove(r.Context(), id); err != nil {
			s.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		methodNotAllowed(w, "GET, PUT, DELETE")
	}
}

// healthz answers 200 while the database answers, 503 otherwise.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Printf("healthz: %s: %v", s.store.Kind, err)
		writeError(w, http.StatusServiceUnavailable, s.store.Kind+": "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "ok (%s)\n", s.store.Kind)
}

// fail answers a store error: 404 for a missing item, else 500 with the error logged.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "no item with id "+strings.TrimPrefix(r.URL.Path, "/items/"))
		return
	}
	s.log.Printf("%s %s: %v", r.Method, r.URL.Path, err)
	writeError(w, http.StatusInternalServerError, "database error: "+err.Error())
}

// checkName trims a name and returns it, or a message saying why it cannot be stored.
func checkName(name string) (string, string) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", "name must not be empty"
	case !utf8.ValidString(name):
		return "", "name must be UTF-8"
	case utf8.RuneCountInString(name) > maxName:
		return "", fmt.Sprintf("name is longer than %d characters", maxName)
	}
	return name, ""
}

// readJSON decodes a small JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v interface{}) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body: expected a JSON object")
		}
		return fmt.Errorf("bad JSON body: %v", err)
	}
	if dec.More() {
		return errors.New("bad JSON body: more than one value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed; allowed: "+allow)
}
