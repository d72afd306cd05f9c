package sqlite

// Migrations are the schema steps, for tests that build a database as an
// older collector left it: migrations[:i] applied is schema version i.
var Migrations = migrations

// AuditChain is chain, for tests that write audit rows as an older
// collector did.
var AuditChain = chain
