//go:build !race

package watchedfile_test

const raceEnabled = false
