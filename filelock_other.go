//go:build !unix && !windows

package watchedfile

import (
	"errors"
	"fmt"
	"os"
)

// takeLock refuses: this system has no lock that processes share, and the
// rotation of several processes on one path would go wrong without one.
func takeLock(*os.File, lockHow) error {
	return fmt.Errorf("watchedfile: rotation needs a file lock shared by processes, which this system lacks: %w", errors.ErrUnsupported)
}
