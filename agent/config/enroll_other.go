//go:build !windows

package config

// systemEnrollment: outside Windows, installers leave the enrollment in
// the file (EnrollPath) alone.
func systemEnrollment() (Enrollment, error) { return Enrollment{}, nil }

func removeSystemEnrollment() error { return nil }
