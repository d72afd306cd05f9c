// Package archtest holds tests that guard the project's own rules across
// packages; it has no code.
package archtest
