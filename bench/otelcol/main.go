// Command otelcol is an OpenTelemetry Collector trimmed to what the
// shipping test (../shipping_otel_test.go) runs: the filelog receiver with
// the file_storage extension and the OTLP gRPC exporter on the shipper, the
// OTLP receiver and the file exporter on the central collector. It is its
// own module, built from the Go module proxy, so that none of this is a
// dependency of watchedfile, its command or the bench module.
//
//	otelcol -config PATH
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
)

func main() {
	config := flag.String("config", "", "the configuration file (YAML)")
	flag.Parse()
	if *config == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: otelcol -config PATH")
		os.Exit(2)
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "otelcol", Description: "watchedfile's shipping test collector", Version: "0.165.1"},
		Factories: factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs:              []string{"file:" + *config},
				ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
				DefaultScheme:     "env",
			},
		},
	})
	if err == nil {
		err = col.Run(context.Background()) // until SIGTERM or SIGINT
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelcol:", err)
		os.Exit(1)
	}
}

// factories are the components the shipping test's configurations name.
func factories() (otelcol.Factories, error) {
	f := otelcol.Factories{Telemetry: newTelemetryFactory()}
	var err [3]error
	f.Receivers, err[0] = otelcol.MakeFactoryMap[receiver.Factory](filelogreceiver.NewFactory(), otlpreceiver.NewFactory())
	f.Exporters, err[1] = otelcol.MakeFactoryMap[exporter.Factory](otlpexporter.NewFactory(), fileexporter.NewFactory())
	f.Extensions, err[2] = otelcol.MakeFactoryMap[extension.Factory](filestorage.NewFactory())
	for _, e := range err {
		if e != nil {
			return f, e
		}
	}
	return f, nil
}
