package process

import (
	"errors"
	"fmt"
	"path"
	"slices"
)

// ErrNoCommand is returned by Args when neither the image nor the overrides
// give anything to run. The text is the Docker daemon's.
var ErrNoCommand = errors.New("no command specified")

// Args combines the image's Entrypoint and Cmd with the user's overrides the
// way the Docker daemon does (daemon merge + mergeAndVerifyConfig +
// getEntrypointAndArgs), and returns the argv of the workload.
//
// entrypointSet/cmdSet say whether the user gave the field at all (compose:
// key present and not null; docker run: flag given), since "given but empty"
// and "not given" differ:
//
//   - entrypoint not set: the image's Entrypoint is kept; the command is the
//     user's cmd if non-empty, else the image's Cmd.
//   - entrypoint set and non-empty, including docker run's --entrypoint ""
//     which the docker CLI sends as [""]: the image's Entrypoint AND its Cmd
//     are dropped; only the user's cmd follows. [""] itself then counts as no
//     entrypoint, so `--entrypoint "" img` alone is "no command specified".
//   - entrypoint set but empty (compose `entrypoint: []` or `entrypoint: ""`,
//     which docker compose sends as []): the image's Entrypoint is dropped but,
//     as in the daemon, the image's Cmd is still used when cmd is empty.
//   - cmd set but empty (compose `command: []` or `command: ""`): the daemon
//     treats an empty Cmd like an absent one, so the image's Cmd is used
//     unless an explicit entrypoint dropped it. The compose spec text says
//     "ignored", but docker compose + the daemon behave as described here, and
//     berth follows their behaviour.
//
// Shell form is the caller's job: compose's string form and Dockerfile's shell
// form arrive here already as ["/bin/sh", "-c", "..."] (images) or already
// split (compose-go splits a string command with shell quoting rules).
//
// The result is a fresh slice; inputs are never modified.
func Args(imageEntrypoint, imageCmd, entrypoint, cmd []string, entrypointSet, cmdSet bool) ([]string, error) {
	var ep, c []string
	if entrypointSet {
		// Non-nil even when empty: this is how the daemon tells "given but
		// empty" from "not given".
		ep = append([]string{}, entrypoint...)
	}
	if cmdSet {
		c = append([]string{}, cmd...)
	}
	if len(ep) == 0 {
		if len(c) == 0 {
			c = slices.Clone(imageCmd)
		}
		if ep == nil {
			ep = slices.Clone(imageEntrypoint)
		}
	}
	// docker run --entrypoint "" arrives as [""]: it has reset the image's
	// Cmd above and now means "no entrypoint".
	if len(ep) == 1 && ep[0] == "" {
		ep = nil
	}
	if len(ep) == 0 && len(c) == 0 {
		return nil, ErrNoCommand
	}
	out := make([]string, 0, len(ep)+len(c))
	out = append(out, ep...)
	return append(out, c...), nil
}

// WorkingDir returns the working directory of the workload: the override if
// given, else the image's WorkingDir, else "/". The result is cleaned.
// Container paths are always slash-separated, whatever the host OS.
func WorkingDir(imageWD, override string) (string, error) {
	if override != "" {
		if !path.IsAbs(override) {
			// Docker's verifyContainerSettings text.
			return "", fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", override)
		}
		return path.Clean(override), nil
	}
	if imageWD == "" {
		return "/", nil
	}
	if !path.IsAbs(imageWD) {
		// Builders always store an absolute WORKDIR; a relative one comes from
		// a hand-made config, and the OCI runtime would refuse it anyway.
		return "", fmt.Errorf("the image's working directory '%s' is invalid, it needs to be an absolute path", imageWD)
	}
	return path.Clean(imageWD), nil
}
