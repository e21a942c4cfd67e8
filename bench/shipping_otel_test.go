//go:build linux

package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The OpenTelemetry Collector as a log shipper: a collector of the test's
// own (./otelcol, a module of its own built from the Go module proxy) reads
// the log with the filelog receiver and sends it over OTLP gRPC to a central
// collector, which writes what it receives to a file (the file exporter,
// OTLP JSON). docs/shipping.md copies these configurations.

// otelcolRelease is what ./otelcol/go.mod builds.
const otelcolRelease = "contrib v0.165.1 (core v0.165.0)"

// otelShipperConf is the shipper's configuration: %s are the storage
// directory, the include list (YAML flow sequence) and the compression
// line; %d is the central collector's port, %s the exporter's timeout.
//
// The exporter waits for the central collector rather than dropping: the
// queue blocks when full and the retries never stop. Its timeout,
// otelTimeout, is longer than the test stops the shipper: a request sent
// just before a stop is answered meanwhile, and with the default 5 s the
// shipper, once continued, may find the deadline past and send the request
// again, which the central collector took the first time: duplicates
// (TestOtelFilelog shows them with the central collector stopped).
const otelShipperConf = `extensions:
  file_storage:
    directory: %s
receivers:
  file_log:
    include: %s
    start_at: beginning
    storage: file_storage%s
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
    timeout: %s
    retry_on_failure:
      max_elapsed_time: 0
    sending_queue:
      block_on_overflow: true
service:
  extensions: [file_storage]
  telemetry:
    logs:
      level: info
  pipelines:
    logs:
      receivers: [file_log]
      exporters: [otlp_grpc]
`

// otelCentralConf is the central collector's: %d is its port, %s the file
// it writes.
const otelCentralConf = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  file:
    path: %s
    flush_interval: 100ms
service:
  telemetry:
    logs:
      level: info
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [file]
`

// otelTimeout is the shipper's exporter's timeout in the shipping test,
// longer than the shipper lags (shipLagMax).
const otelTimeout = 30 * time.Second

// otelGzShort is what the filelog receiver logs when a file it read is
// now compressed (a .gz its include matches, with the same first bytes)
// and the .gz holds less than it had read: records written to the file
// after gzip read it, which the receiver read before the file was removed.
// It then reads the whole .gz again from its start (TestOtelFilelog).
const otelGzShort = "failed to skip already-consumed decompressed bytes"

// otelReady is what a collector logs once its pipelines run.
const otelReady = "Everything is ready"

// otelPattern is what the filelog receiver of a row reads: the path alone,
// the dated names of watchedfile's own rotation, or the path and the names
// logrotate, mv and lumberjack give the files they rotate, .gz included.
func otelPattern(logs string, glob, names bool) (include []string, compression bool) {
	switch {
	case glob:
		return []string{filepath.Join(logs, "app-*.log*")}, true
	case names:
		return []string{filepath.Join(logs, "app*.log*")}, true
	}
	return []string{filepath.Join(logs, "app.log")}, false
}

// otelShipping is what a shipper reads and where it sends it.
type otelShipping struct {
	include     []string
	compression bool // compression: auto (.gz files read decompressed)
	port        int  // the central collector's
	timeout     time.Duration
}

// startOtelShipper starts the shipper in dir.
func startOtelShipper(bin, dir string, s otelShipping) (*daemon, error) {
	list, _ := json.Marshal(s.include) // a JSON array is a YAML flow sequence
	comp := ""
	if s.compression {
		comp = "\n    compression: auto"
	}
	d, err := startOtelcol(bin, dir, fmt.Sprintf(otelShipperConf, mkdir(dir, "storage"), list, comp, s.port, s.timeout))
	if err != nil {
		return nil, err
	}
	if err := d.waitOutput(otelReady, 60*time.Second); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// startOtelCentral starts the central collector in dir, writing what it
// receives to received as OTLP JSON, and returns it with its port once it
// accepts connections.
func startOtelCentral(bin, dir, received string) (*daemon, int, error) {
	return startCentralOn(func(port int) (*daemon, error) {
		return startOtelcol(bin, dir, fmt.Sprintf(otelCentralConf, port, received))
	})
}

// startOtelcol runs the collector on conf, written to dir.
func startOtelcol(bin, dir, conf string) (*daemon, error) {
	confPath := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-config", confPath)
	cmd.Dir = dir
	return startDaemon("otelcol "+filepath.Base(dir), cmd)
}

// otlpLines turns what the central collector's file exporter writes, a line
// of OTLP JSON for each request, into a file of the log records' bodies, a
// line each, as the shipper read them: the shape the tally reads.
type otlpLines struct {
	from, to string
	offset   int64
}

// otlpRequest is the part of an OTLP JSON logs request the test reads.
type otlpRequest struct {
	ResourceLogs []struct {
		ScopeLogs []struct {
			LogRecords []struct {
				Body struct {
					StringValue string `json:"stringValue"`
				} `json:"body"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

// update appends the bodies of the requests written since the last call.
func (o *otlpLines) update() error {
	f, err := os.Open(o.from)
	if errors.Is(err, os.ErrNotExist) {
		return nil // nothing received yet
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(o.offset, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1] // whole lines only
	if len(data) == 0 {
		return nil
	}
	out, err := os.OpenFile(o.to, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	for line := range bytes.Lines(data) {
		var req otlpRequest
		if err := json.Unmarshal(line, &req); err != nil {
			out.Close()
			return fmt.Errorf("%s at %d: %w", o.from, o.offset, err)
		}
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, r := range sl.LogRecords {
					w.WriteString(r.Body.StringValue)
					w.WriteByte('\n')
				}
			}
		}
		o.offset += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// otelcolBuild is the collector binary, built once per test process.
var otelcolBuild struct {
	once sync.Once
	path string
	err  error
}

// otelcolBinary returns the collector binary (otelcolPath), or skips the
// test when it cannot be had, or fails it under CI=true.
func otelcolBinary(t *testing.T) string {
	t.Helper()
	p, err := otelcolPath(t)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

// otelcolPath returns the collector binary: WATCHEDFILE_OTELCOL if set (CI
// builds it once), or one built from ./otelcol and kept in the user's cache
// directory under a hash of its sources and the Go version, so that a
// second run does not build it again. It builds once per test process.
func otelcolPath(t *testing.T) (string, error) {
	otelcolBuild.once.Do(func() {
		if p := os.Getenv("WATCHEDFILE_OTELCOL"); p != "" {
			otelcolBuild.path = p
			if _, err := os.Stat(p); err != nil {
				otelcolBuild.err = fmt.Errorf("WATCHEDFILE_OTELCOL: %w", err)
			}
			return
		}
		start := time.Now()
		otelcolBuild.path, otelcolBuild.err = buildOtelcol("otelcol")
		if d := time.Since(start); d > 10*time.Second {
			t.Logf("built the collector in %v: %s", d.Round(time.Second), otelcolBuild.path)
		}
	})
	return otelcolBuild.path, otelcolBuild.err
}

// otelcolBuildFlags are the flags the collector is built with, here and in
// .ci/run: no symbol table or debug information, which the test does not
// need (a smaller binary, a shorter link). Not -trimpath: the standard
// library's packages would be compiled again instead of coming from the
// build cache.
var otelcolBuildFlags = []string{"-ldflags=-s -w"}

// buildOtelcol builds the collector module in src into the cache, unless
// a build of the same sources is there already.
func buildOtelcol(src string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command to build the collector: %w", err)
	}
	h := sha256.New()
	ver, err := exec.Command(goBin, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	h.Write(ver)
	fmt.Fprintln(h, otelcolBuildFlags)
	files, _ := filepath.Glob(filepath.Join(src, "*.go"))
	for _, name := range append(files, filepath.Join(src, "go.mod"), filepath.Join(src, "go.sum")) {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(name), len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "watchedfile-bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "otelcol-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build"}, otelcolBuildFlags...)
	cmd := exec.Command(goBin, append(args, "-o", filepath.Join(tmp, "otelcol"), ".")...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off") // go.mod and go.sum as they are: -mod=readonly is the default
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the collector (%s in %s): %w\n%s", strings.Join(cmd.Args, " "), src, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "otelcol"), bin); err != nil {
		return "", err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "otelcol-*")) // builds of other sources
	for _, o := range old {
		if o != bin {
			os.Remove(o)
		}
	}
	return bin, nil
}
