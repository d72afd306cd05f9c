package probe

import "os"

var getenv = os.Getenv
