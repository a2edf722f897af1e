// Package memstore is an in-memory [outreach.Store]: the simplest complete
// implementation of the store contract, for unit tests, simulations and as
// a reference for other stores.
//
// Everything lives in maps behind one mutex and is lost when the process
// exits. Values are deep-copied on the way in and on the way out, so a
// caller can never alias the store's own state; the engine state of a
// conversation is kept as JSON, as the database stores keep it.
//
//	store := memstore.New()
//	defer store.Close()
//	r := outreach.NewRunner(store, sender, outreach.RunnerOptions{From: "+15005550006"})
//
// It passes the conformance suite in outreach/storetest.
package memstore
