package main

import "github.com/sondehq/sonde/installers/linux"

func init() { packagers = append(packagers, packager{"deb+rpm", linux.Build}) }
