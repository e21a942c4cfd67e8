//go:build !linux

package watchedfile

import "os"

// holdAlone reports whether nobody else seems to hold f's file open: this
// system cannot tell, so a rotated file counts as let go of once it has not
// been written for compressGrace.
func holdAlone(f *os.File) (alone bool, still func() bool, release func(), err error) {
	return oldEnough(f)
}
