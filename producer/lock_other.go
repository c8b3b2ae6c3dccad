//go:build !unix

package producer

import "os"

// lockFile is a no-op where flock(2) does not exist: there, giving each
// producer its own spool directory is the caller's care.
func lockFile(*os.File) error { return nil }
