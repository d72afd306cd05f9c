package main

import "github.com/sondehq/sonde/installers/macos"

func init() { packagers = append(packagers, packager{"macOS pkg", macos.Build}) }
