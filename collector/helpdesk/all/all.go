// Package all registers every helpdesk connector: the collector imports it
// for its side effects.
package all
