package main

import "github.com/sondehq/sonde/installers/windows"

func init() { packagers = append(packagers, packager{"msi", windows.Build}) }
