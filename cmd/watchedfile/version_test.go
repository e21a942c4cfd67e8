package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersionOf(t *testing.T) {
	for _, tc := range []struct {
		info debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.8"}, "watchedfile (devel) built with go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "34a1dc6"}, {Key: "vcs.modified", Value: "true"}}},
			"watchedfile (devel) revision 34a1dc6 (modified) built with go1.26.8"},
		{debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "34a1dc6"}, {Key: "vcs.modified", Value: "false"}}},
			"watchedfile v1.2.3 revision 34a1dc6 built with go1.26.8"},
	} {
		require.Equal(t, tc.want, versionOf(&tc.info))
	}
}
