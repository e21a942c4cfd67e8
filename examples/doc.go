// Package examples shows a [github.com/watchedfile/watchedfile.Writer] under
// the loggers that the library itself does not depend on: zap, zerolog and
// logrus. It is a module of its own, so that watchedfile's go.mod names none
// of them. Its tests are runnable examples; like the ones for log and
// log/slog in watchedfile's own documentation, each writes a record, rotates
// the file the way logrotate does, writes again and prints both files.
//
// Run them from the repository's root with
//
//	go -C examples test ./...
package examples
