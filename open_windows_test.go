package watchedfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenFileSharesDelete: while the Writer's handle is open, another
// program may rename and delete the file (os.OpenFile's handle refuses both
// with a sharing violation), and the handle still appends.
func TestOpenFileSharesDelete(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f, err := openFile(path, testHow(os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("one\n"))
	require.NoError(t, err)
	require.NoError(t, os.Rename(path, path+".1"))
	_, err = f.Write([]byte("two\n"))
	require.NoError(t, err)
	b, err := os.ReadFile(path + ".1")
	require.NoError(t, err)
	assert.Equal(t, "one\ntwo\n", string(b), "appends follow the renamed file")
	require.NoError(t, os.Remove(path+".1"))
}

// TestOpenFileExistingOnly: without O_CREATE a missing file is an error that
// errors.Is reports as not existing, and nothing is created.
func TestOpenFileExistingOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	_, err := openFile(path, testHow(os.O_WRONLY|os.O_APPEND, 0o644))
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.NoFileExists(t, path)
}

// TestStandardInfo: the handle's FILE_STANDARD_INFO is read correctly (its
// link count and size), which unlinked relies on.
func TestStandardInfo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	f, err := openFile(path, testHow(os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Write([]byte("12345"))
	require.NoError(t, err)
	info, err := standardInfo(f)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), info.NumberOfLinks)
	assert.Equal(t, int64(5), info.EndOfFile)
	assert.False(t, info.DeletePending)
	assert.False(t, info.Directory)
	assert.False(t, unlinked(f))
	require.NoError(t, os.Link(path, path+".2"))
	info, err = standardInfo(f)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), info.NumberOfLinks)
}

// TestOpenFileReadOnlyMode: a mode without a write bit makes a read-only
// file, as os.OpenFile does; the Writer's own handle still appends.
func TestOpenFileReadOnlyMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	f, err := openFile(path, testHow(os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o444))
	require.NoError(t, err)
	_, err = f.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o444), fi.Mode().Perm())
	require.NoError(t, os.Chmod(path, 0o644)) // so that cleanup can remove it
}
