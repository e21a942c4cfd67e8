module github.com/watchedfile/watchedfile

go 1.23.0

require (
	github.com/prometheus/procfs v0.17.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/sys v0.35.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
