package watchedfile

import "os"

// testHow is how the walk's tests open: as the process's own user, in
// directories that group or others may not write.
func testHow(flag int, perm os.FileMode) openHow {
	u := euid()
	return openHow{flag: flag, perm: perm, trust: trust{euid: u, owner: u}}
}

// testHowMkdirs is testHow, making missing directories (0755).
func testHowMkdirs(flag int, perm os.FileMode) openHow {
	how := testHow(flag, perm)
	how.mkdirs, how.dirPerm = true, 0o755
	return how
}
