//go:build linux

package main

import (
	"math"

	"gopkg.in/natefinch/lumberjack.v2"
)

// lumberjackStrategy is gopkg.in/natefinch/lumberjack.v2, the most used Go
// rotating writer, set never to rotate by itself (MaxSize of MaxInt
// megabytes). It never notices a rotation made by another program.
func lumberjackStrategy() strategy {
	return strategy{
		name: "lumberjack",
		desc: "gopkg.in/natefinch/lumberjack.v2 v2.2.1, set never to rotate itself",
		open: func(path string) (sink, error) {
			return &lumberjack.Logger{Filename: path, MaxSize: math.MaxInt32}, nil
		},
	}
}
