package main

import "github.com/sondehq/sonde/installers/oci"

func init() { packagers = append(packagers, packager{"oci", oci.Build}) }
