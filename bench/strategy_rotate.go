//go:build linux

package main

import (
	"math"
	"os"
	"path/filepath"

	"github.com/watchedfile/watchedfile"
)

// watchedfileRotateStrategy is this library rotating the file by itself
// (WithRotation) with a size limit never reached: what having rotation on
// costs a record while no rotation is due (a look at the file's size once
// per MiB written). The path is a symlink to a dated file, so the Writer
// works in a directory of its own, removed at Close.
func watchedfileRotateStrategy() strategy {
	return strategy{
		name:    "watchedfile-rotate",
		desc:    "watchedfile.Open with WithRotation(Rotation{MaxSize: 2^62}): rotation on, none due (one fstat per MiB written)",
		rotates: true,
		open: func(path string) (sink, error) {
			dir := path + ".d"
			os.RemoveAll(dir) // a run stopped before its Close left it
			if err := os.Mkdir(dir, 0o755); err != nil {
				return nil, err
			}
			w, err := watchedfile.Open(filepath.Join(dir, "app.log"),
				watchedfile.WithRotation(watchedfile.Rotation{MaxSize: math.MaxInt64 >> 1}))
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			return &removeOnClose{w, dir}, nil
		},
	}
}

// removeOnClose is a Writer that removes its directory once closed. It
// embeds the *Writer itself, so that a Write costs the same call as the
// watchedfile strategy's.
type removeOnClose struct {
	*watchedfile.Writer
	dir string
}

func (r *removeOnClose) Close() error {
	err := r.Writer.Close()
	if rerr := os.RemoveAll(r.dir); err == nil {
		err = rerr
	}
	return err
}
