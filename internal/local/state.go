package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// State is what a running `tapctl local` records so that other tapctl
// commands (`dlq list --local`, `send --local`) can find its queues and bus.
type State struct {
	Resources
	// Regions, in `tapctl local --regions`, are each region's own local AWS
	// and resources, primary first: commands that read (order get, dlq list)
	// go to one of them. Resources is then the global endpoint's, for
	// publishing, with the primary's names.
	Regions []Resources `json:"regions,omitempty"`
	// PID is the process running the pipeline.
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
}

// EnvStatePath overrides where the state file is kept.
const EnvStatePath = "TAPCTL_STATE"

// ErrNotRunning is returned by ReadState when no local pipeline is running.
var ErrNotRunning = errors.New("no local pipeline is running: start one with `tapctl local` in another terminal")

// StatePath is where the state file of the running local pipeline lives:
// $TAPCTL_STATE, else $XDG_RUNTIME_DIR/tapctl-local.json (removed at logout
// with everything else of the session), else tapctl/local.json in the user's
// cache directory.
func StatePath(getenv func(string) string) string {
	if p := getenv(EnvStatePath); p != "" {
		return p
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "tapctl-local.json")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "tapctl", "local.json")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("tapctl-local-%d.json", os.Getuid()))
}

// CheckFree returns an error naming the other pipeline if a live process
// other than pid has recorded its state at path. A pipeline checks it before
// it starts anything, so a refused start touches nothing the running one owns.
func CheckFree(path string, pid int) error {
	if old, err := ReadState(path); err == nil && old.PID != pid {
		return fmt.Errorf("another local pipeline (pid %d, endpoint %s) is running and recorded in %s: stop it first, or set %s to another file", old.PID, old.Endpoint, path, EnvStatePath)
	}
	return nil
}

// WriteState records s at path. It refuses to replace the state of another
// pipeline that is still running.
func WriteState(path string, s State) error {
	if err := CheckFree(path, s.PID); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("local: state directory: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("local: write state: %w", err)
	}
	return os.Rename(tmp, path)
}

// ReadState reads the state of the running local pipeline, or ErrNotRunning
// if there is none (no file, or its process has exited).
func ReadState(path string) (State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, ErrNotRunning
	}
	if err != nil {
		return State{}, fmt.Errorf("local: read state %s: %w", path, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("local: state file %s is corrupt (%v): delete it", path, err)
	}
	if !alive(s.PID) {
		return State{}, fmt.Errorf("%w (the last one, pid %d, has exited)", ErrNotRunning, s.PID)
	}
	return s, nil
}

// RemoveState deletes the state file if it is the one pid wrote.
func RemoveState(path string, pid int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var s State
	if json.Unmarshal(b, &s) == nil && s.PID != pid {
		return nil
	}
	return os.Remove(path)
}

// alive reports whether process pid exists (signal 0 checks without sending).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ReadRegion returns the resources commands read from: in a two-region
// pipeline the region named (the primary when region is empty), else the
// one pipeline, which must be in region if one is named.
func (s State) ReadRegion(region string) (Resources, error) {
	if len(s.Regions) == 0 {
		if region != "" && region != s.Region {
			return Resources{}, fmt.Errorf("the local pipeline runs only %s, not %s: drop --region, or start it with --regions", s.Region, region)
		}
		return s.Resources, nil
	}
	if region == "" {
		return s.Regions[0], nil
	}
	var names []string
	for _, r := range s.Regions {
		if r.Region == region {
			return r, nil
		}
		names = append(names, r.Region)
	}
	return Resources{}, fmt.Errorf("the local pipeline runs %v, not %s: give --region one of them", names, region)
}
