// Package replicas holds the tests of what patd replicas sharing one
// PostgreSQL database and one Redis see of each other: a revocation on one
// replica reaches the others within a second, also when it races a lookup or
// when a replica stopped hearing revocations for a while, and the creation
// quota and the validation rate hold across replicas.
//
// It has no code of its own. Each test starts two real replicas in process
// (internal/pattest) and talks to them over HTTP, as clients do; what one
// replica does by itself is tested next to its code, in internal/pat.
package replicas
