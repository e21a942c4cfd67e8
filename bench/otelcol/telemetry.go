package main

import (
	"context"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/service/telemetry"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The collector's own telemetry, cut down to what the test reads: its log,
// on stderr. No metrics or traces are made (the service's defaults are
// no-ops), so that several collectors run side by side without ports of
// their own, and the build leaves out the OpenTelemetry SDK's exporters
// and resource detectors that the full telemetry (otelconftelemetry)
// brings in.

// telemetryConfig is service::telemetry in the configuration.
type telemetryConfig struct {
	Logs struct {
		Level zapcore.Level `mapstructure:"level"`
	} `mapstructure:"logs"`
}

func newTelemetryFactory() telemetry.Factory {
	return telemetry.NewFactory(
		func() component.Config {
			c := &telemetryConfig{}
			c.Logs.Level = zapcore.InfoLevel
			return c
		},
		telemetry.WithCreateLogger(func(_ context.Context, _ telemetry.LoggerSettings, cfg component.Config) (*zap.Logger, component.ShutdownFunc, error) {
			enc := zap.NewProductionEncoderConfig()
			enc.EncodeTime = zapcore.ISO8601TimeEncoder
			core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), cfg.(*telemetryConfig).Logs.Level)
			return zap.New(core), nil, nil
		}),
	)
}
