package build

import (
	"errors"
	"fmt"
	"io"
)

// ErrInvalid is matched by errors about the user's input: the Dockerfile, the context, a flag.
var ErrInvalid = errors.New("invalid build")

// invalidError keeps the message as the user should read it and matches ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// RunError is a RUN step whose command exited non-zero. Its message is the classic builder's:
// "The command '/bin/sh -c false' returned a non-zero code: 1".
type RunError struct {
	Command  string
	ExitCode int
}

func (e *RunError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", e.Command, e.ExitCode)
}

// Options are what one build is asked to do: docker build's flags. Only Root and RunRoot are
// required.
type Options struct {
	// Root and RunRoot are berth's state and runtime directories. Required.
	Root, RunRoot string
	// ContextDir is the build context directory. Optional: with ContextTar, or with neither, an
	// empty context (a Dockerfile from stdin, `docker build - < Dockerfile`).
	ContextDir string
	// ContextTar is a build context as a tar stream (plain or compressed), `docker build -`.
	// Optional; ignored when ContextDir is set.
	ContextTar io.Reader
	// Dockerfile is the Dockerfile's path, relative to ContextDir unless absolute. Optional:
	// ContextDir/Dockerfile.
	Dockerfile string
	// DockerfileInline is the Dockerfile's text (`-f -`, compose's dockerfile_inline). Optional;
	// it wins over Dockerfile.
	DockerfileInline string
	// Target is the stage to build. Optional: the last one.
	Target string
	// BuildArgs are --build-arg values. A nil value means "take it from the environment", which
	// the caller resolves; it is treated as unset here.
	BuildArgs map[string]*string
	// Labels are added to the result, as --label does (one LABEL step per label, sorted).
	Labels map[string]string
	// Tags name the result; each is a reference such as "app" or "localhost:5000/app:v1".
	Tags []string
	// NamedContexts are additional build contexts (--build-context, compose's
	// additional_contexts) by name: a directory, or "docker-image://REF" for an image. A name
	// stands for them in FROM and COPY --from, before any stage of that name. Optional.
	NamedContexts map[string]string
	// NoCache builds every step again; Pull pulls every base image even when present.
	NoCache, Pull bool
	// Network is RUN's network: "" or "default" or "bridge" (the default bridge), "none", or
	// "host".
	Network string
	// Out receives the progress (Docker's plain format) and the output of RUN steps. Optional.
	Out io.Writer
	// Quiet prints nothing; the caller prints the image ID Build returns.
	Quiet bool
	// TTY shows the progress as a live view redrawn in place (--progress tty), TTYWidth columns
	// wide (0: no limit); otherwise it is Docker's plain format.
	TTY      bool
	TTYWidth int
	// UserAgent names berth to registries when a base image is pulled. Optional.
	UserAgent string
}
