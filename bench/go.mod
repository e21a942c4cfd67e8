module github.com/watchedfile/watchedfile/bench

go 1.24.0

require (
	github.com/DeRuina/timberjack v1.4.10
	github.com/client9/reopen v1.0.0
	github.com/prometheus/procfs v0.17.0
	github.com/stretchr/testify v1.12.1
	github.com/watchedfile/watchedfile v0.0.0-00010101000000-000000000000
	go.uber.org/zap v1.28.0
	golang.org/x/sys v0.35.0
	gopkg.in/natefinch/lumberjack.v2 v2.2.1
)

require (
	github.com/klauspost/compress v1.18.7 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/watchedfile/watchedfile => ../
