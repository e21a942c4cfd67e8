package main

import (
	"runtime/debug"
	"strings"
)

// version is the line -version prints: the module version the binary was
// built from ("(devel)" when built from a checkout), the VCS revision when
// the build recorded one, and the Go version.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "watchedfile (devel)"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	parts := []string{"watchedfile", v}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if modified == "true" {
			rev += " (modified)"
		}
		parts = append(parts, "revision", rev)
	}
	if info.GoVersion != "" {
		parts = append(parts, "built with", info.GoVersion)
	}
	return strings.Join(parts, " ")
}
