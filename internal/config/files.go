package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ContextFiles returns the context the CDK CLI would pass to the app from dir:
// cdk.json's "context" overlaid by cdk.context.json. The entrypoint uses it
// when run without the CLI (`make synth`), so both synthesize the same thing.
func ContextFiles(dir string) (map[string]any, error) {
	ctx := make(map[string]any)

	var project struct {
		Context map[string]any `json:"context"`
	}
	if err := readJSON(filepath.Join(dir, "cdk.json"), &project); err != nil {
		return nil, err
	}
	for k, v := range project.Context {
		ctx[k] = v
	}

	var cached map[string]any
	if err := readJSON(filepath.Join(dir, "cdk.context.json"), &cached); err != nil {
		return nil, err
	}
	for k, v := range cached {
		ctx[k] = v
	}
	return ctx, nil
}

// readJSON decodes path into v; a missing file leaves v untouched.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
