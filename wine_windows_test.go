package watchedfile_test

import "golang.org/x/sys/windows"

// underWine reports whether this Windows binary runs under wine, whose
// ntdll alone exports wine_get_version.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}
